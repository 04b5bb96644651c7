#!/usr/bin/env bash
# Builds dist/facekit_VERSION_ARCH.deb from already-built artifacts (no cargo build here): the library
# (libfacekit.so.VERSION, its SONAME link libfacekit.so.MAJOR, libfacekit.so, libfacekit.a), facekit.h, facekit.pc,
# the CMake package, the `facekit` CLI and the default model pack in /usr/share/facekit/models, where the CLI
# finds it with no --models and no FACEKIT_MODELS (src/pack/mod.rs, find_model_dir).
#
# usage: packaging/deb.sh [ARCH]      ARCH: amd64 or arm64 (default: this machine's, dpkg --print-architecture)
#
# Environment (all optional):
#   FACEKIT_BUILD_DIR  the artifacts (default: target/release for the native architecture,
#                      target/cross/aarch64-unknown-linux-gnu/release for a foreign arm64)
#   FACEKIT_MODELS_SRC the model files (default ../shared/models beside the checkout; see install.sh)
#   DEB_MAINTAINER     the Maintainer field (default below: a placeholder to replace with a real address)
#   DIST               output directory (default dist)
#   DEB_COMPRESSION    dpkg-deb compressor and level (default "xz 6", dpkg's own; "xz 1" is 5x faster and 11 % larger)
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(dpkg --print-architecture)
arch=${1:-$host}
case $arch in
  amd64) triplet=x86_64-linux-gnu; rust_target=x86_64-unknown-linux-gnu; machine=62 ;;   # EM_X86_64
  arm64) triplet=aarch64-linux-gnu; rust_target=aarch64-unknown-linux-gnu; machine=183 ;; # EM_AARCH64
  *) echo "deb.sh: architecture '$arch' is not supported (amd64, arm64)" >&2; exit 2 ;;
esac
if [ "$arch" = "$host" ]; then
  tools=; build_dir=${FACEKIT_BUILD_DIR:-target/release}
else
  tools=$triplet-; build_dir=${FACEKIT_BUILD_DIR:-target/cross/$rust_target/release}
fi
command -v "${tools}strip" >/dev/null || { echo "deb.sh: ${tools}strip not found (binutils-$triplet)" >&2; exit 1; }
version=$(awk '/^\[/{p = ($0 == "[package]")} p && /^version *=/{gsub(/.*= *"|".*/, ""); print; exit}' Cargo.toml)
major=${version%%.*}
maintainer=${DEB_MAINTAINER:-facekit maintainers <maintainers@facekit.example>}
dist=${DIST:-dist}
# Reproducible: timestamps from the last commit (or SOURCE_DATE_EPOCH).
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch

