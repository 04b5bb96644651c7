//! `facekit calibrate camera` on whole clips: a thin wrapper over [`crate::camera::CameraCalibrator`], which
//! takes the frames one at a time (and is in every build, the device's too).

use crate::camera::CameraCalibrator;
pub use crate::camera::MIN_PAIRS;
use crate::engine::Engine;
use crate::error::Result;
use crate::image::Image;
use crate::pack::CameraCalibration;

/// Measures a camera from clips of its footage (each a sequence of frames; a new clip starts a new stream).
/// `source` describes the footage for the manifest. Refuses (writing nothing) when the footage has no face,
/// or fewer than [`MIN_PAIRS`] pairs of faces in view together, saying how much more it needs
/// ([`CameraCalibrator::finish`]).
pub fn calibrate(engine: &Engine, clips: impl IntoIterator<Item = Vec<Image>>, fps: f64, source: &str) -> Result<CameraCalibration> {
    let mut c = CameraCalibrator::new(engine)?;
    for (i, clip) in clips.into_iter().enumerate() {
        if i > 0 {
            c.new_stream()?;
        }
        for f in &clip {
            c.add_frame(f)?;
        }
    }
    c.finish(fps, source)
}
