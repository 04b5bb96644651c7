"""facekit — on-device face recognition: Python bindings over the C ABI (``include/facekit.h``) with ctypes.

No compiled extension: this module loads ``libfacekit.so`` and mirrors the header's structures with
``ctypes.Structure``. Every native handle is freed deterministically by ``close()`` / ``with`` and, as a
backstop, by a ``weakref.finalize`` when the Python object is collected.

Example::

    import facekit
    with facekit.Engine("/path/to/models") as engine:
        a, b = facekit.load_image("a.jpg"), facekit.load_image("b.jpg")
        m = engine.verify(a, b)
        print(m.similarity, m.is_match)

Images are numpy ``uint8`` arrays — ``HxWx3`` (RGB, or BGR with ``format="bgr"``), ``HxWx4`` (RGBA/BGRA),
``HxW`` (gray) — or an :class:`Image` for camera buffers (``Image.nv21(buf, width, height, stride, rotation)``).

Installed (``pip install .`` from the repository root builds a ``py3-none-<platform>`` wheel: this package plus
the Rust library in it, built with the default model pack compiled in — see setup.py), ``facekit.Engine()``
needs nothing else. From the source tree (this file is ``<repo>/bindings/python/facekit/__init__.py``), the
library of ``cargo build --release`` is used.

Where the library lives: ``$FACEKIT_LIB`` (the file), else ``$FACEKIT_LIB_DIR``, else this package's directory
(``facekit/libfacekit.so``, the installed wheel's), else — only when running from the source tree —
``<repo>/target/release``, else the system loader's search path (``LD_LIBRARY_PATH``, system directories).
Default model directory (``Engine()`` without one): ``$FACEKIT_MODELS``, else ``$FACEKIT_SHARED/models``,
else — source tree only — ``<repo>/../shared/models`` if it exists, else the pack compiled into the library
(cargo feature ``bundled``: always in the wheel; FK_ERR_UNSUPPORTED from a library built without it).

``__version__`` is the installed distribution's version (``importlib.metadata``), which is Cargo.toml's, or the
library's ``version()`` from the source tree.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import os
import sys
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "Engine", "Gallery", "Tracker", "CameraCalibrator", "CameraReport", "Image", "Face", "Match", "QualityReport", "QualityComponent", "LivenessReport",
    "Track", "Decision", "Event", "FacekitError", "Status", "PixelFormat", "OperatingPoint", "QualityReason",
    "LivenessStatus", "LivenessPoint", "TrackState", "Verdict", "EventKind", "load_image", "version", "library_path",
]

# The header this module mirrors (FK_VERSION of include/facekit.h). The library must have the same MAJOR.
_HEADER_VERSION = 100
_HERE = Path(__file__).resolve().parent


def _source_repo() -> Optional[Path]:
    """``<repo>`` when this module runs from the source tree (``<repo>/bindings/python/facekit``), else None
    (installed: there is no repository, nor a ``target/`` or ``../shared`` beside it)."""
    parents = _HERE.parents
    if len(parents) < 3 or _HERE.parent.name != "python" or parents[1].name != "bindings":
        return None
    repo = parents[2]
    return repo if (repo / "Cargo.toml").is_file() and (repo / "include" / "facekit.h").is_file() else None


_REPO = _source_repo()

# ---------------------------------------------------------------------------------------------------------
# Enums (values copied from the header; they are stable across versions)


class Status(enum.IntEnum):
    """``fk_status``. Member names are the C names, so ``err.status.name == "FK_ERR_NO_FACE"``."""

    FK_OK = 0
    FK_ERR_NULL_ARGUMENT = 1
    FK_ERR_INVALID_ARGUMENT = 2
    FK_ERR_BUFFER_TOO_SMALL = 3
    FK_ERR_INVALID_IMAGE = 4
    FK_ERR_MODEL_LOAD = 5
    FK_ERR_MODEL_FORMAT = 6
    FK_ERR_MODEL_CHECKSUM = 7
    FK_ERR_NO_FACE = 8
    FK_ERR_IO = 9
    FK_ERR_CORRUPT = 10
    FK_ERR_INCOMPATIBLE = 11
    FK_ERR_NOT_FOUND = 12
    FK_ERR_UNSUPPORTED = 13
    FK_ERR_DECODE = 14
    FK_ERR_POOR_QUALITY = 15  # a deciding call refused the capture for its quality
    FK_ERR_NOT_LIVE = 16  # a deciding call refused the capture as a spoof: "show your real face"
    FK_ERR_INTERNAL = 98
    FK_ERR_PANIC = 99


class PixelFormat(enum.IntEnum):
    """``fk_format``."""

    RGB8 = 1
    BGR8 = 2
    RGBA8 = 3
    BGRA8 = 4
    GRAY8 = 5
    NV21 = 6
    NV12 = 7
    I420 = 8
    YUV420 = 9  # three separately addressed planes: Image.yuv420


class OperatingPoint(enum.IntEnum):
    """``fk_operating_point``: the false-accept rate is 10^-value."""

    FAR_1E2 = 2
    FAR_1E3 = 3
    FAR_1E4 = 4
    FAR_1E5 = 5
    FAR_1E6 = 6


class QualityReason(enum.IntFlag):
    """``fk_quality_reason`` bits (names without the ``FK_Q_`` prefix)."""

    TOO_DARK = 1
    TOO_BRIGHT = 2
    BLURRY = 4
    LOW_CONTRAST = 8
    POSE = 16
    TOO_SMALL = 32
    LOW_CONFIDENCE = 64
    LOW_LEARNED_QUALITY = 128
    LOW_OVERALL = 256
    OCCLUDED = 512
    COMPRESSED = 1024


class LivenessStatus(enum.IntEnum):
    """``fk_liveness_status``: whether the face could be checked."""

    ASSESSED = 0
    FACE_TOO_SMALL = 1  # a crop would be enlarged to the model's input: come closer
    FACE_AT_BORDER = 2  # the face is cut off by the frame edge: centre it


class LivenessPoint(enum.IntEnum):
    """``fk_liveness_point``: the share of spoofs that may pass, in per mille."""

    APCER_1E2 = 10
    APCER_5E2 = 50


class TrackState(enum.IntEnum):
    """``fk_track_state``."""

    NEW = 1  # first frame of the track
    TRACKED = 2  # seen before (``missed`` says whether it was seen in this frame)
    LOST = 3  # ended in this frame (unseen too long, scene cut, frame size change); reported once


class Verdict(enum.IntEnum):
    """``fk_verdict``: a track's decision."""

    NONE = 0  # not decided yet (only inside structures; a Track's undecided decision is None)
    ACCEPTED = 1  # the gallery identity in ``identity``, or the template: open the door
    NO_MATCH = 2  # compared and below the threshold: nobody enrolled / not the template's person
    NOT_LIVE = 3  # a photo or a screen: "show your real face"
    POOR_QUALITY = 4  # no capture good enough within the decision window: "look at the camera"


class EventKind(enum.IntEnum):
    """``fk_event_kind``."""

    APPEARED = 1
    DECIDED = 2
    LOST = 3


# ---------------------------------------------------------------------------------------------------------
# Structures: field order and types exactly as in include/facekit.h (tests compare sizes/offsets with a C
# compiler when one is available).


class _FkImage(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),  # const uint8_t*
        ("len", ctypes.c_size_t),
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("stride", ctypes.c_size_t),
        ("format", ctypes.c_int32),
        ("rotation", ctypes.c_int32),
        # FK_FORMAT_YUV420 only: the chroma planes
        ("u", ctypes.c_void_p),
        ("u_len", ctypes.c_size_t),
        ("v", ctypes.c_void_p),
        ("v_len", ctypes.c_size_t),
        ("uv_stride", ctypes.c_size_t),
        ("uv_pixel_stride", ctypes.c_size_t),
    ]


class _FkFace(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_float),
        ("y", ctypes.c_float),
        ("width", ctypes.c_float),
        ("height", ctypes.c_float),
        ("score", ctypes.c_float),
        ("landmarks", (ctypes.c_float * 2) * 5),  # float landmarks[5][2]
    ]


class _FkMatch(ctypes.Structure):
    _fields_ = [
        ("similarity", ctypes.c_float),
        ("threshold", ctypes.c_float),
        ("is_match", ctypes.c_int32),
        ("operating_point", ctypes.c_int32),
    ]


class _FkQualityComponent(ctypes.Structure):
    _fields_ = [("raw", ctypes.c_float), ("score", ctypes.c_float), ("assessed", ctypes.c_bool)]


_QUALITY_COMPONENTS = (
    "sharpness", "brightness", "exposure", "contrast", "yaw", "pitch", "roll", "face_size", "confidence", "learned",
    "occlusion", "compression",
)


class _FkQualityReport(ctypes.Structure):
    _fields_ = [
        ("overall", ctypes.c_float),
        ("acceptable", ctypes.c_bool),
        ("reasons", ctypes.c_uint32),
    ] + [(name, _FkQualityComponent) for name in _QUALITY_COMPONENTS]


_QUALITY_SLACK = 256  # bytes past the known end of fk_quality_report (see Engine.quality)

