#!/usr/bin/env bash
# Installs the C artifacts: libfacekit.a, libfacekit.so.VERSION with its SONAME link libfacekit.so.MAJOR and the
# link libfacekit.so, facekit.h, facekit.pc and the CMake package (facekitConfig.cmake, facekitConfigVersion.cmake:
# imported targets facekit::facekit and facekit::facekit_static); on request the `facekit` CLI and the default
# model pack.
#
# usage: packaging/install.sh [PREFIX] [PROFILE]   (defaults: /usr/local, device)
#
# Environment (all optional):
#   DESTDIR=DIR              stage: files land in DIR/PREFIX, while facekit.pc and the CMake files name PREFIX
#                            (what packaging/deb.sh does)
#   FACEKIT_BUILD_DIR=DIR    take the already-built libfacekit.a, libfacekit.so (and facekit) from DIR and run no
#                            cargo build (e.g. target/release, target/cross/aarch64-unknown-linux-gnu/release)
#   FACEKIT_LIBDIR=REL       library directory under PREFIX (default lib; Debian multiarch: lib/x86_64-linux-gnu)
#   FACEKIT_INSTALL_CLI=1    also install the `facekit` command line into PREFIX/bin
#   FACEKIT_INSTALL_MODELS=1 also install the default model pack into PREFIX/share/facekit/models: models/manifest.json
#                            and the five files of the bundled pack (build.rs), from FACEKIT_MODELS_SRC
#                            (default ../shared/models beside the checkout), sha256-checked against the manifest
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
profile=${2:-device}
destdir=${DESTDIR:-}
libdir_rel=${FACEKIT_LIBDIR:-lib}
libdir_rel=${libdir_rel#/}; libdir_rel=${libdir_rel%/}
install_cli=${FACEKIT_INSTALL_CLI:-0}
install_models=${FACEKIT_INSTALL_MODELS:-0}
models_src=${FACEKIT_MODELS_SRC:-../shared/models}
case $prefix in /*) ;; *) echo "install.sh: PREFIX must be an absolute path (got '$prefix')" >&2; exit 2 ;; esac
prefix=${prefix%/}; [ -n "$prefix" ] || prefix=/   # "/" stays "/"

# The version has one source: [package] version in Cargo.toml (the first `version =` line after [package]).
version=$(awk '/^\[/{p = ($0 == "[package]")} p && /^version *=/{gsub(/.*= *"|".*/, ""); print; exit}' Cargo.toml)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || { echo "install.sh: cannot read the version from Cargo.toml" >&2; exit 1; }
major=${version%%.*}
minor=${version#*.}; minor=${minor%%.*}

if [ -n "${FACEKIT_BUILD_DIR:-}" ]; then
  dir=${FACEKIT_BUILD_DIR%/}
else
  # The device build leaves out what a device does not need (WebP decoding: the `webp` default feature).
  if [ "$profile" = device ]; then features=--no-default-features; else features=; fi
  # The CLI first: it enables the library's default features, and the library's own build below must be the
  # last to write target/PROFILE/libfacekit.{a,so}.
  if [ "$install_cli" = 1 ]; then cargo build -p facekit-cli --profile "$profile"; fi
  cargo build -p facekit --profile "$profile" --lib $features
  dir=target/$profile
fi
need=("$dir/libfacekit.a" "$dir/libfacekit.so")
[ "$install_cli" = 1 ] && need+=("$dir/facekit")
for f in "${need[@]}"; do
  [ -f "$f" ] || { echo "install.sh: $f is missing (build it, or point FACEKIT_BUILD_DIR at the artifacts)" >&2; exit 1; }
done

root=$destdir${prefix%/}               # where files land
libdir=$root/$libdir_rel
cmakedir=$libdir/cmake/facekit
install -d "$libdir/pkgconfig" "$cmakedir" "$root/include"
install -m 644 "$dir/libfacekit.a" "$libdir/"
# Debian's layout: the real file carries the full version, the SONAME link (what programs load) points at it,
# and the unversioned link (what -lfacekit finds at link time) points at the SONAME.
install -m 755 "$dir/libfacekit.so" "$libdir/libfacekit.so.$version"
ln -sfn "libfacekit.so.$version" "$libdir/libfacekit.so.$major"
ln -sfn "libfacekit.so.$major" "$libdir/libfacekit.so"
install -m 644 include/facekit.h "$root/include/"

sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$libdir_rel|g" -e "s|@VERSION@|$version|g" \
  packaging/facekit.pc.in > "$libdir/pkgconfig/facekit.pc"
chmod 644 "$libdir/pkgconfig/facekit.pc"

# The CMake package finds the prefix from its own location (relocatable): one ".." per component of
# LIBDIR/cmake/facekit.
up=$(echo "$libdir_rel/cmake/facekit" | tr -s / '\n' | sed 's|.*|..|' | paste -sd/)
# The library's pointer size (ELF class byte: 1 = 32-bit, 2 = 64-bit), so a 32-bit project refuses a 64-bit build.
case $(od -An -tu1 -j4 -N1 "$dir/libfacekit.so" | tr -d ' ') in 1) ptr=4 ;; 2) ptr=8 ;; *) ptr= ;; esac
for f in facekitConfig.cmake facekitConfigVersion.cmake; do
  sed -e "s|@PREFIX@|$prefix|g" -e "s|@LIBDIR@|$libdir_rel|g" -e "s|@VERSION@|$version|g" -e "s|@MAJOR@|$major|g" \
    -e "s|@MINOR@|$minor|g" -e "s|@SIZEOF_VOID_P@|$ptr|g" -e "s|@RELPREFIX@|$up|g" "packaging/cmake/$f.in" > "$cmakedir/$f"
  chmod 644 "$cmakedir/$f"
done

if [ "$install_cli" = 1 ]; then
  install -d "$root/bin"
  install -m 755 "$dir/facekit" "$root/bin/facekit"
fi

if [ "$install_models" = 1 ]; then
  # The bundled pack's files (build.rs `bundle()`): default detector, embedder, quality and the liveness pair.
  # The manifest is the full one (it also names yunet_n, dlib_resnet and lightqnet_dm100, which are not
  # installed: --detector yunet_n, --embedder dlib_resnet and --accurate need a full model directory).
  files=(yunet_s_dynamic.onnx mobilefacenet.onnx lightqnet_dm050.onnx minifasnetv2_80_scale2.7.onnx minifasnetv1se_80_scale4.0.onnx)
  mdir=$root/share/facekit/models
  install -d "$mdir"
  install -m 644 models/manifest.json "$mdir/manifest.json"
  for f in "${files[@]}"; do
    [ -f "$models_src/$f" ] || { echo "install.sh: $models_src/$f is missing (set FACEKIT_MODELS_SRC)" >&2; exit 1; }
    want=
    if command -v jq >/dev/null; then
      want=$(jq -r --arg f "$f" '.models[] | select(.file == $f) | .sha256' models/manifest.json | head -1)
    fi
    if [ -n "$want" ]; then
      got=$(sha256sum "$models_src/$f" | cut -d' ' -f1)
      [ "$got" = "$want" ] || { echo "install.sh: $models_src/$f: sha256 $got, the manifest says $want" >&2; exit 1; }
    fi
    install -m 644 "$models_src/$f" "$mdir/$f"
  done
fi
echo "installed facekit $version into $destdir$prefix (libdir $libdir_rel)"
