"""Tests of the live-camera bindings (Tracker, planar frames) on real video: Intel ASL webcam clips of person A
(intel_asl_no, intel_asl_brother) and person C (intel_asl_book, intel_asl_school), decoded by ffmpeg to NV21
(full-range BT.601, as Android cameras deliver it), and a Replay-Attack phone-photo attack.

Frames per clip are capped (see CLIPS) so the whole file runs in seconds.
"""

import functools
import gc
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from support import MODELS, SHARED

import facekit  # noqa: E402
from facekit import Engine, EventKind, FacekitError, Gallery, Image, Status, Tracker, TrackState, Verdict  # noqa: E402

VIDEO = SHARED / "data" / "video"
REPLAY = SHARED / "data" / "liveness" / "replay-attack"
PHOTO_ATTACK = REPLAY / "spoof/test/mobile_photo/fixed_attack_mobile_client009_session01_mobile_photo_controlled.jpg"
LIVE = REPLAY / "real/test/client009_session01_webcam_authenticate_controlled_1.jpg"

W, H = 640, 480
# Frames used of each clip (their people are decided within 6-21 frames with the default settings).
CLIPS = {"no": 30, "brother": 36, "book": 24, "school": 24}
# The door-gate configuration of examples/c/door_gate.c: the finer 128 px region search, whose boxes the
# liveness check of each capture sees (at the default 64 px some webcam visitors are refused as not live).
GATE = {"roi_input": 128}


@functools.lru_cache(maxsize=None)
def _decode(name: str, frames: int) -> bytes:
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(VIDEO / f"intel_asl_{name}.mkv"), "-frames:v", str(frames),
         "-vf", "scale=out_color_matrix=bt601:out_range=full", "-f", "rawvideo", "-pix_fmt", "nv21", "-"],
        check=True, capture_output=True).stdout


