#!/usr/bin/env bash
# Builds bindings/java/build/facekit-VERSION.jar: the API classes (javac --release 11) and, per architecture
# built, libfacekit plus the JNI shim under dev/facekit/native/<os>-<arch>/ (README, "The jar"). No Maven,
# Gradle or network: javac, jar, gcc and strip. VERSION is the [package] version of the repo's Cargo.toml (the
# single source), written to the manifest as Implementation-Version.
#   JAVA_HOME                JDK (default: /usr/lib/jvm/java-17-openjdk-amd64, else derived from javac on PATH)
#   FACEKIT_LIB_DIR          libfacekit.so for the host (default: <repo>/target/release); required
#   CC, STRIP                host C compiler and strip (default: gcc, strip)
#   FACEKIT_LIB_DIR_AARCH64  libfacekit.so for aarch64 Linux (default: <repo>/target/cross/aarch64-unknown-linux-gnu/release);
#                            packed when it exists and CC_AARCH64 is installed, skipped (with a note) otherwise
#   CC_AARCH64, STRIP_AARCH64  (default: aarch64-linux-gnu-gcc, aarch64-linux-gnu-strip)
#   FACEKIT_REQUIRE_AARCH64=1  fail instead of skipping aarch64
# Prints the jar's path, size and native entries; the last line is the jar's path.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
if [ -z "${JAVA_HOME:-}" ]; then
    if [ -d /usr/lib/jvm/java-17-openjdk-amd64 ]; then
        JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
    else
        JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
    fi
fi
BUILD="$HERE/build"
LIB_DIR="${FACEKIT_LIB_DIR:-$REPO/target/release}"
CC="${CC:-gcc}"
STRIP="${STRIP:-strip}"
LIB_DIR_A64="${FACEKIT_LIB_DIR_AARCH64:-$REPO/target/cross/aarch64-unknown-linux-gnu/release}"
CC_A64="${CC_AARCH64:-aarch64-linux-gnu-gcc}"
STRIP_A64="${STRIP_AARCH64:-aarch64-linux-gnu-strip}"

VERSION="$(awk '/^\[/ { pkg = ($0 == "[package]") } pkg && /^version[ \t]*=/ { gsub(/^version[ \t]*=[ \t]*"|".*$/, ""); print; exit }' "$REPO/Cargo.toml")"
if ! [[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]]; then
    echo "build_jar.sh: no [package] version in $REPO/Cargo.toml (got '$VERSION')" >&2
    exit 1
fi
JAR="$BUILD/facekit-$VERSION.jar"
# pom.xml (publishing coordinates only) must carry the same version.
POM_VERSION="$(sed -n '/<artifactId>facekit<\/artifactId>/,/<version>/ s/.*<version>\(.*\)<\/version>.*/\1/p' "$HERE/pom.xml" | head -n 1)"
if [ "$POM_VERSION" != "$VERSION" ]; then
    echo "build_jar.sh: bindings/java/pom.xml has version '$POM_VERSION', Cargo.toml $VERSION: update pom.xml" >&2
    exit 1
fi

if [ ! -e "$LIB_DIR/libfacekit.so" ]; then
    echo "build_jar.sh: no $LIB_DIR/libfacekit.so; build it with 'cargo build --release'" >&2
    exit 1
fi

rm -rf "$BUILD/classes" "$BUILD/natives" "$BUILD"/facekit-*.jar "$BUILD"/facekit-*.pom "$BUILD/MANIFEST.MF"
mkdir -p "$BUILD/classes" "$BUILD/natives"

echo "== javac (API) $VERSION"
# --release 11: the API avoids newer language features so Android's D8 can take the same sources.
"$JAVA_HOME/bin/javac" --release 11 -Xlint:all -Werror -d "$BUILD/classes" \
    $(find "$HERE/src/main/java" -name '*.java')

