"""Differential test with identical pixels: every image of data/faces decoded by OpenCV (the reference's decoder),
handed to facekit as a BGR numpy array, must give the reference's faces, landmarks and embeddings.

The Rust golden test (tests/golden.rs) decodes the JPEGs itself; its one border face at IoU 0.886 comes from
the JPEG decoders (zune-jpeg vs libjpeg-turbo), which this test removes from the comparison.
"""

import json
import os

import numpy as np
import pytest

from support import SHARED
import facekit  # noqa: E402

cv2 = pytest.importorskip("cv2") if os.environ.get("FACEKIT_REQUIRE_CV2") != "1" else __import__("cv2")


def test_identical_pixels_give_the_reference_results():
    ref = json.loads((SHARED / "golden" / "reference.json").read_text())
    faces = close = 0
    worst_iou, lm_err, cos_min = 1.0, [], 1.0
    extra = []
    with facekit.Engine(SHARED / "models", detector_input_size=640) as e:
        for item in ref["images"]:
            bgr = cv2.imread(str(SHARED / item["image"]))
            assert bgr is not None, item["image"]
            ours = e.detect(bgr, format="bgr")
            for rf in item["faces"]:
                x0, y0, x1, y1 = rf["box"]
                r = facekit.Face((x0, y0, x1 - x0, y1 - y0), rf["score"], tuple(map(tuple, rf["landmarks"])))
                best = max(ours, key=lambda o: o.iou(r), default=None)
                if best is None or best.iou(r) < 0.5:
                    assert rf["score"] < 0.6, f"{item['image']}: reference face {rf['box']} not found"
                    continue
                if rf["score"] >= 0.6:
                    worst_iou = min(worst_iou, best.iou(r))
                lm_err += [float(np.hypot(a[0] - b[0], a[1] - b[1])) for a, b in zip(best.landmarks, r.landmarks)]
                c = float(np.dot(e.embed(bgr, best, format="bgr"), np.asarray(rf["embedding"], np.float32)))
                cos_min = min(cos_min, c)
                faces += 1
                close += c >= 0.99
            for o in ours:
                if o.score > 0.6 and not any(o.iou(facekit.Face((f["box"][0], f["box"][1], f["box"][2] - f["box"][0],
                                                                   f["box"][3] - f["box"][1]), 0, ())) >= 0.5
                                             for f in item["faces"]):
                    extra.append((item["image"], o.box))
    print(f"\n[golden-pixels] {faces} faces, worst IoU {worst_iou:.4f}, mean landmark error {np.mean(lm_err):.4f} px, "
          f"{close}/{faces} embeddings with cosine >= 0.99 (min {cos_min:.4f})")
    assert faces > 200
    assert not extra, extra
    assert worst_iou >= 0.9
    assert np.mean(lm_err) <= 1.5
    assert close >= 0.98 * faces


def _primary_face(engines, bgr):
    """The reference's face choice (liveness_ref.py, facekit's eval::primary_face): nearest the centre with a
    bonus for size; a second try at detector threshold 0.05 when nothing is found at 0.5."""
    h, w = bgr.shape[:2]
    for e in engines:
        faces = e.detect(bgr, format="bgr")
        if faces:
            def cost(f):
                x, y, bw, bh = f.box
                return float(np.hypot(x + bw / 2 - w / 2, y + bh / 2 - h / 2)) - 0.3 * float(np.sqrt(max(bw, 0) * max(bh, 0)))
            return min(faces, key=cost)
    return None


def test_identical_pixels_give_the_reference_liveness_scores():
    """Every Replay-Attack frame of ../golden/liveness-replay-attack.csv, decoded by OpenCV as the reference did:
    facekit's liveness crops, resize and models reproduce the reference's per-model and ensemble scores.
    (tests/liveness.rs makes the same comparison with facekit's own JPEG decoder, whose chroma upsampling moves
    the scores by a few hundredths.)"""
    import csv
    from concurrent.futures import ThreadPoolExecutor

    rows = list(csv.DictReader(open(SHARED / "golden" / "liveness-replay-attack.csv")))
    assert len(rows) == 840
    with facekit.Engine(SHARED / "models", load_quality=False) as e, \
            facekit.Engine(SHARED / "models", load_quality=False, score_threshold=0.05) as e_low:

        def score(row):
            bgr = cv2.imread(str(SHARED / row["path"]))
            face = _primary_face((e, e_low), bgr)
            assert face is not None, row["path"]
            return e.liveness(bgr, face, format="bgr")

        with ThreadPoolExecutor(2) as pool:  # native calls release the GIL
            reports = list(pool.map(score, rows))
    diffs = []
    for row, r in zip(rows, reports):
        assert r.status == facekit.LivenessStatus.ASSESSED, row["path"]
        ref = [float(row[k]) for k in ("p_real_v2", "p_real_v1se", "p_real_ens")]
        diffs.append(max(abs(a - b) for a, b in zip([*r.model_scores, r.score], ref)))
    diffs = np.array(diffs)
    print(f"\n[golden-pixels] liveness, {len(rows)} frames: max |facekit - reference| {diffs.max():.2e} "
          f"(models and ensemble); {(diffs <= 0.02).sum()} within 0.02")
    assert (diffs <= 1e-3).all(), [rows[i]["path"] for i in np.flatnonzero(diffs > 1e-3)]
