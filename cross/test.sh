#!/usr/bin/env bash
# Builds facekit for an ARM Linux target and runs its tests there under QEMU user mode, on the oldest core a
# customer has (aarch64: -cpu cortex-a53; armv7: -cpu cortex-a7), so an instruction those cores lack is a SIGILL
# here, not in the field. Compares the answers with the x86-64 build's on the same pixels, in the same run.
#
# Usage: cross/test.sh aarch64-unknown-linux-gnu | armv7-unknown-linux-gnueabihf
#
# 1. cross/setup.sh (idempotent: Debian's rustc-web 1.96 with the target's standard library, gcc, QEMU, binfmt).
# 2. One build per target into $CROSS_TARGET_DIR (default target/cross): the library (.so, .a), the CLI and every
#    test binary (`cargo build --release` + `cargo test --release --no-run`, the README's pair, with the
#    target's gcc as linker).
# 3. Under QEMU: tests/golden.rs (onnxruntime reference, thresholds unchanged), tests/pipeline.rs, liveness.rs,
#    quality.rs, track.rs, fuzz_corpus.rs, gallery_crash.rs, the library's unit tests (gallery, liveness,
#    quality, ... all of them), and the C tests (tests/c/api_test.c cross-compiled with the target's gcc against the
#    ARM libfacekit.so: happy path, bad-input table, 8 threads; valgrind and the sanitizers stay x86-only).
#    examples/c/door_gate.c on the shared clips (examples/c/door_gate_test.sh), with the same OPEN/DENY lines
#    as the x86 build.
# 4. vs x86: the x86 release build's golden and LFW-subset tests write their answers (FACEKIT_GOLDEN_DUMP,
#    FACEKIT_LFW_DUMP), the ARM ones too; cross/compare_x86.py: every x86 face found on ARM, embedding cosine
#    >= 0.9999, liveness within 1e-3, identical LFW decisions.
# 5. aarch64 only: the first CROSS_CPU_MAX_IMAGES (default 2; 0 skips) golden images again under -cpu max (tract
#    takes its newest kernels there: fp16, dot product), compared with x86 the same way.
# 6. The device library (--profile device --no-default-features: fat LTO, one codegen unit) for device_so_bytes,
#    and `nm` shows it has no process-spawning symbol. CROSS_DEVICE=0 skips that build (a cold one is as long
#    as the release build) and reports the stripped release-profile .so instead ("device_so_profile").
# The last line is one JSON object; the exit status is 0 only when nothing failed.
# The x86 side needs the x86 release build (`cargo build --release && cargo test --release`, as .ci/run does first).
set -uo pipefail
cd "$(dirname "$0")/.."
T=${1:?usage: cross/test.sh aarch64-unknown-linux-gnu|armv7-unknown-linux-gnueabihf}
start=$(date +%s)
case "$T" in
  aarch64-unknown-linux-gnu) qemu=qemu-aarch64 cpu=cortex-a53 sysroot=/usr/aarch64-linux-gnu gnu=aarch64-linux-gnu ;;
  armv7-unknown-linux-gnueabihf) qemu=qemu-arm cpu=cortex-a7 sysroot=/usr/arm-linux-gnueabihf gnu=arm-linux-gnueabihf ;;
  *) echo "cross/test.sh: unknown target $T" >&2; exit 2 ;;
esac
bash cross/setup.sh || exit 1

TU=$(echo "$T" | tr 'a-z-' 'A-Z_')
export "CARGO_TARGET_${TU}_LINKER=$gnu-gcc" "CARGO_TARGET_${TU}_RUNNER=$qemu -cpu $cpu -L $sysroot"
# Programs the tests start (the gallery crash test runs a copy of itself; the C tests run the C program) reach
# QEMU through binfmt_misc: these say where the target's libraries are and which CPU to emulate.
export QEMU_LD_PREFIX=$sysroot QEMU_CPU=$cpu
export CARGO_TARGET_DIR=${CROSS_TARGET_DIR:-target/cross}
cargo=(env RUSTC=/usr/bin/rustc nice -n 10 /usr/bin/cargo)
rel=$CARGO_TARGET_DIR/$T/release
logs=$CARGO_TARGET_DIR/$T/test-logs
rm -rf "$logs" && mkdir -p "$logs"
passed=0 failed=0
failures=()
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAILED: $1"; }

echo "== build for $T ($CARGO_TARGET_DIR)"
t=$(date +%s)
"${cargo[@]}" build --release --target "$T" || { echo '{"target":"'"$T"'","error":"build failed"}'; exit 1; }
"${cargo[@]}" test --release --target "$T" --no-run --message-format=json-render-diagnostics >"$logs/tests.json" ||
  { echo '{"target":"'"$T"'","error":"test build failed"}'; exit 1; }
