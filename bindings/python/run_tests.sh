#!/usr/bin/env bash
# Runs the Python binding tests on the real models and LFW photos.
#   FACEKIT_SHARED   shared dir with models/ and data/ (default: <repo>/../shared)
#   FACEKIT_LIB_DIR  directory of libfacekit.so (default: <repo>/target/release)
#   PYTHON           interpreter (default: python3)
# Extra arguments go to pytest (e.g. -k gallery).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export FACEKIT_SHARED="${FACEKIT_SHARED:-$REPO/../shared}"
export FACEKIT_LIB_DIR="${FACEKIT_LIB_DIR:-$REPO/target/release}"
PY="${PYTHON:-python3}"

if [ ! -e "$FACEKIT_LIB_DIR/libfacekit.so" ]; then
    echo "run_tests.sh: no $FACEKIT_LIB_DIR/libfacekit.so; build it with 'cargo build --release'" >&2
    exit 1
fi
if ! "$PY" -c 'import numpy, pytest' 2>/dev/null; then
    echo "run_tests.sh: installing numpy and pytest" >&2
    "$PY" -m pip install --quiet numpy pytest
fi

cd "$HERE"
# -s shows the [mem] lines the lifetime loops print; -p no:cacheprovider keeps the tree clean.
exec "$PY" -m pytest -v -s -p no:cacheprovider tests "$@"