def clip(name: str) -> list:
    """The first CLIPS[name] frames of a clip, each an NV21 ``bytes`` of 640x480."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (Debian package ffmpeg)")
    raw, n = _decode(name, CLIPS[name]), W * H * 3 // 2
    assert len(raw) == CLIPS[name] * n, f"{name}: {len(raw)} bytes decoded"
    return [raw[i * n:(i + 1) * n] for i in range(CLIPS[name])]


def nv21_views(frame: bytes, w: int = W, h: int = H):
    """The planes of an NV21 buffer as zero-copy numpy views (Y; U and V interleaved at pixel stride 2)."""
    a = np.frombuffer(frame, np.uint8)
    y, vu = a[:w * h].reshape(h, w), a[w * h:].reshape((h + 1) // 2, w)
    return y, vu[:, 1::2], vu[:, 0::2]


def run(tracker: Tracker, frames, planar: bool = False):
    """Feeds frames; returns (events, tracks of every frame)."""
    events, per_frame = [], []
    for f in frames:
        img = Image.yuv420(*nv21_views(f)) if planar else Image.nv21(f, W, H)
        per_frame.append(tracker.update(img))
        events += tracker.poll_events()
    return events, per_frame


def kinds(events):
    return [(e.kind, e.track) for e in events]


def decided(events):
    return [e for e in events if e.kind == EventKind.DECIDED]


def same(a, b) -> bool:
    """Equality of results that may hold NaN (similarity when nothing was compared, liveness before a capture):
    the reprs, which print every float exactly."""
    return repr(a) == repr(b)


def assert_no_flicker(per_frame):
    """Once a track is decided, every later frame reports the same decision for it."""
    first = {}
    for tracks in per_frame:
        for t in tracks:
            if t.decision is not None:
                assert same(first.setdefault(t.id, t.decision), t.decision), f"track {t.id} changed its decision"
            else:
                assert t.id not in first, f"track {t.id} lost its decision"


def enrol_from_camera(tracker: Tracker, frames) -> np.ndarray:
    """What an enrolment station does: follow the one person in view and keep its best capture."""
    tracker.reset()
    events, per_frame = run(tracker, frames)
    appeared = [e.track for e in events if e.kind == EventKind.APPEARED]
    assert len(appeared) == 1, events
    assert all(t.id == appeared[0] for tracks in per_frame for t in tracks), "one track through the clip"
    assert per_frame[-1][0].captures >= 1 and 0 < per_frame[-1][0].best_quality <= 100
    emb = tracker.best_embedding(appeared[0])
    assert emb.shape == (128,) and abs(np.linalg.norm(emb) - 1) < 1e-4
    return emb


# ---------------------------------------------------------------------------------------------------------
# Decisions on real video


@pytest.fixture(scope="module")
def templates(engine):
    """A and C enrolled from the camera: one clip each, one tracker (reset in between)."""
    with Tracker(engine, **GATE) as enrol:
        t = {"A": enrol_from_camera(enrol, clip("no")), "C": enrol_from_camera(enrol, clip("book"))}
    assert engine.compare(t["A"], t["C"]).similarity < engine.threshold()  # two different people
    return t


def test_gallery_enrolled_from_the_camera_identifies_other_clips(engine, templates):
    """1:N: A and C enrolled from one clip each (the tracker's best capture); other clips of each are
    accepted as the right person, once, without flicker; the cut between two clips ends the first track."""
    with Gallery(engine) as g:
        g.enroll("A", templates["A"])
        g.enroll("C", templates["C"])
        with Tracker(engine, gallery=g, **GATE) as tr:
            ev_a, frames_a = run(tr, clip("brother"))
            ev_c, frames_c = run(tr, clip("school"))
    assert kinds(ev_a) == [(EventKind.APPEARED, 1), (EventKind.DECIDED, 1)]
    d = decided(ev_a)[0].decision
    assert d.verdict == Verdict.ACCEPTED and d.identity == "A" and d.similarity >= d.threshold > 0
    assert 0 < d.after_frames < CLIPS["brother"] and d.liveness >= 0.5
    # The next clip is another shot: track 1 ends at its first frame, track 2 is C.
    assert kinds(ev_c) == [(EventKind.LOST, 1), (EventKind.APPEARED, 2), (EventKind.DECIDED, 2)]
    assert ev_c[0].frame == ev_c[1].frame == CLIPS["brother"]
    assert frames_c[0][0].id == 1 and frames_c[0][0].state == TrackState.LOST
    d = decided(ev_c)[0].decision
    assert d.verdict == Verdict.ACCEPTED and d.identity == "C", d
    assert_no_flicker(frames_a + frames_c)
    assert [t.state for t in frames_a[0]] == [TrackState.NEW] and frames_a[1][0].state == TrackState.TRACKED
    assert [tracks[0].age for tracks in frames_a[:3]] == [0, 1, 2]


def test_a_stranger_is_refused_without_a_name(engine, templates):
    """A refusal names nobody: with only C enrolled, A's clip is not accepted and its decision's identity is
    None (a firmware that opens for any named identity stays shut)."""
    with Gallery(engine) as g:
        g.enroll("C", templates["C"])
        with Tracker(engine, gallery=g, **GATE) as tr:
            ev, _ = run(tr, clip("brother"))
    ds = decided(ev)
    assert ds, ev
    for e in ds:
        d = e.decision
        assert d.verdict != Verdict.ACCEPTED and d.identity is None, d
        assert d.verdict != Verdict.NO_MATCH or d.similarity < d.threshold, d


def test_template_planar_frames_and_a_photo_attack(engine, templates):
    """1:1 on zero-copy planar views of the frames: the template's person is accepted, another person is not,
    and a phone photo held to the camera is refused as not live; a change of frame size ends every track."""
    with Tracker(engine, template=templates["A"], capture_gap=2, **GATE) as tr:
        ev_a, frames_a = run(tr, clip("brother"), planar=True)
        ev_c, frames_c = run(tr, clip("book"), planar=True)
        attack = facekit.load_image(PHOTO_ATTACK)  # 320x240 RGB: another frame size
        ev_p, frames_p = [], []
        # Held for 12 frames: a track not live on its first captures gathers 6 liveness scores (one every
        # capture_gap = 2 frames) before it is refused.
        for _ in range(12):
            frames_p.append(tr.update(attack))
            ev_p += tr.poll_events()
        gray = np.full_like(attack, 128)
        lost = tr.update(gray)
        ev_end = tr.poll_events()
    d = decided(ev_a)[0].decision
    assert d.verdict == Verdict.ACCEPTED and d.identity is None and d.similarity >= d.threshold, d
    d = decided(ev_c)[0].decision
    assert d.verdict == Verdict.NO_MATCH and d.similarity < d.threshold, d
    # The size change ends track 2 at once; the attack is track 3.
    assert kinds(ev_p) == [(EventKind.LOST, 2), (EventKind.APPEARED, 3), (EventKind.DECIDED, 3)]
    assert [t.state for t in frames_p[0]] == [TrackState.LOST, TrackState.NEW]
    d = decided(ev_p)[0].decision
    assert d.verdict == Verdict.NOT_LIVE and d.liveness < 0.5 and np.isnan(d.similarity), d
    # A frame without the face ends the attack's track.
    assert [(t.id, t.state) for t in lost] == [(3, TrackState.LOST)]
    assert kinds(ev_end) == [(EventKind.LOST, 3)]
    assert_no_flicker(frames_a + frames_c + frames_p)


def test_trackers_in_threads_share_one_engine(engine):
    """Two streams, two trackers, one engine, two threads: each gives what it gives alone."""
    frames = clip("brother")[:24]
    with Tracker(engine) as tr:
        alone = run(tr, frames)

    def stream(planar):
        with Tracker(engine) as t:
            return run(t, frames, planar=planar)

    with ThreadPoolExecutor(2) as pool:  # one stream packed, one planar; a thread's exception re-raises here
        results = list(pool.map(stream, (False, True)))
    assert same(results[0], alone) and same(results[1], alone)


# ---------------------------------------------------------------------------------------------------------
# Planar frames against the packed path


def test_planar_views_equal_packed_nv21_and_i420(engine):
    """Android YUV_420_888 at pixel stride 2 (views into one NV21 buffer, or flat memoryviews as the planes
    come) and at pixel stride 1 with padded rows, and the iOS bi-planar layout: the same faces and the same
    pixels (byte-identical aligned crops) as the packed NV21 / I420 path."""
    frame = clip("brother")[0]
    packed = Image.nv21(frame, W, H)
    faces = engine.detect(packed)
    assert len(faces) == 1
    crop = engine.align(packed, faces[0])
    y, u, v = nv21_views(frame)
    whole = np.frombuffer(frame, np.uint8)
    assert all(np.shares_memory(p, whole) for p in (y, u, v)) and u.strides == (W, 2)  # views, no copies
    mv = memoryview(frame)
    flat_vu = mv[W * H:]
    planes = {
        "views": Image.yuv420(y, u, v),
        "flat buffers": Image.yuv420(mv[:W * H], flat_vu[1:], flat_vu[:-1], W, H, stride=W, uv_stride=W,
                                     uv_pixel_stride=2),
    }
    for name, img in planes.items():
        assert img.format == facekit.PixelFormat.YUV420
        assert engine.detect(img) == faces, name
        assert np.array_equal(engine.align(img, faces[0]), crop), name
    # iOS 420f: plane 1 is CbCr (U first) — NV12. The same frame with its chroma bytes swapped.
    vu = np.frombuffer(frame, np.uint8)[W * H:].reshape(-1, W)
    cbcr = np.ascontiguousarray(vu.reshape(-1, W // 2, 2)[:, :, ::-1]).reshape(-1, W)
    bi = Image.yuv420(y, cbcr[:, 0::2], cbcr[:, 1::2])
    assert engine.detect(bi) == faces and np.array_equal(engine.align(bi, faces[0]), crop)
    # ... and as the Swift wrapper describes a locked CVPixelBuffer: u = plane 1's base (its whole length),
    # v = base + 1 (one byte less), row stride = its bytesPerRow, pixel stride 2.
    plane1 = memoryview(cbcr.tobytes())
    bi = Image.yuv420(y, plane1, plane1[1:], W, H, stride=W, uv_stride=W, uv_pixel_stride=2)
    assert engine.detect(bi) == faces and np.array_equal(engine.align(bi, faces[0]), crop)
    # Pixel stride 1 (three planes) with padded rows, against packed I420.
    u1, v1 = np.ascontiguousarray(u), np.ascontiguousarray(v)
    i420 = np.concatenate([y.ravel(), u1.ravel(), v1.ravel()])
    packed_i420 = Image.i420(i420, W, H)
    assert engine.detect(packed_i420) == faces
    pad = lambda p, extra: np.pad(p, ((0, 0), (0, extra)))[:, :p.shape[1]]  # noqa: E731 - rows `extra` apart more
    img = Image.yuv420(pad(y, 64), pad(u1, 32), pad(v1, 32))
    assert img.stride == W + 64 and img._chroma[6:] == (W // 2 + 32, 1)
    assert engine.detect(img) == faces
    assert np.array_equal(engine.align(img, faces[0]), engine.align(packed_i420, faces[0]))


# ---------------------------------------------------------------------------------------------------------
# Bad input and lifetime


def test_bad_frames_raise_and_leave_the_tracker_usable(engine):
    live = facekit.load_image(LIVE)
    h, w, _ = live.shape
    y = np.zeros((h, w), np.uint8)
    c = np.zeros((h // 2, w // 2), np.uint8)

    def status_of(fn):
        with pytest.raises(FacekitError) as ei:
            fn()
        assert ei.value.message
        return ei.value.status

    with Tracker(engine, template=np.eye(128, dtype=np.float32)[0]) as tr:
        assert [t.state for t in tr.update(live)] == [TrackState.NEW]
        nv21 = bytes(w * h * 3 // 2)
        # Wrong stride, too few bytes, planes too short, a stride below the row, a pixel stride of 0.
        assert status_of(lambda: tr.update(Image.nv21(nv21, w, h, stride=w - 2))) == Status.FK_ERR_INVALID_IMAGE
        assert status_of(lambda: tr.update(Image.nv21(nv21[:-100], w, h))) == Status.FK_ERR_INVALID_IMAGE
        assert status_of(lambda: tr.update(Image.yuv420(y, c[:-1], c))) == Status.FK_ERR_INVALID_IMAGE
        flat = c.ravel()
        assert status_of(lambda: tr.update(Image.yuv420(y, flat, flat, uv_stride=w // 2 - 1))) == Status.FK_ERR_INVALID_IMAGE
        assert status_of(lambda: tr.update(Image.yuv420(y, flat, flat, uv_pixel_stride=0))) == Status.FK_ERR_INVALID_IMAGE
        assert status_of(lambda: tr.update(Image.yuv420(y, flat, flat, uv_pixel_stride=2))) == Status.FK_ERR_INVALID_IMAGE
        # Descriptions this module refuses before calling C.
        assert status_of(lambda: Image.yuv420(y, c, c, stride=w + 1)) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: Image.yuv420(y, c, flat)) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: Image.yuv420(y.ravel(), flat, flat)) == Status.FK_ERR_INVALID_ARGUMENT  # no size
        assert status_of(lambda: Image.yuv420(y[:, ::2], c, c)) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: Image.yuv420(y, c[:, ::-1], c[:, ::-1])) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: tr.update(live, rotation=45)) == Status.FK_ERR_INVALID_ARGUMENT
        # Settings and references.
        assert status_of(lambda: tr.set("detect_every", 0)) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: tr.set("no_such_setting", 1)) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: tr.set_template(np.ones(64, np.float32))) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: tr.set_template(np.zeros(128, np.float32))) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: tr.best_embedding(12345)) == Status.FK_ERR_NOT_FOUND
        # None of that disturbed the stream: the same track continues.
        again = tr.update(live)
        assert [(t.id, t.state, t.age) for t in again] == [(1, TrackState.TRACKED, 1)]  # refused frames are not seen
        tr.poll_events()
        # A frame of another size ends every track (a new stream).
        half = np.ascontiguousarray(live[::2, ::2])
        assert [(t.id, t.state) for t in tr.update(half)][0] == (1, TrackState.LOST)
        assert kinds(tr.poll_events())[0] == (EventKind.LOST, 1)
        tr.set("max_tracks", 40)
        assert tr.update(half)[0].id == 2
        tr.reset()
        assert tr.poll_events() == []
        assert status_of(lambda: tr.best_embedding(2)) == Status.FK_ERR_NOT_FOUND
    with pytest.raises(FacekitError) as ei:
        Tracker(engine, gallery=Gallery(engine), template=np.ones(128, np.float32))
    assert ei.value.status == Status.FK_ERR_INVALID_ARGUMENT


def test_closed_tracker_engine_or_gallery_refuse_calls():
    live = facekit.load_image(LIVE)
    e = Engine(MODELS)
    g = Gallery(e)
    tr = Tracker(e, gallery=g)
    tr.update(live)
    g.close()  # the tracker decides against it: its calls now refuse instead of reading freed memory
    with pytest.raises(ValueError, match="closed Gallery"):
        tr.update(live)
    tr.set_gallery(None)
    tr.update(live)
    e.close()
    with pytest.raises(ValueError, match="closed Engine"):
        tr.update(live)
    tr.close()
    tr.close()  # idempotent
    for call in (lambda: tr.update(live), tr.poll_events, tr.reset, lambda: tr.best_embedding(1),
                 lambda: tr.set("detect_every", 2)):
        with pytest.raises(ValueError, match="closed Tracker"):
            call()
    assert tr.closed


def test_tracker_keeps_its_engine_alive_and_is_finalized():
    live = facekit.load_image(LIVE)

    def make():
        e = Engine(MODELS)
        return Tracker(e), e._h._finalizer

    tr, engine_finalizer = make()
    gc.collect()
    assert engine_finalizer.alive  # only the tracker refers to the engine now
    assert tr.update(live)[0].state == TrackState.NEW
    tracker_finalizer = tr._h._finalizer
    del tr
    gc.collect()
    assert not tracker_finalizer.alive and not engine_finalizer.alive
