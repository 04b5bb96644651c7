#!/usr/bin/env bash
# Builds build/facekit-VERSION.jar (build_jar.sh: classes + libfacekit and the JNI shim per architecture) and the
# test program, then runs the tests on the real models and LFW photos with only that jar and the test classes on
# the class path: no java.library.path, no LD_LIBRARY_PATH, so the natives must come out of the jar.
# No Maven/Gradle; everything lands in bindings/java/build/.
#   JAVA_HOME        JDK (default: /usr/lib/jvm/java-17-openjdk-amd64, else derived from javac on PATH)
#   FACEKIT_SHARED   shared dir with models/ and data/ (default: <repo>/../shared)
#   FACEKIT_LIB_DIR  directory of libfacekit.so (default: <repo>/target/release)
#   CC               C compiler (default: gcc)
#   and build_jar.sh's (FACEKIT_LIB_DIR_AARCH64, FACEKIT_REQUIRE_AARCH64, ...)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export FACEKIT_SHARED="${FACEKIT_SHARED:-$REPO/../shared}"
LIB_DIR="${FACEKIT_LIB_DIR:-$REPO/target/release}"
CC="${CC:-gcc}"
if [ -z "${JAVA_HOME:-}" ]; then
    if [ -d /usr/lib/jvm/java-17-openjdk-amd64 ]; then
        JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
    else
        JAVA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")"
    fi
fi
export JAVA_HOME CC FACEKIT_LIB_DIR="$LIB_DIR" # for build_jar.sh
BUILD="$HERE/build"

if [ ! -e "$LIB_DIR/libfacekit.so" ]; then
    echo "run_tests.sh: no $LIB_DIR/libfacekit.so; build it with 'cargo build --release'" >&2
    exit 1
fi

rm -rf "$BUILD"
mkdir -p "$BUILD/test-classes"

bash "$HERE/build_jar.sh" | tee "$BUILD/build_jar.log"
JAR="$(tail -n 1 "$BUILD/build_jar.log")"
[ -f "$JAR" ] || { echo "run_tests.sh: build_jar.sh made no jar" >&2; exit 1; }

# Test-only helper (malloc_trim before reading VmRSS); not part of the bindings nor of the jar.
"$CC" -shared -fPIC -O2 -std=c11 -Wall -Wextra -Werror -I"$JAVA_HOME/include" -I"$JAVA_HOME/include/linux" \
    "$HERE/src/test/c/test_support.c" -o "$BUILD/libfacekit_test_support.so"

echo "== javac (tests)"
"$JAVA_HOME/bin/javac" --release 17 -Xlint:all -Werror -cp "$JAR" -d "$BUILD/test-classes" \
    $(find "$HERE/src/test/java" -name '*.java')

echo "== run"
# -Xcheck:jni validates every JNI call of the shim; any warning it prints (a missed exception check, a local
# reference overflow, a wrong type) fails this script, not just a fatal error. A fixed, pre-touched heap
# keeps Java heap growth out of the VmRSS figures of the lifetime loops, which measure native memory.
LOG="$BUILD/run.log"
set +e
env -u LD_LIBRARY_PATH "$JAVA_HOME/bin/java" -Xcheck:jni -Xms96m -Xmx96m -XX:+AlwaysPreTouch \
    -Dfacekit.shared="$FACEKIT_SHARED" -Dfacekit.cargoToml="$REPO/Cargo.toml" -Dfacekit.test.expectJarNatives=true \
    -Dfacekit.test.support="$BUILD/libfacekit_test_support.so" \
    -cp "$JAR:$BUILD/test-classes" dev.facekit.FacekitTest "$@" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e
if grep -E "WARNING in native method|WARNING: JNI|FATAL ERROR in native method" "$LOG" >&2; then
    echo "run_tests.sh: -Xcheck:jni reported the lines above" >&2
    exit 1
fi
echo "-Xcheck:jni: 0 warnings"
exit "$rc"
