#!/usr/bin/env bash
# CI: the installed C packages end to end, from already-built artifacts (no cargo build here: run it after
# `cargo build --release` and, for arm64, the aarch64 build of cross/test.sh). As root it installs and removes
# the facekit .deb on this machine (see 6).
#   1. packaging/deb.sh: dist/facekit_VERSION_amd64.deb, and _arm64.deb when the aarch64 build exists; lintian
#      starts on the amd64 .deb in the background (the static library's ~1,200 objects make it a minute or two);
#   2. packaging/install.sh into a temporary prefix (library, header, facekit.pc, CMake package, CLI, models);
#      examples/cmake built and run on two photos four ways: find_package / pkg-config x shared / static;
#   3. find_package(facekit 2.0) and (facekit 0.2) against 0.1 must be refused by the version file;
#   4. the prefix moved elsewhere: the CMake package and the CLI follow it;
#   5. the amd64 .deb extracted into a scratch root (dpkg -x): links, SONAME, stripped, its CLI and the consumer;
#   6. as root, the amd64 .deb installed for real (dpkg -i): `facekit --version` and `facekit verify` from
#      /usr/bin with no --models and no FACEKIT_MODELS, the consumer built against /usr (find_package and
#      pkg-config, shared and static), then `dpkg -r facekit` (also on failure) and a check that nothing is left.
#      Skipped with FACEKIT_DPKG_INSTALL=0, when not root, or when a facekit package is already installed;
#   7. the arm64 .deb: its file list equals the amd64 one, its binaries and objects are aarch64, and its CLI
#      verifies the photos under qemu-aarch64 from a dpkg -x root (about 20 s; FACEKIT_QEMU=0 skips);
#   8. lintian's findings printed; an E: tag fails. FACEKIT_LINTIAN_ARM64=1 lints the arm64 .deb too.
#
# Environment: FACEKIT_BUILD_DIR (default target/release), FACEKIT_ARM64_BUILD_DIR (default
# target/cross/aarch64-unknown-linux-gnu/release), FACEKIT_MODELS_SRC (default ../shared/models),
# FACEKIT_TEST_PHOTOS="A B" (default: two live webcam captures of one person from Replay-Attack; LFW press
# photos would be refused by the liveness check), DEB_COMPRESSION (default here "xz 1": 5x faster than
# dpkg's "xz 6", 11 % larger).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
t0=$SECONDS
step() { echo; echo "== [$((SECONDS - t0)) s] $*"; }
die() { echo "test_packages: FAIL: $*" >&2; exit 1; }

build_dir=${FACEKIT_BUILD_DIR:-target/release}
a64_dir=${FACEKIT_ARM64_BUILD_DIR:-target/cross/aarch64-unknown-linux-gnu/release}
shared=$(cd .. && pwd)/shared
read -r photo_a photo_b <<<"${FACEKIT_TEST_PHOTOS:-$shared/data/liveness/replay-attack/real/test/client009_session01_webcam_authenticate_controlled_1.jpg $shared/data/liveness/replay-attack/real/test/client009_session01_webcam_authenticate_controlled_2.jpg}"
export DEB_COMPRESSION=${DEB_COMPRESSION:-xz 1}
version=$(awk '/^\[/{p = ($0 == "[package]")} p && /^version *=/{gsub(/.*= *"|".*/, ""); print; exit}' Cargo.toml)
host_arch=$(dpkg --print-architecture)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
for tool in cmake pkg-config c++ dpkg-deb; do command -v $tool >/dev/null || die "$tool is not installed"; done
for f in "$photo_a" "$photo_b"; do [ -f "$f" ] || die "test photo $f is missing"; done
# No outside configuration: models, prefixes and pkg-config paths come from what this script installs.
unset FACEKIT_MODELS CMAKE_PREFIX_PATH PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR

