"""Tests of the Python bindings on real models and LFW photos.

Paths: repo = this file's ../../..; shared dir = $FACEKIT_SHARED or <repo>/../shared; library dir =
$FACEKIT_LIB_DIR or <repo>/target/release (read by the facekit module itself).
"""

import ctypes
import gc
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from support import MODELS, REPO, SHARED

import facekit  # noqa: E402
from facekit import Engine, FacekitError, Gallery, Image, Status  # noqa: E402

LFW = SHARED / "data" / "lfw" / "images"

# Engine creation loads the models (~0.3 s): the cycle test keeps it to 50 by default.
ENGINE_CYCLES = int(os.environ.get("FACEKIT_ENGINE_CYCLES", "50"))
GALLERY_CYCLES = int(os.environ.get("FACEKIT_GALLERY_CYCLES", "1000"))
RSS_GROWTH_LIMIT_MB = 20.0


def lfw(name: str, n: int) -> Path:
    return LFW / name / f"{name}_{n:04d}.jpg"


@pytest.fixture(scope="session")
def engine():
    if not MODELS.is_dir():
        pytest.skip(f"no models at {MODELS}")
    # LFW photos are press photos (a photo of a photo): decisions on them run with the policy's liveness
    # requirement off. test_liveness_* use Replay-Attack frames and the default policy.
    with Engine(MODELS, require_liveness=False) as e:
        yield e


@pytest.fixture(scope="session")
def live_engine():
    with Engine(MODELS) as e:
        yield e


REPLAY = SHARED / "data" / "liveness" / "replay-attack"
REAL_1 = REPLAY / "real/devel/client005_session01_webcam_authenticate_controlled_1.jpg"
REAL_2 = REPLAY / "real/devel/client005_session01_webcam_authenticate_controlled_2.jpg"
PRINT = REPLAY / "spoof/devel/print/fixed_attack_print_client101_session01_highdef_photo_controlled.jpg"
PHONE = REPLAY / "spoof/devel/mobile_photo/hand_attack_mobile_client005_session01_mobile_photo_controlled.jpg"


@pytest.fixture(scope="session")
def bush1():
    return facekit.load_image(lfw("George_W_Bush", 1))


@pytest.fixture(scope="session")
def bush2():
    return facekit.load_image(lfw("George_W_Bush", 2))


@pytest.fixture(scope="session")
def powell():
    return facekit.load_image(lfw("Colin_Powell", 1))


try:  # glibc: give cached free heap pages back before reading VmRSS, so the cache can hide no leak
    _libc = ctypes.CDLL(None)
    _malloc_trim = _libc.malloc_trim
    _malloc_trim.argtypes = [ctypes.c_size_t]

    class _Mallinfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

    _mallinfo2 = _libc.mallinfo2
    _mallinfo2.restype = _Mallinfo2
except (OSError, AttributeError):
    _malloc_trim = _mallinfo2 = None


def c_heap_mb() -> float:
    """Bytes in use in the C heap (all arenas), or NaN without glibc >= 2.33."""
    if _mallinfo2 is None:
        return float("nan")
    mi = _mallinfo2()
    return (mi.uordblks + mi.hblkhd) / 1048576.0


def rss_mb() -> float:
    """VmRSS after a garbage collection and malloc_trim(0)."""
    gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def rgb_to_nv21(rgb: np.ndarray, stride: int = None) -> bytes:
    """RGB -> NV21 with BT.601 full-range (JFIF) coefficients, the range Android cameras produce. The
    chroma of each 2x2 block is the mean of its pixels (odd sizes: edge pixels repeat)."""
    h, w, _ = rgb.shape
    stride = stride or w
    f = rgb.astype(np.float64)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128.0
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128.0
    ch, cw = (h + 1) // 2, (w + 1) // 2

    def sub(p):
        p = np.pad(p, ((0, 2 * ch - h), (0, 2 * cw - w)), mode="edge")
        return p.reshape(ch, 2, cw, 2).mean(axis=(1, 3))

    u2, v2 = sub(u), sub(v)
    out = np.zeros(stride * h + stride * ch, np.uint8)  # padding bytes stay 0
    yp = out[: stride * h].reshape(h, stride)
    yp[:, :w] = np.clip(np.rint(y), 0, 255)
    vu = out[stride * h :].reshape(ch, stride)
    vu[:, 0 : 2 * cw : 2] = np.clip(np.rint(v2), 0, 255)  # NV21: V first
    vu[:, 1 : 2 * cw : 2] = np.clip(np.rint(u2), 0, 255)
    return out.tobytes()