_LIVENESS_MAX_MODELS = 4  # FK_LIVENESS_MAX_MODELS


class _FkLivenessReport(ctypes.Structure):
    _fields_ = [
        ("status", ctypes.c_int32),  # enum fk_liveness_status
        ("score", ctypes.c_float),
        ("is_live", ctypes.c_bool),
        ("threshold", ctypes.c_float),
        ("operating_point", ctypes.c_int32),  # enum fk_liveness_point
        ("model_count", ctypes.c_uint32),
        ("model_scores", ctypes.c_float * _LIVENESS_MAX_MODELS),
    ]

_FK_ID_MAX = 255


class _FkHit(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char * (_FK_ID_MAX + 1)), ("similarity", ctypes.c_float)]


class _FkDecision(ctypes.Structure):
    _fields_ = [
        ("verdict", ctypes.c_int32),
        ("similarity", ctypes.c_float),
        ("threshold", ctypes.c_float),
        ("operating_point", ctypes.c_int32),
        ("liveness", ctypes.c_float),
        ("after_frames", ctypes.c_uint32),
        ("identity", ctypes.c_char * (_FK_ID_MAX + 1)),
    ]


class _FkTrack(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint64),
        ("state", ctypes.c_int32),
        ("age", ctypes.c_uint32),
        ("missed", ctypes.c_uint32),
        ("captures", ctypes.c_uint32),
        ("face", _FkFace),
        ("best_quality", ctypes.c_float),
        ("liveness", ctypes.c_float),
        ("decision", _FkDecision),
    ]


class _FkEvent(ctypes.Structure):
    _fields_ = [
        ("frame", ctypes.c_uint64),
        ("track", ctypes.c_uint64),
        ("kind", ctypes.c_int32),
        ("decision", _FkDecision),
    ]


class _FkCameraReport(ctypes.Structure):
    _fields_ = [
        ("frames", ctypes.c_uint64),
        ("seconds", ctypes.c_double),
        ("tracks", ctypes.c_uint64),
        ("impostor_pairs", ctypes.c_uint64),
        ("impostor_mean", ctypes.c_float),
        ("impostor_std", ctypes.c_float),
        ("impostor_max", ctypes.c_float),
        ("median_eye_px", ctypes.c_float),
        ("live_tracks", ctypes.c_uint64),
        ("live_median", ctypes.c_float),
        ("live_p10", ctypes.c_float),
    ]


# ---------------------------------------------------------------------------------------------------------
# Loading the library


def _library_candidates() -> List[str]:
    if sys.platform == "darwin":
        names = ["libfacekit.dylib"]
    elif sys.platform == "win32":
        names = ["facekit.dll"]
    else:
        names = ["libfacekit.so.0", "libfacekit.so"]  # SONAME first: what a linked program would load
    out: List[str] = []
    if os.environ.get("FACEKIT_LIB"):
        out.append(os.environ["FACEKIT_LIB"])
    if os.environ.get("FACEKIT_LIB_DIR"):
        out.extend(os.path.join(os.environ["FACEKIT_LIB_DIR"], n) for n in names)
    out.append(str(_HERE / names[-1]))  # the wheel's copy (setup.py names it libfacekit.so)
    if _REPO is not None:  # the source tree's `cargo build --release`
        out.extend(str(_REPO / "target" / "release" / n) for n in names)
    out.extend(names)  # bare names: LD_LIBRARY_PATH / system directories
    return out


def _load_library() -> Tuple[ctypes.CDLL, str]:
    errors = []
    for cand in _library_candidates():
        if os.sep in cand and not os.path.exists(cand):
            continue
        try:
            # CDLL (not PyDLL) releases the GIL during every call, so threads sharing an Engine run in parallel.
            return ctypes.CDLL(cand), cand
        except OSError as e:
            errors.append(f"{cand}: {e}")
    hint = "build it with `cargo build --release`" if _REPO is not None else "reinstall facekit (`pip install .`)"
    raise ImportError(
        f"facekit: cannot load libfacekit (set FACEKIT_LIB or FACEKIT_LIB_DIR, or {hint}). Tried: "
        + "; ".join(errors or _library_candidates())
    )


_lib, _lib_path = _load_library()

_c = ctypes
_P = ctypes.c_void_p  # opaque handles (fk_engine*, fk_gallery*, fk_options*) and byte pointers
_st = ctypes.c_int  # C enum return: int on every ABI we target
_PF = ctypes.POINTER(ctypes.c_float)
_PSZ = ctypes.POINTER(ctypes.c_size_t)
_PIMG = ctypes.POINTER(_FkImage)
_PFACE = ctypes.POINTER(_FkFace)


