#!/usr/bin/env bash
# One version everywhere: Cargo.toml's [package] version is the source; the header, fk_version(), the CLI, the
# Python wheel (file name, metadata and facekit.__version__ as installed), the jar (file name and manifest),
# the .deb, the CMake version file and the pkg-config file of an installed prefix, and CHANGELOG.md must carry it.
#   packaging/check_versions.sh            check the artifacts that exist; say which are missing
#   CHECK_VERSIONS_REQUIRE=1 ...           a missing artifact fails (CI, after every package is built)
# Where: VERSION_PYTHON (an interpreter with the wheel installed), VERSION_PREFIX (an install prefix),
# otherwise the build outputs (target/release, dist/, bindings/java/build/).
set -uo pipefail
cd "$(dirname "$0")/.."
want=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
require=${CHECK_VERSIONS_REQUIRE:-0}
bad=0
checked=0
check() { # NAME VALUE
  if [ "$2" = "$want" ]; then
    printf '  ok    %-34s %s\n' "$1" "$2"
  else
    printf '  WRONG %-34s %s\n' "$1" "${2:-(none)}"
    bad=1
  fi
  checked=$((checked + 1))
}
missing() {
  printf '  --    %-34s not built (%s)\n' "$1" "$2"
  [ "$require" = 1 ] && bad=1
}
echo "check_versions: Cargo.toml says $want"
check "include/facekit.h FK_VERSION_STRING" "$(sed -n 's/^#define FK_VERSION_STRING "\(.*\)"/\1/p' include/facekit.h)"
grep -q "^## \[$want\]" CHANGELOG.md && check "CHANGELOG.md section" "$want" || check "CHANGELOG.md section" ""

lib=target/release/libfacekit.so
if [ -f "$lib" ]; then
  check "fk_version_string()" "$(python3 -c 'import ctypes,sys; l=ctypes.CDLL(sys.argv[1]); l.fk_version_string.restype=ctypes.c_char_p; print(l.fk_version_string().decode())' "$lib")"
  check "fk_version() (MAJOR*10000+...)" "$(python3 -c 'import ctypes,sys; v=ctypes.CDLL(sys.argv[1]).fk_version(); print(f"{v//10000}.{v//100%100}.{v%100}")' "$lib")"
else missing "libfacekit.so" "cargo build --release"; fi

if [ -x target/release/facekit ]; then
  check "facekit --version" "$(target/release/facekit --version | awk '{print $2}')"
else missing "facekit CLI" "cargo build --release"; fi

wheel=$(ls dist/facekit-*.whl 2>/dev/null | head -1)
if [ -n "$wheel" ]; then
  check "wheel file name" "$(basename "$wheel" | cut -d- -f2)"
  check "wheel METADATA Version" "$(unzip -p "$wheel" 'facekit-*.dist-info/METADATA' | sed -n 's/^Version: //p')"
else missing "Python wheel" "bindings/python/test_wheel.sh"; fi
if [ -n "${VERSION_PYTHON:-}" ]; then
  check "facekit.__version__ (installed)" "$(cd / && "$VERSION_PYTHON" -c 'import facekit; print(facekit.__version__)')"
  check "facekit.version() (installed)" "$(cd / && "$VERSION_PYTHON" -c 'import facekit; print(facekit.version())')"
else missing "installed Python package" "VERSION_PYTHON=venv/bin/python"; fi

jar=$(ls bindings/java/build/facekit-*.jar 2>/dev/null | grep -v -- '-tests' | head -1)
if [ -n "$jar" ]; then
  j=$(basename "$jar" .jar); check "jar file name" "${j#facekit-}"
  check "jar Implementation-Version" "$(unzip -p "$jar" META-INF/MANIFEST.MF | tr -d '\r' | sed -n 's/^Implementation-Version: //p')"
else missing "jar" "bindings/java/run_tests.sh"; fi

for deb in dist/facekit_*_amd64.deb dist/facekit_*_arm64.deb; do
  [ -f "$deb" ] || { missing "$(basename "$deb")" "packaging/deb.sh"; continue; }
  check "$(basename "$deb") Version" "$(dpkg-deb -f "$deb" Version | sed 's/-[^-]*$//')"
done

if [ -n "${VERSION_PREFIX:-}" ]; then
  check "facekitConfigVersion.cmake" "$(sed -n 's/^set(PACKAGE_VERSION "\(.*\)")/\1/p' "$VERSION_PREFIX"/lib*/cmake/facekit/facekitConfigVersion.cmake "$VERSION_PREFIX"/lib/*/cmake/facekit/facekitConfigVersion.cmake 2>/dev/null | head -1)"
  check "facekit.pc Version" "$(sed -n 's/^Version: //p' "$VERSION_PREFIX"/lib*/pkgconfig/facekit.pc "$VERSION_PREFIX"/lib/*/pkgconfig/facekit.pc 2>/dev/null | head -1)"
else missing "installed prefix" "VERSION_PREFIX=DIR"; fi

[ $bad = 0 ] && echo "check_versions: $checked places agree on $want" || { echo "check_versions: versions disagree or artifacts are missing"; exit 1; }
