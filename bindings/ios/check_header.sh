#!/usr/bin/env bash
# Compiles a small translation unit that includes include/facekit.h as C11, C++17 and Objective-C with
# warnings as errors (what Xcode, an iOS app's bridging header or a C++ engine will see), then — when
# libfacekit.so is built — links each one and runs it against the library (extern "C" linkage, version
# macros = fk_version(), a few NULL/invalid-argument calls).
#   FACEKIT_LIB_DIR  directory of libfacekit.so (default: <repo>/target/release); linking is skipped without it
#   CC, CXX          compilers (default: gcc, g++)
# Objective-C needs gcc's cc1obj (Debian package gobjc): installed with apt-get when missing and run as root.
# Exit status: non-zero if any compile (or run) fails.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LIB_DIR="${FACEKIT_LIB_DIR:-$REPO/target/release}"
CC="${CC:-gcc}"
CXX="${CXX:-g++}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/tu.h" <<'EOF'
/* Included twice on purpose: the include guard must hold. */
#include "facekit.h"
#include "facekit.h"
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
#define CHECK_STATIC(c, m) static_assert(c, m)
#else
#define CHECK_STATIC(c, m) _Static_assert(c, m)
#endif

CHECK_STATIC(FK_VERSION == FK_VERSION_MAJOR * 10000 + FK_VERSION_MINOR * 100 + FK_VERSION_PATCH, "FK_VERSION");
CHECK_STATIC(sizeof(fk_face) == 15 * sizeof(float), "fk_face: 5 floats + float[5][2], no padding");
CHECK_STATIC(sizeof(fk_match) == 16, "fk_match");
CHECK_STATIC(sizeof(((fk_hit *)0)->id) == FK_ID_MAX + 1, "fk_hit.id holds FK_ID_MAX bytes + NUL");
CHECK_STATIC(offsetof(fk_quality_report, sharpness) == 12, "fk_quality_report: float, bool, uint32_t");
CHECK_STATIC(FK_OK == 0 && FK_ERR_PANIC == 99 && FK_FORMAT_NV21 == 6 && FK_OP_FAR_1E3 == 3, "enum values");
CHECK_STATIC(FK_ERR_POOR_QUALITY == 15 && FK_ERR_NOT_LIVE == 16 && FK_LIVENESS_STATUS_FACE_AT_BORDER == 2 &&
                 FK_LIVENESS_POINT_APCER5E2 == 50, "liveness enum values");
CHECK_STATIC(FK_FORMAT_YUV420 == 9 && FK_TRACK_LOST == 3 && FK_VERDICT_NOT_LIVE == 3 && FK_EVENT_DECIDED == 2,
             "tracker and planar enum values");
CHECK_STATIC(sizeof(((fk_decision *)0)->identity) == FK_ID_MAX + 1, "fk_decision.identity holds FK_ID_MAX bytes + NUL");
CHECK_STATIC(sizeof(fk_liveness_report) == 24 + FK_LIVENESS_MAX_MODELS * sizeof(float) &&
                 offsetof(fk_liveness_report, model_scores) == 24, "fk_liveness_report: 6 scalars, then the scores");

