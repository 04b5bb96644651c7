#!/usr/bin/env bash
# facekit's footprint and cold start as one JSON object (BENCHMARKS.md, "Footprint and cold start"):
#   so_bytes          stripped libfacekit.so: release profile (default features) and device profile (device features)
#   a_bytes           libfacekit.a of both profiles (an archive of every dependency's objects, unstripped)
#   static_exe_bytes  examples/c/verify.c linked fully statically (-static: glibc too) against the device
#                     libfacekit.a with --gc-sections, then stripped
#   load_ms           engine load of the default models (detector, embedder, learned quality, liveness pair) from
#                     the model directory, one thread, median of RUNS (examples/footprint.rs, release profile)
#   load_ms_memory    the same from a pack in memory (Engine::from_pack_bytes, what fk_engine_new_from_memory calls)
#   rss_kib           peak RSS (/usr/bin/time) of the static verify executable verifying two photos
# Usage: bench/footprint.sh [RUNS]   (builds what is missing; with everything built it takes seconds)
# DEVICE_FEATURES overrides the device build's cargo feature flags.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
models=${FACEKIT_MODELS:-../shared/models}
photos=../shared/data/faces/face_recognition/examples
device_features=${DEVICE_FEATURES:---no-default-features}
out=target/footprint
mkdir -p "$out"

cargo build -q -p facekit --release --lib
cargo build -q -p facekit --profile device --lib $device_features
cargo build -q -p facekit --release --example footprint

for p in release device; do
  strip -o "$out/libfacekit-$p.so" "target/$p/libfacekit.so"
done
cc -std=c11 -O2 -static -ffunction-sections -Wl,--gc-sections examples/c/verify.c -Iinclude \
  target/device/libfacekit.a -lm -lpthread -ldl -o "$out/verify_static" 2>"$out/static_link.log"
strip "$out/verify_static"

RAYON_NUM_THREADS=1 /usr/bin/time -f '%M' -o "$out/rss" \
  "$out/verify_static" "$models" "$photos/obama.jpg" "$photos/obama2.jpg" >"$out/verify.out"
load=$(RAYON_NUM_THREADS=1 target/release/examples/footprint "$models" "$runs")

python3 - "$out" "$load" <<'PY'
import json, os, sys
out, load = sys.argv[1], json.loads(sys.argv[2])
size = lambda p: os.path.getsize(p)
r = {
    "so_bytes": {p: size(f"{out}/libfacekit-{p}.so") for p in ("release", "device")},
    "a_bytes": {p: size(f"target/{p}/libfacekit.a") for p in ("release", "device")},
    "static_exe_bytes": size(f"{out}/verify_static"),
    "static_exe_link": "cc -static (glibc) + device libfacekit.a, --gc-sections, stripped",
    **load,
    "rss_kib": int(open(f"{out}/rss").read().split()[-1]),
    "verify": open(f"{out}/verify.out").read().strip(),
}
print(json.dumps(r))
PY
