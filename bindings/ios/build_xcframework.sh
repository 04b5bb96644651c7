#!/usr/bin/env bash
# Builds bindings/ios/build/Facekit.xcframework: the static libfacekit.a for iOS devices (arm64) and the
# simulator (arm64 + x86_64, one fat library), with include/facekit.h and a module map (`import Facekit`).
#
# Needs macOS with Xcode (xcodebuild, lipo) and rustup. NOT RUN on the Linux machine these bindings were
# written on — see README.md.
#
#   OUT                        output directory (default: bindings/ios/build)
#   IPHONEOS_DEPLOYMENT_TARGET minimum iOS version for the Rust build (default: 13.0)
#   CARGO_TARGET_DIR           honoured as cargo does (default: <repo>/target)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${OUT:-$HERE/build}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
export IPHONEOS_DEPLOYMENT_TARGET="${IPHONEOS_DEPLOYMENT_TARGET:-13.0}"
# The `device` profile of Cargo.toml: LTO, one codegen unit, panic=abort (behind the catch_unwind boundary),
# stripped.
PROFILE=device
DEVICE=aarch64-apple-ios
SIMULATORS=(aarch64-apple-ios-sim x86_64-apple-ios)

if [ "$(uname -s)" != Darwin ] || ! command -v xcodebuild >/dev/null; then
    echo "build_xcframework.sh: needs macOS with Xcode (xcodebuild, lipo)" >&2
    exit 1
fi

rustup target add "$DEVICE" "${SIMULATORS[@]}"
for t in "$DEVICE" "${SIMULATORS[@]}"; do
    echo "== cargo build --profile $PROFILE --target $t"
    # --lib: the CLI binary is not wanted on iOS. The crate also emits an rlib and a dylib; only the .a is used.
    cargo build --manifest-path "$REPO/Cargo.toml" --lib --profile "$PROFILE" --target "$t"
done

rm -rf "$OUT/Facekit.xcframework" "$OUT/simulator" "$OUT/headers"
mkdir -p "$OUT/simulator" "$OUT/headers"

# xcodebuild wants one library per platform variant: merge the two simulator architectures.
lipo -create \
    "$TARGET_DIR/aarch64-apple-ios-sim/$PROFILE/libfacekit.a" \
    "$TARGET_DIR/x86_64-apple-ios/$PROFILE/libfacekit.a" \
    -output "$OUT/simulator/libfacekit.a"

# Headers: the generated C header and a module map next to it (paths relative to the map's own folder).
cp "$REPO/include/facekit.h" "$OUT/headers/"
cat >"$OUT/headers/module.modulemap" <<'EOF'
module Facekit {
    header "facekit.h"
    link "facekit"
    export *
}
EOF

xcodebuild -create-xcframework \
    -library "$TARGET_DIR/$DEVICE/$PROFILE/libfacekit.a" -headers "$OUT/headers" \
    -library "$OUT/simulator/libfacekit.a" -headers "$OUT/headers" \
    -output "$OUT/Facekit.xcframework"

echo "== $OUT/Facekit.xcframework"
lipo -info "$TARGET_DIR/$DEVICE/$PROFILE/libfacekit.a" "$OUT/simulator/libfacekit.a"
# Rust's static libraries need a few system libraries at link time; print them for the app's settings.
echo "Link the app with what Rust reports here (usually only libSystem, which Xcode adds anyway):"
cargo rustc --manifest-path "$REPO/Cargo.toml" --lib --profile "$PROFILE" --target "$DEVICE" --crate-type staticlib \
    -- --print native-static-libs 2>&1 | grep -i "native-static-libs" || true