build_s=$(( $(date +%s) - t ))
echo "  build: $build_s s"
# Test binaries by name ("lib": the library's unit tests).
bin() {
  python3 - "$logs/tests.json" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable") or not m["profile"]["test"]:
        continue
    t = m["target"]
    name = t["name"] if "test" in t["kind"] else ("lib" if {"lib", "rlib"} & set(t["kind"]) else None)
    if name == sys.argv[2]:
        print(m["executable"])
PY
}

# Runs one test binary under QEMU and adds its counts. run NAME [ARGS...] (libtest arguments).
run_tests() {
  local name=$1; shift
  local exe; exe=$(bin "$name")
  [ -n "$exe" ] || { fail "$name: no test binary"; return; }
  echo "== $name $*"
  local t=$(date +%s)
  /usr/bin/time -f '%U %S' -o "$logs/$name.cpu" \
    "$qemu" -cpu "$cpu" -L "$sysroot" "$exe" --test-threads="${CROSS_TEST_THREADS:-2}" "$@" >"$logs/$name.log" 2>&1
  local rc=$? s=$(( $(date +%s) - t ))
  local cpu_s; cpu_s=$(awk 'END {printf "%d", $1 + $2}' "$logs/$name.cpu" 2>/dev/null)
  grep -E '^test result:|^test .* (FAILED|ok)$|panicked' "$logs/$name.log" | tail -n 40
  local p f
  p=$(grep -oE '[0-9]+ passed' "$logs/$name.log" | awk '{s += $1} END {print s + 0}')
  f=$(grep -oE '[0-9]+ failed' "$logs/$name.log" | awk '{s += $1} END {print s + 0}')
  passed=$((passed + p)) failed=$((failed + f))
  if [ $rc -ne 0 ]; then
    [ "$f" -gt 0 ] || fail "$name: exit status $rc (log: $logs/$name.log)"
    failures+=("$name")
  fi
  echo "  $name: $p passed, $f failed, $s s (CPU ${cpu_s:-?} s) under qemu -cpu $cpu"
  times+=("\"$name\":$s") cpus+=("\"$name\":${cpu_s:-0}")
}
times=() cpus=()

# x86's answers on the same pixels (the x86 release build; builds nothing when .ci/run's build is current).
echo "== x86-64 reference answers"
x86golden=$logs/golden-x86.json x86lfw=$logs/lfw-x86.json
FACEKIT_GOLDEN_DUMP=$PWD/$x86golden CARGO_TARGET_DIR=target nice -n 10 cargo test -q --release --test golden \
  -- --exact pipeline_matches_the_onnxruntime_reference >"$logs/golden-x86.log" 2>&1 || fail "x86 golden test (log: $logs/golden-x86.log)"
FACEKIT_LFW_DUMP=$PWD/$x86lfw CARGO_TARGET_DIR=target nice -n 10 cargo test -q --release --test pipeline \
  -- --exact lfw_subset_accuracy >"$logs/lfw-x86.log" 2>&1 || fail "x86 LFW subset test (log: $logs/lfw-x86.log)"

armgolden=$logs/golden-arm.json armlfw=$logs/lfw-arm.json
FACEKIT_GOLDEN_DUMP=$PWD/$armgolden run_tests golden
FACEKIT_LFW_DUMP=$PWD/$armlfw run_tests pipeline
run_tests liveness
run_tests quality
run_tests track
run_tests fuzz_corpus
run_tests gallery_crash
run_tests lib
# The C tests: compiled by tests/c_abi.rs with $CC (the target's gcc) against this target's libfacekit.so.
CC=$gnu-gcc run_tests c_abi --exact c_happy_path_on_real_photos c_bad_input_table c_eight_threads_share_one_engine

echo "== vs x86-64"
cmp_json=$logs/compare.json
python3 cross/compare_x86.py "$x86golden" "$armgolden" "$x86lfw" "$armlfw" >"$cmp_json"
if [ $? -eq 0 ]; then passed=$((passed + 1)); else fail "answers differ from x86 (cross/compare_x86.py)"; fi
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({k: v for k, v in r.items() if k != "problems"})); [print("  " + p) for p in r["problems"][:20]]' "$cmp_json"

