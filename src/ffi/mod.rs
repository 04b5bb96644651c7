//! The C ABI — the only place with `unsafe`. Every function:
//! - checks each pointer for NULL and each handle's magic tag before use;
//! - turns `(pointer, length)` into a slice and leaves every decision about layouts to the safe core;
//! - maps C integers to enums by checking (`from_i32`), never by transmuting;
//! - writes outputs only on success;
//! - runs behind `catch_unwind`, so a panic becomes `FK_ERR_PANIC` (NULL for pointer returns), never an unwind
//!   into C;
//! - records a message for `fk_last_error()` on failure (thread-local).
#![allow(unsafe_code, non_camel_case_types, clippy::missing_safety_doc)]

#[cfg(feature = "fuzzing")]
mod fuzz;
mod camera;
mod gallery;
mod track;

use crate::compare::OperatingPoint;
use crate::detect::Face;
use crate::engine::{Engine, Mode, Options};
use crate::error::Error;
use crate::image::{Image, ImageView, PixelFormat, Rotation};
use crate::liveness::{LivenessPoint, LivenessReport};
use crate::quality::{QualityPolicy, QualityReport};
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

#[doc(hidden)]
#[cfg(feature = "fuzzing")]
pub use fuzz::fuzz_c_text;
pub use camera::*;
pub use gallery::*;
pub use track::*;

/// Status codes. `FK_OK` is 0; every error is a distinct positive value. Stable across versions.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum fk_status {
    FK_OK = 0,
    /// A required pointer argument was NULL.
    FK_ERR_NULL_ARGUMENT = 1,
    /// An argument was out of range, unknown (e.g. a format value), or a handle of the wrong kind.
    FK_ERR_INVALID_ARGUMENT = 2,
    /// An output buffer is too small; `fk_last_error()` says how large it must be.
    FK_ERR_BUFFER_TOO_SMALL = 3,
    /// The image descriptor's sizes, stride, length or format do not fit together.
    FK_ERR_INVALID_IMAGE = 4,
    /// A model file or directory could not be read.
    FK_ERR_MODEL_LOAD = 5,
    /// A model or manifest is malformed or does not match the manifest.
    FK_ERR_MODEL_FORMAT = 6,
    /// A model file's sha256 differs from the manifest.
    FK_ERR_MODEL_CHECKSUM = 7,
    /// No face was found where one was needed.
    FK_ERR_NO_FACE = 8,
    /// A file could not be read or written.
    FK_ERR_IO = 9,
    /// A stored file (gallery) is corrupt or truncated.
    FK_ERR_CORRUPT = 10,
    /// Data from another model or of another dimension.
    FK_ERR_INCOMPATIBLE = 11,
    /// The identity (or other item) does not exist.
    FK_ERR_NOT_FOUND = 12,
    /// The feature is not compiled into this build (e.g. the bundled model pack).
    FK_ERR_UNSUPPORTED = 13,
    /// An encoded image could not be decoded.
    FK_ERR_DECODE = 14,
    /// The capture was refused for its quality under the engine's policy (dark, blurred, turned away, too
    /// small or cut off for the liveness check); `fk_last_error()` says what. No decision was taken.
    FK_ERR_POOR_QUALITY = 15,
    /// The capture was refused as a presentation attack (a print, a photo or a video on a screen): tell the
    /// user "show your real face". No decision was taken.
    FK_ERR_NOT_LIVE = 16,
    /// A bug or inference failure.
    FK_ERR_INTERNAL = 98,
    /// A panic was caught at the boundary (a bug; the library stays usable).
    FK_ERR_PANIC = 99,
}
use fk_status::*;

impl From<&Error> for fk_status {
    fn from(e: &Error) -> Self {
        match e {
            Error::NullArgument(_) => FK_ERR_NULL_ARGUMENT,
            Error::InvalidArgument(_) => FK_ERR_INVALID_ARGUMENT,
            Error::BufferTooSmall { .. } => FK_ERR_BUFFER_TOO_SMALL,
            Error::InvalidImage(_) => FK_ERR_INVALID_IMAGE,
            Error::Decode { .. } => FK_ERR_DECODE,
            Error::ModelLoad(_) => FK_ERR_MODEL_LOAD,
            Error::ModelFormat(_) => FK_ERR_MODEL_FORMAT,
            Error::ModelChecksum { .. } => FK_ERR_MODEL_CHECKSUM,
            Error::NoFace(_) => FK_ERR_NO_FACE,
            Error::Io { .. } => FK_ERR_IO,
            Error::Corrupt(_) => FK_ERR_CORRUPT,
            Error::Incompatible(_) => FK_ERR_INCOMPATIBLE,
            Error::NotFound(_) => FK_ERR_NOT_FOUND,
            Error::Unsupported(_) => FK_ERR_UNSUPPORTED,
            Error::PoorQuality(_) => FK_ERR_POOR_QUALITY,
            Error::NotLive(_) => FK_ERR_NOT_LIVE,
            Error::Internal(_) => FK_ERR_INTERNAL,
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = c);
}

/// Runs `f` behind the panic boundary; records the error message and returns its status.
fn guard(f: impl FnOnce() -> Result<(), Error>) -> fk_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => FK_OK,
        Ok(Err(e)) => {
            set_last_error(&e.to_string());
            fk_status::from(&e)
        }
        Err(p) => {
            let msg = p.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| p.downcast_ref::<String>().cloned());
            set_last_error(&format!("panic caught at the C boundary: {}", msg.unwrap_or_default()));
            FK_ERR_PANIC
        }
    }
}

