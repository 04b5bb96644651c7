#!/usr/bin/env bash
# What the device profile's optimisation level buys in size and costs in speed, on x86-64 (where speed can be
# measured): each variant is the device profile (fat LTO, one codegen unit) with other opt-levels, built into
# its own target dir (target/trials/NAME): the stripped device .so (`--lib --no-default-features`, what firmware
# links) and the CLI with the same profile. Then the CLIs are timed in alternating rounds on one photo, one
# thread (`facekit bench`), and each variant's time is divided by the baseline's in the same round.
# Usage: bench/device_profile_trials.sh [build|measure|all] [ROUNDS] [RUNS_PER_ROUND]
# Last line: one JSON object {"variants": {NAME: {"so_bytes", "detect_align_embed_ratio", "liveness_ratio", ...}}}.
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:-all}
rounds=${2:-8}
runs=${3:-20}
img=${FACEKIT_BENCH_IMAGE:-../shared/data/faces/face_recognition/examples/obama-480p.jpg}
# NAME|cargo --config overrides of [profile.device]. "not hot": every package at "s" except the three whose
# code runs per pixel or per weight: tract-linalg (matmul/conv kernels), tract-core (operators), facekit.
variants=(
  "opt3|"
  "s|profile.device.opt-level=\"s\""
  "z|profile.device.opt-level=\"z\""
  "s_not_hot|profile.device.package.\"*\".opt-level=\"s\" profile.device.package.tract-linalg.opt-level=3 profile.device.package.tract-core.opt-level=3 profile.device.package.facekit.opt-level=3"
)
build() {
  local name=$1 cfg=() t
  for c in $2; do cfg+=(--config "$c"); done
  export CARGO_TARGET_DIR=target/trials/$name
  t=$(date +%s)
  cargo build -q -p facekit --profile device --lib --no-default-features "${cfg[@]}"
  cp "$CARGO_TARGET_DIR/device/libfacekit.so" "$CARGO_TARGET_DIR/libfacekit-device.so"
  cargo build -q -p facekit-cli --profile device "${cfg[@]}"
  echo $(( $(date +%s) - t )) > "$CARGO_TARGET_DIR/build_seconds"
  unset CARGO_TARGET_DIR
}
if [ "$phase" = build ] || [ "$phase" = all ]; then
  for v in "${variants[@]}"; do
    name=${v%%|*}
    [ -x "target/trials/$name/device/facekit" ] && [ -f "target/trials/$name/libfacekit-device.so" ] && continue
    echo "device_profile_trials: building $name" >&2
    build "$name" "${v#*|}"
  done
fi
[ "$phase" = build ] && exit 0
export RAYON_NUM_THREADS=1
out=$(mktemp)
for _ in $(seq "$rounds"); do
  line="{"
  for v in "${variants[@]}"; do
    name=${v%%|*}
    line+="\"$name\": $("target/trials/$name/device/facekit" bench --image "$img" --runs "$runs" --json),"
  done
  echo "${line%,}}" >> "$out"
done
python3 - "$out" "${variants[@]}" <<'PY'
import json, os, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
variants = [v.split("|", 1) for v in sys.argv[2:]]
dae = lambda d: d["detect_ms"] + d["align_ms"] + d["embed_ms"]
base = variants[0][0]
res = {}
print(f"{len(rows)} alternating rounds of {rows[0][base]['runs']} runs, one thread, {rows[0][base]['image']}; ratios to {base}, median over rounds")
for name, cfg in variants:
    d = f"target/trials/{name}"
    r = {
        "config": cfg or "[profile.device] as committed",
        "so_bytes": os.path.getsize(f"{d}/libfacekit-device.so"),
        "cli_bytes": os.path.getsize(f"{d}/device/facekit"),
        "detect_align_embed_ms": st.median(dae(x[name]) for x in rows),
        "detect_align_embed_ratio": st.median(dae(x[name]) / dae(x[base]) for x in rows),
        "liveness_ratio": st.median(x[name]["liveness_ms"] / x[base]["liveness_ms"] for x in rows),
        "quality_ratio": st.median(x[name]["quality_ms"] / x[base]["quality_ms"] for x in rows),
        "model_load_ratio": st.median(x[name]["model_load_ms"] / x[base]["model_load_ms"] for x in rows),
    }
    bs = f"{d}/build_seconds"
    if os.path.exists(bs):
        r["build_seconds"] = int(open(bs).read())
    res[name] = r
    print(f"{name:10} .so {r['so_bytes']:>11,} B  detect+align+embed {r['detect_align_embed_ms']:6.2f} ms ×{r['detect_align_embed_ratio']:.2f}  "
          f"liveness ×{r['liveness_ratio']:.2f}  quality ×{r['quality_ratio']:.2f}  load ×{r['model_load_ratio']:.2f}")
print(json.dumps({"variants": res}))
PY
rm -f "$out"