# ---------------------------------------------------------------------------------------------------------
# ABI layout


def test_struct_layout_matches_the_header(tmp_path):
    """ctypes mirrors must have the C compiler's sizes and offsets (catches a wrong field order or type)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    checks = {
        "fk_image": (facekit._FkImage, ["data", "len", "width", "height", "stride", "format", "rotation", "u", "u_len",
                                        "v", "v_len", "uv_stride", "uv_pixel_stride"]),
        "fk_face": (facekit._FkFace, ["x", "y", "width", "height", "score", "landmarks"]),
        "fk_match": (facekit._FkMatch, ["similarity", "threshold", "is_match", "operating_point"]),
        "fk_quality_component": (facekit._FkQualityComponent, ["raw", "score", "assessed"]),
        "fk_quality_report": (
            facekit._FkQualityReport, ["overall", "acceptable", "reasons"] + list(facekit._QUALITY_COMPONENTS)
        ),
        "fk_hit": (facekit._FkHit, ["id", "similarity"]),
        "fk_liveness_report": (
            facekit._FkLivenessReport, ["status", "score", "is_live", "threshold", "operating_point", "model_count", "model_scores"]
        ),
        "fk_decision": (
            facekit._FkDecision, ["verdict", "similarity", "threshold", "operating_point", "liveness", "after_frames", "identity"]
        ),
        "fk_track": (
            facekit._FkTrack, ["id", "state", "age", "missed", "captures", "face", "best_quality", "liveness", "decision"]
        ),
        "fk_event": (facekit._FkEvent, ["frame", "track", "kind", "decision"]),
    }
    src = ["#include <stdio.h>", "#include <stddef.h>", '#include "facekit.h"', "int main(void) {"]
    for cname, (_, fields) in checks.items():
        src.append(f'printf("{cname} sizeof %zu\\n", sizeof(struct {cname}));')
        for fld in fields:
            src.append(f'printf("{cname} {fld} %zu\\n", offsetof(struct {cname}, {fld}));')
    src.append("return 0; }")
    (tmp_path / "layout.c").write_text("\n".join(src))
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", str(REPO / "include"), str(tmp_path / "layout.c"), "-o", str(exe)], check=True)
    got = {}
    for line in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines():
        cname, what, n = line.split()
        got[(cname, what)] = int(n)
    for cname, (cls, fields) in checks.items():
        assert got[(cname, "sizeof")] == facekit.ctypes.sizeof(cls), cname
        for fld in fields:
            assert got[(cname, fld)] == getattr(cls, fld).offset, f"{cname}.{fld}"


def test_version():
    assert facekit.version() == "0.1.0"
    assert facekit._lib.fk_version() == 100


# ---------------------------------------------------------------------------------------------------------
# Pipeline on real photos


def test_verify_same_person_matches(engine, bush1, bush2):
    m = engine.verify(bush1, bush2)
    assert m.is_match, m
    assert m.similarity > m.threshold
    assert m.operating_point == facekit.OperatingPoint.FAR_1E3
    assert m.threshold == pytest.approx(engine.threshold())


def test_verify_different_people_do_not_match(engine, bush1, powell):
    m = engine.verify(bush1, powell)
    assert not m.is_match, m
    assert m.similarity < m.threshold


def test_detect_boxes_are_sane(engine, bush1, powell):
    for img in (bush1, powell):
        h, w, _ = img.shape
        faces = engine.detect(img)
        assert len(faces) >= 1
        f = faces[0]
        x, y, bw, bh = f.box
        # LFW crops are centred on the face, ~100 px tall in a 250x250 image.
        assert 0 <= x < w and 0 <= y < h and x + bw <= w + 5 and y + bh <= h + 5
        assert 50 < bw < 200 and 50 < bh < 200
        assert abs((x + bw / 2) - w / 2) < 40 and abs((y + bh / 2) - h / 2) < 40
        assert 0.5 <= f.score <= 1.0
        assert len(f.landmarks) == 5
        for lx, ly in f.landmarks:
            assert x - 5 <= lx <= x + bw + 5 and y - 5 <= ly <= y + bh + 5
        (lex, ley), (rex, rey), (nx, ny), (lmx, lmy), (rmx, rmy) = f.landmarks
        assert lex < rex and lmx < rmx  # image-left before image-right
        assert max(ley, rey) < ny < min(lmy, rmy)  # eyes above the nose above the mouth
        scores = [g.score for g in faces]
        assert scores == sorted(scores, reverse=True)


def test_embedding_is_unit_length_dim_128(engine, bush1, bush2):
    assert engine.embedding_dim == 128
    faces = engine.detect(bush1)
    e1 = engine.embed(bush1, faces[0])
    assert e1.dtype == np.float32 and e1.shape == (128,)
    assert np.linalg.norm(e1) == pytest.approx(1.0, abs=1e-4)
    # compare() of the two embeddings agrees with verify().
    e2 = engine.embed(bush2)
    m = engine.compare(e1, e2)
    assert m.similarity == pytest.approx(float(np.dot(e1, e2)), abs=1e-4)
    assert m.similarity == pytest.approx(engine.verify(bush1, bush2).similarity, abs=1e-4)


def test_align_crop(engine, bush1):
    crop = engine.align(bush1, engine.detect(bush1)[0])
    assert engine.crop_size == (112, 112)
    assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8
    assert crop.std() > 10  # a face, not a flat fill


def test_quality_in_range(engine, bush1):
    q = engine.quality(bush1, engine.detect(bush1)[0])
    assert 0.0 <= q.overall <= 100.0
    assert isinstance(q.acceptable, bool)
    assert q.acceptable == (q.reason_bits == 0) == (q.reasons == [])
    assert set(q.reasons) <= {r.name for r in facekit.QualityReason}
    assert set(q.components) == set(facekit._QUALITY_COMPONENTS)
    for name, c in q.components.items():
        if c.assessed:
            assert 0.0 <= c.score <= 100.0, name
        else:
            assert np.isnan(c.raw) and np.isnan(c.score), name
    assert q.components["confidence"].raw == pytest.approx(engine.detect(bush1)[0].score, abs=1e-5)
    assert 0.0 <= q.components["exposure"].raw <= 1.0
    occ = q.components["occlusion"]  # number of covered eye/mouth regions
    assert not occ.assessed or (0.0 <= occ.raw <= 3.0 and ("OCCLUDED" in q.reasons) == (occ.raw > 0))


def test_threshold_operating_points(engine):
    t2, t3, t4, t5, t6 = (engine.threshold(op) for op in (2, "far_1e-3", facekit.OperatingPoint.FAR_1E4, "far_1e-5", 6))
    assert -1.0 < t2 < t3 < t4 < t5 < t6 < 1.0  # a stricter FAR needs a higher cosine
    with pytest.raises(FacekitError) as ei:
        engine.threshold(7)
    assert ei.value.status == Status.FK_ERR_INVALID_ARGUMENT
    # A gallery decides at the threshold for its size: one template is 1:1; 100 templates at FPIR 1e-3 need
    # FAR 1e-5 per comparison.
    assert engine.gallery_threshold(1, "far_1e-3") == t3
    assert engine.gallery_threshold(100, 3) == pytest.approx(t5, abs=1e-5)
    assert t3 < engine.gallery_threshold(5, 3) < t4  # FAR 2e-4: between the 1e-3 and 1e-4 points


def test_thresholds_for_the_capture_resolution_and_the_camera(engine, bush1, powell):
    """Small faces are decided higher (the manifest's per-resolution table); press-photo faces at the press
    thresholds; a gallery's threshold rises for a camera whose enrolled people look alike (3 or more)."""
    t3 = engine.threshold("far_1e-3")
    assert engine.threshold("far_1e-3", eye_distance=80) == t3
    assert engine.threshold("far_1e-3", eye_distance=12) > engine.threshold("far_1e-3", eye_distance=20) > t3
    assert engine.gallery_threshold(10, 3, eye_distance=12) > engine.gallery_threshold(10, 3)
    with pytest.raises(FacekitError):
        engine.threshold(3, eye_distance=float("nan"))
    rng = np.random.default_rng(7)
    base = rng.normal(size=128).astype(np.float32)
    with Gallery(engine) as g:
        g.enroll("bush", engine.embed(bush1))
        g.enroll("powell", engine.embed(powell))
        assert g.threshold(engine, 80) == engine.gallery_threshold(2, eye_distance=80)  # 2 people: no camera evidence
        # Three look-alikes (cosine ~0.8 with each other): strangers on this "camera" score high, so it rises.
        for k in range(3):
            v = base + 0.5 * rng.normal(size=128).astype(np.float32)
            g.enroll(f"lookalike{k}", v / np.linalg.norm(v))
        assert g.threshold(engine, 80) > engine.gallery_threshold(5, eye_distance=80) + 0.1


def test_accurate_mode_fuses_two_embedders(bush1, bush2, powell):
    with Engine(MODELS, mode="accurate", require_liveness=0) as acc:
        assert acc.embedding_dim == 256 and acc.crop_size == (112, 112)
        assert acc.verify(bush1, bush2).is_match and not acc.verify(bush1, powell).is_match
        e = acc.embed(bush1)
        assert e.shape == (256,) and abs(float(np.linalg.norm(e)) - 1.0) < 1e-5


# ---------------------------------------------------------------------------------------------------------
# Image layouts


def test_nv21_detects_the_same_face_as_rgb(engine, bush1):
    h, w, _ = bush1.shape
    ref = engine.detect(bush1)[0]
    ref_emb = engine.embed(bush1, ref)
    # Tight and padded strides (camera planes often have row padding).
    for stride in (w, w + 12):
        img = Image.nv21(rgb_to_nv21(bush1, stride), w, h, stride)
        faces = engine.detect(img)
        assert faces, f"no face in NV21 (stride {stride})"
        assert faces[0].iou(ref) > 0.8
        sim = float(np.dot(engine.embed(img, faces[0]), ref_emb))
        assert sim > 0.9, sim  # only chroma subsampling differs


def test_nv21_with_rotation(engine, bush1):
    """A sensor buffer that needs a 90° clockwise turn to be upright: results are in upright coordinates."""
    ref = engine.detect(bush1)[0]
    sensor = np.ascontiguousarray(np.rot90(bush1, k=1))  # the upright image turned 90° counter-clockwise
    sh, sw, _ = sensor.shape
    faces = engine.detect(Image.nv21(rgb_to_nv21(sensor), sw, sh, rotation=90))
    assert faces and faces[0].iou(ref) > 0.8
    # Same thing for an RGB array with a rotation.
    faces = engine.detect(sensor, rotation=90)
    assert faces and faces[0].iou(ref) > 0.95


def test_other_array_layouts(engine, bush1):
    ref = engine.detect(bush1)[0]
    # BGR given as such (a reversed channel view has a negative stride: the binding copies it).
    bgr = bush1[..., ::-1]
    f = engine.detect(bgr, format="bgr")[0]
    assert f.iou(ref) > 0.99
    # The same BGR buffer read as RGB is a different image: detection still works, but the crop differs.
    assert not np.array_equal(engine.align(bgr, ref, format="bgr"), engine.align(np.ascontiguousarray(bgr), ref))
    # RGBA and BGRA.
    alpha = np.full(bush1.shape[:2] + (1,), 255, np.uint8)
    rgba = np.concatenate([bush1, alpha], axis=2)
    bgra = np.concatenate([bush1[..., ::-1], alpha], axis=2)
    assert np.array_equal(engine.align(rgba, ref), engine.align(bush1, ref))
    assert np.array_equal(engine.align(bgra, ref, format="bgra"), engine.align(bush1, ref))
    # Gray.
    gray = np.ascontiguousarray(bush1.mean(axis=2).astype(np.uint8))
    assert engine.detect(gray)[0].iou(ref) > 0.8
    # A crop view (rows padded by the parent's width) is passed without copying.
    crop = bush1[20:230, 15:235]
    im = Image(crop)
    assert np.shares_memory(im.data, bush1) and im.stride == bush1.strides[0]
    f = engine.detect(crop)[0]
    assert abs(f.box[0] + 15 - ref.box[0]) < 3 and abs(f.box[1] + 20 - ref.box[1]) < 3
    # A column-subsampled view has non-contiguous pixels: copied, same result as the explicit copy.
    sub = bush1[:, ::2]
    assert engine.detect(sub) == engine.detect(np.ascontiguousarray(sub))
    with pytest.raises(TypeError):
        engine.detect(bush1.astype(np.float32))


# ---------------------------------------------------------------------------------------------------------
# Liveness


def test_liveness_live_face_passes_print_and_phone_do_not(live_engine):
    for path, live in ((REAL_1, True), (PRINT, False), (PHONE, False)):
        r = live_engine.liveness(facekit.load_image(path))
        assert r.status == facekit.LivenessStatus.ASSESSED and r.operating_point == facekit.LivenessPoint.APCER_5E2
        assert r.is_live == live, (path.name, r)
        assert len(r.model_scores) == 2
        assert all((s > 0.99) if live else (s < 0.05) for s in r.model_scores), (path.name, r)
        assert r.score == pytest.approx(sum(r.model_scores) / 2, abs=1e-6)
        assert 0.5 < r.threshold < 1.0


def test_liveness_refusals_have_their_own_status(live_engine):
    real, real2, phone = (facekit.load_image(p) for p in (REAL_1, REAL_2, PHONE))
    assert live_engine.verify(real, real2).is_match
    with pytest.raises(FacekitError) as ei:
        live_engine.verify(real, phone)
    assert ei.value.status == Status.FK_ERR_NOT_LIVE and "show your real face" in ei.value.message
    with Gallery(live_engine) as g:
        with pytest.raises(FacekitError) as ei:
            g.enroll_image(live_engine, "client005", phone)
        assert ei.value.status == Status.FK_ERR_NOT_LIVE and len(g) == 0
    # Too dark to judge: a poor-quality refusal, not a spoof.
    with pytest.raises(FacekitError) as ei:
        live_engine.verify(real, real2 // 8)
    assert ei.value.status == Status.FK_ERR_POOR_QUALITY


def test_liveness_bad_input(live_engine):
    real = facekit.load_image(REAL_1)
    f = live_engine.detect(real)[0]
    x, y, w, h = f.box
    cut = facekit.Face((-0.6 * w, y, w, h), f.score, f.landmarks)
    r = live_engine.liveness(real, cut)
    assert r.status == facekit.LivenessStatus.FACE_AT_BORDER and not r.is_live and np.isnan(r.score)
    dot = facekit.Face((x, y, 1.0, 1.0), f.score, f.landmarks)
    assert live_engine.liveness(real, dot).status == facekit.LivenessStatus.FACE_TOO_SMALL
    with pytest.raises(FacekitError) as ei:
        live_engine.liveness(real, facekit.Face((np.nan, y, w, h), f.score, f.landmarks))
    assert ei.value.status == Status.FK_ERR_INVALID_ARGUMENT
    with Engine(MODELS, load_liveness=False, load_quality=False) as off:
        with pytest.raises(FacekitError) as ei:
            off.liveness(real, f)
        assert ei.value.status == Status.FK_ERR_UNSUPPORTED


# ---------------------------------------------------------------------------------------------------------
# Gallery


def test_gallery_enroll_search_save_load(engine, bush1, bush2, powell, tmp_path):
    e_bush2, e_powell = engine.embed(bush2), engine.embed(powell)
    path = tmp_path / "people.fkg"
    with Gallery(engine) as g:
        assert len(g) == 0
        assert g.search(e_bush2) == []  # nobody enrolled: the open-set answer
        g.enroll_image(engine, "George W. Bush", bush1)
        g.enroll("Colin Powell", e_powell)
        g.enroll("Zoë ünïcode", -e_powell)  # any UTF-8 id
        assert len(g) == 3
        hits = g.search(e_bush2, k=3)
        assert hits[0][0] == "George W. Bush" and hits[0][1] > engine.threshold()
        assert all(h[0] != "Colin Powell" for h in hits)  # below the calibrated threshold
        nearest = g.search(e_bush2, k=3, threshold=-1)
        assert [h[0] for h in nearest][0] == "George W. Bush" and len(nearest) == 3
        assert [h[1] for h in nearest] == sorted((h[1] for h in nearest), reverse=True)
        assert g.search(e_powell, k=1)[0][0] == "Colin Powell"
        g.save(path)
    with Gallery.load(engine, path) as g2:
        assert len(g2) == 3
        assert g2.search(e_bush2, k=3, threshold=-1) == nearest
        assert g2.search(-e_powell, k=1)[0][0] == "Zoë ünïcode"
        g2.remove("Colin Powell")
        assert len(g2) == 2
        with pytest.raises(FacekitError) as ei:
            g2.remove("Colin Powell")
        assert ei.value.status == Status.FK_ERR_NOT_FOUND


def test_gallery_templates_out_and_in(engine, bush1, powell):
    with Gallery(engine) as g, Gallery(engine) as copy:
        g.enroll("bush", engine.embed(bush1))
        g.enroll("powell", engine.embed(powell))
        g.enroll("powell", np.arange(1, 129, dtype=np.float32))  # not unit: stored normalised
        assert g.template_count() == 3 and len(g) == 2
        assert len(g.model_id) == 64 and g.model_id == copy.model_id
        ids, rows = g.templates()
        assert sorted(ids) == ["bush", "powell", "powell"] and rows.shape == (3, 128) and rows.dtype == np.float32
        assert np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-6)
        for i in range(3):
            who, v = g.template(i)
            assert who == ids[i] and v.tobytes() == rows[i].tobytes()
            copy.add_template(who, v)
        q = engine.embed(bush1) + 0.1
        assert g.search(q, 2, -1) == copy.search(q, 2, -1)  # bit-identical scores
        for bad in (-1, 3, 10**12):
            with pytest.raises(FacekitError):
                g.template(bad)
        with pytest.raises(FacekitError) as ei:
            copy.add_template("x", rows[0] * 2)  # not unit-norm: refused, not normalised
        assert ei.value.status == Status.FK_ERR_INVALID_ARGUMENT
        with pytest.raises(FacekitError):
            copy.add_template("x", rows[0][:64])
        assert copy.template_count() == 3


def test_gallery_load_errors(engine, tmp_path):
    with pytest.raises(FacekitError) as ei:
        Gallery.load(engine, tmp_path / "missing.fkg")
    assert ei.value.status == Status.FK_ERR_IO
    junk = tmp_path / "junk.fkg"
    junk.write_bytes(b"not a gallery at all" * 10)
    with pytest.raises(FacekitError) as ei:
        Gallery.load(engine, junk)
    assert ei.value.status == Status.FK_ERR_CORRUPT
    # A truncated real file.
    with Gallery(engine) as g:
        g.enroll("a", np.eye(128, dtype=np.float32)[0])
        g.save(tmp_path / "ok.fkg")
    data = (tmp_path / "ok.fkg").read_bytes()
    (tmp_path / "cut.fkg").write_bytes(data[: len(data) - 7])
    with pytest.raises(FacekitError) as ei:
        Gallery.load(engine, tmp_path / "cut.fkg")
    assert ei.value.status == Status.FK_ERR_CORRUPT


# ---------------------------------------------------------------------------------------------------------
# Bad input


def test_bad_inputs_raise_with_the_right_status(engine, bush1, tmp_path):
    def status_of(fn):
        with pytest.raises(FacekitError) as ei:
            fn()
        assert ei.value.message  # fk_last_error() text came through
        return ei.value.status

    emb = engine.embed(bush1)
    with Gallery(engine) as g:
        # Wrong-sized embeddings.
        assert status_of(lambda: g.enroll("x", emb[:100])) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: g.search(np.ones(64, np.float32))) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: g.enroll("", emb)) == Status.FK_ERR_INVALID_ARGUMENT  # empty id
        assert status_of(lambda: g.enroll("x" * 256, emb)) == Status.FK_ERR_INVALID_ARGUMENT  # id too long
        assert status_of(lambda: g.enroll("a\0b", emb)) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: g.enroll("zero", np.zeros(128, np.float32))) == Status.FK_ERR_INVALID_ARGUMENT
        assert status_of(lambda: g.enroll_image(engine, "nobody", np.zeros((64, 64, 3), np.uint8))) == Status.FK_ERR_NO_FACE
        assert len(g) == 0
    assert status_of(lambda: engine.compare(emb[:64], emb[:64])) == Status.FK_ERR_INVALID_ARGUMENT
    assert status_of(lambda: engine.compare(emb, emb[:64])) == Status.FK_ERR_INVALID_ARGUMENT
    nan = emb.copy()
    nan[3] = np.nan
    assert status_of(lambda: engine.compare(emb, nan)) == Status.FK_ERR_INVALID_ARGUMENT
    # Files.
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a JPEG\n")
    err = pytest.raises(FacekitError, facekit.load_image, text).value
    assert err.status == Status.FK_ERR_DECODE and err.status.name == "FK_ERR_DECODE"
    assert err.status_name == "FK_ERR_DECODE" and str(err).startswith("FK_ERR_DECODE: ")
    assert status_of(lambda: facekit.load_image(tmp_path / "missing.jpg")) == Status.FK_ERR_IO
    # A 1x1 image has no face: detect says so with an empty list (FK_OK), verify with FK_ERR_NO_FACE.
    tiny = np.zeros((1, 1, 3), np.uint8)
    assert engine.detect(tiny) == []
    assert status_of(lambda: engine.verify(tiny, bush1)) == Status.FK_ERR_NO_FACE
    assert status_of(lambda: engine.embed(tiny)) == Status.FK_ERR_NO_FACE
    # Inconsistent image descriptors.
    h, w, _ = bush1.shape
    nv21 = rgb_to_nv21(bush1)
    assert status_of(lambda: engine.detect(Image.nv21(nv21[:-10], w, h))) == Status.FK_ERR_INVALID_IMAGE
    assert status_of(lambda: engine.detect(Image.nv21(nv21, w, h, stride=w - 2))) == Status.FK_ERR_INVALID_IMAGE
    assert status_of(lambda: engine.detect(Image.nv21(nv21, 0, h))) == Status.FK_ERR_INVALID_IMAGE
    assert status_of(lambda: engine.detect(bush1, rotation=45)) == Status.FK_ERR_INVALID_ARGUMENT
    assert status_of(lambda: engine.detect(bush1, format="nv12")) == Status.FK_ERR_INVALID_ARGUMENT
    # Faces with non-finite coordinates.
    bad = facekit.Face((np.nan, 0, 10, 10), 0.9, ((1, 1),) * 5)
    assert status_of(lambda: engine.embed(bush1, bad)) == Status.FK_ERR_INVALID_ARGUMENT
    # Engine construction.
    assert status_of(lambda: Engine(MODELS, detector_input_size=5)) == Status.FK_ERR_INVALID_ARGUMENT
    assert status_of(lambda: Engine(MODELS, no_such_option=1)) == Status.FK_ERR_INVALID_ARGUMENT
    assert status_of(lambda: Engine(tmp_path / "no-models")) in (Status.FK_ERR_MODEL_LOAD, Status.FK_ERR_IO)