echo "== examples/c/door_gate.c on the shared clips"
t=$(date +%s)
CC=$gnu-gcc FACEKIT_LIB_DIR=$rel FACEKIT_CLI=$rel/facekit bash examples/c/door_gate_test.sh >"$logs/door_gate.log" 2>&1
dg=$?
cat "$logs/door_gate.log"
if [ $dg -eq 0 ]; then
  bash examples/c/door_gate_test.sh >"$logs/door_gate-x86.log" 2>&1 || fail "door_gate on x86"
  # The same decisions (verdict, who, frame) as x86; the similarity is printed to 3 decimals and may differ in the last.
  norm() { sed -E 's/, similarity [0-9.-]+//' "$1" | grep -E '^[a-z_0-9]+\.(mkv|mp4): '; }
  if diff <(norm "$logs/door_gate-x86.log") <(norm "$logs/door_gate.log"); then passed=$((passed + 1));
  else fail "door_gate: decisions differ from x86"; fi
else
  fail "door_gate on $T (log: $logs/door_gate.log)"
fi
times+=("\"door_gate\":$(( $(date +%s) - t ))")

max_json=null
if [ "$T" = aarch64-unknown-linux-gnu ] && [ "${CROSS_CPU_MAX_IMAGES:-2}" -gt 0 ]; then
  echo "== -cpu max: the first ${CROSS_CPU_MAX_IMAGES:-2} golden images"
  t=$(date +%s)
  exe=$(bin golden)
  QEMU_CPU=max FACEKIT_GOLDEN_DUMP=$PWD/$logs/golden-max.json FACEKIT_GOLDEN_IMAGES=${CROSS_CPU_MAX_IMAGES:-2} \
    "$qemu" -cpu max -L "$sysroot" "$exe" --ignored --exact golden_subset_dump >"$logs/golden-max.log" 2>&1 &&
    python3 cross/compare_x86.py "$x86golden" "$logs/golden-max.json" --subset >"$logs/compare-max.json"
  if [ $? -eq 0 ]; then passed=$((passed + 1)); else fail "-cpu max answers differ from x86 (or the run failed: $logs/golden-max.log)"; fi
  max_json=$(cat "$logs/compare-max.json" 2>/dev/null || echo null)
  echo "  $max_json ($(( $(date +%s) - t )) s)"
  times+=("\"cpu_max\":$(( $(date +%s) - t ))")
fi

echo "== device library"
mkdir -p "$logs/device"
so_profile=device
if [ "${CROSS_DEVICE:-1}" = 1 ]; then
  t=$(date +%s)
  "${cargo[@]}" build -p facekit --profile device --lib --no-default-features --target "$T" || fail "device build"
  times+=("\"device_build\":$(( $(date +%s) - t ))")
  so=$CARGO_TARGET_DIR/$T/device/libfacekit.so
else
  so_profile=release
  so=$rel/libfacekit.so
fi
"$gnu-strip" -o "$logs/device/libfacekit.so" "$so" 2>/dev/null || fail "strip $so"
so_bytes=$(stat -c %s "$logs/device/libfacekit.so" 2>/dev/null || echo 0)
spawn=$("$gnu-nm" -D "$logs/device/libfacekit.so" | grep -wE 'posix_spawn[a-z_]*|execvp?e?|fork|vfork|system' || true)
if [ "$so_profile" = device ]; then
  if [ -z "$spawn" ]; then passed=$((passed + 1)); else fail "device .so imports process-spawning symbols: $spawn"; fi
fi
echo "  $so_profile .so: $so_bytes bytes stripped; process-spawning symbols: ${spawn:-none}"

secs=$(( $(date +%s) - start ))
for f in "${failures[@]}"; do echo "failed: $f"; done
python3 - "$cmp_json" <<PY
import json, sys
try:
    c = json.load(open(sys.argv[1]))
except Exception:
    c = {}
print(json.dumps({"target": "$T", "passed": $passed, "failed": $failed, "golden_faces": c.get("golden_faces_arm", 0),
    "golden_min_cosine_vs_x86": c.get("golden_min_cosine_vs_x86"), "liveness_max_abs_diff_vs_x86": c.get("liveness_max_abs_diff_vs_x86"),
    "lfw_decisions_differing": c.get("lfw_decisions_differing"), "cpu_max": $max_json, "device_so_bytes": $so_bytes,
    "device_so_profile": "$so_profile", "qemu_cpu": "$cpu", "build_seconds": $build_s, "test_seconds": {$(IFS=,; echo "${times[*]}")},
    "test_cpu_seconds": {$(IFS=,; echo "${cpus[*]}")},
    "seconds": $secs}))
PY
[ "$failed" -eq 0 ] && [ ${#failures[@]} -eq 0 ]