/// Runs `f` behind the panic boundary for functions without a status (pointer or count returns).
fn boundary<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// `Some(&T)` or a NullArgument error.
unsafe fn nn<'a, T>(p: *const T, name: &'static str) -> Result<&'a T, Error> {
    p.as_ref().ok_or(Error::NullArgument(name))
}
unsafe fn nn_mut<'a, T>(p: *mut T, name: &'static str) -> Result<&'a mut T, Error> {
    p.as_mut().ok_or(Error::NullArgument(name))
}
/// A byte/float slice from C, NULL only allowed when `len == 0` is not (we require data).
unsafe fn slice<'a, T>(p: *const T, len: usize, name: &'static str) -> Result<&'a [T], Error> {
    if p.is_null() {
        return Err(Error::NullArgument(name));
    }
    if len == 0 {
        return Err(Error::invalid(format!("{name}: length is 0")));
    }
    if len.checked_mul(std::mem::size_of::<T>()).is_none_or(|b| b > isize::MAX as usize) {
        return Err(Error::invalid(format!("{name}: length {len} is too large")));
    }
    Ok(std::slice::from_raw_parts(p, len))
}
/// A caller's output buffer that must hold `needed` elements, as a slice of exactly `needed`.
unsafe fn out_buf<'a, T>(p: *mut T, len: usize, needed: usize, name: &'static str) -> Result<&'a mut [T], Error> {
    if p.is_null() {
        return Err(Error::NullArgument(name));
    }
    if len < needed {
        return Err(Error::BufferTooSmall { needed, given: len });
    }
    Ok(std::slice::from_raw_parts_mut(p, needed))
}
unsafe fn cstr<'a>(p: *const c_char, name: &'static str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::NullArgument(name));
    }
    CStr::from_ptr(p).to_str().map_err(|_| Error::invalid(format!("{name} is not UTF-8")))
}

// ---------------------------------------------------------------------------------------------------------
// Version and errors

/// Combined version number: `MAJOR * 10000 + MINOR * 100 + PATCH` (equals `FK_VERSION`). Thread-safe.
#[no_mangle]
pub extern "C" fn fk_version() -> u32 {
    let p = |s: &str| s.parse::<u32>().unwrap_or(0);
    p(env!("CARGO_PKG_VERSION_MAJOR")) * 10000 + p(env!("CARGO_PKG_VERSION_MINOR")) * 100 + p(env!("CARGO_PKG_VERSION_PATCH"))
}

/// Version string, e.g. "0.1.0". Static storage: never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn fk_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// A static, human-readable name for a status code ("FK_ERR_NO_FACE: no face found"); unknown values give
/// "unknown status". Never NULL, never free it. Thread-safe.
#[no_mangle]
pub extern "C" fn fk_status_str(status: i32) -> *const c_char {
    let s: &str = match status {
        0 => "FK_OK: success\0",
        1 => "FK_ERR_NULL_ARGUMENT: a required pointer was NULL\0",
        2 => "FK_ERR_INVALID_ARGUMENT: an argument is out of range or unknown\0",
        3 => "FK_ERR_BUFFER_TOO_SMALL: an output buffer is too small\0",
        4 => "FK_ERR_INVALID_IMAGE: image descriptor is inconsistent\0",
        5 => "FK_ERR_MODEL_LOAD: a model could not be read\0",
        6 => "FK_ERR_MODEL_FORMAT: a model or manifest is malformed\0",
        7 => "FK_ERR_MODEL_CHECKSUM: a model file does not match its sha256\0",
        8 => "FK_ERR_NO_FACE: no face found\0",
        9 => "FK_ERR_IO: file could not be read or written\0",
        10 => "FK_ERR_CORRUPT: stored data is corrupt or truncated\0",
        11 => "FK_ERR_INCOMPATIBLE: data from another model or dimension\0",
        12 => "FK_ERR_NOT_FOUND: no such item\0",
        13 => "FK_ERR_UNSUPPORTED: not compiled into this build\0",
        14 => "FK_ERR_DECODE: image could not be decoded\0",
        15 => "FK_ERR_POOR_QUALITY: capture refused for its quality\0",
        16 => "FK_ERR_NOT_LIVE: not a live face: show your real face\0",
        98 => "FK_ERR_INTERNAL: internal error\0",
        99 => "FK_ERR_PANIC: a panic was caught at the boundary\0",
        _ => "unknown status\0",
    };
    s.as_ptr().cast()
}

/// The message of the last failed call on this thread ("" if none). Valid until the next failing `fk_` call
/// on the same thread; do not free it. Thread-safe (each thread has its own).
#[no_mangle]
pub extern "C" fn fk_last_error() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ptr())
}

