#!/usr/bin/env bash
# Shows that packaging/abi_check.sh catches ABI breaks and lets compatible additions through: each case edits
# a copy of include/facekit.h, builds it into a scratch library and runs the check against the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
# case NAME EXPECT(pass|fail) PYTHON-EDIT (a replace(old, new) on the header text, which must match)
case_() {
  local name=$1 expect=$2 old=$3 new=$4
  python3 - "$old" "$new" include/facekit.h "$work/facekit.h" <<'PY'
import sys
old, new, src, dst = sys.argv[1:5]
text = open(src).read()
if old not in text:
    sys.exit(f"abi_check_test: the header no longer contains {old!r}")
open(dst, 'w').write(text.replace(old, new, 1))
PY
  local got=pass
  bash packaging/abi_check.sh --header "$work/facekit.h" stub > "$work/out.txt" 2>&1 || got=fail
  if [ "$got" = "$expect" ]; then
    echo "ok    $name: $got"
  else
    echo "WRONG $name: expected $expect, got $got"; sed 's/^/      /' "$work/out.txt"; failures=$((failures + 1))
  fi
}
case_ "unchanged header" pass "" ""
case_ "a field of fk_face changes type" fail "  float score;" "  double score;"
case_ "two fields of fk_hit swap" fail "  char id[256];
  float similarity;" "  float similarity;
  char id[256];"
case_ "a function is removed" fail "void fk_tracker_free(struct fk_tracker *tracker);" ""
case_ "a parameter changes type" fail "const char *fk_status_str(int32_t status);" "const char *fk_status_str(int64_t status);"
case_ "an enumerator changes value" fail "  FK_ERR_NO_FACE = 8," "  FK_ERR_NO_FACE = 80,"
case_ "a function is added" pass "void fk_engine_free(struct fk_engine *engine);" "void fk_engine_free(struct fk_engine *engine);
uint32_t fk_engine_new_thing(const struct fk_engine *engine);"
case_ "an enumerator is added" pass "  FK_ERR_INTERNAL = 98," "  FK_ERR_NEW_KIND = 17,
  FK_ERR_INTERNAL = 98,"
# The same break with a new major version (and so a new SONAME): allowed, and the baseline must be rewritten.
ABI_CHECK_VERSION=1.0.0 case_ "a function is removed, major bumped to 1" pass "void fk_tracker_free(struct fk_tracker *tracker);" ""
[ $failures = 0 ] && echo "abi_check_test: every case as expected" || { echo "abi_check_test: $failures case(s) wrong"; exit 1; }