/* Runs a few calls that need no model; returns the number of failed checks. */
static int run_checks(void) {
    int bad = 0;
    fk_engine *engine = NULL;
    fk_options *options = fk_options_new();
#define EXPECT(c)                                              \
    do {                                                       \
        if (!(c)) {                                            \
            fprintf(stderr, "check failed: %s\n", #c);         \
            bad++;                                             \
        }                                                      \
    } while (0)
    EXPECT(fk_version() == FK_VERSION);
    EXPECT(strcmp(fk_version_string(), FK_VERSION_STRING) == 0);
    EXPECT(strncmp(fk_status_str(FK_ERR_NO_FACE), "FK_ERR_NO_FACE", 14) == 0);
    EXPECT(strcmp(fk_status_str(12345), "unknown status") == 0);
    EXPECT(options != NULL);
    EXPECT(fk_options_set(options, "no_such_key", "1") == FK_ERR_INVALID_ARGUMENT);
    EXPECT(strlen(fk_last_error()) > 0);
    EXPECT(fk_engine_new_from_dir(NULL, options, &engine) == FK_ERR_NULL_ARGUMENT && engine == NULL);
    EXPECT(fk_engine_embedding_dim(NULL) == 0);
    fk_liveness_report live;
    EXPECT(fk_liveness(NULL, NULL, NULL, &live, sizeof live) == FK_ERR_NULL_ARGUMENT);
    EXPECT(strncmp(fk_status_str(FK_ERR_NOT_LIVE), "FK_ERR_NOT_LIVE", 15) == 0);
    EXPECT(fk_gallery_count(NULL) == 0);
    fk_tracker *tracker = NULL;
    size_t n = 0;
    EXPECT(fk_tracker_new(NULL, &tracker) == FK_ERR_NULL_ARGUMENT && tracker == NULL);
    EXPECT(fk_tracker_update(NULL, NULL, NULL, 0, &n) == FK_ERR_NULL_ARGUMENT);
    fk_engine_free(NULL);
    fk_gallery_free(NULL);
    fk_tracker_free(NULL);
    fk_options_free(options);
    return bad;
}
EOF
printf '#include "tu.h"\nint main(void) { return run_checks() != 0; }\n' >"$WORK/tu.c"
cp "$WORK/tu.c" "$WORK/tu.cpp"
cat >"$WORK/tu.m" <<'EOF'
#include "tu.h"
#ifndef __OBJC__
#error "not compiled as Objective-C"
#endif
@class NSString; /* Objective-C syntax: proves the mode, needs no runtime */
int main(void) { return run_checks() != 0; }
EOF

# Objective-C: make sure the compiler has its Objective-C front end.
if ! echo 'int x;' | "$CC" -x objective-c -c -o /dev/null - 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "check_header.sh: installing gobjc (Objective-C front end for gcc)" >&2
        { apt-get install -y gobjc || { apt-get update && apt-get install -y gobjc; }; } >"$WORK/apt.log" 2>&1 \
            || { echo "apt-get install gobjc failed:" >&2; tail -5 "$WORK/apt.log" >&2; }
    fi
fi

LINK=()
if [ -e "$LIB_DIR/libfacekit.so" ]; then
    LINK=(-L"$LIB_DIR" -lfacekit -Wl,-rpath,"$LIB_DIR")
else
    echo "check_header.sh: no $LIB_DIR/libfacekit.so: compile only" >&2
fi

failures=0
results=()
# step NAME SOURCE COMPILER FLAGS...
step() {
    local name="$1" src="$2" compiler="$3"
    shift 3
    local exe="$WORK/${name//[^A-Za-z0-9]/_}"
    if ! "$compiler" "$@" -I"$REPO/include" -I"$WORK" -c "$src" -o "$exe.o" 2>"$exe.log"; then
        results+=("FAIL  $name: $compiler $* (see below)")
        sed 's/^/      /' "$exe.log" | head -20
        failures=$((failures + 1))
        return
    fi
    if [ ${#LINK[@]} -eq 0 ]; then
        results+=("PASS  $name (compiled; not linked)")
        return
    fi
    if ! "$compiler" "$exe.o" -o "$exe" "${LINK[@]}" 2>"$exe.log"; then
        results+=("FAIL  $name: link"); sed 's/^/      /' "$exe.log" | head -20
        failures=$((failures + 1))
        return
    fi
    if ! "$exe"; then
        results+=("FAIL  $name: run"); failures=$((failures + 1))
        return
    fi
    results+=("PASS  $name (compiled, linked, ran)")
}

step "C11      gcc -std=c11 -Wall -Wextra -Werror -pedantic" "$WORK/tu.c" "$CC" -std=c11 -Wall -Wextra -Werror -pedantic
step "C++17    g++ -std=c++17 -Wall -Wextra -Werror -pedantic" "$WORK/tu.cpp" "$CXX" -std=c++17 -Wall -Wextra -Werror -pedantic
step "ObjC     gcc -x objective-c -Wall -Wextra -Werror" "$WORK/tu.m" "$CC" -x objective-c -Wall -Wextra -Werror
# Extra strictness some projects use: not required, reported the same way.
step "C11+     extra warnings (strict-prototypes, conversion, c++-compat, ...)" "$WORK/tu.c" "$CC" -std=c11 -Wall \
    -Wextra -Werror -pedantic -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wconversion -Wsign-conversion \
    -Wcast-qual -Wundef -Wc++-compat -Wredundant-decls
if command -v clang >/dev/null; then # Apple's compiler family, when installed
    step "clang    -x objective-c -Wall -Wextra -Werror" "$WORK/tu.m" clang -x objective-c -Wall -Wextra -Werror
    # -Weverything on the header alone (the test TU above is not written for it). Left out: C++98
    # compatibility (the header needs C++11) and -Wpadded (implicit padding is legal; see README).
    printf '#include "facekit.h"\nint main(void) { return 0; }\n' >"$WORK/bare.c"
    cp "$WORK/bare.c" "$WORK/bare.cpp"
    cp "$WORK/bare.c" "$WORK/bare.m"
    NOISE=(-Wno-unknown-warning-option -Wno-padded)
    step "clang    -std=c11 -Weverything (header only)" "$WORK/bare.c" clang -std=c11 -Weverything -Werror "${NOISE[@]}"
    step "clang++  -std=c++17 -Weverything (header only)" "$WORK/bare.cpp" clang++ -std=c++17 -Weverything -Werror \
        "${NOISE[@]}" -Wno-c++98-compat -Wno-c++98-compat-pedantic
    step "clang    -x objective-c -Weverything (header only)" "$WORK/bare.m" clang -x objective-c -Weverything -Werror "${NOISE[@]}"
    # The module map itself: `@import Facekit;` through bindings/ios/module.modulemap, as Swift/ObjC on iOS
    # would. (Its `link "facekit"` is honoured by Apple's linker only; here LINK adds -lfacekit.)
    printf '@import Facekit;\nint main(void) { return fk_version() == FK_VERSION ? 0 : 1; }\n' >"$WORK/import.m"
    step "clang    -fmodules: @import Facekit (module.modulemap)" "$WORK/import.m" clang -x objective-c -fmodules \
        -fmodules-cache-path="$WORK/module-cache" -fmodule-map-file="$HERE/module.modulemap" -Wall -Wextra -Werror
else
    results+=("SKIP  clang variants (clang not installed)")
fi

# Namespace: C has one global namespace, so everything a public header declares should carry the library's
# prefix (FK_ for macros and enumerators, fk_ for types and functions). Reported as WARN (FAIL with
# FACEKIT_STRICT_NAMESPACE=1): it compiles, but can clash with an app's own names.
HDR="$REPO/include/facekit.h"
macros() { "$CC" -E -dM -x c -I"$REPO/include" - 2>/dev/null | awk '{sub(/\(.*/, "", $2); print $2}' | sort -u; }
added_macros="$(comm -13 <(printf '#include <stdbool.h>\n#include <stddef.h>\n#include <stdint.h>\n' | macros) \
    <(printf '#include "facekit.h"\n' | macros))"
enumerators="$(grep -oE '^[[:space:]]+[A-Za-z_][A-Za-z0-9_]*[[:space:]]*=' "$HDR" | tr -d ' =\t')"
# Tags and typedef names (`struct x {`, `} x;`, `typedef struct x x;`) and function names (`x(` at a declaration).
types_funcs="$(grep -oE '(struct|enum)[[:space:]]+[A-Za-z_][A-Za-z0-9_]*|^\}[[:space:]]*[A-Za-z_][A-Za-z0-9_]*;' "$HDR" \
    | awk '{gsub(/[};]/, ""); print $NF}'; grep -oE '^[A-Za-z_][A-Za-z0-9_ *]*[[:space:]*]([A-Za-z_][A-Za-z0-9_]*)\(' "$HDR" \
    | grep -oE '[A-Za-z_][A-Za-z0-9_]*\($' | tr -d '(')"
unprefixed="$( { printf '%s\n' $added_macros $enumerators | grep -vE '^(FK_|FACEKIT_H$)';
                printf '%s\n' $types_funcs | grep -vE '^fk_'; } | sort -u | tr '\n' ' ')"
if [ -z "${unprefixed// /}" ]; then
    results+=("PASS  namespace: every macro, enumerator, type and function is FK_/fk_-prefixed")
elif [ "${FACEKIT_STRICT_NAMESPACE:-0}" = 1 ]; then
    results+=("FAIL  namespace: unprefixed names in facekit.h: $unprefixed")
    failures=$((failures + 1))
else
    results+=("WARN  namespace: unprefixed names in facekit.h: $unprefixed(compiles; may clash with app names)")
fi

echo
echo "facekit.h header check:"
printf '  %s\n' "${results[@]}"
[ "$failures" -eq 0 ]
