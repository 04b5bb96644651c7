#!/usr/bin/env bash
# facekit's liveness time (both MiniFASNet models: crops, resize, inference, softmax; detection excluded) per
# face divided by the onnxruntime reference's, both single-threaded, in alternating rounds (this machine's
# speed drifts by up to 1.5x within minutes; the ratio is taken per round and the median reported). Usage:
#   bench/liveness_vs_onnxruntime.sh [IMAGE] [ROUNDS] [RUNS_PER_ROUND]
set -euo pipefail
cd "$(dirname "$0")/.."
img=${1:-../shared/data/liveness/replay-attack/real/devel/client005_session01_webcam_authenticate_controlled_1.jpg}
rounds=${2:-8}
runs=${3:-30}
python3 -c "import onnxruntime, cv2, numpy" 2>/dev/null || pip install -q onnxruntime opencv-python-headless numpy
cargo build --release -q
export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1
out=$(mktemp)
for _ in $(seq "$rounds"); do
  fk=$(./target/release/facekit bench --image "$img" --runs "$runs" --json)
  ort=$(python3 bench/ort_liveness.py "$img" --runs "$runs")
  echo "{\"fk\": $fk, \"ort\": $ort}" >> "$out"
done
python3 - "$out" <<'PY'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
r0 = rows[0]
print(f"image {r0['fk']['image']} {r0['fk']['width']}x{r0['fk']['height']}, {len(rows)} alternating rounds of "
      f"{r0['fk']['runs']} calls, one thread; liveness score facekit {r0['fk']['liveness_score']:.4f}, onnxruntime {r0['ort']['score']:.4f}")
ratios = sorted(r["fk"]["liveness_ms"] / r["ort"]["liveness_ms"] for r in rows)
fk = st.median(r["fk"]["liveness_ms"] for r in rows)
ort = st.median(r["ort"]["liveness_ms"] for r in rows)
print(f"liveness (2 models): facekit {fk:.2f} ms, onnxruntime {ort:.2f} ms; ratio per round "
      f"{', '.join(f'{x:.2f}' for x in ratios)}; median ratio {st.median(ratios):.2f}")
print(f"engine load (detector, embedder, quality and both liveness models; sha256 checks + plans): {st.median(r['fk']['model_load_ms'] for r in rows):.0f} ms")
PY
rm -f "$out"
