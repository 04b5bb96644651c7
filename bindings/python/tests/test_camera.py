"""Tests of CameraCalibrator (fk_camera_calibrator): the crowd clip measures the camera and writes a manifest an
engine then loads; thin footage (blank frames, one still photo) is refused with the library's status and
message, and nothing is written."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from support import MODELS, SHARED

import facekit  # noqa: E402
from facekit import CameraCalibrator, Engine, FacekitError, Status  # noqa: E402

CROWD = SHARED / "data" / "video" / "facenetpt_opera_crowd.mp4"
PHOTO = SHARED / "data" / "lfw" / "images" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg"


def crowd_frames():
    """The crowd clip's frames (1920x1080 RGB), one at a time from ffmpeg."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (Debian package ffmpeg)")
    w, h = 1920, 1080
    p = subprocess.Popen(["ffmpeg", "-v", "error", "-nostdin", "-i", str(CROWD), "-fps_mode", "passthrough", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    try:
        while True:
            buf = p.stdout.read(w * h * 3)
            if len(buf) < w * h * 3:
                break
            yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
    finally:
        p.stdout.close()
        assert p.wait() == 0


def test_crowd_clip_measures_the_camera_and_writes_the_manifest(engine, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for f in MODELS.glob("*.onnx"):
        (models / f.name).symlink_to(f)
    out = models / "manifest.json"
    with CameraCalibrator(engine) as cal:
        for frame in crowd_frames():
            cal.add_frame(frame)
        assert cal.frames == 105
        r = cal.finish(25.0, "opera crowd", out)
    assert cal.closed
    assert r.frames == 105 and abs(r.seconds - 4.2) < 1e-9
    assert r.impostor_pairs >= 10 and r.tracks >= 2 and r.impostor_mean < r.impostor_max <= 1.0
    assert sorted(p.name for p in models.iterdir() if not p.name.endswith(".onnx")) == ["manifest.json"]
    manifest = json.loads(out.read_text())
    cams = [c["camera"] for m in manifest["models"] for c in m.get("calibrations", []) if c.get("camera")]
    assert len(cams) == 1 and cams[0]["impostor_pairs"] == r.impostor_pairs and cams[0]["source"] == "opera crowd"
    with Engine(models) as adapted:  # the written manifest loads
        assert adapted.embedding_dim == engine.embedding_dim


def test_thin_footage_is_refused_and_nothing_written(engine, tmp_path):
    out = tmp_path / "manifest.json"
    with CameraCalibrator(engine) as cal:
        with pytest.raises(FacekitError) as e:
            cal.finish(30, "nothing", out)
        assert e.value.status == Status.FK_ERR_NO_FACE
        for _ in range(3):
            cal.add_frame(np.full((48, 64, 3), 128, np.uint8))
        with pytest.raises(FacekitError) as e:
            cal.finish(30, "blank", out)
        assert e.value.status == Status.FK_ERR_NO_FACE and "3 frames" in e.value.message
        cal.new_stream()
        photo = facekit.load_image(PHOTO)
        for _ in range(4):
            cal.add_frame(photo)
        with pytest.raises(FacekitError) as e:
            cal.finish(30, "a still photo", out)
        assert e.value.status == Status.FK_ERR_INVALID_ARGUMENT
        assert "in view together" in e.value.message and "at least 10" in e.value.message
        with pytest.raises(FacekitError) as e:
            cal.finish(0, "x", out)
        assert e.value.status == Status.FK_ERR_INVALID_ARGUMENT
        with pytest.raises(FacekitError) as e:
            cal.add_frame(np.zeros((4, 4, 2), np.uint8))
        assert cal.frames == 7
    assert not out.exists()
    with pytest.raises(ValueError):
        cal.add_frame(photo)
    cal.close()  # idempotent