// ---------------------------------------------------------------------------------------------------------
// Options

/// Engine options: created with defaults, changed by key/value, read once by `fk_engine_new_*`. Not
/// thread-safe (use one per thread or lock); an engine keeps its own copy.
pub struct fk_options {
    magic: u64,
    inner: Options,
}
const OPTIONS_MAGIC: u64 = 0x666b_6f70_7473_0001;

/// New options with the defaults. Free with `fk_options_free`. NULL only on a caught panic.
#[no_mangle]
pub extern "C" fn fk_options_new() -> *mut fk_options {
    boundary(std::ptr::null_mut(), || Box::into_raw(Box::new(fk_options { magic: OPTIONS_MAGIC, inner: Options::default() })))
}

/// Frees options. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn fk_options_free(options: *mut fk_options) {
    if !options.is_null() && (*options).magic == OPTIONS_MAGIC {
        (*options).magic = 0;
        drop(Box::from_raw(options));
    }
}

unsafe fn options_ref<'a>(p: *const fk_options) -> Result<&'a fk_options, Error> {
    let o = nn(p, "options")?;
    if o.magic != OPTIONS_MAGIC {
        return Err(Error::invalid("options: not an fk_options handle (freed or wrong pointer)"));
    }
    Ok(o)
}

/// Sets one option from text. Keys (values):
/// `mode` (fast|accurate: the accurate mode fuses MobileFaceNet and dlib ResNet with flip augmentation and
/// landmark refinement, several times the embedding cost; it sets `embedder`, `flip` and `refine_landmarks`,
/// so set it before those), `detector` (yunet_s|yunet_n), `embedder` (mobilefacenet|dlib_resnet|
/// mobilefacenet+dlib_resnet), `refine_landmarks` (0|1: detect each face again on its upscaled region before
/// embedding), `quality_model`, `load_quality` (0|1),
/// `detector_input_size` (32..2048, default 320), `score_threshold` (0..1, default 0.5), `nms_iou` (0..1),
/// `min_face_size` (pixels, default 0), `max_faces` (1..1024, default 64), `flip` (0|1),
/// `operating_point` (far_1e-2|far_1e-3|far_1e-4|far_1e-5|far_1e-6; for a gallery, the share of strangers it
/// may match: see `fk_engine_gallery_threshold`), `thresholds` (camera|resolution|single, default camera:
/// decisions on a face are taken at the threshold measured for its resolution, its inter-eye distance's band
/// in the manifest's table, raised for the camera against a gallery whose enrolled people score higher
/// against each other than the calibration's strangers (`fk_gallery_threshold`); resolution: the band only;
/// single: the one press-photo threshold per point), `load_liveness` (0|1, default 1),
/// `liveness_operating_point` (apcer_1e-2|apcer_5e-2, default apcer_5e-2), `quality_policy`
/// (enrolment|unlock|gate; replaces every policy field, so set it before the fields), `require_liveness` (0|1:
/// whether deciding calls refuse a capture that is not live; 1 in every preset), and `quality.<field>` for each
/// threshold of the policy (e.g. `quality.min_sharpness`).
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (unknown key or bad value; options unchanged).
#[no_mangle]
pub unsafe extern "C" fn fk_options_set(options: *mut fk_options, key: *const c_char, value: *const c_char) -> fk_status {
    guard(|| {
        options_ref(options)?;
        let (key, value) = (cstr(key, "key")?, cstr(value, "value")?);
        let o = &mut nn_mut(options, "options")?.inner;
        set_option(o, key, value)
    })
}