# The artifacts must be for ARCH (ELF e_machine, 2 bytes little-endian at offset 18).
for f in "$build_dir/libfacekit.so" "$build_dir/facekit"; do
  [ -f "$f" ] || { echo "deb.sh: $f is missing (cargo build --release, or set FACEKIT_BUILD_DIR)" >&2; exit 1; }
  m=$(od -An -tu2 -j18 -N2 "$f" | tr -d ' ')
  [ "$m" = "$machine" ] || { echo "deb.sh: $f is not an $arch binary (ELF machine $m)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/facekit-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
libdir=usr/lib/$triplet
DESTDIR=$root FACEKIT_BUILD_DIR=$build_dir FACEKIT_LIBDIR=lib/$triplet FACEKIT_INSTALL_CLI=1 FACEKIT_INSTALL_MODELS=1 \
  bash packaging/install.sh /usr release >/dev/null

# Stripped as dh_strip does; a shared library is not executable (Debian policy 8.1).
"${tools}strip" --remove-section=.comment --remove-section=.note --strip-unneeded "$root/$libdir/libfacekit.so.$version"
"${tools}strip" --remove-section=.comment --remove-section=.note "$root/usr/bin/facekit"
"${tools}strip" --strip-debug --remove-section=.comment --remove-section=.note --enable-deterministic-archives \
  "$root/$libdir/libfacekit.a"
chmod 644 "$root/$libdir/libfacekit.so.$version"

# Documentation: copyright (facekit and each model's licence) and a Debian changelog.
doc=$root/usr/share/doc/facekit
install -d "$doc"
sed -e "s|@MAINTAINER@|$maintainer|g" -e "s|@YEAR@|$(date -u -d "@$epoch" +%Y)|g" packaging/debian/copyright \
  > "$doc/copyright"
date_rfc=$(LC_ALL=C date -u -R -d "@$epoch")
{
  echo "facekit ($version) unstable; urgency=medium"
  echo
  echo "  * facekit $version, packaged by packaging/deb.sh from the source tree."
  echo "    The project's CHANGELOG.md lists its changes."
  echo
  echo " -- $maintainer  $date_rfc"
} | gzip -9n > "$doc/changelog.gz"
install -d "$root/usr/share/man/man1" "$root/usr/share/lintian/overrides"
gzip -9n < packaging/debian/facekit.1 > "$root/usr/share/man/man1/facekit.1.gz"
# One package holds the runtime library and what builds against it (see the overrides file's comments).
install -m 644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/facekit"
chmod 644 "$doc/copyright" "$doc/changelog.gz" "$root/usr/share/man/man1/facekit.1.gz"

# Run-time dependencies of the ELF files. On the native architecture dpkg-shlibdeps reads the installed
# libraries' symbols files; for another architecture (no arm64 libc6 installed) they come from the binaries'
# needed libraries and the newest symbol versions they use (GLIBC_x.y, GCC_x.y), which is what those
# symbols files map to.
elves=("$root/$libdir/libfacekit.so.$version" "$root/usr/bin/facekit")
depends=
if [ "$arch" = "$host" ] && command -v dpkg-shlibdeps >/dev/null; then
  mkdir -p "$work/src/debian"
  printf 'Source: facekit\n\nPackage: facekit\nArchitecture: any\n' > "$work/src/debian/control"
  depends=$(cd "$work/src" && dpkg-shlibdeps -O -e"${elves[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
fi
if [ -z "$depends" ]; then
  needed=$(for f in "${elves[@]}"; do "${tools}readelf" -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; done | sort -u)
  syms=$(for f in "${elves[@]}"; do "${tools}objdump" -T "$f"; done)
  newest() { grep -o "$1_[0-9][0-9.]*" <<<"$syms" | sed "s/^$1_//" | sort -uV | tail -1; }
  deps=()
  for lib in $needed; do
    case $lib in
      libc.so.6|libm.so.6|libpthread.so.0|libdl.so.2|librt.so.1|libutil.so.1|ld-linux*) deps+=("libc6 (>= $(newest GLIBC))") ;;
      libgcc_s.so.1) v=$(newest GCC); v=$(cut -d. -f1,2 <<<"${v:-3.0}"); deps+=("libgcc-s1 (>= $v)") ;;
      *) echo "deb.sh: no package known for $lib (needed by the binaries)" >&2; exit 1 ;;
    esac
  done
  depends=$(printf '%s\n' "${deps[@]}" | sort -u | paste -sd, | sed 's/,/, /g')
fi

install -d -m 755 "$root/DEBIAN"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: facekit
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends
Section: science
Priority: optional
Description: on-device face recognition library with a stable C ABI
 facekit detects, aligns, embeds and compares faces on the device, with
 quality and liveness checks, from ONNX models run on the CPU.
 .
 This package holds the shared and static C library (libfacekit.so.$major,
 libfacekit.a), its header facekit.h, a pkg-config file and a CMake package
 (find_package(facekit): facekit::facekit, facekit::facekit_static), the
 facekit command line, and the default model pack in
 /usr/share/facekit/models, which the command line finds by itself.
EOF
# ldconfig runs after the library is installed or removed; shlibs lets packages built against it depend on it.
echo "activate-noawait ldconfig" > "$root/DEBIAN/triggers"
echo "libfacekit $major facekit (>= $version)" > "$root/DEBIAN/shlibs"
# Every exported symbol at this version: as strict as shlibs, never looser. (A per-symbol history, each symbol
# at the version that added it, would let programs that use only old functions accept older packages.)
{
  echo "libfacekit.so.$major facekit #MINVER#"
  echo "* Build-Depends-Package: facekit"
  "${tools}nm" -D --defined-only "$root/$libdir/libfacekit.so.$version" | awk -v v="$version" '$2 ~ /^[TDBRVWi]$/ {print " " $3 "@Base " v}' | LC_ALL=C sort
} > "$root/DEBIAN/symbols"
(cd "$root" && find usr -type f | LC_ALL=C sort | xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 644 "$root/DEBIAN/"*
find "$root" -exec touch -h -d "@$epoch" {} +

mkdir -p "$dist"
deb=$dist/facekit_${version}_$arch.deb
read -r ztype zlevel <<<"${DEB_COMPRESSION:-xz 6}"
dpkg-deb --root-owner-group "-Z$ztype" ${zlevel:+"-z$zlevel"} -b "$root" "$deb" >/dev/null
echo "built $deb ($(du -h "$deb" | cut -f1); Depends: $depends)"
