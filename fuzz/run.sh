#!/usr/bin/env bash
# fuzz/run.sh TARGET SECONDS — coverage-guided fuzzing of one target (fuzz/fuzz_targets/TARGET.rs) with
# libFuzzer through cargo-fuzz, on the nightly toolchain, with AddressSanitizer.
#
#   corpus     fuzz/work/TARGET (grows from run to run; not committed), seeded by fuzz/corpus/TARGET
#   findings   fuzz/artifacts/TARGET/{crash,timeout,oom,leak,slow-unit}-*: each one goes into
#              fuzz/regressions/TARGET/ with a normal test before it is fixed (see RELIABILITY.md)
#   exit       non-zero on any finding (or a failed build)
#   summary    one Markdown table row, printed and appended to fuzz/work/summary.md:
#              | target | seconds | executions | edges (cov) | features (ft) | corpus files | new crashes / timeouts / ooms |
#
# Environment: FACEKIT_MODELS (default ../shared/models), FUZZ_TIMEOUT (seconds per input, default 10),
# FUZZ_RSS_MB (default 1024), FUZZ_MAX_LEN (bytes, default per target), FUZZ_NICE (default 19).
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: fuzz/run.sh TARGET SECONDS   (targets: $(ls "$(dirname "$0")/fuzz_targets" | sed 's/\.rs$//' | tr '\n' ' '))" >&2
    exit 2
fi
TARGET=$1
SECONDS_TO_RUN=$2
FUZZ="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$FUZZ")"
cd "$FUZZ"
[ -f "fuzz_targets/$TARGET.rs" ] || { echo "run.sh: no target $TARGET" >&2; exit 2; }

cargo +nightly --version >/dev/null 2>&1 || { echo "run.sh: needs the nightly toolchain (rustup toolchain install nightly)" >&2; exit 2; }
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

export FACEKIT_MODELS="${FACEKIT_MODELS:-$(cd "$REPO/../shared/models" && pwd)}"
# The targets write scratch files (galleries, saves with fsync): on a tmpfs when there is one.
SCRATCH="$(mktemp -d "$( [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/facekit-fuzz-XXXXXX")"
trap 'rm -rf "$SCRATCH"' EXIT
export TMPDIR="$SCRATCH"

case "$TARGET" in
    c_text) max_len=1024 ;;
    gallery_file) max_len=16384 ;;
    *) max_len=65536 ;;
esac
MAX_LEN="${FUZZ_MAX_LEN:-$max_len}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"
RSS_MB="${FUZZ_RSS_MB:-1024}"
mkdir -p "work/$TARGET" "artifacts/$TARGET"
LOG="work/$TARGET.log"
count_findings() { find "artifacts/$TARGET" -maxdepth 1 -type f -name "$1-*" | wc -l; }
declare -A before
for k in crash timeout oom leak; do before[$k]=$(count_findings $k); done

# Build first, so SECONDS is all fuzzing.
nice -n "${FUZZ_NICE:-19}" cargo +nightly fuzz build -O "$TARGET"

set +e
nice -n "${FUZZ_NICE:-19}" cargo +nightly fuzz run -O "$TARGET" "work/$TARGET" "corpus/$TARGET" -- \
    -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" -max_len="$MAX_LEN" \
    -print_final_stats=1 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e

execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOG" | grep -o '[0-9]*$' | tail -1)
cov=$(grep -o ' cov: [0-9]*' "$LOG" | grep -o '[0-9]*$' | tail -1)
ft=$(grep -o ' ft: [0-9]*' "$LOG" | grep -o '[0-9]*$' | tail -1)
files=$(find "work/$TARGET" -type f | wc -l)
declare -A found
for k in crash timeout oom leak; do found[$k]=$(( $(count_findings $k) - before[$k] )); done
new=$(( found[crash] + found[timeout] + found[oom] + found[leak] ))
leaks=""; [ "${found[leak]}" -gt 0 ] && leaks=" (+${found[leak]} leaks)"
row="| $TARGET | $SECONDS_TO_RUN | ${execs:-?} | ${cov:-?} | ${ft:-?} | $files | ${found[crash]} / ${found[timeout]} / ${found[oom]}$leaks |"
echo
echo "summary: $row"
echo "$row  <!-- $(date -u +%Y-%m-%dT%H:%MZ) $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null) -->" >> work/summary.md
if [ "$rc" -ne 0 ] || [ "$new" -gt 0 ]; then
    echo "run.sh: $TARGET: libFuzzer exit $rc, $new new finding(s) in fuzz/artifacts/$TARGET/" >&2
    exit 1
fi