def _proto(name: str, restype, *argtypes):
    fn = getattr(_lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


_proto("fk_version", _c.c_uint32)
_proto("fk_version_string", _c.c_char_p)
_proto("fk_status_str", _c.c_char_p, _c.c_int32)
_proto("fk_last_error", _c.c_char_p)
_proto("fk_options_new", _P)
_proto("fk_options_free", None, _P)
_proto("fk_options_set", _st, _P, _c.c_char_p, _c.c_char_p)
_proto("fk_engine_new_from_dir", _st, _c.c_char_p, _P, _c.POINTER(_P))
_proto("fk_engine_new_from_memory", _st, _P, _c.c_size_t, _P, _c.POINTER(_P))
_proto("fk_engine_new_bundled", _st, _P, _c.POINTER(_P))
_proto("fk_engine_free", None, _P)
_proto("fk_engine_embedding_dim", _c.c_size_t, _P)
_proto("fk_engine_crop_size", _st, _P, _c.POINTER(_c.c_uint32), _c.POINTER(_c.c_uint32))
_proto("fk_engine_threshold", _st, _P, _c.c_int32, _PF)
_proto("fk_engine_gallery_threshold", _st, _P, _c.c_int32, _c.c_size_t, _PF)
_proto("fk_engine_threshold_for_face", _st, _P, _c.c_int32, _c.c_float, _PF)
_proto("fk_engine_gallery_threshold_for_face", _st, _P, _c.c_int32, _c.c_size_t, _c.c_float, _PF)
_proto("fk_gallery_threshold", _st, _P, _P, _c.c_int32, _c.c_float, _PF)
_proto("fk_image_load", _st, _c.c_char_p, _PIMG)
_proto("fk_image_release", None, _PIMG)
_proto("fk_detect", _st, _P, _PIMG, _PFACE, _c.c_size_t, _PSZ)
_proto("fk_align", _st, _P, _PIMG, _PFACE, _P, _c.c_size_t)
_proto("fk_embed", _st, _P, _PIMG, _PFACE, _PF, _c.c_size_t)
_proto("fk_compare", _st, _P, _PF, _PF, _c.c_size_t, _c.POINTER(_FkMatch))
_proto("fk_verify", _st, _P, _PIMG, _PIMG, _c.POINTER(_FkMatch))
_proto("fk_quality", _st, _P, _PIMG, _PFACE, _c.POINTER(_FkQualityReport), _c.c_size_t)
_proto("fk_liveness", _st, _P, _PIMG, _PFACE, _c.POINTER(_FkLivenessReport), _c.c_size_t)
_proto("fk_gallery_new", _st, _P, _c.POINTER(_P))
_proto("fk_gallery_free", None, _P)
_proto("fk_gallery_enroll", _st, _P, _c.c_char_p, _PF, _c.c_size_t)
_proto("fk_gallery_enroll_image", _st, _P, _P, _c.c_char_p, _PIMG)
_proto("fk_gallery_remove", _st, _P, _c.c_char_p)
_proto("fk_gallery_count", _c.c_size_t, _P)
_proto("fk_gallery_template_count", _c.c_size_t, _P)
_proto("fk_gallery_template", _st, _P, _c.c_size_t, _c.c_char_p, _c.c_size_t, _PF, _c.c_size_t)
_proto("fk_gallery_add_template", _st, _P, _c.c_char_p, _PF, _c.c_size_t)
_proto("fk_gallery_model_id", _st, _P, _c.c_char_p, _c.c_size_t)
_proto("fk_gallery_search", _st, _P, _PF, _c.c_size_t, _c.c_float, _c.POINTER(_FkHit), _c.c_size_t, _PSZ)
_proto("fk_gallery_save", _st, _P, _c.c_char_p)
_proto("fk_gallery_load", _st, _P, _c.c_char_p, _c.POINTER(_P))
_proto("fk_tracker_new", _st, _P, _c.POINTER(_P))
_proto("fk_tracker_free", None, _P)
_proto("fk_tracker_set", _st, _P, _c.c_char_p, _c.c_char_p)
_proto("fk_tracker_set_gallery", _st, _P, _P)
_proto("fk_tracker_set_template", _st, _P, _PF, _c.c_size_t)
_proto("fk_tracker_update", _st, _P, _PIMG, _c.POINTER(_FkTrack), _c.c_size_t, _PSZ)
_proto("fk_tracker_poll_events", _st, _P, _c.POINTER(_FkEvent), _c.c_size_t, _PSZ)
_proto("fk_tracker_best_embedding", _st, _P, _c.c_uint64, _PF, _c.c_size_t)
_proto("fk_tracker_reset", _st, _P)
_proto("fk_camera_calibrator_new", _st, _P, _c.POINTER(_P))
_proto("fk_camera_calibrator_free", None, _P)
_proto("fk_camera_calibrator_add_frame", _st, _P, _PIMG)
_proto("fk_camera_calibrator_new_stream", _st, _P)
_proto("fk_camera_calibrator_frames", _c.c_uint64, _P)
_proto("fk_camera_calibrator_finish", _st, _P, _c.c_double, _c.c_char_p, _c.c_char_p, _c.POINTER(_FkCameraReport), _c.c_size_t)

if _lib.fk_version() // 10000 != _HEADER_VERSION // 10000:
    raise ImportError(
        f"facekit: {_lib_path} is version {_lib.fk_version_string().decode()}, "
        f"but these bindings were written for the {_HEADER_VERSION // 10000}.x ABI"
    )


def version() -> str:
    """The library's version string, e.g. ``"0.1.0"``."""
    return _lib.fk_version_string().decode()


def library_path() -> str:
    """Path (or name) of the loaded libfacekit."""
    return _lib_path


def _package_version() -> str:
    """The installed distribution's version (Cargo.toml's, written by setup.py), else the library's."""
    if _REPO is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            return dist_version("facekit")
        except PackageNotFoundError:  # copied somewhere by hand rather than installed
            pass
    return version()


__version__: str = _package_version()


# ---------------------------------------------------------------------------------------------------------
# Errors


class FacekitError(Exception):
    """A failed facekit call.

    ``status`` is a :class:`Status` (an ``int``; ``status.name`` is the C name, e.g. ``"FK_ERR_NO_FACE"``),
    ``message`` the library's ``fk_last_error()`` text for the failed call.
    """

    def __init__(self, status: int, message: str) -> None:
        try:
            self.status: Union[Status, int] = Status(status)
            self.status_name = self.status.name
        except ValueError:  # a newer library with a code this module does not know
            self.status = int(status)
            self.status_name = _lib.fk_status_str(int(status)).decode().split(":")[0]
        self.message = message
        super().__init__(f"{self.status_name}: {message}" if message else self.status_name)


def _last_error() -> str:
    # Thread-local in the library and valid until the next failing call on this thread: read it right away.
    msg = _lib.fk_last_error()
    return msg.decode("utf-8", "replace") if msg else ""


def _check(status: int) -> None:
    if status != 0:
        raise FacekitError(status, _last_error())


def _enum_or_int(e, v: int):
    try:
        return e(v)
    except ValueError:  # a newer library with a value this module does not know
        return int(v)


def _invalid(msg: str) -> FacekitError:
    """An argument error detected here before calling C (same status the library would give)."""
    return FacekitError(Status.FK_ERR_INVALID_ARGUMENT, msg)


# ---------------------------------------------------------------------------------------------------------
# Native handle ownership


class _Handle:
    """Owns one native pointer.

    Calls take the pointer with ``with handle as ptr:``, which counts them; ``close()`` first makes new calls
    fail, then waits for calls in flight (other threads — the GIL is released during native calls) before
    freeing, so a Python program can never use a freed engine or gallery. The ``weakref.finalize`` on the
    owner frees the pointer if ``close()`` was never called; it runs at most once either way.
    """

    __slots__ = ("_ptr", "_cond", "_busy", "_finalizer", "_kind", "__weakref__")

    def __init__(self, owner: Any, ptr: int, free_fn, kind: str):
        self._ptr: Optional[int] = ptr
        self._cond = threading.Condition(threading.Lock())
        self._busy = 0
        self._kind = kind
        # The callback holds only the integer pointer and the C function, never the owner (which would keep
        # it alive forever).
        self._finalizer = weakref.finalize(owner, free_fn, ptr)

    def __enter__(self) -> int:
        with self._cond:
            if self._ptr is None:
                raise ValueError(f"facekit: operation on a closed {self._kind}")
            self._busy += 1
            return self._ptr

    def __exit__(self, *exc: Any) -> None:
        with self._cond:
            self._busy -= 1
            if self._busy == 0:
                self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def close(self) -> None:
        with self._cond:
            if self._ptr is None:
                return
            self._ptr = None
            while self._busy:
                self._cond.wait()
        self._finalizer()  # frees now; the finalizer is then dead, so it never runs again


# ---------------------------------------------------------------------------------------------------------
# Images

_FORMAT_NAMES = {
    "rgb": PixelFormat.RGB8, "bgr": PixelFormat.BGR8, "rgba": PixelFormat.RGBA8, "bgra": PixelFormat.BGRA8,
    "gray": PixelFormat.GRAY8, "grey": PixelFormat.GRAY8, "nv21": PixelFormat.NV21, "nv12": PixelFormat.NV12,
    "i420": PixelFormat.I420,
}
_CHANNELS = {
    PixelFormat.RGB8: 3, PixelFormat.BGR8: 3, PixelFormat.RGBA8: 4, PixelFormat.BGRA8: 4, PixelFormat.GRAY8: 1,
}
_U32_MAX = 0xFFFFFFFF


# A pixel format: a PixelFormat, its value, or its name ("rgb", "bgr", ...); None: from the array's shape.
FormatLike = Union[str, int, PixelFormat, None]


def _parse_format(fmt: FormatLike) -> Optional[PixelFormat]:
    if fmt is None:
        return None
    if isinstance(fmt, str):
        key = fmt.lower().rstrip("8")
        if key not in _FORMAT_NAMES:
            raise _invalid(f"unknown pixel format {fmt!r} (one of {sorted(_FORMAT_NAMES)})")
        return _FORMAT_NAMES[key]
    try:
        return PixelFormat(int(fmt))
    except ValueError:
        raise _invalid(f"unknown pixel format {fmt!r}") from None


class Image:
    """A frame and its layout: pixels, width, height, stride (bytes between rows), format and rotation
    (clockwise degrees that make the frame upright; results are in upright-image coordinates).

    ``Image(array, format=None, rotation=0)`` wraps a numpy ``uint8`` array without copying when its strides
    allow (rows may be padded or be a crop of a bigger array; pixels within a row must be contiguous).
    ``Image.nv21(...)`` / ``nv12`` / ``i420`` wrap camera YUV 4:2:0 buffers (bytes, bytearray, memoryview or
    a uint8 array); ``Image.yuv420(y, u, v, ...)`` wraps three separately addressed planes (Android
    ``YUV_420_888``, iOS bi-planar). facekit never keeps the pixels after a call; the ``Image`` holds
    references to its buffers, so they stay alive as long as it does.
    """

    __slots__ = ("data", "width", "height", "stride", "format", "rotation", "_ptr", "_len", "_chroma")

    def __init__(self, array: Any, format: FormatLike = None, rotation: int = 0) -> None:
        a = np.asarray(array)
        if a.dtype != np.uint8:
            raise TypeError(f"facekit: images must be uint8 arrays, got {a.dtype} (scale/convert first)")
        fmt = _parse_format(format)
        if a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 1):
            channels, default = 1, PixelFormat.GRAY8
        elif a.ndim == 3 and a.shape[2] in (3, 4):
            channels = a.shape[2]
            default = PixelFormat.RGB8 if channels == 3 else PixelFormat.RGBA8
        else:
            raise _invalid(f"image array must be HxW, HxWx1, HxWx3 or HxWx4, got shape {a.shape}")
        fmt = fmt or default
        if _CHANNELS.get(fmt) != channels:
            raise _invalid(f"format {fmt.name} does not fit an array with {channels} channel(s)")
        h, w = a.shape[0], a.shape[1]
        if h > _U32_MAX or w > _U32_MAX:
            raise FacekitError(Status.FK_ERR_INVALID_IMAGE, f"image {w}x{h} is too large")
        # The C descriptor has one row stride and assumes packed pixels: accept any array whose pixels are
        # packed within a row and whose rows go forward without overlapping; copy anything else.
        inner_ok = a.strides[1] == channels if a.ndim >= 2 and w > 1 else True
        if a.ndim == 3:
            inner_ok = inner_ok and (a.strides[2] == 1 or channels == 1)
        if not inner_ok or (h > 1 and a.strides[0] < w * channels):
            a = np.ascontiguousarray(a)
        self.data = a  # keeps the memory alive while this Image lives
        self.width, self.height = w, h
        self.stride = int(a.strides[0]) if h > 1 else w * channels
        self.format = fmt
        self.rotation = int(rotation)
        self._ptr = a.ctypes.data
        # The last row may be short (only width*channels bytes), exactly what the library requires.
        self._len = self.stride * (h - 1) + w * channels if h and w else 0
        self._chroma = None

    @classmethod
    def _yuv(cls, fmt: PixelFormat, buf: Any, width: int, height: int, stride: Optional[int], rotation: int) -> "Image":
        if isinstance(buf, np.ndarray):
            if buf.dtype != np.uint8:
                raise TypeError(f"facekit: YUV buffers must be uint8, got {buf.dtype}")
            a = np.ascontiguousarray(buf).reshape(-1)
        else:
            a = np.frombuffer(buf, dtype=np.uint8)  # zero-copy view of bytes/bytearray/memoryview
        if not (0 <= width <= _U32_MAX and 0 <= height <= _U32_MAX):
            raise FacekitError(Status.FK_ERR_INVALID_IMAGE, f"image {width}x{height} is out of range")
        img = cls.__new__(cls)
        img.data = a
        img.width, img.height = int(width), int(height)
        img.stride = int(width if stride is None else stride)
        img.format = fmt
        img.rotation = int(rotation)
        img._ptr = a.ctypes.data
        img._len = a.size  # the library checks that the layout fits (FK_ERR_INVALID_IMAGE otherwise)
        img._chroma = None
        return img

    @classmethod
    def nv21(cls, buf: Any, width: int, height: int, stride: Optional[int] = None, rotation: int = 0) -> "Image":
        """Android camera NV21: a Y plane of ``height`` rows of ``stride`` bytes (default ``width``), then
        ⌈height/2⌉ rows of interleaved V,U with the same stride."""
        return cls._yuv(PixelFormat.NV21, buf, width, height, stride, rotation)

    @classmethod
    def nv12(cls, buf: Any, width: int, height: int, stride: Optional[int] = None, rotation: int = 0) -> "Image":
        """As :meth:`nv21` with U before V."""
        return cls._yuv(PixelFormat.NV12, buf, width, height, stride, rotation)

    @classmethod
    def i420(cls, buf: Any, width: int, height: int, stride: Optional[int] = None, rotation: int = 0) -> "Image":
        """Planar Y, U, V (chroma stride ⌈stride/2⌉)."""
        return cls._yuv(PixelFormat.I420, buf, width, height, stride, rotation)

    @classmethod
    def yuv420(cls, y: Any, u: Any, v: Any, width: Optional[int] = None, height: Optional[int] = None, *,
               stride: Optional[int] = None, uv_stride: Optional[int] = None, uv_pixel_stride: Optional[int] = None,
               rotation: int = 0) -> "Image":
        """YUV 4:2:0 as three separately addressed planes, as cameras deliver it — nothing is copied.

        Each plane is either a 2-D ``uint8`` numpy view, whose strides give the layout (``y``: ``height`` rows
        ``stride`` bytes apart; ``u``/``v``: ⌈height/2⌉ rows ``uv_stride`` apart, samples ``uv_pixel_stride``
        apart), or a flat buffer (bytes, bytearray, memoryview, 1-D array) with the strides given explicitly:

        - Android ``YUV_420_888``: the three ``Image.Plane`` buffers, ``stride`` = plane 0's row stride,
          ``uv_stride``/``uv_pixel_stride`` = plane 1's (1: planar, 2: U and V interleave).
        - An NV21 buffer ``a`` of a ``w``×``h`` frame as views: ``y = a[:h*w].reshape(h, w)``,
          ``vu = a[h*w:].reshape(-1, w)``, ``u = vu[:, 1::2]``, ``v = vu[:, 0::2]``.
        - iOS bi-planar (420f): ``y`` = plane 0, ``u`` = plane 1, ``v`` = plane 1 from its second byte, pixel
          stride 2.

        ``width``/``height`` default to the shape of a 2-D ``y`` (needed for flat buffers); explicit strides
        that contradict a view's own are refused. The library checks that the planes hold the frame
        (FK_ERR_INVALID_IMAGE otherwise).
        """
        ya, yptr, ylen, yshape, ystrides = _plane(y, "Y")
        ua, uptr, ulen, _, ustrides = _plane(u, "U")
        va, vptr, vlen, _, vstrides = _plane(v, "V")

        def agree(name: str, given: Optional[int], derived: Optional[int]) -> Optional[int]:
            if given is not None and derived is not None and int(given) != derived:
                raise _invalid(f"{name}={given} contradicts the plane's own stride {derived}")
            return derived if given is None else int(given)

        if ystrides is not None and ystrides[1] != 1:
            raise _invalid(f"Y samples must be adjacent (pixel stride 1), the view has {ystrides[1]}")
        if (ustrides is None) != (vstrides is None) or (ustrides is not None and ustrides != vstrides):
            raise _invalid("U and V planes must have the same layout (both views with equal strides, or both flat)")
        stride = agree("stride", stride, ystrides and ystrides[0])
        uv_stride = agree("uv_stride", uv_stride, ustrides and ustrides[0])
        uv_pixel_stride = agree("uv_pixel_stride", uv_pixel_stride, ustrides and ustrides[1])
        if width is None or height is None:
            if yshape is None:
                raise _invalid("width and height are needed when the Y plane is a flat buffer")
            height = yshape[0] if height is None else height
            width = yshape[1] if width is None else width
        width, height = int(width), int(height)
        if uv_pixel_stride is None:
            uv_pixel_stride = 1
        if stride is None:
            stride = width
        if uv_stride is None:
            uv_stride = (width + 1) // 2 * uv_pixel_stride
        if not (0 <= width <= _U32_MAX and 0 <= height <= _U32_MAX) or min(stride, uv_stride, uv_pixel_stride) < 0:
            raise FacekitError(Status.FK_ERR_INVALID_IMAGE,
                               f"frame {width}x{height}, strides {stride}/{uv_stride}/{uv_pixel_stride} out of range")
        img = cls.__new__(cls)
        img.data = ya
        img.width, img.height, img.stride = width, height, stride
        img.format = PixelFormat.YUV420
        img.rotation = int(rotation)
        img._ptr, img._len = yptr, ylen
        img._chroma = (ua, va, uptr, ulen, vptr, vlen, uv_stride, uv_pixel_stride)
        return img

    def _c(self) -> _FkImage:
        c = _FkImage(self._ptr, self._len, self.width, self.height, self.stride, int(self.format), self.rotation)
        if self._chroma is not None:
            _, _, c.u, c.u_len, c.v, c.v_len, c.uv_stride, c.uv_pixel_stride = self._chroma
        return c

    def __repr__(self) -> str:
        return f"Image({self.width}x{self.height} {self.format.name} stride={self.stride} rotation={self.rotation})"