fn set_option(o: &mut Options, key: &str, value: &str) -> Result<(), Error> {
    let bad = || Error::invalid(format!("option {key}: bad value '{value}'"));
    let num = || value.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(bad);
    let flag = || match value.trim() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(bad()),
    };
    let mut n = o.clone();
    match key {
        "detector" => n.detector = Some(value.to_string()),
        "embedder" => n.embedder = Some(value.to_string()),
        "mode" => n.set_mode(Mode::parse(value).ok_or_else(bad)?),
        "refine_landmarks" => n.refine_landmarks = flag()?,
        "quality_model" => n.quality_model = Some(value.to_string()),
        "load_quality" => n.load_quality = flag()?,
        "load_liveness" => n.load_liveness = flag()?,
        "liveness_operating_point" => n.liveness_point = LivenessPoint::parse(value).ok_or_else(bad)?,
        "require_liveness" => n.quality.require_liveness = flag()?,
        "flip" => n.flip = flag()?,
        "detector_input_size" => {
            let v = num()?;
            if !(32.0..=crate::detect::MAX_INPUT_SIZE as f64).contains(&v) {
                return Err(bad());
            }
            n.detect.input_size = v as u32;
        }
        "score_threshold" | "nms_iou" => {
            let v = num()?;
            if !(0.0..=1.0).contains(&v) {
                return Err(bad());
            }
            if key == "nms_iou" { n.detect.nms_iou = v as f32 } else { n.detect.score_threshold = v as f32 }
        }
        "min_face_size" => n.detect.min_face_size = num().ok().filter(|v| *v >= 0.0).ok_or_else(bad)? as f32,
        "max_faces" => n.detect.max_faces = num().ok().filter(|v| (1.0..=1024.0).contains(v)).ok_or_else(bad)? as usize,
        "operating_point" => n.operating_point = OperatingPoint::parse(value).ok_or_else(bad)?,
        "thresholds" => n.thresholds = crate::engine::ThresholdRule::parse(value.trim()).ok_or_else(bad)?,
        "quality_policy" => n.quality = QualityPolicy::preset(value).ok_or_else(bad)?,
        k if k.starts_with("quality.") => {
            let v = num()? as f32;
            let q = &mut n.quality;
            let field = match &k[8..] {
                "min_brightness" => &mut q.min_brightness,
                "max_brightness" => &mut q.max_brightness,
                "max_bad_exposure" => &mut q.max_bad_exposure,
                "min_sharpness" => &mut q.min_sharpness,
                "min_contrast" => &mut q.min_contrast,
                "max_yaw" => &mut q.max_yaw,
                "max_pitch" => &mut q.max_pitch,
                "max_roll" => &mut q.max_roll,
                "min_eye_distance" => &mut q.min_eye_distance,
                "min_confidence" => &mut q.min_confidence,
                "min_learned" => &mut q.min_learned,
                "min_overall" => &mut q.min_overall,
                "max_occluded_regions" => &mut q.max_occluded_regions,
                "max_blockiness" => &mut q.max_blockiness,
                _ => return Err(Error::invalid(format!("unknown option '{key}'"))),
            };
            *field = v;
            n.quality.validate()?;
        }
        _ => return Err(Error::invalid(format!("unknown option '{key}'"))),
    }
    *o = n;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Engine

/// A loaded face pipeline. Immutable: **one engine may be used from any number of threads at once**; calls
/// do not block each other. Free with `fk_engine_free` once no thread uses it.
pub struct fk_engine {
    magic: u64,
    inner: Engine,
}
const ENGINE_MAGIC: u64 = 0x666b_656e_6769_0001;

unsafe fn engine_ref<'a>(p: *const fk_engine) -> Result<&'a Engine, Error> {
    let e = nn(p, "engine")?;
    if e.magic != ENGINE_MAGIC {
        return Err(Error::invalid("engine: not an fk_engine handle (freed or wrong pointer)"));
    }
    Ok(&e.inner)
}

unsafe fn opts_or_default(options: *const fk_options) -> Result<Options, Error> {
    if options.is_null() { Ok(Options::default()) } else { Ok(options_ref(options)?.inner.clone()) }
}

unsafe fn put_engine(out: *mut *mut fk_engine, e: Engine) {
    *out = Box::into_raw(Box::new(fk_engine { magic: ENGINE_MAGIC, inner: e }));
}

/// Loads an engine from a model directory (its manifest.json, else the built-in manifest). `options` may be
/// NULL for defaults. On FK_OK `*out` owns a new engine (free with `fk_engine_free`); otherwise `*out` is
/// untouched. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT, FK_ERR_MODEL_LOAD,
/// FK_ERR_MODEL_FORMAT, FK_ERR_MODEL_CHECKSUM, FK_ERR_IO, FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_new_from_dir(dir: *const c_char, options: *const fk_options, out: *mut *mut fk_engine) -> fk_status {
    guard(|| {
        nn(out, "out")?;
        let e = Engine::from_dir(cstr(dir, "dir")?, opts_or_default(options)?)?;
        put_engine(out, e);
        Ok(())
    })
}

/// Loads an engine from a model pack in memory (`facekit pack` makes one). The bytes are copied; the caller
/// keeps ownership of `data`. Same statuses as `fk_engine_new_from_dir`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_new_from_memory(data: *const u8, len: usize, options: *const fk_options, out: *mut *mut fk_engine) -> fk_status {
    guard(|| {
        nn(out, "out")?;
        let e = Engine::from_pack_bytes(slice(data, len, "data")?, opts_or_default(options)?)?;
        put_engine(out, e);
        Ok(())
    })
}

/// Loads the model pack compiled into the library (cargo feature `bundled`); FK_ERR_UNSUPPORTED otherwise.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_new_bundled(options: *const fk_options, out: *mut *mut fk_engine) -> fk_status {
    guard(|| {
        nn(out, "out")?;
        #[cfg(feature = "bundled")]
        {
            let e = Engine::bundled(opts_or_default(options)?)?;
            put_engine(out, e);
            Ok(())
        }
        #[cfg(not(feature = "bundled"))]
        {
            let _ = opts_or_default(options)?;
            Err(Error::Unsupported("this build has no bundled model pack (cargo feature `bundled`)".into()))
        }
    })
}

/// Frees an engine. NULL is a no-op. No other thread may be using it.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_free(engine: *mut fk_engine) {
    boundary((), || {
        if !engine.is_null() && (*engine).magic == ENGINE_MAGIC {
            (*engine).magic = 0;
            drop(Box::from_raw(engine));
        }
    });
}