def test_closed_handles_refuse_calls(bush1):
    e = Engine(MODELS)
    g = Gallery(e)
    e.close()
    e.close()  # idempotent
    with pytest.raises(ValueError):
        e.detect(bush1)
    assert len(g) == 0  # a gallery does not depend on the engine after creation
    g.close()
    g.close()
    with pytest.raises(ValueError):
        len(g)


def test_finalizer_frees_unclosed_handles():
    e = Engine(MODELS)
    g = Gallery(e)
    fe, fg = e._h._finalizer, g._h._finalizer
    assert fe.alive and fg.alive
    del e, g
    gc.collect()
    assert not fe.alive and not fg.alive


# ---------------------------------------------------------------------------------------------------------
# Threads


def test_threads_share_one_engine(engine, bush1, bush2, powell):
    images = [bush1, bush2, powell]
    expected = [(engine.detect(im), engine.embed(im)) for im in images]
    results, errors = [], []
    lock = threading.Lock()

    def work(tid):
        try:
            for i in range(6):
                k = (tid + i) % len(images)
                faces = engine.detect(images[k])
                emb = engine.embed(images[k], faces[0])
                with lock:
                    results.append((k, faces, emb))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 8 * 6
    for k, faces, emb in results:
        assert faces == expected[k][0]
        assert np.array_equal(emb, expected[k][1])  # bit-identical: no shared mutable state