ImageLike = Union[np.ndarray, Image]
# An embedding or template: a 1-D numpy array (what embed() returns) or any sequence of floats.
Vector = Union[np.ndarray, Sequence[float]]


def _plane(buf: Any, what: str) -> Tuple[np.ndarray, int, int, Optional[Tuple[int, int]], Optional[Tuple[int, int]]]:
    """One plane of :meth:`Image.yuv420` without a copy: (the array that keeps it alive, its address, the
    bytes from its first to its last sample, its shape and its (row, pixel) strides — the last two None for
    a flat buffer)."""
    if not isinstance(buf, np.ndarray):
        a = np.frombuffer(buf, dtype=np.uint8)  # bytes, bytearray, memoryview: a view, not a copy
        return a, a.ctypes.data, a.size, None, None
    if buf.dtype != np.uint8:
        raise TypeError(f"facekit: the {what} plane must be uint8, got {buf.dtype}")
    if buf.ndim == 1:
        if buf.size > 1 and buf.strides[0] != 1:
            raise _invalid(f"a flat {what} plane must be contiguous; pass a 2-D view to describe strided samples")
        return buf, buf.ctypes.data, buf.size, None, None
    if buf.ndim != 2:
        raise _invalid(f"the {what} plane must be a flat buffer or a 2-D view, got shape {buf.shape}")
    (rows, cols), (rs, ps) = buf.shape, buf.strides
    if rows == 0 or cols == 0:
        raise FacekitError(Status.FK_ERR_INVALID_IMAGE, f"the {what} plane is empty")
    if rs <= 0 or ps <= 0:
        raise _invalid(f"the {what} plane's strides must be positive, got {buf.strides}")
    return buf, buf.ctypes.data, (rows - 1) * rs + (cols - 1) * ps + 1, (rows, cols), (rs, ps)


def _image(img: ImageLike, format: FormatLike = None, rotation: int = 0) -> Image:
    if isinstance(img, Image):
        if format is not None or rotation:
            raise TypeError("facekit: format/rotation go into the Image itself when passing an Image")
        return img
    return Image(img, format, rotation)


def load_image(path: Union[str, os.PathLike]) -> np.ndarray:
    """Decodes a JPEG or PNG file with the library (``fk_image_load``) into an HxWx3 RGB ``uint8`` array."""
    raw = _FkImage()
    _check(_lib.fk_image_load(os.fsencode(path), ctypes.byref(raw)))
    try:
        h, w, stride = raw.height, raw.width, raw.stride
        buf = (ctypes.c_uint8 * raw.len).from_address(raw.data)
        return np.ndarray((h, w, 3), np.uint8, buffer=buf, strides=(stride, 3, 1)).copy()
    finally:
        _lib.fk_image_release(ctypes.byref(raw))


