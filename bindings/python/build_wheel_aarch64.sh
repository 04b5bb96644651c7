#!/usr/bin/env bash
# Cross-builds the Python wheel for 64-bit ARM Linux (facekit-<version>-py3-none-linux_aarch64.whl) with the ARM
# toolchain of cross/ (linker aarch64-linux-gnu-gcc from .cargo/config.toml; cross/setup.sh installs it), then
# runs `auditwheel show` on it. There is no aarch64 Python here to install it into: the wheel's library is
# smoke-tested instead under `qemu-aarch64 -cpu cortex-a53` (a C program: bundled pack, two LFW photos of one
# person must verify; ~20 s), unless FACEKIT_WHEEL_QEMU=0 or qemu-aarch64 is missing. bindings/python/test_wheel.sh
# tests the x86-64 wheel in full; cross/test.sh runs the library's tests under QEMU.
#
#   FACEKIT_SHARED      shared dir (default <repo>/../shared); its models/ is the bundled pack (FACEKIT_BUNDLE_DIR)
#   FACEKIT_WHEEL_DIR   where the wheel goes (default <repo>/dist)
#   CARGO_TARGET_DIR    default <repo>/target/cross (cross/test.sh's, so its aarch64 dependencies are reused)
#   RUSTC, CARGO        the toolchain with the aarch64 standard library (default /usr/bin/rustc, /usr/bin/cargo)
set -euo pipefail
T0=$SECONDS
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wheel_env.sh"
export RUSTC="${RUSTC:-/usr/bin/rustc}" CARGO="${CARGO:-/usr/bin/cargo}"
export CARGO_BUILD_TARGET=aarch64-unknown-linux-gnu  # setup.py tags the wheel linux_aarch64 from it
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target/cross}"
WHEEL_DIR="${FACEKIT_WHEEL_DIR:-$REPO/dist}"
mkdir -p "$WHEEL_DIR"
WHEEL_DIR="$(cd "$WHEEL_DIR" && pwd)"
LOG="$(mktemp "${TMPDIR:-/tmp}/facekit-wheel-aarch64.XXXXXX.log")"

command -v aarch64-linux-gnu-gcc >/dev/null || { echo "build_wheel_aarch64: no aarch64-linux-gnu-gcc (run cross/setup.sh)" >&2; exit 1; }
"$RUSTC" --print target-libdir --target "$CARGO_BUILD_TARGET" >/dev/null
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -1)
WHEEL="$WHEEL_DIR/facekit-$version-py3-none-linux_aarch64.whl"
BUILT="$(mktemp -d)"
unpacked="$(mktemp -d)"
trap 'rm -rf "$BUILT" "$unpacked"' EXIT
echo "== build_wheel_aarch64: facekit $version with $("$RUSTC" --version); CARGO_TARGET_DIR=$CARGO_TARGET_DIR (log $LOG)"
# Another aarch64 build in the same target dir makes cargo wait for its lock ("Blocking waiting for file lock").
if ! (cd "$REPO" && nice -n 5 "$PY" -m pip wheel . --no-deps --disable-pip-version-check -w "$BUILT" >"$LOG" 2>&1); then
    tail -60 "$LOG" >&2
    echo "build_wheel_aarch64: build failed (log $LOG)" >&2
    exit 1
fi
[ -f "$BUILT/$(basename "$WHEEL")" ] || { echo "build_wheel_aarch64: no $(basename "$WHEEL") built" >&2; ls "$BUILT" >&2; exit 1; }
mv -f "$BUILT/$(basename "$WHEEL")" "$WHEEL"
rm -f "$LOG"
"$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("facekit/libfacekit.so", sys.argv[2])' "$WHEEL" "$unpacked"
lib="$unpacked/facekit/libfacekit.so"
info=$(file -b "$lib")
echo "== libfacekit.so: $info"
case "$info" in *aarch64*|*"ARM aarch64"*) ;; *) echo "build_wheel_aarch64: the wheel's library is not aarch64" >&2; exit 1 ;; esac

qemu_result="skipped"
if [ "${FACEKIT_WHEEL_QEMU:-1}" = 1 ] && command -v qemu-aarch64 >/dev/null && [ -d /usr/aarch64-linux-gnu ]; then
    ln -s libfacekit.so "$unpacked/facekit/libfacekit.so.0"  # the SONAME the program is linked against
    cat >"$unpacked/smoke.c" <<'C_SOURCE'
#include <stdio.h>
#include "facekit.h"
/* The wheel's library on its own: bundled pack (no model files), decode, detect, embed, compare. */
int main(int argc, char **argv) {
    fk_options *o = fk_options_new();
    fk_engine *e = NULL;
    fk_image a, b;
    fk_match m = {0};
    if (argc != 3 || !o || fk_options_set(o, "require_liveness", "0")) return 2; /* LFW: press photos */
    if (fk_engine_new_bundled(o, &e)) { printf("fk_engine_new_bundled: %s\n", fk_last_error()); return 1; }
    if (fk_image_load(argv[1], &a) || fk_image_load(argv[2], &b)) { printf("fk_image_load: %s\n", fk_last_error()); return 1; }
    fk_status s = fk_verify(e, &a, &b, &m);
    printf("fk_version %s, verify status %d, similarity %.4f, threshold %.4f, match %d\n", fk_version_string(), (int)s,
           m.similarity, m.threshold, m.is_match);
    fk_image_release(&a);
    fk_image_release(&b);
    fk_engine_free(e);
    fk_options_free(o);
    return s != FK_OK || !m.is_match;
}
C_SOURCE
    aarch64-linux-gnu-gcc -std=c11 -I"$REPO/include" "$unpacked/smoke.c" -L"$unpacked/facekit" -lfacekit -o "$unpacked/smoke"
    photo="$FACEKIT_SHARED/data/lfw/images/George_W_Bush/George_W_Bush"
    t=$SECONDS
    if out=$(qemu-aarch64 -cpu cortex-a53 -L /usr/aarch64-linux-gnu -E LD_LIBRARY_PATH="$unpacked/facekit" \
        "$unpacked/smoke" "${photo}_0001.jpg" "${photo}_0002.jpg"); then
        qemu_result="$out ($((SECONDS - t)) s)"
        echo "== qemu-aarch64 smoke test: $qemu_result"
    else
        echo "build_wheel_aarch64: the wheel's library failed under qemu-aarch64: $out" >&2
        exit 1
    fi
fi

"$PY" -m auditwheel --version >/dev/null 2>&1 || "$PY" -m pip install --quiet --disable-pip-version-check auditwheel
"$PY" -m auditwheel show "$WHEEL" 2>/dev/null | tee "$unpacked/auditwheel.txt"
tag=$(tr '\n' ' ' <"$unpacked/auditwheel.txt" | grep -o 'platform tag: *"[^"]*"' | head -1 | sed 's/.*"\(.*\)"/\1/')

bytes=$(stat -c %s "$WHEEL")
echo
echo "== build_wheel_aarch64 summary"
echo "  wheel      $WHEEL"
echo "  size       $bytes bytes ($(awk "BEGIN{printf \"%.1f\", $bytes/1048576}") MiB); libfacekit.so $(stat -c %s "$lib") bytes unpacked"
echo "  auditwheel ${tag:-?}"
echo "  qemu       $qemu_result"
echo "  total      $((SECONDS - T0)) s"
case "$tag" in manylinux*) ;; *) echo "build_wheel_aarch64: auditwheel reports no manylinux tag" >&2; exit 1 ;; esac