# One platform: the shim built against $lib_dir/libfacekit.so with $cc, both stripped into the resource dir.
# The shim's DT_NEEDED is libfacekit.so.0 (the library's SONAME), hence that file name in the jar; NativeLib
# loads the library first, and the shim's $ORIGIN rpath finds it beside it as well.
pack() {
    local platform="$1" lib_dir="$2" cc="$3" strip="$4" machine="$5"
    local out="$BUILD/natives/dev/facekit/native/$platform"
    mkdir -p "$out"
    echo "== $platform: $cc, $lib_dir/libfacekit.so"
    if ! readelf -h "$lib_dir/libfacekit.so" | grep -q "Machine:.*$machine"; then
        echo "build_jar.sh: $lib_dir/libfacekit.so is not a $machine library" >&2
        exit 1
    fi
    if ! readelf -d "$lib_dir/libfacekit.so" | grep -q 'SONAME.*\[libfacekit\.so\.0\]'; then
        echo "build_jar.sh: $lib_dir/libfacekit.so has no SONAME libfacekit.so.0" >&2
        exit 1
    fi
    "$cc" -shared -fPIC -O2 -std=c11 -Wall -Wextra -Werror \
        -I"$JAVA_HOME/include" -I"$JAVA_HOME/include/linux" -I"$REPO/include" \
        "$HERE/src/main/c/facekit_jni.c" -o "$out/libfacekit_jni.so" \
        -L"$lib_dir" -lfacekit -Wl,-rpath,'$ORIGIN' -Wl,-z,noexecstack
    cp "$lib_dir/libfacekit.so" "$out/libfacekit.so.0"
    "$strip" --strip-unneeded "$out/libfacekit.so.0" "$out/libfacekit_jni.so"
    chmod 0755 "$out/libfacekit.so.0" "$out/libfacekit_jni.so"
    readelf -d "$out/libfacekit_jni.so" | grep -q 'NEEDED.*\[libfacekit\.so\.0\]' \
        || { echo "build_jar.sh: the $platform shim does not need libfacekit.so.0" >&2; exit 1; }
    echo "$platform" >>"$BUILD/natives/dev/facekit/native/platforms.txt"
}

host="$("$CC" -dumpmachine)"
case "$host" in
    x86_64-*linux*) pack linux-x86_64 "$LIB_DIR" "$CC" "$STRIP" "X86-64" ;;
    aarch64-*linux*) pack linux-aarch64 "$LIB_DIR" "$CC" "$STRIP" "AArch64" ;;
    *) echo "build_jar.sh: host compiler targets $host; only x86_64 and aarch64 Linux are packed" >&2; exit 1 ;;
esac
if [[ "$host" == x86_64-* ]]; then
    if [ -e "$LIB_DIR_A64/libfacekit.so" ] && command -v "$CC_A64" >/dev/null && command -v "$STRIP_A64" >/dev/null; then
        # The JNI headers of the x86-64 JDK serve: jni_md.h is the same on aarch64 Linux.
        pack linux-aarch64 "$LIB_DIR_A64" "$CC_A64" "$STRIP_A64" "AArch64"
    elif [ "${FACEKIT_REQUIRE_AARCH64:-0}" = 1 ]; then
        echo "build_jar.sh: FACEKIT_REQUIRE_AARCH64=1 but no $LIB_DIR_A64/libfacekit.so or no $CC_A64" >&2
        exit 1
    else
        echo "== linux-aarch64: skipped (no $LIB_DIR_A64/libfacekit.so or no $CC_A64; cross/test.sh aarch64-unknown-linux-gnu builds it)"
    fi
fi

cat >"$BUILD/MANIFEST.MF" <<EOF
Implementation-Title: facekit
Implementation-Version: $VERSION
Implementation-Vendor: facekit
Specification-Title: facekit
Specification-Version: $VERSION
Automatic-Module-Name: dev.facekit
X-Facekit-Native-Platforms: $(paste -sd' ' "$BUILD/natives/dev/facekit/native/platforms.txt")
EOF

echo "== jar"
date_opt=()
# Reproducible entry times when SOURCE_DATE_EPOCH is set (jar --date needs 1980-01-01 or later).
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then date_opt=(--date="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"); fi
"$JAVA_HOME/bin/jar" --create --file "$JAR" --manifest "$BUILD/MANIFEST.MF" "${date_opt[@]}" \
    -C "$BUILD/classes" . -C "$BUILD/natives" .

cp "$HERE/pom.xml" "$BUILD/facekit-$VERSION.pom"

size=$(stat -c %s "$JAR")
echo "$(basename "$JAR"): $size bytes ($(( (size + 524288) / 1048576 )) MB), platforms: $(paste -sd' ' "$BUILD/natives/dev/facekit/native/platforms.txt")"
"$JAVA_HOME/bin/jar" --list --file "$JAR" | grep '^dev/facekit/native/' | sed 's/^/  /'
echo "$JAR"
