"""The installed package (wheel built by `pip install .` / bindings/python/test_wheel.sh): where facekit is
imported from, its version, the bundled model pack, bad model directories, and building without Rust.

FACEKIT_REQUIRE_INSTALLED=1 (test_wheel.sh): facekit must be the installed package (not bindings/python), with
its library inside it and the model pack compiled in. Without it (run_tests.sh, the source tree) the
installed-only checks are skipped and the rest run against the source tree and target/release.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import INSTALLED, MODELS, REPO, SHARED

import facekit  # noqa: E402
from facekit import Engine, FacekitError, Status  # noqa: E402

LFW = SHARED / "data" / "lfw" / "images"
MANIFEST = REPO / "models" / "manifest.json"
CARGO_TOML = REPO / "Cargo.toml"

needs_installed = pytest.mark.skipif(not INSTALLED, reason="FACEKIT_REQUIRE_INSTALLED=1 only (bindings/python/test_wheel.sh)")


def lfw(name: str, n: int) -> Path:
    return LFW / name / f"{name}_{n:04d}.jpg"


def cargo_version() -> str:
    if not CARGO_TOML.is_file():
        pytest.skip(f"no {CARGO_TOML}")
    section = None
    for line in CARGO_TOML.read_text().splitlines():
        m = re.match(r"^\s*\[([^\]]+)\]\s*$", line)
        if m:
            section = m.group(1).strip()
        elif section == "package" and (m := re.match(r'^\s*version\s*=\s*"([^"]+)"', line)):
            return m.group(1)
    raise AssertionError("no [package] version in Cargo.toml")


def clean_env(**extra: str) -> dict:
    """This environment without any FACEKIT_* variable (models, library and shared-dir overrides)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACEKIT_")}
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------------------
# Where it comes from, which version


@needs_installed
def test_the_installed_package_is_imported():
    pkg = Path(facekit.__file__).resolve().parent
    src = (REPO / "bindings" / "python" / "facekit").resolve()
    assert pkg != src, f"facekit imported from the source tree {pkg}, not the installed wheel"
    assert facekit._REPO is None, "the installed module believes it runs from a source tree"
    assert (pkg / "py.typed").is_file(), "py.typed missing from the wheel"
    # The library is the wheel's copy: no FACEKIT_LIB/FACEKIT_LIB_DIR, no <repo>/target/release.
    assert not os.environ.get("FACEKIT_LIB") and not os.environ.get("FACEKIT_LIB_DIR")
    assert Path(facekit.library_path()).resolve() == (pkg / "libfacekit.so").resolve(), facekit.library_path()


def test_version_is_cargo_toml_version():
    want = cargo_version()
    assert facekit.__version__ == want
    assert facekit.version() == want
    if INSTALLED:
        from importlib.metadata import version

        assert version("facekit") == want


# ---------------------------------------------------------------------------------------------------------
# Bad model directories: a FacekitError, never a crash


def test_missing_model_dir_raises(tmp_path):
    missing = tmp_path / "no-such-models"
    with pytest.raises(FacekitError) as ei:
        Engine(missing)
    assert ei.value.status == Status.FK_ERR_MODEL_LOAD, ei.value
    assert "does not exist" in ei.value.message and str(missing) in ei.value.message, ei.value.message


def test_missing_model_dir_from_env_raises(tmp_path):
    """$FACEKIT_MODELS names the directory Engine() uses: a wrong one is an error, not a silent fallback."""
    code = ("import facekit, sys\n"
            "try:\n    facekit.Engine()\nexcept facekit.FacekitError as e:\n    print(e.status.name); sys.exit(0)\n"
            "sys.exit('Engine() loaded although FACEKIT_MODELS names no directory')")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env=child_env(FACEKIT_MODELS=str(tmp_path / "nope")))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "FK_ERR_MODEL_LOAD", r.stdout + r.stderr


def other_version_pack(tmp_path: Path, **changes) -> Path:
    """A model directory like the default one whose manifest.json has ``changes`` (e.g. format=2)."""
    if not MANIFEST.is_file():
        pytest.skip(f"no {MANIFEST}")
    d = tmp_path / "pack"
    d.mkdir()
    m = json.loads(MANIFEST.read_text())
    m.update(changes)
    (d / "manifest.json").write_text(json.dumps(m))
    if MODELS.is_dir():
        for f in MODELS.glob("*.onnx"):
            (d / f.name).symlink_to(f)
    return d


def test_manifest_of_another_format_raises(tmp_path):
    """A pack for a newer library (manifest format bumped): refused with the format named, not misread."""
    if not MANIFEST.is_file():
        pytest.skip(f"no {MANIFEST}")
    d = other_version_pack(tmp_path, format=json.loads(MANIFEST.read_text())["format"] + 1)
    with pytest.raises(FacekitError) as ei:
        Engine(d)
    assert ei.value.status == Status.FK_ERR_MODEL_FORMAT, ei.value
    assert "format" in ei.value.message and "not supported" in ei.value.message, ei.value.message


