#!/usr/bin/env bash
# Installs what cross/test.sh needs, from Debian packages only (idempotent):
# - Debian's rustc-web/cargo-web (/usr/bin/rustc, /usr/bin/cargo; >= 1.91, tract's minimum) with the standard
#   library of each ARM target as multiarch packages (libstd-rust-web-dev:arm64, :armhf),
# - the targets' gcc and C libraries, QEMU user mode, and the kernel's binfmt_misc hand-over of ARM binaries to
#   QEMU (a test that starts a copy of itself, like the gallery crash test, needs it).
# bookworm ships rustc-web 1.85 in main and 1.96 in bookworm-security. When apt does not offer >= 1.91 (seen
# here: the security suite's armhf index failed apt's size check, so apt ignored the suite), the .debs named in
# that suite's package index are fetched and installed directly, still by apt (dependencies from main).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
MIN_MINOR=91
rustc_ok() { v=$(/usr/bin/rustc --version 2>/dev/null | awk '{print $2}'); [ -n "$v" ] && [ "$(echo "$v" | cut -d. -f2)" -ge $MIN_MINOR ]; }
std_ok() { /usr/bin/rustc --print sysroot >/dev/null 2>&1 && [ -d "$(/usr/bin/rustc --print sysroot)/lib/rustlib/$1/lib" ]; }
have_all() {
  rustc_ok && std_ok aarch64-unknown-linux-gnu && std_ok armv7-unknown-linux-gnueabihf &&
    command -v aarch64-linux-gnu-gcc >/dev/null && command -v arm-linux-gnueabihf-gcc >/dev/null &&
    command -v qemu-aarch64 >/dev/null && command -v qemu-arm >/dev/null && command -v ffmpeg >/dev/null &&
    [ -e /lib/ld-linux-aarch64.so.1 ] && [ -e /lib/ld-linux-armhf.so.3 ] # the multiarch runtime cross/test.sh runs on
}
if ! have_all; then
  dpkg --add-architecture arm64
  dpkg --add-architecture armhf
  apt-get update -qq || true # one suite's failing index must not stop the others
  apt-get install -y -qq gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross \
    libc6:arm64 libc6:armhf libgcc-s1:arm64 libgcc-s1:armhf qemu-user binfmt-support ffmpeg xz-utils curl >/dev/null
  cand=$(apt-cache policy rustc-web | awk '/Candidate:/{print $2}')
  if [ "$(echo "$cand" | cut -d. -f2)" -ge $MIN_MINOR ] 2>/dev/null; then
    apt-get install -y -qq rustc-web cargo-web libstd-rust-web-dev:arm64 libstd-rust-web-dev:armhf >/dev/null
  else
    sec=http://deb.debian.org/debian-security
    dl=$(mktemp -d)
    for arch in amd64 arm64 armhf; do
      pk="rustc-web|cargo-web|libstd-rust-web-1\.[0-9]+|libstd-rust-web-dev|libllvm[0-9]+"
      [ "$arch" = amd64 ] || pk="libstd-rust-web-1\.[0-9]+|libstd-rust-web-dev|libllvm[0-9]+"
      curl -fsS "$sec/dists/bookworm-security/main/binary-$arch/Packages.xz" | xz -dc > "$dl/Packages-$arch"
      # The rustc-web source's packages, and the libllvm its standard library depends on.
      llvm=$(awk -v RS= '/\nPackage: libstd-rust-web-1\.[0-9]+\n/ || /^Package: libstd-rust-web-1\.[0-9]+\n/' "$dl/Packages-$arch" |
        grep -o 'libllvm[0-9]*' | head -1)
      awk -v RS= -v ORS='\n\n' -v pk="^($pk)\$" '{ split($0, L, "\n"); for (i in L) if (L[i] ~ /^Package: /) { p = substr(L[i], 10) } }
        p ~ pk { print }' "$dl/Packages-$arch" |
        awk -v llvm="$llvm" '/^Package: /{p=$2} /^Filename: /{ if (p !~ /^libllvm/ || p == llvm) print $2 }' |
        while read -r f; do curl -fsS -o "$dl/$(basename "$f")" "$sec/$f"; done
    done
    apt-get install -y -qq "$dl"/*.deb >/dev/null
    rm -rf "$dl"
  fi
fi
have_all || { echo "cross/setup.sh: the cross toolchain is still incomplete" >&2; exit 1; }
# ARM binaries started by other programs (exec, not through cargo's runner) go to QEMU via binfmt_misc.
if [ -w /proc/sys/fs ] || [ "$(id -u)" = 0 ]; then
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
  for q in aarch64 arm; do
    if [ -d /proc/sys/fs/binfmt_misc ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-$q ] && [ -f /usr/lib/binfmt.d/qemu-$q.conf ]; then
      cat /usr/lib/binfmt.d/qemu-$q.conf > /proc/sys/fs/binfmt_misc/register 2>/dev/null || true
    fi
  done
fi
