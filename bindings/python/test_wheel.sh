#!/usr/bin/env bash
# Builds the Python wheel (pyproject.toml + setup.py at the repository root: the package with libfacekit.so and
# the default model pack compiled in), checks it with `auditwheel show`, installs it with its extras into a
# fresh venv and runs every Python test against the installed package — from a directory outside the source
# tree, with FACEKIT_REQUIRE_INSTALLED=1 (tests/test_package.py checks facekit comes from the venv) and without
# FACEKIT_LIB / FACEKIT_LIB_DIR. bindings/python/run_tests.sh stays the dev mode (source tree + target/release).
#
#   FACEKIT_SHARED      shared dir with models/ and data/ (default: <repo>/../shared); its models/ is also the
#                       bundled pack's source (FACEKIT_BUNDLE_DIR, unless set)
#   FACEKIT_WHEEL_DIR   where the wheel goes (default: <repo>/dist, where packaging/check_versions.sh looks)
#   FACEKIT_WHEEL_VENV  the venv to (re)create (default: a temporary one, removed at exit); keep one to run e.g.
#                       VERSION_PYTHON=$FACEKIT_WHEEL_VENV/bin/python packaging/check_versions.sh
#   CARGO_TARGET_DIR    cargo's target dir (default: <repo>/target, shared with `cargo build`)
#   PYTHON              interpreter that builds the wheel and makes the venv (default: python3)
#   FACEKIT_REQUIRE_CV2, FACEKIT_REQUIRE_MILVUS  default 1 here: the extras are installed, so the OpenCV golden
#                       test and the Milvus tests must run, not skip (set 0 to allow skipping)
# Extra arguments go to pytest (e.g. -k package).
set -euo pipefail
T0=$SECONDS
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wheel_env.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
export FACEKIT_REQUIRE_CV2="${FACEKIT_REQUIRE_CV2:-1}" FACEKIT_REQUIRE_MILVUS="${FACEKIT_REQUIRE_MILVUS:-1}"
WHEEL_DIR="${FACEKIT_WHEEL_DIR:-$REPO/dist}"
mkdir -p "$WHEEL_DIR"
WHEEL_DIR="$(cd "$WHEEL_DIR" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/facekit-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
VENV="${FACEKIT_WHEEL_VENV:-$WORK/venv}"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -1)
echo "== test_wheel: facekit $version; wheel dir $WHEEL_DIR; CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

# 1. Build the wheel once (pip builds in the tree, so cargo reuses target/; setup.py runs cargo). Into an empty
# directory first, so that exactly this build's wheel is picked (dist/ may hold the aarch64 one, .debs, ...).
t=$SECONDS
if ! (cd "$REPO" && nice -n 5 "$PY" -m pip wheel . --no-deps --disable-pip-version-check -w "$WORK/dist" >"$WORK/build.log" 2>&1); then
    tail -60 "$WORK/build.log" >&2
    echo "test_wheel: building the wheel failed (log above)" >&2
    exit 1
fi
build_s=$((SECONDS - t))
wheels=("$WORK"/dist/facekit-"$version"-py3-none-*.whl)
[ -f "${wheels[0]}" ] && [ ${#wheels[@]} = 1 ] || { echo "test_wheel: expected one facekit-$version-py3-none-*.whl" >&2; exit 1; }
WHEEL="$WHEEL_DIR/$(basename "${wheels[0]}")"
mv -f "${wheels[0]}" "$WHEEL"
wheel_bytes=$(stat -c %s "$WHEEL")
lib_bytes=$("$PY" -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).getinfo("facekit/libfacekit.so").file_size)' "$WHEEL")
echo "== wheel: $WHEEL ($wheel_bytes bytes, $((wheel_bytes / 1048576)) MiB; libfacekit.so $lib_bytes bytes unpacked), built in ${build_s} s"

# 2. auditwheel: which manylinux policy the library satisfies (only glibc/libgcc/libm may be needed).
"$PY" -m auditwheel --version >/dev/null 2>&1 || "$PY" -m pip install --quiet --disable-pip-version-check auditwheel
"$PY" -m auditwheel show "$WHEEL" 2>/dev/null | tee "$WORK/auditwheel.txt"
tag=$(tr '\n' ' ' <"$WORK/auditwheel.txt" | grep -o 'platform tag: *"[^"]*"' | head -1 | sed 's/.*"\(.*\)"/\1/')
case "$tag" in
    manylinux*) echo "== auditwheel: consistent with $tag" ;;
    *) echo "test_wheel: auditwheel reports no manylinux tag (got '${tag:-none}')" >&2; exit 1 ;;
esac

# 3. A fresh venv (no system site-packages) with the wheel and its extras.
t=$SECONDS
"$PY" -m venv --clear "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$WHEEL[milvus,test]"
echo "== venv: $VENV ($("$VENV/bin/python" -V)), installed in $((SECONDS - t)) s"

# 4. The tests, against the installed package: run from outside the tree, no library override, no PYTHONPATH.
t=$SECONDS
cd "$WORK"
status=0
env -u FACEKIT_LIB -u FACEKIT_LIB_DIR -u FACEKIT_MODELS -u PYTHONPATH FACEKIT_REQUIRE_INSTALLED=1 \
    "$VENV/bin/python" -m pytest -v -rs -p no:cacheprovider --rootdir "$HERE" "$HERE/tests" "$@" 2>&1 | tee "$WORK/pytest.log" \
    || status=$?
summary=$(grep -E '^=+ .*(passed|failed|error|skipped).* in [0-9.]+s' "$WORK/pytest.log" | tail -1 | tr -d '=' | sed 's/^ *//')

echo
echo "== test_wheel summary"
echo "  wheel      $WHEEL"
echo "  size       $wheel_bytes bytes ($(awk "BEGIN{printf \"%.1f\", $wheel_bytes/1048576}") MiB); libfacekit.so $lib_bytes bytes unpacked"
echo "  auditwheel $tag"
echo "  tests      ${summary:-?} ($((SECONDS - t)) s)"
echo "  total      $((SECONDS - T0)) s (wheel build ${build_s} s)"
exit $status
