#!/usr/bin/env bash
# Installs the C artifacts: libfacekit.a, libfacekit.so.MAJOR (+ symlink), facekit.h and facekit.pc.
# usage: packaging/install.sh [PREFIX] [PROFILE]   (defaults: /usr/local, device)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
profile=${2:-device}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
major=${version%%.*}
# The device build leaves out what a device does not need (WebP decoding: the `webp` default feature).
if [ "$profile" = device ]; then features=--no-default-features; else features=; fi
cargo build -p facekit --profile "$profile" --lib $features
dir=target/$profile
install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 644 "$dir/libfacekit.a" "$prefix/lib/"
install -m 755 "$dir/libfacekit.so" "$prefix/lib/libfacekit.so.$major"
ln -sf "libfacekit.so.$major" "$prefix/lib/libfacekit.so"
install -m 644 include/facekit.h "$prefix/include/"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" packaging/facekit.pc.in > "$prefix/lib/pkgconfig/facekit.pc"
echo "installed facekit $version into $prefix"