/// Embedding dimension of the engine's embedder (128 for the default), 0 if `engine` is invalid.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_embedding_dim(engine: *const fk_engine) -> usize {
    boundary(0, || engine_ref(engine).map(|e| e.dim()).unwrap_or(0))
}

/// Size of the aligned crop `fk_align` writes (112×112 for the default embedder). Writes both outputs on
/// FK_OK only. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_crop_size(engine: *const fk_engine, width: *mut u32, height: *mut u32) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let (w, h) = (nn_mut(width, "width")?, nn_mut(height, "height")?);
        let t = e.embedder().template();
        (*w, *h) = (t.width, t.height);
        Ok(())
    })
}

/// The engine's operating point (an `fk_operating_point` value), 0 if `engine` is invalid. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_operating_point(engine: *const fk_engine) -> i32 {
    boundary(0, || engine_ref(engine).map(|e| e.options().operating_point as i32).unwrap_or(0))
}

/// The calibrated cosine threshold of an operating point (`fk_operating_point` value) for this engine's
/// embedder and flip setting. Written on FK_OK only. Returns FK_OK, FK_ERR_NULL_ARGUMENT,
/// FK_ERR_INVALID_ARGUMENT (unknown point, or not calibrated in the manifest). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_threshold(engine: *const fk_engine, operating_point: i32, out: *mut f32) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let op = operating_point_arg(operating_point)?;
        let o = nn_mut(out, "out")?;
        *o = e.threshold(op)?;
        Ok(())
    })
}

/// An `fk_operating_point` value from C, or the error naming it.
fn operating_point_arg(v: i32) -> crate::error::Result<OperatingPoint> {
    OperatingPoint::from_i32(v).ok_or_else(|| Error::invalid(format!("unknown operating point {v}")))
}

/// The threshold for deciding against a gallery of `templates` templates (`fk_gallery_search`'s `threshold`)
/// so that about the share of strangers `operating_point` names (an `fk_operating_point` value: its FAR, read
/// as a false-positive identification rate) match someone: the per-comparison FAR is that rate divided by
/// `templates`, and its threshold is interpolated on log FAR between the calibrated points (1e-2 … 1e-6). A
/// gallery so large that this falls below 1e-6 gets the 1e-6 threshold (strangers then match more often than
/// the target). Written on FK_OK only. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (unknown
/// point, embedder not calibrated). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_gallery_threshold(engine: *const fk_engine, operating_point: i32, templates: usize, out: *mut f32) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let op = operating_point_arg(operating_point)?;
        let o = nn_mut(out, "out")?;
        *o = e.gallery_threshold(op.far(), templates)?.threshold;
        Ok(())
    })
}

/// `fk_engine_threshold` for a face whose eyes are `eye_distance` pixels apart (`fk_face` landmarks 0 and 1;
/// for two faces, the smaller distance): the threshold measured at that resolution (the manifest's
/// per-resolution table; small, blurred webcam faces look more alike, so they are decided higher). Under the
/// option `thresholds=single`, or without a table, the same as `fk_engine_threshold`. Written on FK_OK only.
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (unknown point, not calibrated, distance not
/// finite or negative). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_threshold_for_face(engine: *const fk_engine, operating_point: i32, eye_distance: f32, out: *mut f32) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let op = operating_point_arg(operating_point)?;
        let eye = eye_distance_arg(eye_distance)?;
        let o = nn_mut(out, "out")?;
        *o = e.threshold_for(op, Some(eye))?;
        Ok(())
    })
}

/// `fk_engine_gallery_threshold` for a probe face whose eyes are `eye_distance` pixels apart: the size rule on
/// the operating points of that resolution's band (see `fk_engine_threshold_for_face`). Written on FK_OK only.
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_engine_gallery_threshold_for_face(
    engine: *const fk_engine,
    operating_point: i32,
    templates: usize,
    eye_distance: f32,
    out: *mut f32,
) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let op = operating_point_arg(operating_point)?;
        let eye = eye_distance_arg(eye_distance)?;
        let o = nn_mut(out, "out")?;
        *o = e.gallery_threshold_for(op.far(), templates, Some(eye))?.threshold;
        Ok(())
    })
}

fn eye_distance_arg(v: f32) -> crate::error::Result<f32> {
    if v.is_finite() && v >= 0.0 { Ok(v) } else { Err(Error::invalid(format!("eye distance {v} is not a finite, non-negative number of pixels"))) }
}

// ---------------------------------------------------------------------------------------------------------
// Images, faces, pipeline

/// A caller's frame. `data` holds at least the bytes the layout needs (see `fk_format`); `stride` is the
/// byte distance between rows (luma rows for YUV). `format` is an `fk_format` value, `rotation` the clockwise
/// degrees (0, 90, 180, 270) that make the frame upright. facekit never keeps the pointers after a call.
///
/// `FK_FORMAT_YUV420` frames come as the camera delivers them, without a copy: `data`/`len`/`stride` are the
/// Y plane and `u`, `v` the chroma planes (`u_len`, `v_len` bytes), ceil(height/2) rows `uv_stride` bytes
/// apart, samples `uv_pixel_stride` bytes apart. Android `YUV_420_888`: the three `Image.Plane` buffers with
/// their row and pixel strides. iOS bi-planar `CVPixelBuffer`: plane 0 is Y; plane 1 is CbCr, so `u` is its
/// base, `v` its base + 1, pixel stride 2. For every other format leave the chroma fields zero.
#[repr(C)]
pub struct fk_image {
    pub data: *const u8,
    pub len: usize,
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub format: i32,
    pub rotation: i32,
    pub u: *const u8,
    pub u_len: usize,
    pub v: *const u8,
    pub v_len: usize,
    pub uv_stride: usize,
    pub uv_pixel_stride: usize,
}

