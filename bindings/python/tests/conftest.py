"""The default engine fixture (a module defines its own `engine` where it needs other options)."""

import pytest

from support import MODELS

import facekit  # noqa: E402  (after support: it chooses which facekit)


@pytest.fixture(scope="module")
def engine():
    """The default policy: quality gate and liveness required for every decision."""
    if not MODELS.is_dir():
        pytest.skip(f"no models at {MODELS}")
    with facekit.Engine(MODELS) as e:
        yield e
