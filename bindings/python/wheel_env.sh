# Sourced by test_wheel.sh and build_wheel_aarch64.sh: the paths and environment both wheel builds share.
# Sets HERE (bindings/python), REPO, PY; exports FACEKIT_SHARED and FACEKIT_BUNDLE_DIR.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PY="${PYTHON:-python3}"
# The bundled pack comes from FACEKIT_BUNDLE_DIR, else a given FACEKIT_SHARED's models/, else build.rs's default
# <repo>/../shared/models (left unset then: a changed FACEKIT_BUNDLE_DIR makes cargo rebuild the crate).
if [ -n "${FACEKIT_SHARED:-}" ] && [ -z "${FACEKIT_BUNDLE_DIR:-}" ]; then
    export FACEKIT_BUNDLE_DIR="$(cd "$FACEKIT_SHARED" && pwd)/models"
fi
export FACEKIT_SHARED="$(cd "${FACEKIT_SHARED:-$REPO/../shared}" && pwd)"
