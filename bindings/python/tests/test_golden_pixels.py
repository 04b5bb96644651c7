"""Differential test with identical pixels: every image of data/faces decoded by OpenCV (the reference's decoder),
handed to facekit as a BGR numpy array, must give the reference's faces, landmarks and embeddings.

The Rust golden test (tests/golden.rs) decodes the JPEGs itself; its one border face at IoU 0.886 comes from
the JPEG decoders (zune-jpeg vs libjpeg-turbo), which this test removes from the comparison.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "bindings" / "python"))
import facekit  # noqa: E402

SHARED = Path(os.environ.get("FACEKIT_SHARED") or REPO.parent / "shared")
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