def test_model_file_of_another_version_raises(tmp_path):
    """A pack whose embedder file is another model (a newer release's file beside an older manifest): the
    manifest's sha256 refuses it."""
    if not MODELS.is_dir():
        pytest.skip(f"no models at {MODELS}")
    d = other_version_pack(tmp_path)
    (d / "mobilefacenet.onnx").unlink()
    shutil.copy(MODELS / "lightqnet_dm100.onnx", d / "mobilefacenet.onnx")
    with pytest.raises(FacekitError) as ei:
        Engine(d)
    assert ei.value.status == Status.FK_ERR_MODEL_CHECKSUM, ei.value


def test_manifest_that_is_not_json_raises(tmp_path):
    d = tmp_path / "pack"
    d.mkdir()
    (d / "manifest.json").write_text('{"format": 1, "name": ')
    with pytest.raises(FacekitError) as ei:
        Engine(d)
    assert ei.value.status == Status.FK_ERR_MODEL_FORMAT, ei.value


# ---------------------------------------------------------------------------------------------------------
# Engine() with nothing set: the bundled pack


def child_env(**extra: str) -> dict:
    """No FACEKIT_* variable; the child imports the same facekit as this process (the installed one, or the
    source tree's through PYTHONPATH)."""
    env = clean_env(**extra)
    if not INSTALLED:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(facekit.__file__).parents[1]), env.get("PYTHONPATH")]))
    return env


BUNDLED_CHECK = r"""
import json, sys
import facekit
a, b, other = (facekit.load_image(p) for p in sys.argv[1:4])
try:
    engine = facekit.Engine()
except facekit.FacekitError as e:
    print(json.dumps({"error": e.status.name, "message": e.message}))
    sys.exit(0)
with engine:
    ea, eb, eo = engine.embed(a), engine.embed(b), engine.embed(other)
    same, diff = engine.compare(ea, eb), engine.compare(ea, eo)
    live = engine.liveness(a)
    print(json.dumps({
        "models_dir": engine.models_dir, "default_models_dir": facekit.default_models_dir(),
        "library": facekit.library_path(), "dim": engine.embedding_dim,
        "same": [same.similarity, same.threshold, bool(same.is_match)],
        "diff": [diff.similarity, bool(diff.is_match)], "liveness_models": len(live.model_scores),
    }))
"""


def test_engine_without_arguments_or_environment(tmp_path):
    photos = [lfw("George_W_Bush", 1), lfw("George_W_Bush", 2), lfw("Colin_Powell", 1)]
    for p in photos:
        if not p.is_file():
            pytest.skip(f"no {p}")
    # cwd: an empty directory, so no ./models of a checkout is in reach either.
    r = subprocess.run([sys.executable, "-c", BUNDLED_CHECK, *map(str, photos)], cwd=tmp_path, env=child_env(),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if "error" in out:
        if not INSTALLED and out["error"] == "FK_ERR_UNSUPPORTED":
            pytest.skip(f"the source tree's library has no bundled pack ({out['message']})")
        raise AssertionError(f"Engine() failed: {out}")
    if INSTALLED:
        # The wheel: no model directory at all, the pack compiled into the library.
        assert out["models_dir"] is None and out["default_models_dir"] is None, out
    assert out["dim"] == 128, out
    sim, thr, match = out["same"]
    assert match and sim > thr, f"two photos of George W Bush do not match: {out}"
    assert not out["diff"][1], f"George W Bush matches Colin Powell: {out}"
    assert out["liveness_models"] >= 1, out


# ---------------------------------------------------------------------------------------------------------
# Building without a Rust toolchain


def test_build_without_rust_says_to_install_it(tmp_path):
    """`pip wheel .` on a machine without cargo/rustc fails with setuptools-rust's message pointing to rustup,
    before compiling anything. The project files that the build reads before Rust is needed are copied, so the
    checkout is not touched; pip fetches the build requirements (setuptools, setuptools-rust) itself."""
    for f in ("pyproject.toml", "setup.py", "Cargo.toml"):
        if not (REPO / f).is_file():
            pytest.skip(f"no {REPO / f}")
    src = tmp_path / "src"
    (src / "bindings" / "python").mkdir(parents=True)
    for f in ("pyproject.toml", "setup.py", "Cargo.toml"):
        shutil.copy(REPO / f, src / f)
    for f in ("README.md", "requirements-milvus.txt"):
        shutil.copy(REPO / "bindings" / "python" / f, src / "bindings" / "python" / f)
    shutil.copytree(REPO / "bindings" / "python" / "facekit", src / "bindings" / "python" / "facekit",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    # A PATH with this interpreter and nothing else: neither /usr/bin/cargo nor ~/.cargo/bin.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items()
           if k not in ("CARGO", "RUSTC", "RUSTUP_TOOLCHAIN", "RUSTUP_HOME", "CARGO_HOME", "PYTHONPATH")}
    env["PATH"] = str(bindir)
    r = subprocess.run([str(bindir / "python"), "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "out"), str(src)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    if r.returncode != 0 and "can't find Rust compiler" not in out and re.search(
            r"Could not find a version|No matching distribution|Failed to establish a new connection|NewConnectionError", out):
        pytest.skip("pip cannot fetch the build requirements (offline?):\n" + out[-2000:])
    assert r.returncode != 0, "the wheel built without a Rust toolchain?\n" + out[-3000:]
    assert "can't find Rust compiler" in out, out[-3000:]
    assert "rustup" in out and "https://rustup.rs" in out, out[-3000:]
    assert not list((tmp_path / "out").glob("*.whl"))
