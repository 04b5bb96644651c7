"""Builds the `facekit` wheel: the ctypes package of bindings/python plus the Rust library, compiled by cargo.

    pip install .                                  # build and install (needs a Rust toolchain: https://rustup.rs)
    pip wheel . --no-deps -w dist                  # just the wheel (bindings/python/test_wheel.sh tests it)

Why setuptools-rust with a plain cdylib (``Binding.NoBinding``) rather than maturin: the Python layer is the
existing hand-written ctypes module over the C ABI (include/facekit.h); the wheel only has to carry
``libfacekit.so`` beside it. The library never links to libpython, so one wheel serves every CPython 3.x (the
same wheel was tested on 3.8, 3.9, 3.11 and 3.13): tag ``py3-none-<platform>``, numpy the only run-time
dependency. setuptools-rust does just that — runs
cargo, copies the cdylib into the package — and setuptools packages the rest unchanged. maturin's modes each
bring their own binding layer: pyo3 compiles a CPython extension module (cpXY or abi3 wheels, and the API
rewritten in Rust); cffi also gives a py3 wheel, but generates its own ``ffi``/``lib`` module from the header
and needs the cffi package at run time (its ``_cffi_backend`` is a compiled extension, one per interpreter);
uniffi generates the Python from UniFFI annotations on the Rust API; ``bin`` ships executables. None of them is
"this cdylib inside this existing pure-Python package".

Features: ``bundled`` compiles the default model pack (from $FACEKIT_BUNDLE_DIR, default ../shared/models)
into the library, so ``facekit.Engine()`` needs no model files; ``webp`` keeps WebP in ``load_image``. The
default features eval/bench/fuzzing (evaluation drivers, the FAISS benchmark, fuzz bodies) serve the CLI, the
Rust tests and the fuzzers, not the C ABI, and are left out as in the device build.

Version: Cargo.toml's ``[package] version``, the single source (packaging/check_versions.sh checks the wheel).
Cross builds: CARGO_BUILD_TARGET=aarch64-unknown-linux-gnu (and CARGO/RUSTC of a toolchain with that target)
builds for it and tags the wheel ``linux_aarch64`` (CROSS_PLATFORMS below; bindings/python/build_wheel_aarch64.sh).
Building needs setuptools >= 77, hence Python >= 3.9; the wheel itself installs on 3.8 too.
"""

import os
import re
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools_rust import Binding, RustExtension, Strip

try:
    from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1
except ImportError:  # pragma: no cover - older setuptools
    from wheel.bdist_wheel import bdist_wheel

ROOT = Path(__file__).resolve().parent

if sys.platform == "darwin":
    LIB_FILE = "libfacekit.dylib"
elif sys.platform == "win32":
    LIB_FILE = "facekit.dll"
else:
    LIB_FILE = "libfacekit.so"  # facekit/__init__.py loads it from its own directory


def cargo_package(key: str) -> str:
    """A string value of Cargo.toml's ``[package]`` table (``version``, ``rust-version``)."""
    section = None
    for line in (ROOT / "Cargo.toml").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
        if m:
            section = m.group(1).strip()
            continue
        m = re.match(r'^\s*' + re.escape(key) + r'\s*=\s*"([^"]+)"', line)
        if section == "package" and m:
            return m.group(1)
    raise RuntimeError(f"setup.py: no [package] {key} in Cargo.toml")


def requirements(path: Path) -> list:
    lines = (l.split("#", 1)[0].strip() for l in path.read_text(encoding="utf-8").splitlines())
    return [l for l in lines if l]


class BuildExt(build_ext):
    """Names the library ``facekit/libfacekit.so`` rather than an extension module's
    ``libfacekit.cpython-311-x86_64-linux-gnu.so``: it is loaded by ctypes, not imported."""

    def get_ext_filename(self, fullname: str) -> str:
        if fullname.split(".")[-1] == "libfacekit":
            return os.path.join(*fullname.split(".")[:-1], LIB_FILE)
        return super().get_ext_filename(fullname)


# Cross builds: the wheel platform of a CARGO_BUILD_TARGET, so that the target alone tags the wheel right
# (an explicit `bdist_wheel --plat-name` still wins).
CROSS_PLATFORMS = {
    "aarch64-unknown-linux-gnu": "linux_aarch64",
    "armv7-unknown-linux-gnueabihf": "linux_armv7l",
    "x86_64-unknown-linux-gnu": "linux_x86_64",
}


class BdistWheel(bdist_wheel):
    """``py3-none-<platform>``: the wheel holds no CPython extension (see the module docstring)."""

    def finalize_options(self) -> None:
        target = os.environ.get("CARGO_BUILD_TARGET")
        if not self.plat_name and target:
            if target not in CROSS_PLATFORMS:
                raise SystemExit(f"setup.py: no wheel platform known for CARGO_BUILD_TARGET={target}; "
                                 "pass --plat-name to bdist_wheel")
            self.plat_name = CROSS_PLATFORMS[target]
        super().finalize_options()
        self.root_is_pure = False  # platform-specific: it contains a native library

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(
    version=cargo_package("version"),
    extras_require={
        "milvus": requirements(ROOT / "bindings" / "python" / "requirements-milvus.txt"),
        # opencv-python-headless: tests/test_golden_pixels.py decodes with OpenCV (FACEKIT_REQUIRE_CV2=1).
        "test": ["pytest", "opencv-python-headless"],
    },
    rust_extensions=[
        RustExtension(
            "facekit.libfacekit",
            path=str(ROOT / "Cargo.toml"),
            binding=Binding.NoBinding,
            rust_version=">=" + cargo_package("rust-version"),  # an older rustc: a clear error, not a compile error
            features=["bundled", "webp"],
            args=["--no-default-features"],
            # Symbols out at link time (also right for cross builds, where the host's `strip` cannot read
            # the target's ELF); Strip.All runs `strip -x` on top for native builds.
            rustc_flags=["-Cstrip=symbols"],
            strip=Strip.All,
            py_limited_api=False,
        )
    ],
    cmdclass={"build_ext": BuildExt, "bdist_wheel": BdistWheel},
    zip_safe=False,
)