/// Pixel formats for `fk_image.format` (values of `PixelFormat`).
#[repr(C)]
pub enum fk_format {
    FK_FORMAT_RGB8 = 1,
    FK_FORMAT_BGR8 = 2,
    FK_FORMAT_RGBA8 = 3,
    FK_FORMAT_BGRA8 = 4,
    FK_FORMAT_GRAY8 = 5,
    /// Android camera: Y plane then interleaved V/U, both `stride` bytes per row.
    FK_FORMAT_NV21 = 6,
    FK_FORMAT_NV12 = 7,
    /// Y plane, then U, then V planes with stride ceil(stride/2).
    FK_FORMAT_I420 = 8,
    /// Three separately addressed 4:2:0 planes (`fk_image.u`, `.v`, `.uv_stride`, `.uv_pixel_stride`).
    FK_FORMAT_YUV420 = 9,
}

/// Operating points for decisions (`fk_match.operating_point`): the false-accept rate is 10^-value.
#[repr(C)]
pub enum fk_operating_point {
    FK_OP_FAR_1E2 = 2,
    FK_OP_FAR_1E3 = 3,
    FK_OP_FAR_1E4 = 4,
    FK_OP_FAR_1E5 = 5,
    FK_OP_FAR_1E6 = 6,
}


/// Result of a comparison.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fk_match {
    /// Cosine similarity in [-1, 1]: not a probability; compare it with `threshold`.
    pub similarity: f32,
    /// Calibrated threshold of `operating_point` (from the model manifest).
    pub threshold: f32,
    /// 1 if similarity >= threshold.
    pub is_match: i32,
    /// An `fk_operating_point` value.
    pub operating_point: i32,
}

/// Decodes a JPEG or PNG file into an RGB8 `fk_image` (upright, stride = width·3) whose pixels facekit owns:
/// release them with `fk_image_release`. A convenience for tools, tests and examples; camera frames need no
/// decoding. On failure `*out` is untouched. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT,
/// FK_ERR_IO, FK_ERR_DECODE, FK_ERR_INVALID_IMAGE (too large), FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_image_load(path: *const c_char, out: *mut fk_image) -> fk_status {
    guard(|| {
        let p = cstr(path, "path")?;
        let o = nn_mut(out, "out")?;
        let img = Image::open(p)?;
        let (w, h) = (img.width(), img.height());
        let pixels: Box<[u8]> = img.into_pixels().into_boxed_slice();
        let len = pixels.len();
        *o = fk_image { data: Box::into_raw(pixels) as *const u8, len, width: w, height: h, stride: w as usize * 3, format: 1, ..EMPTY_IMAGE };
        Ok(())
    })
}

/// Frees the pixels of an image made by `fk_image_load` and zeroes the descriptor. NULL, or an image whose
/// `data` is NULL, is a no-op. Never call it on an image whose pixels you own.
#[no_mangle]
pub unsafe extern "C" fn fk_image_release(image: *mut fk_image) {
    boundary((), || {
        if let Some(i) = image.as_mut() {
            if !i.data.is_null() && i.len > 0 {
                drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(i.data as *mut u8, i.len)));
            }
            *i = EMPTY_IMAGE;
        }
    })
}

const EMPTY_IMAGE: fk_image = fk_image {
    data: std::ptr::null(),
    len: 0,
    width: 0,
    height: 0,
    stride: 0,
    format: 0,
    rotation: 0,
    u: std::ptr::null(),
    u_len: 0,
    v: std::ptr::null(),
    v_len: 0,
    uv_stride: 0,
    uv_pixel_stride: 0,
};

unsafe fn image_from(img: *const fk_image) -> Result<Image, Error> {
    let d = nn(img, "image")?;
    let data = slice(d.data, d.len, "image.data")?;
    let format = PixelFormat::from_i32(d.format).ok_or_else(|| Error::invalid(format!("unknown pixel format {}", d.format)))?;
    let rotation = Rotation::from_degrees(d.rotation).ok_or_else(|| Error::invalid(format!("rotation {} is not 0/90/180/270", d.rotation)))?;
    let view = if format == PixelFormat::Yuv420 {
        let (u, v) = (slice(d.u, d.u_len, "image.u")?, slice(d.v, d.v_len, "image.v")?);
        ImageView::planar(data, d.stride, u, v, d.uv_stride, d.uv_pixel_stride, d.width, d.height, rotation)?
    } else {
        ImageView::new(data, d.width, d.height, d.stride, format, rotation)?
    };
    Ok(view.to_image())
}