# ---------------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Face:
    """One detected face, in pixels of the upright image. ``box`` = (x, y, width, height) with (x, y) the
    top-left corner; ``landmarks`` = 5 (x, y): image-left eye, image-right eye, nose tip, image-left and
    image-right mouth corners."""

    box: Tuple[float, float, float, float]
    score: float
    landmarks: Tuple[Tuple[float, float], ...]

    @property
    def area(self) -> float:
        return max(self.box[2], 0.0) * max(self.box[3], 0.0)

    def iou(self, other: "Face") -> float:
        """Intersection over union of the two boxes."""
        ax, ay, aw, ah = self.box
        bx, by, bw, bh = other.box
        iw = min(ax + aw, bx + bw) - max(ax, bx)
        ih = min(ay + ah, by + bh) - max(ay, by)
        inter = max(iw, 0.0) * max(ih, 0.0)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    @classmethod
    def _from_c(cls, f: _FkFace) -> "Face":
        return cls(
            (f.x, f.y, f.width, f.height), f.score, tuple((p[0], p[1]) for p in f.landmarks)
        )

    def _c(self) -> _FkFace:
        c = _FkFace(*(float(v) for v in self.box), float(self.score))
        lm = np.asarray(self.landmarks, dtype=np.float64)
        if lm.shape != (5, 2):
            raise _invalid(f"face landmarks must be 5x2, got shape {lm.shape}")
        for i in range(5):
            c.landmarks[i][0], c.landmarks[i][1] = lm[i, 0], lm[i, 1]
        return c


@dataclass(frozen=True)
class Match:
    """A comparison. ``similarity`` is a cosine in [-1, 1] (not a probability); ``is_match`` means
    ``similarity >= threshold``, the calibrated threshold of ``operating_point``."""

    similarity: float
    threshold: float
    is_match: bool
    operating_point: Union[OperatingPoint, int]

    @classmethod
    def _from_c(cls, m: _FkMatch) -> "Match":
        return cls(m.similarity, m.threshold, bool(m.is_match), _enum_or_int(OperatingPoint, m.operating_point))


@dataclass(frozen=True)
class QualityComponent:
    """A measured value and its 0–100 score; ``assessed == False`` means not measured (both NaN)."""

    raw: float
    score: float
    assessed: bool


@dataclass(frozen=True)
class QualityReport:
    """Capture quality of one face. ``reasons`` lists the :class:`QualityReason` names that are set
    (e.g. ``["BLURRY"]``); ``acceptable`` is true when there is none. Quality is not liveness."""

    overall: float
    acceptable: bool
    reasons: List[str]
    reason_bits: int
    components: Dict[str, QualityComponent]

    @classmethod
    def _from_c(cls, r: _FkQualityReport) -> "QualityReport":
        names = [q.name for q in QualityReason if r.reasons & q.value]
        comps = {}
        for n in _QUALITY_COMPONENTS:
            c = getattr(r, n)
            comps[n] = QualityComponent(c.raw, c.score, bool(c.assessed))
        return cls(r.overall, bool(r.acceptable), names, int(r.reasons), comps)


@dataclass(frozen=True)
class LivenessReport:
    """Liveness of one face: ``score`` is the probability of a live face (not a print, a photo or a video on a
    screen) in [0, 1], ``is_live`` the decision at ``threshold``, the calibrated threshold of
    ``operating_point``; ``model_scores`` each model's score. A face too small or cut off by the frame edge is
    not scored: ``status`` says which, ``score`` is NaN and ``is_live`` False."""

    status: Union[LivenessStatus, int]
    score: float
    is_live: bool
    threshold: float
    operating_point: Union[LivenessPoint, int]
    model_scores: Tuple[float, ...]

    @classmethod
    def _from_c(cls, r: _FkLivenessReport) -> "LivenessReport":
        n = min(int(r.model_count), _LIVENESS_MAX_MODELS)
        return cls(_enum_or_int(LivenessStatus, r.status), r.score, bool(r.is_live), r.threshold,
                   _enum_or_int(LivenessPoint, r.operating_point), tuple(r.model_scores[i] for i in range(n)))


# ---------------------------------------------------------------------------------------------------------
# Engine


def default_models_dir() -> Optional[str]:
    """``$FACEKIT_MODELS``, else ``$FACEKIT_SHARED/models``, else (source tree only) ``<repo>/../shared/models``,
    if it exists; None means the library's bundled pack (what an installed wheel uses)."""
    if os.environ.get("FACEKIT_MODELS"):
        return os.environ["FACEKIT_MODELS"]
    shared = os.environ.get("FACEKIT_SHARED") or (str(_REPO.parent / "shared") if _REPO is not None else None)
    if not shared:
        return None
    d = os.path.join(shared, "models")
    return d if os.path.isdir(d) else None


def _option_text(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, enum.Enum):
        v = v.value
    return str(v)


def _floats(v: Any, what: str) -> np.ndarray:
    a = np.ascontiguousarray(v, dtype=np.float32)
    if a.ndim != 1:
        raise _invalid(f"{what} must be a 1-D vector, got shape {a.shape}")
    return a


