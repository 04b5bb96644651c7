#!/usr/bin/env bash
# Runs every binding check: Python tests, Java tests, and the C/C++/Objective-C header check.
# Fails if any fails (each still runs, so one report shows them all). Environment as in the individual
# scripts: FACEKIT_SHARED (default <repo>/../shared), FACEKIT_LIB_DIR (default <repo>/target/release).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
export FACEKIT_SHARED="${FACEKIT_SHARED:-$REPO/../shared}"
export FACEKIT_LIB_DIR="${FACEKIT_LIB_DIR:-$REPO/target/release}"

summary=()
status=0
run() {
    local name="$1"
    shift
    echo
    echo "======== $name: $*"
    local t0=$SECONDS
    if "$@"; then
        summary+=("PASS  $name ($((SECONDS - t0)) s)")
    else
        summary+=("FAIL  $name ($((SECONDS - t0)) s)")
        status=1
    fi
}

run python "$HERE/python/run_tests.sh"
run java "$HERE/java/run_tests.sh"
run header "$HERE/ios/check_header.sh"

echo
echo "======== bindings summary"
printf '  %s\n' "${summary[@]}"
exit $status
