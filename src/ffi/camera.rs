//! C ABI of the on-device camera calibration (`facekit calibrate camera` on a device's own frames). Same rules
//! as the rest of `ffi`: NULL checks, magic tags, panic boundary, outputs written only on success.

use super::*;
use crate::camera::{manifest_with_camera, CameraCalibrator};
use crate::pack::CameraCalibration;

/// Measures the installed camera from its unlabelled footage, frame by frame: faces in view at the same time
/// are different people, so their scores against each other are what the camera's strangers score (see
/// `fk_camera_calibrator_finish`). **Not thread-safe**: one thread at a time; many calibrators (and trackers)
/// may share one engine. The engine must outlive the calibrator. Free with `fk_camera_calibrator_free`.
pub struct fk_camera_calibrator {
    magic: u64,
    inner: CameraCalibrator<'static>,
}
const CALIBRATOR_MAGIC: u64 = 0x666b_6361_6d63_0001;

/// What `fk_camera_calibrator_finish` measured (the manifest's camera section). Pass `sizeof(fk_camera_report)`
/// as `report_size`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fk_camera_report {
    /// Frames taken, over every stream, and the seconds they make at the frame rate given.
    pub frames: u64,
    pub seconds: f64,
    /// Tracks with at least one good capture.
    pub tracks: u64,
    /// Pairs of those tracks in view together (at least 10), and their scores' mean, standard deviation and
    /// maximum (each pair's score: the mean cosine over the two tracks' captures).
    pub impostor_pairs: u64,
    pub impostor_mean: f32,
    pub impostor_std: f32,
    pub impostor_max: f32,
    /// Median inter-eye distance of the captures, in pixels.
    pub median_eye_px: f32,
    /// Tracks with a liveness score; the median of their (per-track median) scores and its 10th percentile,
    /// NaN when no track has one. Reported, not used for decisions.
    pub live_tracks: u64,
    pub live_median: f32,
    pub live_p10: f32,
}

fn to_c_report(c: &CameraCalibration) -> fk_camera_report {
    fk_camera_report {
        frames: c.frames,
        seconds: c.seconds,
        tracks: c.tracks as u64,
        impostor_pairs: c.impostor_pairs as u64,
        impostor_mean: c.impostor_mean,
        impostor_std: c.impostor_std,
        impostor_max: c.impostor_max,
        median_eye_px: c.median_eye_px,
        live_tracks: c.live_tracks as u64,
        live_median: c.live_median.unwrap_or(f32::NAN),
        live_p10: c.live_p10.unwrap_or(f32::NAN),
    }
}

unsafe fn calibrator_mut<'a>(p: *mut fk_camera_calibrator) -> Result<&'a mut fk_camera_calibrator, Error> {
    let c = nn_mut(p, "calibrator")?;
    if c.magic != CALIBRATOR_MAGIC {
        return Err(Error::invalid("calibrator: not an fk_camera_calibrator handle (freed or wrong pointer)"));
    }
    Ok(c)
}

/// A camera calibrator on `engine`'s pipeline (detector, embedder, quality policy, liveness models), with the
/// tracker's default settings. The engine must outlive the calibrator. On FK_OK `*out` owns it (free with
/// `fk_camera_calibrator_free`); otherwise `*out` is untouched. Returns FK_OK, FK_ERR_NULL_ARGUMENT,
/// FK_ERR_INVALID_ARGUMENT, FK_ERR_PANIC. Thread-safe (the new calibrator itself is not).
#[no_mangle]
pub unsafe extern "C" fn fk_camera_calibrator_new(engine: *const fk_engine, out: *mut *mut fk_camera_calibrator) -> fk_status {
    guard(|| {
        // The caller keeps the engine alive for the calibrator's life (documented above).
        let e: &'static Engine = &*(engine_ref(engine)? as *const Engine);
        let o = nn_mut(out, "out")?;
        let inner = CameraCalibrator::new(e)?;
        *o = Box::into_raw(Box::new(fk_camera_calibrator { magic: CALIBRATOR_MAGIC, inner }));
        Ok(())
    })
}

/// Frees a calibrator. NULL is a no-op. Undefined after free: any further use of the handle.
#[no_mangle]
pub unsafe extern "C" fn fk_camera_calibrator_free(calibrator: *mut fk_camera_calibrator) {
    boundary((), || {
        if !calibrator.is_null() && (*calibrator).magic == CALIBRATOR_MAGIC {
            (*calibrator).magic = 0;
            drop(Box::from_raw(calibrator));
        }
    });
}