def test_close_waits_for_calls_in_flight(bush1):
    """close() from one thread while others run calls must neither crash nor free under them."""
    e = Engine(MODELS)
    started, outcomes = threading.Barrier(3), []

    def work():
        started.wait()
        try:
            for _ in range(20):
                e.detect(bush1)
            outcomes.append("finished")
        except ValueError:
            outcomes.append("closed")  # a call after close() is refused cleanly

    ts = [threading.Thread(target=work) for _ in range(2)]
    for t in ts:
        t.start()
    started.wait()
    time.sleep(0.05)
    e.close()
    for t in ts:
        t.join()
    assert len(outcomes) == 2 and set(outcomes) <= {"finished", "closed"}
    assert e.closed


# ---------------------------------------------------------------------------------------------------------
# Lifetime loops: native memory must stay flat


GALLERY_TEMPLATES = 40  # per cycle: ~20 KB of native memory, so a leak of whole galleries shows in RSS


def _fill(g, emb, others):
    g.enroll("bush", emb)
    for j, v in enumerate(others):
        g.enroll(f"id-{j}", v)


def test_rss_probe_detects_a_real_leak(engine, bush1):
    """Sensitivity check of the measurement used below: galleries that are never freed must show up."""
    emb = engine.embed(bush1)
    others = np.random.default_rng(1).standard_normal((GALLERY_TEMPLATES, 128)).astype(np.float32)
    before = rss_mb()
    leaked = []
    for _ in range(300):
        g = Gallery(engine)
        _fill(g, emb, others)
        g._h._finalizer.detach()  # simulate a binding that forgets fk_gallery_free
        leaked.append(g._h._ptr)
        del g
    grown = rss_mb() - before
    for p in leaked:  # clean up after ourselves
        facekit._lib.fk_gallery_free(p)
    print(f"\n[mem] 300 deliberately leaked galleries: VmRSS {grown:+.1f} MB")
    assert grown > 3.0


