#!/usr/bin/env bash
# Builds the Java API (plain javac), the JNI shim (gcc) and the test program, then runs the tests on the real
# models and LFW photos. No Maven/Gradle: everything lands in bindings/java/build/ (facekit.jar and
# libfacekit_jni.so are usable as they are).
#   JAVA_HOME        JDK (default: /usr/lib/jvm/java-17-openjdk-amd64, else derived from javac on PATH)
#   FACEKIT_SHARED   shared dir with models/ and data/ (default: <repo>/../shared)
#   FACEKIT_LIB_DIR  directory of libfacekit.so (default: <repo>/target/release)
#   CC               C compiler (default: gcc)
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
BUILD="$HERE/build"

if [ ! -e "$LIB_DIR/libfacekit.so" ]; then
    echo "run_tests.sh: no $LIB_DIR/libfacekit.so; build it with 'cargo build --release'" >&2
    exit 1
fi

rm -rf "$BUILD"
mkdir -p "$BUILD/classes" "$BUILD/test-classes"

echo "== javac (API)"
# --release 11: the API avoids newer language features so Android's D8 can take the same sources.
"$JAVA_HOME/bin/javac" --release 11 -Xlint:all -Werror -d "$BUILD/classes" \
    $(find "$HERE/src/main/java" -name '*.java')
"$JAVA_HOME/bin/jar" cf "$BUILD/facekit.jar" -C "$BUILD/classes" .

echo "== gcc (JNI shim)"
# rpath: the test run finds libfacekit.so.0 (the DT_NEEDED name, from its SONAME) without LD_LIBRARY_PATH.
"$CC" -shared -fPIC -O2 -std=c11 -Wall -Wextra -Werror \
    -I"$JAVA_HOME/include" -I"$JAVA_HOME/include/linux" -I"$REPO/include" \
    "$HERE/src/main/c/facekit_jni.c" -o "$BUILD/libfacekit_jni.so" \
    -L"$LIB_DIR" -lfacekit -Wl,-rpath,"$LIB_DIR"

# Test-only helper (malloc_trim before reading VmRSS); not part of the bindings.
"$CC" -shared -fPIC -O2 -std=c11 -Wall -Wextra -Werror -I"$JAVA_HOME/include" -I"$JAVA_HOME/include/linux" \
    "$HERE/src/test/c/test_support.c" -o "$BUILD/libfacekit_test_support.so"

echo "== javac (tests)"
"$JAVA_HOME/bin/javac" --release 17 -Xlint:all -Werror -cp "$BUILD/classes" -d "$BUILD/test-classes" \
    $(find "$HERE/src/test/java" -name '*.java')

echo "== run"
# -Xcheck:jni validates every JNI call of the shim; any warning it prints (a missed exception check, a local
# reference overflow, a wrong type) fails this script, not just a fatal error. A fixed, pre-touched heap
# keeps Java heap growth out of the VmRSS figures of the lifetime loops, which measure native memory.
LOG="$BUILD/run.log"
set +e
"$JAVA_HOME/bin/java" -Xcheck:jni -Xms96m -Xmx96m -XX:+AlwaysPreTouch \
    -Djava.library.path="$BUILD" -Dfacekit.shared="$FACEKIT_SHARED" \
    -cp "$BUILD/classes:$BUILD/test-classes" dev.facekit.FacekitTest "$@" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e
if grep -E "WARNING in native method|WARNING: JNI|FATAL ERROR in native method" "$LOG" >&2; then
    echo "run_tests.sh: -Xcheck:jni reported the lines above" >&2
    exit 1
fi
echo "-Xcheck:jni: 0 warnings"
exit "$rc"