fn check_face(f: &Face) -> Result<(), Error> {
    let finite = [f.x, f.y, f.width, f.height, f.score].iter().chain(f.landmarks.iter().flatten()).all(|v| v.is_finite());
    if !finite {
        return Err(Error::invalid("face has non-finite coordinates"));
    }
    Ok(())
}

/// Detects faces, best score first. `*count` receives the number of faces found (0 when the image has no
/// face: FK_OK, not an error) and the first `min(*count, capacity)` of them are written to `faces`; `faces`
/// may be NULL only if `capacity` is 0 (to ask for the count). The engine's `max_faces` option bounds the
/// count. Outputs are written on FK_OK only.
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT, FK_ERR_INVALID_IMAGE, FK_ERR_INTERNAL,
/// FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_detect(engine: *const fk_engine, image: *const fk_image, faces: *mut Face, capacity: usize, count: *mut usize) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        nn(count, "count")?;
        if faces.is_null() && capacity > 0 {
            return Err(Error::NullArgument("faces"));
        }
        let found = e.detect(&image_from(image)?)?;
        for (i, f) in found.iter().take(capacity).enumerate() {
            *faces.add(i) = *f;
        }
        *count = found.len();
        Ok(())
    })
}

/// Writes the aligned RGB8 crop of `face` (row-major, no padding; `fk_engine_crop_size` gives its size) to
/// `out`, which must hold `width·height·3` bytes (else FK_ERR_BUFFER_TOO_SMALL, nothing written).
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT, FK_ERR_INVALID_IMAGE, FK_ERR_BUFFER_TOO_SMALL.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_align(engine: *const fk_engine, image: *const fk_image, face: *const Face, out: *mut u8, out_len: usize) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let f = nn(face, "face")?;
        check_face(f)?;
        let t = e.embedder().template();
        let out = out_buf(out, out_len, t.width as usize * t.height as usize * 3, "out")?;
        out.copy_from_slice(e.align(&image_from(image)?, f)?.pixels());
        Ok(())
    })
}

/// Aligns and embeds `face` (with flip augmentation if the options say so) into `out`, which must hold
/// `fk_engine_embedding_dim()` floats (else FK_ERR_BUFFER_TOO_SMALL). The vector has unit length.
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT, FK_ERR_INVALID_IMAGE, FK_ERR_BUFFER_TOO_SMALL,
/// FK_ERR_INTERNAL, FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_embed(engine: *const fk_engine, image: *const fk_image, face: *const Face, out: *mut f32, out_len: usize) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let f = nn(face, "face")?;
        check_face(f)?;
        let out = out_buf(out, out_len, e.dim(), "out")?;
        out.copy_from_slice(e.embed(&image_from(image)?, f)?.as_slice());
        Ok(())
    })
}

fn to_c_match(m: crate::compare::Match) -> fk_match {
    fk_match { similarity: m.similarity, threshold: m.threshold, is_match: m.is_match as i32, operating_point: m.operating_point as i32 }
}

/// Compares two embeddings of `len` floats (`len` must equal the engine's dimension) at the engine's
/// operating point. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (wrong length, zero or
/// non-finite vector, uncalibrated model). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_compare(engine: *const fk_engine, a: *const f32, b: *const f32, len: usize, out: *mut fk_match) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let (a, b) = (slice(a, len, "a")?, slice(b, len, "b")?);
        let o = nn_mut(out, "out")?;
        *o = to_c_match(e.compare_at(a, b, e.options().operating_point)?);
        Ok(())
    })
}

/// 1:1 verification: the largest face of each image, each checked under the engine's quality policy
/// (quality, then liveness if the policy requires it), compared at the engine's operating point. A refused
/// capture is FK_ERR_POOR_QUALITY or FK_ERR_NOT_LIVE ("show your real face"; `fk_last_error()` says which
/// image), never a non-match. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT,
/// FK_ERR_INVALID_IMAGE, FK_ERR_NO_FACE, FK_ERR_POOR_QUALITY, FK_ERR_NOT_LIVE, FK_ERR_UNSUPPORTED (the policy
/// requires liveness and the engine has no liveness models), FK_ERR_INTERNAL, FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_verify(engine: *const fk_engine, a: *const fk_image, b: *const fk_image, out: *mut fk_match) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        nn(out, "out")?;
        let (ia, ib) = (image_from(a)?, image_from(b)?);
        let m = e.verify(&ia, &ib)?;
        *out = to_c_match(m);
        Ok(())
    })
}

/// Quality reason bits (`fk_quality_report.reasons`).
#[repr(C)]
pub enum fk_quality_reason {
    FK_Q_TOO_DARK = 1,
    FK_Q_TOO_BRIGHT = 2,
    FK_Q_BLURRY = 4,
    FK_Q_LOW_CONTRAST = 8,
    FK_Q_POSE = 16,
    FK_Q_TOO_SMALL = 32,
    FK_Q_LOW_CONFIDENCE = 64,
    FK_Q_LOW_LEARNED_QUALITY = 128,
    FK_Q_LOW_OVERALL = 256,
    FK_Q_OCCLUDED = 512,
    FK_Q_COMPRESSED = 1024,
}


