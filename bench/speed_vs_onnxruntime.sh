#!/usr/bin/env bash
# facekit's detect-align-embed time per photo divided by the onnxruntime reference's, measured in the same
# run, both single-threaded. Usage: bench/speed_vs_onnxruntime.sh [IMAGE] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
img=${1:-../shared/data/faces/face_recognition/examples/obama-480p.jpg}
runs=${2:-30}
python3 -c "import onnxruntime, cv2, numpy" 2>/dev/null || pip install -q onnxruntime opencv-python-headless numpy
cargo build --release -q
export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1
fk=$(./target/release/facekit bench --image "$img" --runs "$runs" --json)
ort=$(python3 bench/ort_reference.py "$img" --runs "$runs")
python3 - "$fk" "$ort" <<'PY'
import json, sys
fk, ort = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"image {fk['image']} {fk['width']}x{fk['height']}, detector input {fk['detector_input']}, median of {fk['runs']} runs, one thread")
print(f"{'stage':8} {'facekit ms':>11} {'onnxruntime ms':>15} {'ratio':>7}")
for k in ("decode", "detect", "align", "embed"):
    print(f"{k:8} {fk[k + '_ms']:11.2f} {ort[k + '_ms']:15.2f} {fk[k + '_ms'] / ort[k + '_ms']:7.2f}")
dae_fk = fk["detect_ms"] + fk["align_ms"] + fk["embed_ms"]
dae_ort = ort["detect_ms"] + ort["align_ms"] + ort["embed_ms"]
print(f"detect+align+embed: facekit {dae_fk:.2f} ms, onnxruntime {dae_ort:.2f} ms, ratio {dae_fk / dae_ort:.2f}")
print(f"model load: {fk['model_load_ms']:.0f} ms; quality (classic + LightQNet) {fk['quality_ms']:.2f} ms")
PY