/// Takes the next frame of the current stream (any `fk_format`, as `fk_tracker_update` takes it). A frame of
/// another size than the previous one starts afresh, as a new stream does. On an error the frame is not
/// counted and the evidence so far is kept. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT,
/// FK_ERR_INVALID_IMAGE, FK_ERR_INTERNAL, FK_ERR_PANIC. Not thread-safe (one thread per calibrator).
#[no_mangle]
pub unsafe extern "C" fn fk_camera_calibrator_add_frame(calibrator: *mut fk_camera_calibrator, frame: *const fk_image) -> fk_status {
    guard(|| {
        let c = calibrator_mut(calibrator)?;
        c.inner.add_frame(&image_from(frame)?)
    })
}

/// Ends the current stream: the next frame starts a new one (another clip, the camera restarted); no track
/// continues across it. The evidence gathered stays. Returns FK_OK, FK_ERR_NULL_ARGUMENT,
/// FK_ERR_INVALID_ARGUMENT, FK_ERR_PANIC.
#[no_mangle]
pub unsafe extern "C" fn fk_camera_calibrator_new_stream(calibrator: *mut fk_camera_calibrator) -> fk_status {
    guard(|| calibrator_mut(calibrator)?.inner.new_stream())
}

/// Frames taken so far over every stream; 0 for an invalid handle. Not thread-safe (one thread per
/// calibrator).
#[no_mangle]
pub unsafe extern "C" fn fk_camera_calibrator_frames(calibrator: *const fk_camera_calibrator) -> u64 {
    boundary(0, || match nn(calibrator, "calibrator") {
        Ok(c) if c.magic == CALIBRATOR_MAGIC => c.inner.frames(),
        _ => 0,
    })
}

/// Measures the camera on the frames so far and, when `manifest_out` is not NULL, writes the engine's own
/// manifest (the one it was loaded with) with this camera section for the engine's embedder and flip setting
/// to `manifest_out`, atomically (a temporary file beside it, then a rename: readers see the old file or the
/// new one). Load an engine from the model directory holding it (`fk_engine_new_from_dir`) and its
/// thresholds against galleries adapt to the camera (option `thresholds=camera`, the default). `fps` is the
/// footage's frame rate (finite, > 0; for the seconds reported), `source` describes the footage (recorded in
/// the manifest). `report` may be NULL; otherwise `report_size` must be `sizeof(fk_camera_report)` as the
/// caller's header defines it (smaller: FK_ERR_BUFFER_TOO_SMALL). The calibrator keeps its evidence, so more
/// frames may follow a refusal and `finish` may be called again. Nothing is written (neither file nor report)
/// unless FK_OK.
///
/// Returns FK_OK; FK_ERR_NO_FACE (no face good enough to embed was seen); FK_ERR_INVALID_ARGUMENT (fewer than
/// 10 pairs of faces in view together: `fk_last_error()` says how many there are and about how many more are
/// needed, i.e. record more footage with several people in view at once; or a bad `fps`, or the manifest has
/// no calibration for the engine's embedder and flip setting); FK_ERR_NULL_ARGUMENT; FK_ERR_BUFFER_TOO_SMALL;
/// FK_ERR_IO (`manifest_out` could not be written; it is unchanged); FK_ERR_PANIC. Not thread-safe (one
/// thread per calibrator).
#[no_mangle]
pub unsafe extern "C" fn fk_camera_calibrator_finish(
    calibrator: *mut fk_camera_calibrator,
    fps: f64,
    source: *const c_char,
    manifest_out: *const c_char,
    report: *mut fk_camera_report,
    report_size: usize,
) -> fk_status {
    guard(|| {
        let c = calibrator_mut(calibrator)?;
        let source = cstr(source, "source")?;
        let out = if manifest_out.is_null() { None } else { Some(cstr(manifest_out, "manifest_out")?) };
        let needed = std::mem::size_of::<fk_camera_report>();
        if !report.is_null() && report_size < needed {
            return Err(Error::BufferTooSmall { needed, given: report_size });
        }
        let cal = c.inner.finish(fps, source)?;
        let r = to_c_report(&cal);
        if let Some(path) = out {
            manifest_with_camera(c.inner.engine(), cal)?.save(path)?;
        }
        if !report.is_null() {
            *report = r;
        }
        Ok(())
    })
}
