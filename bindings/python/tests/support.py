"""What every test module shares: which facekit it imports and where the shared models and data are.

FACEKIT_REQUIRE_INSTALLED=1 (bindings/python/test_wheel.sh): the installed package, from the venv; otherwise
(bindings/python/run_tests.sh) the source tree's bindings/python, put first on sys.path here. Import this
module before facekit.
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
INSTALLED = os.environ.get("FACEKIT_REQUIRE_INSTALLED") == "1"
if not INSTALLED:
    sys.path.insert(0, str(REPO / "bindings" / "python"))

SHARED = Path(os.environ.get("FACEKIT_SHARED") or REPO.parent / "shared")
MODELS = SHARED / "models"