def test_gallery_cycles_keep_memory_flat(engine, bush1, tmp_path):
    emb = engine.embed(bush1)
    rng = np.random.default_rng(7)
    others = rng.standard_normal((GALLERY_TEMPLATES, 128)).astype(np.float32)
    path = tmp_path / "cycle.fkg"

    def cycle(i):
        with Gallery(engine) as g:
            _fill(g, emb, others)
            assert len(g) == GALLERY_TEMPLATES + 1
            assert g.search(emb, k=2)[0][0] == "bush"
            g.remove("id-0")
            if i % 100 == 0:  # save/load fsyncs: only now and then
                g.save(path)
                with Gallery.load(engine, path) as g2:
                    assert len(g2) == GALLERY_TEMPLATES
        if i % 2:  # half the galleries are left to the finalizer instead of close()
            g = Gallery(engine)
            g.enroll("x", emb)
            del g

    for i in range(100):  # warm-up: allocator pools, caches
        cycle(i)
    before, heap0 = rss_mb(), c_heap_mb()
    t0 = time.perf_counter()
    for i in range(GALLERY_CYCLES):
        cycle(i)
    secs = time.perf_counter() - t0
    after, heap1 = rss_mb(), c_heap_mb()
    print(f"\n[mem] Gallery x{GALLERY_CYCLES}: VmRSS {before:.1f} -> {after:.1f} MB "
          f"({after - before:+.1f} MB), C heap in use {heap1 - heap0:+.2f} MB, in {secs:.1f} s")
    # Leaking every gallery would add ~40 MB per 1,000 cycles (see the probe test): allow far less.
    assert after - before < 5.0


def test_engine_cycles_keep_memory_flat(bush1):
    def cycle():
        with Engine(MODELS) as e:
            faces = e.detect(bush1)
            e.embed(bush1, faces[0])
            e.quality(bush1, faces[0])
            with Gallery(e) as g:
                g.enroll_image(e, "b", bush1)

    for _ in range(3):  # warm-up
        cycle()
    before, heap0 = rss_mb(), c_heap_mb()
    t0 = time.perf_counter()
    for _ in range(ENGINE_CYCLES):
        cycle()
    secs = time.perf_counter() - t0
    after, heap1 = rss_mb(), c_heap_mb()
    print(f"\n[mem] Engine x{ENGINE_CYCLES}: VmRSS {before:.1f} -> {after:.1f} MB "
          f"({after - before:+.1f} MB), C heap in use {heap1 - heap0:+.2f} MB, in {secs:.1f} s")
    assert after - before < RSS_GROWTH_LIMIT_MB
