#!/usr/bin/env python3
"""Liveness per camera, and what adapting its threshold to a camera's live faces would cost.

Scores every frame of the shared liveness sets (each on its face nearest the centre, as `facekit eval liveness`)
and groups them by camera: Replay-Attack by split (one webcam), OULU-NPU dev by phone (the first number of
`cropped_PHONE_SESSION_USER_FILE.jpg`), CASIA-FASD train by camera quality (odd video numbers low, even normal,
`HR_` high). Per camera, APCER/BPCER (percent) at three thresholds:
  calibrated  the manifest's liveness threshold (the engine's operating point), what the engine uses;
  quantile    the camera's live-score quantile at the calibration set's own BPCER (so each camera refuses the
              share of its live faces the calibration camera did), never above the calibrated threshold: what
              `calibrate camera` could do with a camera's live-score distribution;
  log-odds    the calibrated threshold moved by the difference of the camera's and the calibration set's live
              medians in log-odds.
The adaptations use the camera's *labelled* live frames, the most they could ever know, so the APCERs are a
lower bound for an adaptation from unlabelled footage. Last line: one JSON object.

Usage: bench/liveness_per_camera.py [LIVENESS_DIR]   (default ../shared/data/liveness)
"""
import json, math, os, statistics, sys
from collections import defaultdict
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bindings" / "python"))
import facekit

repo = Path(__file__).resolve().parent.parent
root = Path(sys.argv[1] if len(sys.argv) > 1 else repo.parent / "shared" / "data" / "liveness")
models = os.environ.get("FACEKIT_MODELS", str(repo.parent / "shared" / "models"))


def camera(data_set, rel):
    name = rel.name[:-4].split("_")
    if data_set == "replay-attack":
        return "replay-attack " + rel.parts[0]
    if data_set == "oulu-npu":
        return "oulu-npu phone " + name[1]
    return "casia-fasd " + ("high" if "HR" in name else "low" if int(name[-1]) % 2 else "normal")


scores = defaultdict(lambda: {"real": [], "spoof": []})
with facekit.Engine(models) as engine:
    threshold = None
    for data_set in ("replay-attack", "oulu-npu", "casia-fasd"):
        for label in ("real", "spoof"):
            for f in sorted((root / data_set / label).rglob("*.jpg")):
                img = facekit.load_image(str(f))
                faces = engine.detect(img)
                h, w = img.shape[:2]
                cam = camera(data_set, f.relative_to(root / data_set / label))
                if not faces:  # a refusal for a live face, not an acceptance for a spoof
                    scores[cam][label].append(float("-inf"))
                    continue
                face = min(faces, key=lambda x: (x.box[0] + x.box[2] / 2 - w / 2) ** 2 + (x.box[1] + x.box[3] / 2 - h / 2) ** 2)
                r = engine.liveness(img, face)
                threshold = r.threshold
                scores[cam][label].append(r.score if math.isfinite(r.score) else float("-inf"))

logit = lambda p: math.log(min(max(p, 1e-6), 1 - 1e-6) / (1 - min(max(p, 1e-6), 1 - 1e-6)))
sigmoid = lambda z: 1 / (1 + math.exp(-z))
rates = lambda real, spoof, t: (100 * sum(s >= t for s in spoof) / len(spoof), 100 * sum(s < t for s in real) / len(real))
ref = sorted(scores["replay-attack devel"]["real"])  # the calibration set (manifest: Replay-Attack devel)
ref_bpcer = sum(s < threshold for s in ref) / len(ref)
ref_median = statistics.median(ref)
rows = {}
print(f"calibrated threshold {threshold:.4f}; calibration set's BPCER {100 * ref_bpcer:.1f} %, live median {ref_median:.4f}")
print(f"{'camera':26s} {'live':>4s} {'spoof':>5s} | {'calibrated':>16s} | {'quantile':>24s} | {'log-odds':>24s}")
for cam in sorted(scores):
    real, spoof = sorted(scores[cam]["real"]), scores[cam]["spoof"]
    t_q = min(threshold, real[int(ref_bpcer * len(real))])
    t_l = min(threshold, sigmoid(logit(threshold) + logit(statistics.median(real)) - logit(ref_median)))
    r = {"live": len(real), "spoof": len(spoof), "calibrated": rates(real, spoof, threshold),
         "quantile": (t_q,) + rates(real, spoof, t_q), "log_odds": (t_l,) + rates(real, spoof, t_l)}
    rows[cam] = r
    print(f"{cam:26s} {len(real):4d} {len(spoof):5d} | {r['calibrated'][0]:5.1f} / {r['calibrated'][1]:5.1f} %   | "
          f"t {t_q:.3f}: {r['quantile'][1]:5.1f} / {r['quantile'][2]:5.1f} % | t {t_l:.3f}: {r['log_odds'][1]:5.1f} / {r['log_odds'][2]:5.1f} %")
print(json.dumps({"threshold": threshold, "calibration_bpcer": ref_bpcer, "cameras": rows}))