work=$(mktemp -d "${TMPDIR:-/tmp}/facekit-packages.XXXXXX")
empty=$work/cwd/empty   # an empty working directory: no ./models, no ../shared/models
mkdir -p "$empty"
dpkg_installed=0
lintian_pids=()
cleanup() {
  local rc=$?
  if [ "$dpkg_installed" = 1 ]; then dpkg -r facekit >/dev/null 2>&1 || echo "test_packages: dpkg -r facekit failed" >&2; fi
  for p in "${lintian_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

# consumer NAME EXPECT_LIB [CMAKE ARGS...]: configure, build and run examples/cmake (no model directory given: the
# one the build found installed); EXPECT_LIB (an extended regex, or `static`) is where the program must report
# fk_version() coming from: the installed .so, or the program itself.
consumer() {
  local name=$1 expect=$2; shift 2
  local b=$work/build-$name out rc=0 dyn
  cmake -S "$repo/examples/cmake" -B "$b" -DCMAKE_BUILD_TYPE=Release "$@" > "$b.log" 2>&1 \
    && cmake --build "$b" >> "$b.log" 2>&1 || { cat "$b.log"; die "consumer $name: build failed"; }
  sed -n 's/^-- \(facekit .* from .*\)/  [build-'"$name"'] \1/p' "$b.log"
  out=$(cd "$empty" && "$b/facekit_consumer" "$photo_a" "$photo_b") || rc=$?
  echo "$out" | sed "s/^/  [$name] /"
  [ $rc = 0 ] || die "consumer $name: exit $rc"
  dyn=$(readelf -d "$b/facekit_consumer")
  if [ "$expect" = static ]; then
    expect=$b/facekit_consumer
    ! grep -q 'libfacekit' <<<"$dyn" || die "consumer $name: the static build needs libfacekit.so"
  fi
  grep -qE "from $expect\$" <<<"$out" || die "consumer $name: facekit not from $expect"
  grep -q 'is_match 1' <<<"$out" || die "consumer $name: the two photos did not match"
}

# refused VERSION PREFIX: find_package(facekit VERSION) must fail on the version file's verdict.
refused() {
  local out
  if out=$(cmake -S "$repo/examples/cmake" -B "$work/build-refuse" -DCMAKE_PREFIX_PATH="$2" \
        -DFACEKIT_REQUIRED_VERSION="$1" 2>&1); then
    die "find_package(facekit $1) accepted version $version"
  fi
  grep -q "compatible with requested version \"$1\"" <<<"$out" \
    || { echo "$out"; die "find_package(facekit $1) failed for another reason"; }
  echo "  find_package(facekit $1): refused ($(grep -o '[^ ]*facekitConfig.cmake, version: [^ ]*' <<<"$out" | head -1))"
  rm -rf "$work/build-refuse"
}

step "packaging/deb.sh ($DEB_COMPRESSION)"
bash packaging/deb.sh "$host_arch"
debs=("dist/facekit_${version}_$host_arch.deb")
have_arm64=0
if [ "$host_arch" = amd64 ] && [ -f "$a64_dir/libfacekit.so" ] && [ -f "$a64_dir/facekit" ]; then
  have_arm64=1
else
  echo "  no aarch64 build in $a64_dir: no arm64 .deb"
fi

# lintian_start FILE: lintian in the background, its report read at the end.
lintian_start() {
  command -v lintian >/dev/null || { echo "  lintian is not installed: skipped"; return; }
  nice -n 5 lintian --tag-display-limit 0 --display-info --show-overrides "$1" > "$work/lintian-$(basename "$1").txt" 2>&1 &
  lintian_pids+=($!)
}
lintian_start "${debs[0]}"

if [ $have_arm64 = 1 ]; then
  FACEKIT_BUILD_DIR=$a64_dir bash packaging/deb.sh arm64
  debs+=("dist/facekit_${version}_arm64.deb")
  # Its file list is the amd64 one (checked below) and lintian's ELF findings matched the amd64 ones; linting it
  # costs another one to two minutes of CPU (the static library's 1,400 objects), so CI asks for it explicitly.
  if [ "${FACEKIT_LINTIAN_ARM64:-0}" = 1 ]; then lintian_start "${debs[1]}"; fi
fi
for d in "${debs[@]}"; do echo "  $d: $(du -h "$d" | cut -f1), $(dpkg-deb -f "$d" Installed-Size) KiB installed, Depends: $(dpkg-deb -f "$d" Depends)"; done

step "install.sh into a temporary prefix (artifacts of $build_dir)"
prefix=$work/prefix
FACEKIT_BUILD_DIR=$build_dir FACEKIT_INSTALL_CLI=1 FACEKIT_INSTALL_MODELS=1 bash packaging/install.sh "$prefix" release
[ "$(readlink "$prefix/lib/libfacekit.so.${version%%.*}")" = "libfacekit.so.$version" ] || die "SONAME link"
out=$(cd "$empty" && "$prefix/bin/facekit" verify "$photo_a" "$photo_b") || die "installed CLI: verify exit $?"
echo "  [cli] ${out:0:80}"

step "consumer against the prefix: find_package / pkg-config, shared / static"
consumer cmake-shared "$prefix/lib/libfacekit.so.0" -DCMAKE_PREFIX_PATH="$prefix"
consumer cmake-static static -DCMAKE_PREFIX_PATH="$prefix" -DFACEKIT_STATIC=ON
PKG_CONFIG_PATH=$prefix/lib/pkgconfig consumer pc-shared "$prefix/lib/libfacekit.so.0" -DFACEKIT_USE_PKGCONFIG=ON
PKG_CONFIG_PATH=$prefix/lib/pkgconfig consumer pc-static static -DFACEKIT_USE_PKGCONFIG=ON -DFACEKIT_STATIC=ON

step "version requests: 2.0 and 0.2 refused, 0.1 accepted above"
refused 2.0 "$prefix"
refused 0.2 "$prefix"

step "the prefix moved elsewhere: the CMake package follows it"
mv "$prefix" "$work/moved"
consumer moved-cmake-shared "$work/moved/lib/libfacekit.so.0" -DCMAKE_PREFIX_PATH="$work/moved"
out=$(cd "$empty" && "$work/moved/bin/facekit" verify "$photo_a" "$photo_b") || die "moved CLI: verify exit $?"
rm -rf "$work/moved" "$work"/build-*

step "the amd64 .deb in a scratch root (dpkg -x)"
root=$work/root
dpkg-deb -x "${debs[0]}" "$root"
lib=$root/usr/lib/$triplet
[ "$(readlink "$lib/libfacekit.so.0")" = "libfacekit.so.$version" ] && [ "$(readlink "$lib/libfacekit.so")" = libfacekit.so.0 ] \
  || die "SONAME links in the .deb"
[ "$(readelf -d "$lib/libfacekit.so.$version" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')" = libfacekit.so.0 ] || die "SONAME"
d=$(file -L "$root/usr/bin/facekit" "$lib/libfacekit.so.$version"); ! grep -q 'not stripped' <<<"$d" || die "unstripped ELF: $d"
grep -q "^prefix=/usr\$" "$lib/pkgconfig/facekit.pc" || die "facekit.pc does not say prefix=/usr"
out=$(cd "$empty" && "$root/usr/bin/facekit" verify "$photo_a" "$photo_b") || die "scratch-root CLI: verify exit $?"
echo "  [cli] ${out:0:80}"
consumer root-cmake-shared "$lib/libfacekit.so.0" -DCMAKE_PREFIX_PATH="$root/usr"
rm -rf "$root" "$work"/build-*

step "the amd64 .deb installed (dpkg -i), used from /usr, removed (dpkg -r)"
if [ "${FACEKIT_DPKG_INSTALL:-1}" != 1 ] || [ "$(id -u)" != 0 ]; then
  echo "  skipped (FACEKIT_DPKG_INSTALL=0 or not root)"
elif dpkg-query -W -f='${Status}' facekit 2>/dev/null | grep -q 'ok installed'; then
  echo "  skipped: a facekit package is already installed here ($(dpkg-query -W -f='${Version}' facekit)); left alone"
else
  for i in 1 2 3 4 5 6 7 8 9 10; do   # another dpkg/apt run holds the lock: wait for it
    dpkg_installed=1
    if dpkg -i "${debs[0]}" > "$work/dpkg.log" 2>&1; then break; fi
    dpkg_installed=0
    grep -q 'lock' "$work/dpkg.log" && [ $i -lt 10 ] || { cat "$work/dpkg.log"; die "dpkg -i"; }
    sleep 3
  done
  cache=$(ldconfig -p)
  grep -qE "libfacekit\.so\.0 .*=> (/usr)?/lib/$triplet/libfacekit\.so\.0" <<<"$cache" || die "ldconfig does not list libfacekit.so.0"
  v=$(cd "$empty" && /usr/bin/facekit --version) && [ "$v" = "facekit $version" ] || die "/usr/bin/facekit --version: $v"
  echo "  $v"
  out=$(cd "$empty" && /usr/bin/facekit verify "$photo_a" "$photo_b") || die "/usr/bin/facekit verify: exit $?"
  echo "  [cli] ${out:0:80}"
  consumer usr-cmake-shared "(/usr)?/lib/$triplet/libfacekit\.so\.0"
  consumer usr-cmake-static static -DFACEKIT_STATIC=ON
  consumer usr-pc-shared "(/usr)?/lib/$triplet/libfacekit\.so\.0" -DFACEKIT_USE_PKGCONFIG=ON
  consumer usr-pc-static static -DFACEKIT_USE_PKGCONFIG=ON -DFACEKIT_STATIC=ON
  refused 2.0 /usr
  dpkg -r facekit > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; die "dpkg -r facekit"; }
  dpkg_installed=0
  [ ! -e /usr/bin/facekit ] && [ ! -e "/usr/lib/$triplet/libfacekit.so.0" ] && [ ! -d /usr/share/facekit ] \
    || die "files left after dpkg -r"
  cache=$(ldconfig -p); ! grep -q libfacekit <<<"$cache" || die "ldconfig still lists libfacekit after dpkg -r"
  echo "  removed: no file left, ldconfig no longer lists libfacekit"
  rm -rf "$work"/build-*