class Engine:
    """A loaded face pipeline (``fk_engine``). Thread-safe: share one engine between threads.

    ``Engine(models_dir=None, *, options=None, **kw)``: options go through ``fk_options_set`` as text, e.g.
    ``Engine(dir, detector="yunet_n", flip=True, options={"quality.min_sharpness": 40})``;
    ``Engine(dir, mode="accurate")`` is the accurate mode (MobileFaceNet and dlib ResNet fused, 256-d
    embeddings, several times the cost). Use it as a context manager or call :meth:`close`.
    """

    def __init__(self, models_dir: Union[str, os.PathLike, None] = None, *, options: Optional[Dict[str, Any]] = None, **kw: Any) -> None:
        opts = dict(options or {})
        opts.update(kw)
        o = _lib.fk_options_new()
        if not o:
            raise FacekitError(Status.FK_ERR_PANIC, "fk_options_new failed")
        try:
            for k, v in opts.items():
                _check(_lib.fk_options_set(o, str(k).encode(), _option_text(v).encode()))
            out = ctypes.c_void_p()
            d = models_dir if models_dir is not None else default_models_dir()
            if d is None:
                _check(_lib.fk_engine_new_bundled(o, ctypes.byref(out)))
            else:
                _check(_lib.fk_engine_new_from_dir(os.fsencode(d), o, ctypes.byref(out)))
        finally:
            _lib.fk_options_free(o)
        self._h = _Handle(self, out.value, _lib.fk_engine_free, "Engine")
        self.models_dir = None if d is None else os.fspath(d)
        self.embedding_dim: int = _lib.fk_engine_embedding_dim(out.value)
        cw, ch = ctypes.c_uint32(), ctypes.c_uint32()
        _check(_lib.fk_engine_crop_size(out.value, ctypes.byref(cw), ctypes.byref(ch)))
        self.crop_size: Tuple[int, int] = (cw.value, ch.value)
        # A buffer of max_faces entries holds every face fk_detect can return (it reports the total found and
        # writes at most the capacity), so one call suffices. Mirror the option (default 64, 1..1024).
        try:
            self._max_faces = min(max(int(float(opts.get("max_faces", 64))), 1), 1024)
        except (TypeError, ValueError):
            self._max_faces = 1024
        # Nor is there a getter for the engine's operating point: comparing a unit vector with itself
        # returns the match at that point (threshold included). None if the embedder is not calibrated.
        e0 = np.zeros(self.embedding_dim, np.float32)
        e0[0] = 1.0
        m = _FkMatch()
        p = e0.ctypes.data_as(_PF)
        if self.embedding_dim and _lib.fk_compare(out.value, p, p, self.embedding_dim, ctypes.byref(m)) == 0:
            self.operating_point: Optional[Union[OperatingPoint, int]] = Match._from_c(m).operating_point
            self._default_threshold = float(m.threshold)
        else:
            self.operating_point, self._default_threshold = None, -1.0

    # -- lifetime
    def close(self) -> None:
        """Frees the engine (idempotent). Waits for calls still running in other threads."""
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"dim={self.embedding_dim} op={self.operating_point!r}"
        return f"<facekit.Engine {self.models_dir or 'bundled'} {state}>"

    # -- pipeline
    def detect(self, img: ImageLike, *, format: FormatLike = None, rotation: int = 0) -> List[Face]:
        """Faces in the image, best score first (an empty list when there is none)."""
        im = _image(img, format, rotation)
        c = im._c()
        faces = (_FkFace * self._max_faces)()
        n = ctypes.c_size_t()
        with self._h as e:
            _check(_lib.fk_detect(e, ctypes.byref(c), faces, self._max_faces, ctypes.byref(n)))
        return [Face._from_c(faces[i]) for i in range(min(n.value, self._max_faces))]

    def _largest(self, im: Image) -> Face:
        faces = self.detect(im)
        if not faces:
            raise FacekitError(Status.FK_ERR_NO_FACE, "no face found in the image")
        return max(faces, key=lambda f: f.area)

    def align(self, img: ImageLike, face: Face, *, format: FormatLike = None, rotation: int = 0) -> np.ndarray:
        """The aligned RGB crop the embedder sees (``crop_size``, e.g. 112x112), as an HxWx3 uint8 array."""
        im = _image(img, format, rotation)
        c, f = im._c(), face._c()
        w, h = self.crop_size
        out = np.empty((h, w, 3), np.uint8)
        with self._h as e:
            _check(_lib.fk_align(e, ctypes.byref(c), ctypes.byref(f), out.ctypes.data, out.nbytes))
        return out

    def embed(self, img: ImageLike, face: Optional[Face] = None, *, format: FormatLike = None, rotation: int = 0) -> np.ndarray:
        """Unit-length float32 embedding of ``face`` (default: the largest face; FK_ERR_NO_FACE if none)."""
        im = _image(img, format, rotation)
        if face is None:
            face = self._largest(im)
        c, f = im._c(), face._c()
        out = np.empty(self.embedding_dim, np.float32)
        with self._h as e:
            _check(_lib.fk_embed(e, ctypes.byref(c), ctypes.byref(f), out.ctypes.data_as(_PF), out.size))
        return out

    def compare(self, a: Vector, b: Vector) -> Match:
        """Compares two embeddings at the engine's operating point."""
        va, vb = _floats(a, "a"), _floats(b, "b")
        if va.size != vb.size:
            raise _invalid(f"embeddings differ in length ({va.size} vs {vb.size})")
        m = _FkMatch()
        with self._h as e:
            _check(_lib.fk_compare(e, va.ctypes.data_as(_PF), vb.ctypes.data_as(_PF), va.size, ctypes.byref(m)))
        return Match._from_c(m)

    def verify(self, img_a: ImageLike, img_b: ImageLike, *, format: FormatLike = None) -> Match:
        """1:1 verification of the largest face of each image (FK_ERR_NO_FACE if either has none). Each
        capture is first checked under the engine's quality policy: FK_ERR_POOR_QUALITY or FK_ERR_NOT_LIVE
        ("show your real face") refuse it; the liveness part is option ``require_liveness``."""
        ia, ib = _image(img_a, format), _image(img_b, format)
        ca, cb = ia._c(), ib._c()
        m = _FkMatch()
        with self._h as e:
            _check(_lib.fk_verify(e, ctypes.byref(ca), ctypes.byref(cb), ctypes.byref(m)))
        return Match._from_c(m)

    def quality(self, img: ImageLike, face: Optional[Face] = None, *, format: FormatLike = None, rotation: int = 0) -> QualityReport:
        """Capture quality of ``face`` (default: the largest face) under the engine's quality policy."""
        im = _image(img, format, rotation)
        if face is None:
            face = self._largest(im)
        c, f = im._c(), face._c()
        # fk_quality is told our struct size and refuses a smaller buffer than its own (a library whose
        # report grew fails with FK_ERR_BUFFER_TOO_SMALL); the slack is a second guard.
        buf = (ctypes.c_uint8 * (ctypes.sizeof(_FkQualityReport) + _QUALITY_SLACK))()
        r = _FkQualityReport.from_buffer(buf)
        with self._h as e:
            _check(_lib.fk_quality(e, ctypes.byref(c), ctypes.byref(f), ctypes.byref(r), ctypes.sizeof(_FkQualityReport)))
        return QualityReport._from_c(r)

    def liveness(self, img: ImageLike, face: Optional[Face] = None, *, format: FormatLike = None, rotation: int = 0) -> LivenessReport:
        """Liveness of ``face`` (default: the largest face) at the engine's liveness operating point
        (FK_ERR_UNSUPPORTED if the engine has no liveness models). One frame is one piece of evidence: on a
        live camera, average over several frames of a track."""
        im = _image(img, format, rotation)
        if face is None:
            face = self._largest(im)
        c, f = im._c(), face._c()
        r = _FkLivenessReport()
        with self._h as e:
            _check(_lib.fk_liveness(e, ctypes.byref(c), ctypes.byref(f), ctypes.byref(r), ctypes.sizeof(r)))
        return LivenessReport._from_c(r)

    def threshold(self, op: Union[OperatingPoint, int, str, None] = None, eye_distance: Optional[float] = None) -> float:
        """Calibrated cosine threshold of an operating point (default: the engine's own).
        ``op`` may be an :class:`OperatingPoint`, its value (3) or its name (``"far_1e-3"``). With
        ``eye_distance`` (pixels between the eyes of the smaller face compared), the threshold measured at that
        resolution (``fk_engine_threshold_for_face``)."""
        op = self._op(op)
        out = ctypes.c_float()
        with self._h as e:
            if eye_distance is None:
                _check(_lib.fk_engine_threshold(e, op, ctypes.byref(out)))
            else:
                _check(_lib.fk_engine_threshold_for_face(e, op, float(eye_distance), ctypes.byref(out)))
        return out.value

    def gallery_threshold(self, templates: int, op: Union[OperatingPoint, int, str, None] = None,
                          eye_distance: Optional[float] = None) -> float:
        """Threshold for searching a gallery of ``templates`` templates so that about the operating point's
        FAR of strangers match someone (``fk_engine_gallery_threshold``: per comparison FAR / templates,
        interpolated between the calibrated points); with ``eye_distance``, at the probe's resolution
        (``fk_engine_gallery_threshold_for_face``). :meth:`Gallery.threshold` also adapts it to the camera."""
        op = self._op(op)
        if int(templates) < 0:
            raise _invalid(f"templates must be >= 0, got {templates}")
        out = ctypes.c_float()
        with self._h as e:
            if eye_distance is None:
                _check(_lib.fk_engine_gallery_threshold(e, op, int(templates), ctypes.byref(out)))
            else:
                _check(_lib.fk_engine_gallery_threshold_for_face(e, op, int(templates), float(eye_distance), ctypes.byref(out)))
        return out.value

    def _op(self, op: Union[OperatingPoint, int, str, None]) -> int:
        """An operating point as its ``fk_operating_point`` value (None: the engine's own)."""
        if op is None:
            if self.operating_point is None:
                raise _invalid("the engine's embedder is not calibrated")
            return int(self.operating_point)
        if isinstance(op, str):
            key = op.lower().replace("far_", "").replace("-", "")
            table = {f"1e{k}": k for k in range(2, 7)}
            if key not in table:
                raise _invalid(f"unknown operating point {op!r}")
            return table[key]
        return int(op)


# ---------------------------------------------------------------------------------------------------------
# Gallery


_ID_MAX = 255  # FK_ID_MAX
_MODEL_ID_MAX = 1024  # FK_MODEL_ID_MAX


def _id_bytes(identity: str) -> bytes:
    b = identity.encode("utf-8") if isinstance(identity, str) else bytes(identity)
    if b"\0" in b:
        # c_char_p would silently cut the key at the NUL; refuse instead.
        raise _invalid("identity contains a NUL character")
    return b


