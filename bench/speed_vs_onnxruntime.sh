#!/usr/bin/env bash
# facekit's detect-align-embed time per photo divided by the onnxruntime reference's, both single-threaded.
# The machine's speed drifts by up to 1.5x within minutes, so the two are timed in alternating rounds and the
# ratio is taken per round: the median of those ratios is the figure. Usage:
#   bench/speed_vs_onnxruntime.sh [IMAGE] [ROUNDS] [RUNS_PER_ROUND]
# ALT_RUSTFLAGS='-C target-cpu=x86-64-v3' also builds the CLI with those flags (in target/alt) and times it in
# the same alternating rounds: its ratio to onnxruntime and to the default build are printed too.
set -euo pipefail
cd "$(dirname "$0")/.."
img=${1:-../shared/data/faces/face_recognition/examples/obama-480p.jpg}
rounds=${2:-8}
runs=${3:-20}
python3 -c "import onnxruntime, cv2, numpy" 2>/dev/null || pip install -q onnxruntime opencv-python-headless numpy
cargo build --release -q
alt_flags=${ALT_RUSTFLAGS:-}
if [ -n "$alt_flags" ]; then
  CARGO_TARGET_DIR=target/alt RUSTFLAGS="$alt_flags" cargo build --release -q -p facekit-cli
fi
export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1
out=$(mktemp)
for _ in $(seq "$rounds"); do
  fk=$(./target/release/facekit bench --image "$img" --runs "$runs" --json)
  ort=$(python3 bench/ort_reference.py "$img" --runs "$runs" --quality-model "$(echo "$fk" | python3 -c 'import json,sys; print(json.load(sys.stdin)["quality_model"])')")
  alt=null
  if [ -n "$alt_flags" ]; then alt=$(./target/alt/release/facekit bench --image "$img" --runs "$runs" --json); fi
  echo "{\"fk\": $fk, \"ort\": $ort, \"alt\": $alt}" >> "$out"
done
ALT_RUSTFLAGS="$alt_flags" python3 - "$out" <<'PY'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fk0 = rows[0]["fk"]
print(f"image {fk0['image']} {fk0['width']}x{fk0['height']}, detector input {fk0['detector_input']}, "
      f"{len(rows)} alternating rounds of {fk0['runs']} runs, one thread; medians over rounds")
print(f"{'stage':8} {'facekit ms':>11} {'onnxruntime ms':>15} {'ratio':>7}")
for k in ("decode", "detect", "align", "embed"):
    a, b = st.median(r["fk"][k + "_ms"] for r in rows), st.median(r["ort"][k + "_ms"] for r in rows)
    print(f"{k:8} {a:11.2f} {b:15.2f} {a / b:7.2f}")
dae = lambda d: d["detect_ms"] + d["align_ms"] + d["embed_ms"]
ratios = sorted(dae(r["fk"]) / dae(r["ort"]) for r in rows)
print(f"detect+align+embed: facekit {st.median(dae(r['fk']) for r in rows):.2f} ms, onnxruntime "
      f"{st.median(dae(r['ort']) for r in rows):.2f} ms; ratio per round {', '.join(f'{x:.2f}' for x in ratios)}; "
      f"median ratio {st.median(ratios):.2f}")
fq = lambda r: r["fk"]["learned_quality_ms"] / r["ort"]["learned_quality_ms"]
print(f"learned quality ({fk0['quality_model']}: its alignment + inference): facekit "
      f"{st.median(r['fk']['learned_quality_ms'] for r in rows):.2f} ms, onnxruntime "
      f"{st.median(r['ort']['learned_quality_ms'] for r in rows):.2f} ms, median ratio {st.median(fq(r) for r in rows):.2f}")
print(f"whole quality report (classic measures + learned): {st.median(r['fk']['quality_ms'] for r in rows):.2f} ms; "
      "per round " + ", ".join(f"{r['fk']['quality_ms']:.2f}" for r in rows))
print(f"model load: {st.median(r['fk']['model_load_ms'] for r in rows):.0f} ms")
if rows[0]["alt"] is not None:
    import os
    flags = os.environ["ALT_RUSTFLAGS"]
    alt_ort = sorted(dae(r["alt"]) / dae(r["ort"]) for r in rows)
    alt_fk = sorted(dae(r["alt"]) / dae(r["fk"]) for r in rows)
    print(f"built with {flags}: detect+align+embed ratio to onnxruntime per round {', '.join(f'{x:.2f}' for x in alt_ort)}; "
          f"median {st.median(alt_ort):.2f}; to the default build: median {st.median(alt_fk):.2f}")
    for k in ("detect", "align", "embed"):
        print(f"  {k:7} {flags} / default build: median ratio {st.median(r['alt'][k + '_ms'] / r['fk'][k + '_ms'] for r in rows):.2f}")
    print(f"  model load {flags} / default build: median ratio "
          f"{st.median(r['alt']['model_load_ms'] / r['fk']['model_load_ms'] for r in rows):.2f}")
PY
rm -f "$out"
