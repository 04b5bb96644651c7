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
#   process_spawn_symbols  what the stripped device .so imports of posix_spawn*/exec*/fork/system: must be none
#                     (the benchmark and evaluation code that starts processes is behind the features `bench`,
#                     `eval` and `fuzzing`, which the device build leaves off); the script fails otherwise
# Usage: bench/footprint.sh [RUNS]   (builds what is missing; with everything built it takes seconds)
#        bench/footprint.sh --target aarch64-unknown-linux-gnu|armv7-unknown-linux-gnueabihf
#            the same sizes for an ARM target (cross/setup.sh's toolchain, built into target/cross): .so and .a of
#            both profiles, the static verify linked with the target's gcc; no load_ms/rss (QEMU's timings say
#            nothing about a device), but the static verify is run once under QEMU to show it works.
# DEVICE_FEATURES overrides the device build's cargo feature flags.
set -euo pipefail
cd "$(dirname "$0")/.."
spawn_symbols() { # the process-spawning symbols a shared library imports or defines, comma-separated
  "$1" -D "$2" | awk '{sub(/@.*/, "", $NF); print $NF}' | grep -xE 'posix_spawn[a-z_]*|exec[lv]p?e?|fexecve|fork|vfork|_Fork|system|popen' | paste -sd, - || true
}
spawn_refs_a() { # objects of a static library that call std::process::Command::spawn or libc's spawners
  "$1" "$2" 2>/dev/null | grep -cE ' U (.*Command5spawn.*|posix_spawnp?|execvpe?|fork|vfork)(@.*)?$' || true
}
if [ "${1:-}" = --target ]; then
  T=${2:?--target TARGET}
  case "$T" in
    aarch64-unknown-linux-gnu) gnu=aarch64-linux-gnu qemu=qemu-aarch64 cpu=cortex-a53 ;;
    armv7-unknown-linux-gnueabihf) gnu=arm-linux-gnueabihf qemu=qemu-arm cpu=cortex-a7 ;;
    *) echo "footprint.sh: unknown target $T" >&2; exit 2 ;;
  esac
  bash cross/setup.sh
  TU=$(echo "$T" | tr 'a-z-' 'A-Z_')
  export "CARGO_TARGET_${TU}_LINKER=$gnu-gcc" CARGO_TARGET_DIR=${CROSS_TARGET_DIR:-target/cross}
  cargo=(env RUSTC=/usr/bin/rustc /usr/bin/cargo)
  device_features=${DEVICE_FEATURES:---no-default-features}
  base=$CARGO_TARGET_DIR/$T
  out=$base/footprint
  mkdir -p "$out"
  "${cargo[@]}" build -q -p facekit --release --lib --target "$T"
  t=$(date +%s)
  "${cargo[@]}" build -q -p facekit --profile device --lib $device_features --target "$T"
  device_build_s=$(( $(date +%s) - t ))
  for p in release device; do
    "$gnu-strip" -o "$out/libfacekit-$p.so" "$base/$p/libfacekit.so"
  done
  "$gnu-gcc" -std=c11 -O2 -static -ffunction-sections -Wl,--gc-sections examples/c/verify.c -Iinclude \
    "$base/device/libfacekit.a" -lm -lpthread -ldl -o "$out/verify_static" 2>"$out/static_link.log"
  "$gnu-strip" "$out/verify_static"
  photos=../shared/data/faces/face_recognition/examples
  verify=$(QEMU_CPU=$cpu "$qemu" -cpu "$cpu" "$out/verify_static" "${FACEKIT_MODELS:-../shared/models}" "$photos/obama.jpg" "$photos/obama2.jpg" 2>&1 || true)
  spawn=$(spawn_symbols "$gnu-nm" "$out/libfacekit-device.so")
  spawn_a=$(spawn_refs_a "$gnu-nm" "$base/device/libfacekit.a")
  spawn_a_release=$(spawn_refs_a "$gnu-nm" "$base/release/libfacekit.a")
  python3 - "$T" "$base" "$out" "$spawn" "$verify" "$device_build_s" "$spawn_a" "$spawn_a_release" <<'PY'
import json, os, sys
t, base, out, spawn, verify, secs, spawn_a, spawn_a_release = sys.argv[1:]
size = os.path.getsize
print(json.dumps({
    "target": t,
    "so_bytes": {p: size(f"{out}/libfacekit-{p}.so") for p in ("release", "device")},
    "a_bytes": {p: size(f"{base}/{p}/libfacekit.a") for p in ("release", "device")},
    "static_exe_bytes": size(f"{out}/verify_static"),
    "static_exe_link": "target gcc -static (glibc) + device libfacekit.a, --gc-sections, stripped",
    "process_spawn_symbols": [s for s in spawn.split(",") if s],
    "a_process_spawn_refs": {"release": int(spawn_a_release), "device": int(spawn_a)},
    "device_build_seconds_if_not_current": int(secs),
    "verify_under_qemu": verify.strip(),
    "speed": "not measured: QEMU user-mode emulation (see BENCHMARKS.md)",
}))
PY
  [ -z "$spawn" ] && [ "$spawn_a" = 0 ] || { echo "footprint.sh: the device library can start processes: $spawn ($spawn_a .a references)" >&2; exit 1; }
  exit 0
fi
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

spawn=$(spawn_symbols nm "$out/libfacekit-device.so")
spawn_a=$(spawn_refs_a nm target/device/libfacekit.a)
spawn_a_release=$(spawn_refs_a nm target/release/libfacekit.a)
python3 - "$out" "$load" "$spawn" "$spawn_a" "$spawn_a_release" <<'PY'
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
    "process_spawn_symbols": [s for s in sys.argv[3].split(",") if s],
    "a_process_spawn_refs": {"release": int(sys.argv[5]), "device": int(sys.argv[4])},
}
print(json.dumps(r))
PY
[ -z "$spawn" ] && [ "$spawn_a" = 0 ] || { echo "footprint.sh: the device library can start processes: $spawn ($spawn_a .a references)" >&2; exit 1; }