class Gallery:
    """A set of enrolled identities (``fk_gallery``) for one engine's embedder. Thread-safe.

    ``Gallery(engine)`` makes an empty one, ``Gallery.load(engine, path)`` reads a saved one. The engine is
    needed only to create/load it (model id, dimension, default threshold) and for :meth:`enroll_image`.
    """

    def __init__(self, engine: Engine, *, _ptr: Optional[int] = None) -> None:
        if _ptr is None:
            out = ctypes.c_void_p()
            with engine._h as e:
                _check(_lib.fk_gallery_new(e, ctypes.byref(out)))
            _ptr = out.value
        self._h = _Handle(self, _ptr, _lib.fk_gallery_free, "Gallery")
        self.dim = engine.embedding_dim
        # Used by search() when no threshold is given: the engine's calibrated operating point.
        self.default_threshold = engine._default_threshold

    @classmethod
    def load(cls, engine: Engine, path: Union[str, os.PathLike]) -> "Gallery":
        """Loads a gallery saved by :meth:`save` (verified: checksum, model, dimension)."""
        out = ctypes.c_void_p()
        with engine._h as e:
            _check(_lib.fk_gallery_load(e, os.fsencode(path), ctypes.byref(out)))
        return cls(engine, _ptr=out.value)

    def close(self) -> None:
        """Frees the gallery (idempotent; unsaved changes are lost)."""
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Gallery":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __len__(self) -> int:
        with self._h as g:
            return _lib.fk_gallery_count(g)

    def __repr__(self) -> str:
        return "<facekit.Gallery closed>" if self.closed else f"<facekit.Gallery {len(self)} identities dim={self.dim}>"

    def enroll(self, identity: str, embedding: Vector) -> None:
        """Adds a template under ``identity`` (1..255 bytes of UTF-8); an existing identity gains a template."""
        v = _floats(embedding, "embedding")
        with self._h as g:
            _check(_lib.fk_gallery_enroll(g, _id_bytes(identity), v.ctypes.data_as(_PF), v.size))

    def enroll_image(self, engine: Engine, identity: str, img: ImageLike, *, format: FormatLike = None, rotation: int = 0) -> None:
        """Detects the largest face of ``img``, checks it under ``engine``'s quality policy (FK_ERR_POOR_QUALITY,
        FK_ERR_NOT_LIVE: nothing enrolled), embeds it with ``engine`` and enrolls it."""
        im = _image(img, format, rotation)
        c = im._c()
        with self._h as g, engine._h as e:
            _check(_lib.fk_gallery_enroll_image(g, e, _id_bytes(identity), ctypes.byref(c)))

    def remove(self, identity: str) -> None:
        """Removes an identity and its templates (FK_ERR_NOT_FOUND if it is not enrolled)."""
        with self._h as g:
            _check(_lib.fk_gallery_remove(g, _id_bytes(identity)))

    def threshold(self, engine: "Engine", eye_distance: float, op: Union[OperatingPoint, int, str, None] = None) -> float:
        """The threshold to decide against this gallery at, for a probe face whose eyes are ``eye_distance``
        pixels apart (``fk_gallery_threshold``): the size rule at the probe's resolution, raised for the camera
        when the enrolled people (3 or more) score higher against each other than the calibration's strangers.
        What the tracker decides at."""
        op = engine._op(op)
        out = ctypes.c_float()
        with engine._h as e, self._h as g:
            _check(_lib.fk_gallery_threshold(e, g, op, float(eye_distance), ctypes.byref(out)))
        return out.value

    def search(self, query: Vector, k: int = 5, threshold: Optional[float] = None) -> List[Tuple[str, float]]:
        """Up to ``k`` ``(identity, similarity)`` pairs, best first, with similarity ≥ ``threshold``.

        ``threshold=None`` uses the engine's calibrated operating point (an empty list then means "nobody
        enrolled matches"); ``threshold=-1`` returns the nearest identities whatever their score.
        """
        v = _floats(query, "query")
        if k < 1:
            raise _invalid("k must be at least 1")
        thr = self.default_threshold if threshold is None else float(threshold)
        with self._h as g:
            # Never more hits than identities: avoids allocating k * 260 bytes for a huge k.
            cap = max(1, min(int(k), _lib.fk_gallery_count(g)))
            hits = (_FkHit * cap)()
            n = ctypes.c_size_t()
            _check(_lib.fk_gallery_search(g, v.ctypes.data_as(_PF), v.size, thr, hits, cap, ctypes.byref(n)))
        return [(hits[i].id.decode("utf-8", "replace"), float(hits[i].similarity)) for i in range(n.value)]

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Saves atomically (the file is the old or the new gallery, never a mix)."""
        with self._h as g:
            _check(_lib.fk_gallery_save(g, os.fsencode(path)))

    # -- templates out and in (fk_gallery_template / fk_gallery_add_template)
    @property
    def model_id(self) -> str:
        """The model id of the embedder this gallery was made for (``fk_gallery_model_id``)."""
        buf = ctypes.create_string_buffer(_MODEL_ID_MAX + 1)
        with self._h as g:
            _check(_lib.fk_gallery_model_id(g, buf, len(buf)))
        return buf.value.decode("utf-8")

    def template_count(self) -> int:
        """Number of templates over all identities (``len()`` counts identities)."""
        with self._h as g:
            return _lib.fk_gallery_template_count(g)

    def template(self, index: int) -> Tuple[str, np.ndarray]:
        """Template ``index`` (0..template_count()-1) and its identity: the unit-norm float32 values the gallery
        stores and scores with (``fk_gallery_template``). Order is stable until the next enroll or remove."""
        if int(index) < 0:
            raise _invalid(f"template index must be >= 0, got {index}")
        key = ctypes.create_string_buffer(_ID_MAX + 1)
        out = np.empty(self.dim, np.float32)
        with self._h as g:
            _check(_lib.fk_gallery_template(g, int(index), key, len(key), out.ctypes.data_as(_PF), out.size))
        return key.value.decode("utf-8"), out

    def templates(self) -> Tuple[List[str], np.ndarray]:
        """Every template: the identities (one per row) and a ``(template_count, dim)`` float32 array."""
        key = ctypes.create_string_buffer(_ID_MAX + 1)
        with self._h as g:
            n = _lib.fk_gallery_template_count(g)
            out = np.empty((n, self.dim), np.float32)
            ids = []
            for i in range(n):
                _check(_lib.fk_gallery_template(g, i, key, len(key), out[i].ctypes.data_as(_PF), self.dim))
                ids.append(key.value.decode("utf-8"))
        return ids, out

    def add_template(self, identity: str, values: Vector) -> None:
        """Adds a template exactly as given (unit-norm float32, e.g. from :meth:`template` or a central gallery),
        without normalising it again, so this gallery scores as the one it came from
        (``fk_gallery_add_template``; FK_ERR_INVALID_ARGUMENT if it is not unit-norm)."""
        v = _floats(values, "values")
        with self._h as g:
            _check(_lib.fk_gallery_add_template(g, _id_bytes(identity), v.ctypes.data_as(_PF), v.size))


# ---------------------------------------------------------------------------------------------------------
# Live camera: tracker


@dataclass(frozen=True)
class Decision:
    """A track's decision, taken once and final while the track lives.

    ``verdict``: :class:`Verdict`. ``identity``: the gallery identity (accepted) or the closest one (no match),
    None with a template or when nothing was compared. ``similarity`` (cosine of the track's aggregated
    embedding to the reference) and ``threshold`` (of ``operating_point``) are NaN when nothing was compared;
    ``liveness`` is the captures' mean liveness score (NaN when not assessed); ``after_frames`` counts the
    frames from the track's first appearance to the decision.
    """

    verdict: Union[Verdict, int]
    identity: Optional[str]
    similarity: float
    threshold: float
    operating_point: Union[OperatingPoint, int]
    liveness: float
    after_frames: int

    @property
    def accepted(self) -> bool:
        return self.verdict == Verdict.ACCEPTED

    @classmethod
    def _from_c(cls, d: _FkDecision) -> Optional["Decision"]:
        if d.verdict == Verdict.NONE:
            return None
        ident = d.identity.decode("utf-8", "replace") or None
        return cls(_enum_or_int(Verdict, d.verdict), ident, d.similarity, d.threshold,
                   _enum_or_int(OperatingPoint, d.operating_point), d.liveness, int(d.after_frames))


@dataclass(frozen=True)
class Track:
    """One tracked face in the latest frame. ``id`` is stable for the track's life and never reused by its
    tracker; ``face`` is this frame's box and landmarks (the predicted box with score 0 when ``missed`` > 0);
    ``age`` counts frames since it appeared; ``captures`` the good captures embedded so far;
    ``best_quality`` (0–100) is its best capture's overall quality and ``liveness`` the captures' mean
    liveness score (NaN before any); ``decision`` is None until decided."""

    id: int
    state: Union[TrackState, int]
    face: Face
    age: int
    missed: int
    captures: int
    best_quality: float
    liveness: float
    decision: Optional[Decision]

    @classmethod
    def _from_c(cls, t: _FkTrack) -> "Track":
        return cls(int(t.id), _enum_or_int(TrackState, t.state), Face._from_c(t.face), int(t.age), int(t.missed),
                   int(t.captures), t.best_quality, t.liveness, Decision._from_c(t.decision))


@dataclass(frozen=True)
class Event:
    """Something a door-gate loop acts on: a track ``APPEARED``, was ``DECIDED`` (``decision`` set) or was
    ``LOST``, in tracker frame ``frame`` (0-based)."""

    frame: int
    track: int
    kind: Union[EventKind, int]
    decision: Optional[Decision]

    @classmethod
    def _from_c(cls, e: _FkEvent) -> "Event":
        return cls(int(e.frame), int(e.track), _enum_or_int(EventKind, e.kind), Decision._from_c(e.decision))


_EVENT_BATCH = 64


class Tracker:
    """One camera stream's tracker (``fk_tracker``): follows faces across frames and decides once per person.

    ``Tracker(engine, gallery=None, template=None, **settings)``; settings are ``fk_tracker_set`` keys, e.g.
    ``Tracker(engine, gallery=g, detect_every=5, min_captures=3)``. Each :meth:`update` takes the next frame and
    returns its tracks; :meth:`poll_events` returns what happened (appeared / decided / lost) since the last
    poll.

    A tracker belongs to **one stream**: feed it that camera's frames in order, from one thread. Its calls are
    serialised by a lock (two threads cannot corrupt it, but interleaving two streams makes no sense: use one
    tracker per camera). Many trackers may share one engine and one gallery. The tracker holds references to
    its engine and gallery so that they outlive it. Closed explicitly before it, the engine makes every
    tracker call raise ``ValueError`` (like any call after :meth:`close`), and the gallery makes
    :meth:`update` raise until another reference is set — never a read of freed memory.
    """

    def __init__(self, engine: Engine, *, gallery: Optional[Gallery] = None, template: Optional[Vector] = None,
                 **settings: Any) -> None:
        if gallery is not None and template is not None:
            raise _invalid("decide against a gallery or a template, not both")
        out = ctypes.c_void_p()
        with engine._h as e:
            _check(_lib.fk_tracker_new(e, ctypes.byref(out)))
        self._h = _Handle(self, out.value, _lib.fk_tracker_free, "Tracker")
        self._engine = engine  # fk_tracker borrows the engine: keep it alive
        self._gallery: Optional[Gallery] = None  # ... and the gallery it decides against
        self._lock = threading.Lock()
        self._max_tracks = 16  # the most tracks ever allowed (fk_tracker_set "max_tracks"; default 16)
        self.embedding_dim = engine.embedding_dim
        try:
            for k, v in settings.items():
                self.set(k, v)
            if gallery is not None:
                self.set_gallery(gallery)
            if template is not None:
                self.set_template(template)
        except BaseException:
            self.close()
            raise

    @contextlib.contextmanager
    def _use(self, gallery: bool = False) -> Iterator[int]:
        """One call: the tracker's lock, then its handle, its engine's and (for a call that searches it) its
        gallery's — each refuses when closed and keeps its object from being freed during the call."""
        with self._lock, contextlib.ExitStack() as held:
            t = held.enter_context(self._h)
            held.enter_context(self._engine._h)
            if gallery and self._gallery is not None:
                held.enter_context(self._gallery._h)
            yield t

    # -- lifetime
    def close(self) -> None:
        """Frees the tracker (idempotent). Waits for a call running in another thread."""
        self._h.close()
        self._gallery = None

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<facekit.Tracker closed>" if self.closed else f"<facekit.Tracker on {self._engine!r}>"

    # -- settings and reference
    def set(self, key: str, value: Any) -> None:
        """Changes one setting from the next frame on: ``detect_every``, ``roi_input``, ``roi_scale``,
        ``roi_min_score``, ``min_iou``, ``max_missed``, ``min_captures``, ``capture_gap``, ``decide_within``,
        ``max_tracks`` (see ``fk_tracker_set``). FK_ERR_INVALID_ARGUMENT for an unknown key or a bad value."""
        text = _option_text(value)
        with self._use() as t:
            _check(_lib.fk_tracker_set(t, str(key).encode(), text.encode()))
            if key == "max_tracks":
                self._max_tracks = max(self._max_tracks, int(float(text)))

    def set_gallery(self, gallery: Optional[Gallery]) -> None:
        """Decide tracks against ``gallery`` (1:N: who is it) from now on; None stops deciding. Enrolling into
        the gallery meanwhile is fine. FK_ERR_INCOMPATIBLE for another embedder's gallery."""
        if gallery is None:
            with self._use() as t:
                _check(_lib.fk_tracker_set_gallery(t, None))
                self._gallery = None
            return
        with self._use() as t, gallery._h as g:
            _check(_lib.fk_tracker_set_gallery(t, g))
            self._gallery = gallery

    def set_template(self, embedding: Vector) -> None:
        """Decide tracks against one template (1:1: is it this person) from now on; the vector is copied."""
        v = _floats(embedding, "template")
        with self._use() as t:
            _check(_lib.fk_tracker_set_template(t, v.ctypes.data_as(_PF), v.size))
            self._gallery = None  # the tracker no longer refers to it

    # -- the stream
    def update(self, frame: ImageLike, *, format: FormatLike = None, rotation: int = 0) -> List[Track]:
        """Processes the next frame; returns its tracks (those lost in it included, once, with state LOST).
        A frame of another size than the previous one ends every track (a new stream). On an error
        (FK_ERR_INVALID_IMAGE: wrong stride, too few bytes, ...) the tracker is unchanged except that the frame
        counts as seen."""
        im = _image(frame, format, rotation)
        c = im._c()
        n = ctypes.c_size_t()
        with self._use(gallery=True) as t:
            # A frame reports at most every live track plus every track that ended in it: 2 x max_tracks.
            cap = 2 * self._max_tracks
            tracks = (_FkTrack * cap)()
            _check(_lib.fk_tracker_update(t, ctypes.byref(c), tracks, cap, ctypes.byref(n)))
        if n.value > cap:  # cannot happen (see above); say so rather than drop tracks silently
            raise FacekitError(Status.FK_ERR_INTERNAL, f"{n.value} tracks in one frame, room for {cap}")
        return [Track._from_c(tracks[i]) for i in range(n.value)]

    def poll_events(self) -> List[Event]:
        """Every event queued since the last poll, oldest first (the library keeps the latest 4,096)."""
        out: List[Event] = []
        buf = (_FkEvent * _EVENT_BATCH)()
        n = ctypes.c_size_t()
        with self._use() as t:
            while True:
                _check(_lib.fk_tracker_poll_events(t, buf, _EVENT_BATCH, ctypes.byref(n)))
                out.extend(Event._from_c(buf[i]) for i in range(n.value))
                if n.value < _EVENT_BATCH:
                    return out

    def best_embedding(self, track: int) -> np.ndarray:
        """The embedding of a live track's best capture (unit length) — what an enrolment from the camera
        stores with :meth:`Gallery.enroll`. FK_ERR_NOT_FOUND if the track is not live or has no good capture."""
        out = np.empty(self.embedding_dim, np.float32)
        with self._use() as t:
            _check(_lib.fk_tracker_best_embedding(t, int(track), out.ctypes.data_as(_PF), out.size))
        return out

    def reset(self) -> None:
        """Forgets every track and queued event (a new stream); settings and reference stay."""
        with self._use() as t:
            _check(_lib.fk_tracker_reset(t))