/// Scores the capture quality of `face` under the engine's quality policy. `out_size` must be
/// `sizeof(fk_quality_report)` as the caller's header defines it: a header/library mismatch (the report grew)
/// is FK_ERR_BUFFER_TOO_SMALL instead of a write past the caller's struct. Quality is not liveness: it does
/// not detect photos or screens. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT,
/// FK_ERR_BUFFER_TOO_SMALL, FK_ERR_INVALID_IMAGE, FK_ERR_INTERNAL, FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_quality(engine: *const fk_engine, image: *const fk_image, face: *const Face, out: *mut QualityReport, out_size: usize) -> fk_status {
    face_report(engine, image, face, out, out_size, |e, img, f| e.quality(img, f))
}

/// The body of the per-face report functions: checks the arguments, then writes the report to `out` (which
/// the caller sized `out_size` bytes, its header's `sizeof`: a smaller struct is FK_ERR_BUFFER_TOO_SMALL
/// instead of a write past it) on success only.
unsafe fn face_report<T>(
    engine: *const fk_engine,
    image: *const fk_image,
    face: *const Face,
    out: *mut T,
    out_size: usize,
    report: impl FnOnce(&Engine, &Image, &Face) -> Result<T, Error>,
) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let f = nn(face, "face")?;
        check_face(f)?;
        nn(out, "out")?;
        let needed = std::mem::size_of::<T>();
        if out_size < needed {
            return Err(Error::BufferTooSmall { needed, given: out_size });
        }
        let r = report(e, &image_from(image)?, f)?;
        *out = r;
        Ok(())
    })
}

/// Liveness of `face`: whether it is a live person or a print, a photo or a video on a screen, at the engine's
/// liveness operating point (option `liveness_operating_point`). `out_size` must be
/// `sizeof(fk_liveness_report)` as the caller's header defines it (smaller: FK_ERR_BUFFER_TOO_SMALL, nothing
/// written). A face too small or too near the border for a trustworthy crop is FK_OK with `status`
/// FK_LIVENESS_STATUS_FACE_TOO_SMALL / FK_LIVENESS_STATUS_FACE_AT_BORDER, `is_live` false and NaN scores: ask
/// the user to come closer or centre the face. One frame is one piece of evidence: on a live camera, average
/// over several frames of a track. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (non-finite
/// face, no calibrated threshold in the manifest), FK_ERR_BUFFER_TOO_SMALL, FK_ERR_INVALID_IMAGE,
/// FK_ERR_UNSUPPORTED (no liveness models: the manifest has none or `load_liveness` is 0), FK_ERR_INTERNAL,
/// FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_liveness(engine: *const fk_engine, image: *const fk_image, face: *const Face, out: *mut LivenessReport, out_size: usize) -> fk_status {
    face_report(engine, image, face, out, out_size, |e, img, f| e.liveness(img, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_setter_validates() {
        let mut o = Options::default();
        assert!(set_option(&mut o, "detector_input_size", "640").is_ok());
        assert_eq!(o.detect.input_size, 640);
        assert!(set_option(&mut o, "require_liveness", "0").is_ok() && !o.quality.require_liveness);
        assert!(set_option(&mut o, "liveness_operating_point", "apcer_1e-2").is_ok());
        assert_eq!(o.liveness_point, LivenessPoint::Apcer1e2);
        assert!(set_option(&mut o, "mode", "accurate").is_ok() && o.mode == Mode::Accurate && o.flip && o.refine_landmarks);
        assert!(set_option(&mut o, "mode", "fast").is_ok() && o.mode == Mode::Fast && !o.flip && !o.refine_landmarks);
        assert!(set_option(&mut o, "operating_point", "far_1e-6").is_ok());
        assert_eq!(o.operating_point, OperatingPoint::Far1e6);
        for (k, v) in [("detector_input_size", "5"), ("flip", "maybe"), ("nope", "1"), ("score_threshold", "nan"), ("quality.min_brightness", "inf"), ("quality.nope", "1"), ("require_liveness", "2"), ("liveness_operating_point", "apcer_1e-3"), ("load_liveness", ""), ("mode", "slow"), ("refine_landmarks", "2"), ("operating_point", "far_1e-7")] {
            let before = o.clone();
            assert!(set_option(&mut o, k, v).is_err(), "{k}={v}");
            assert_eq!(o, before, "options unchanged after a bad {k}");
        }
    }

    #[test]
    fn panics_become_a_status() {
        assert_eq!(guard(|| panic!("boom")), FK_ERR_PANIC);
        let msg = unsafe { CStr::from_ptr(fk_last_error()) }.to_str().unwrap().to_string();
        assert!(msg.contains("boom"), "{msg}");
    }
}

#[cfg(test)]
mod header_tests {
    #[test]
    fn committed_header_matches_a_fresh_generation() {
        let fresh = include_str!(concat!(env!("OUT_DIR"), "/facekit.h"));
        let committed = include_str!("../../include/facekit.h");
        assert!(fresh == committed, "include/facekit.h is stale: regenerate with `FACEKIT_UPDATE_HEADER=1 cargo build`");
    }
}