fi

if [ $have_arm64 = 1 ]; then
  step "the arm64 .deb: contents, architecture, CLI under qemu"
  list() { dpkg-deb -c "$1" | awk '{print $6 ($7 == "->" ? " -> " $8 : "")}' | sed "s|$2|TRIPLET|g" | sort; }
  diff <(list "${debs[0]}" "$triplet") <(list "${debs[1]}" aarch64-linux-gnu) || die "arm64 and amd64 file lists differ"
  echo "  same $(dpkg-deb -c "${debs[1]}" | wc -l) entries as the amd64 .deb (lib/aarch64-linux-gnu)"
  root=$work/root-arm64
  dpkg-deb -x "${debs[1]}" "$root"
  lib=$root/usr/lib/aarch64-linux-gnu
  for f in "$root/usr/bin/facekit" "$lib/libfacekit.so.$version"; do
    d=$(file -L "$f"); echo "  ${d:0:120}"
    grep -q 'ARM aarch64' <<<"$d" || die "$f is not an aarch64 binary"
  done
  formats=$(aarch64-linux-gnu-objdump -f "$lib/libfacekit.a" | sed -n 's/.*file format //p' | sort | uniq -c)
  echo "  libfacekit.a members:" $formats
  [ "$(awk '{print $2}' <<<"$formats")" = elf64-littleaarch64 ] || die "libfacekit.a of the arm64 .deb: $formats"
  grep -q "^libdir=\${prefix}/lib/aarch64-linux-gnu\$" "$lib/pkgconfig/facekit.pc" || die "arm64 facekit.pc libdir"
  if [ "${FACEKIT_QEMU:-1}" = 1 ] && command -v qemu-aarch64 >/dev/null && [ -d /usr/aarch64-linux-gnu ]; then
    s=$SECONDS
    out=$(cd "$empty" && qemu-aarch64 -L /usr/aarch64-linux-gnu "$root/usr/bin/facekit" verify "$photo_a" "$photo_b") \
      || die "arm64 CLI under qemu: verify exit $?"
    echo "  [qemu-aarch64 cli, $((SECONDS - s)) s] ${out:0:80}"
  else
    echo "  qemu-aarch64 run skipped (FACEKIT_QEMU=0, or no qemu-aarch64 / /usr/aarch64-linux-gnu)"
  fi
  rm -rf "$root"
fi

step "lintian"
lint_errors=0
for d in "${debs[@]}"; do
  f=$work/lintian-$(basename "$d").txt
  [ -f "$f" ] || continue
  wait "${lintian_pids[0]}" 2>/dev/null || true
  lintian_pids=("${lintian_pids[@]:1}")
  echo "  $(basename "$d"):"
  grep -v 'root privileges' "$f" | sed 's/^/    /'
  grep -q '^[EWIPO]: ' "$f" || echo "    (no tags)"
  if grep -q '^E: ' "$f"; then lint_errors=1; fi
done
[ $lint_errors = 0 ] || die "lintian reports errors (E:)"

step "done: facekit $version packages pass (${debs[*]})"