@dataclass(frozen=True)
class CameraReport:
    """What :meth:`CameraCalibrator.finish` measured (the manifest's camera section): ``frames`` (and the
    ``seconds`` they make), ``tracks`` with a good capture, ``impostor_pairs`` of tracks in view together and
    their scores' ``impostor_mean`` / ``impostor_std`` / ``impostor_max``, the captures' ``median_eye_px``,
    and ``live_tracks`` with their liveness ``live_median`` / ``live_p10`` (NaN when none; reported, not used)."""

    frames: int
    seconds: float
    tracks: int
    impostor_pairs: int
    impostor_mean: float
    impostor_std: float
    impostor_max: float
    median_eye_px: float
    live_tracks: int
    live_median: float
    live_p10: float

    @classmethod
    def _from_c(cls, r: _FkCameraReport) -> "CameraReport":
        return cls(int(r.frames), r.seconds, int(r.tracks), int(r.impostor_pairs), r.impostor_mean, r.impostor_std,
                   r.impostor_max, r.median_eye_px, int(r.live_tracks), r.live_median, r.live_p10)


class CameraCalibrator:
    """Measures the installed camera from its unlabelled footage (``fk_camera_calibrator``): faces in view at
    the same time are different people, so their scores against each other are what the camera's strangers
    score.

    ``CameraCalibrator(engine)``; :meth:`add_frame` takes the frames of one stream in order, :meth:`new_stream`
    starts another (a new clip), :meth:`finish` measures and (with ``manifest_out``) writes the engine's
    manifest with the camera section, atomically; engines loaded from that model directory then adapt their
    thresholds to the camera. Footage too thin to measure a camera (no face: FK_ERR_NO_FACE; fewer than 10
    pairs of faces in view together: FK_ERR_INVALID_ARGUMENT, saying how many more) raises and writes nothing;
    the evidence stays, so more frames may follow. Calls are serialised by a lock; the calibrator keeps its
    engine alive.
    """

    def __init__(self, engine: Engine):
        out = ctypes.c_void_p()
        with engine._h as e:
            _check(_lib.fk_camera_calibrator_new(e, ctypes.byref(out)))
        self._h = _Handle(self, out.value, _lib.fk_camera_calibrator_free, "CameraCalibrator")
        self._engine = engine  # fk_camera_calibrator borrows the engine: keep it alive
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _use(self) -> Iterator[int]:
        with self._lock, self._h as c, self._engine._h:
            yield c

    def close(self) -> None:
        """Frees the calibrator (idempotent). Waits for a call running in another thread."""
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h.closed

    def __enter__(self) -> "CameraCalibrator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<facekit.CameraCalibrator closed>" if self.closed else f"<facekit.CameraCalibrator, {self.frames} frames>"

    def add_frame(self, frame: ImageLike, *, format=None, rotation: int = 0) -> None:
        """The next frame of the current stream. On an error (FK_ERR_INVALID_IMAGE, ...) it is not counted."""
        im = _image(frame, format, rotation)
        c = im._c()
        with self._use() as cal:
            _check(_lib.fk_camera_calibrator_add_frame(cal, ctypes.byref(c)))

    def new_stream(self) -> None:
        """Ends the current stream: no track continues into the next frame's. The evidence stays."""
        with self._use() as cal:
            _check(_lib.fk_camera_calibrator_new_stream(cal))

    @property
    def frames(self) -> int:
        """Frames taken so far, over every stream."""
        with self._use() as cal:
            return int(_lib.fk_camera_calibrator_frames(cal))

    def finish(self, fps: float, source: str, manifest_out: Union[str, os.PathLike, None] = None) -> CameraReport:
        """Measures the camera on the frames so far; with ``manifest_out``, writes the engine's manifest with
        this camera section there (atomically). ``fps``: the footage's frame rate; ``source``: what the footage
        is (recorded in the manifest)."""
        r = _FkCameraReport()
        out = None if manifest_out is None else os.fsencode(manifest_out)
        with self._use() as cal:
            _check(_lib.fk_camera_calibrator_finish(cal, float(fps), str(source).encode(), out, ctypes.byref(r),
                                                    ctypes.sizeof(r)))
        return CameraReport._from_c(r)
