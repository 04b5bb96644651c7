//! Adapting to the installed camera from its unlabelled footage, on the device: what the camera's strangers
//! score against each other, from faces that are in view **at the same time** (always different people), and
//! what its live faces score for liveness. The result is the manifest's camera section ([`CameraCalibration`]);
//! the engine adds its impostor scores to a gallery's own when it adapts thresholds to the camera
//! ([`crate::Engine::camera_threshold`]).
//!
//! [`CameraCalibrator`] takes the frames one at a time, as a camera delivers them (a door gate measures its
//! own camera), and [`manifest_with_camera`] + [`Manifest::save`] apply the result. `facekit calibrate camera`
//! and the C API (`fk_camera_calibrator_*`) are built on them.
//!
//! ```no_run
//! use facekit::camera::{manifest_with_camera, CameraCalibrator};
//! # fn frames() -> Vec<facekit::Image> { vec![] }
//! let engine = facekit::Engine::from_dir("models", facekit::Options::default())?;
//! let mut cal = CameraCalibrator::new(&engine)?;
//! for frame in frames() {
//!     cal.add_frame(&frame)?;
//! }
//! let measured = cal.finish(30.0, "door camera, first week")?; // refused (nothing written) on thin footage
//! manifest_with_camera(&engine, measured)?.save("models/manifest.json")?;
//! # Ok::<(), facekit::Error>(())
//! ```

use crate::compare::cosine;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::pack::{CameraCalibration, Manifest};
use crate::track::{Reference, Tracker, TrackerOptions};
use std::collections::{BTreeMap, BTreeSet};

/// Fewest pairs of co-occurring faces a camera calibration is written from.
pub const MIN_PAIRS: usize = 10;

/// What one track left behind: its captures' embeddings, liveness scores, inter-eye distances and the frames
/// it was seen in.
#[derive(Default)]
struct TrackEvidence {
    embeddings: Vec<Vec<f32>>,
    liveness: Vec<f32>,
    eyes: Vec<f32>,
    frames: BTreeSet<u64>,
}

/// Measures a camera from its footage, one frame at a time: a tracker follows the faces, keeps each track's
/// good captures, and notes which tracks were in view together. Frames of one stream (a clip, or a camera's
/// live feed) go through [`add_frame`](Self::add_frame); [`new_stream`](Self::new_stream) starts another (no
/// track continues across it). [`finish`](Self::finish) measures what has been seen so far; it may be called
/// again after more frames. Memory grows with the footage: about half a kilobyte per good capture.
///
/// Borrows the engine like a [`Tracker`] does; not for sharing between threads (one stream, one thread).
pub struct CameraCalibrator<'e> {
    engine: &'e Engine,
    tracker: Tracker<'e>,
    /// The current stream's tracks, by id.
    live: BTreeMap<u64, TrackEvidence>,
    /// Tracks of the earlier streams, in order.
    done: Vec<TrackEvidence>,
    frames: u64,
}

impl<'e> CameraCalibrator<'e> {
    /// A calibrator on `engine`'s pipeline (its detector, embedder, quality policy and liveness models), with
    /// the tracker's default settings.
    pub fn new(engine: &'e Engine) -> Result<Self> {
        Ok(CameraCalibrator { engine, tracker: Self::tracker(engine)?, live: BTreeMap::new(), done: Vec::new(), frames: 0 })
    }

    fn tracker(engine: &'e Engine) -> Result<Tracker<'e>> {
        let mut t = Tracker::new(engine, TrackerOptions::default())?;
        t.set_reference(Reference::None)?;
        Ok(t)
    }

    /// The next frame of the current stream. On an error the frame is not counted and the evidence so far is
    /// kept.
    pub fn add_frame(&mut self, frame: &Image) -> Result<()> {
        let up = self.tracker.update(frame)?;
        for tr in &up.tracks {
            let ev = self.live.entry(tr.id).or_default();
            if tr.missed == 0 {
                ev.frames.insert(self.frames);
            }
            // A new capture since the last frame: keep its embedding (the tracker's latest).
            if tr.captures as usize > ev.embeddings.len() {
                if let Some(e) = self.tracker.last_capture(tr.id) {
                    ev.embeddings.push(e.0.as_slice().to_vec());
                    ev.eyes.push(e.1);
                    if e.2.is_finite() {
                        ev.liveness.push(e.2);
                    }
                }
            }
        }
        self.frames += 1;
        Ok(())
    }

    /// Ends the current stream: the next frame starts a new one (another clip, or the camera restarted), with
    /// a fresh tracker. The evidence gathered stays.
    pub fn new_stream(&mut self) -> Result<()> {
        self.tracker = Self::tracker(self.engine)?;
        self.done.extend(std::mem::take(&mut self.live).into_values());
        Ok(())
    }

    /// The engine it measures with.
    pub fn engine(&self) -> &'e Engine {
        self.engine
    }

    /// Frames taken so far, over every stream.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The camera section measured on the frames so far; `fps` (their frame rate, for the seconds reported)
    /// must be finite and positive, `source` describes the footage for the manifest. Refuses with
    /// [`Error::NoFace`] when no face good enough to embed was seen, and with [`Error::InvalidArgument`] when
    /// fewer than [`MIN_PAIRS`] pairs of faces were in view together, saying how much more it needs; the
    /// calibrator keeps its evidence either way, so more frames may follow.
    pub fn finish(&self, fps: f64, source: &str) -> Result<CameraCalibration> {
        if !(fps.is_finite() && fps > 0.0) {
            return Err(Error::invalid(format!("frame rate {fps} is not a positive number of frames per second")));
        }
        let frames = self.frames;
        let with_faces: Vec<&TrackEvidence> = self.done.iter().chain(self.live.values()).filter(|t| !t.embeddings.is_empty()).collect();
        let seconds = frames as f64 / fps;
        if with_faces.is_empty() {
            return Err(Error::NoFace(format!(
                ": none good enough to embed in {frames} frames ({seconds:.0} s) of {source}: a camera calibration needs footage of people in view"
            )));
        }
        // Impostors: every two tracks seen in a common frame are two people.
        let mut scores = Vec::new();
        for (i, a) in with_faces.iter().enumerate() {
            for b in &with_faces[i + 1..] {
                if a.frames.intersection(&b.frames).next().is_some() {
                    let mut s = Vec::new();
                    for x in &a.embeddings {
                        for y in &b.embeddings {
                            s.push(cosine(x, y)?);
                        }
                    }
                    scores.push(s.iter().sum::<f32>() / s.len() as f32);
                }
            }
        }
        if scores.len() < MIN_PAIRS {
            return Err(Error::invalid(format!(
                "{} pair(s) of faces in view together in {frames} frames ({seconds:.0} s, {} tracks with a good capture) of {source}; \
                 a camera calibration needs at least {MIN_PAIRS}: record more footage with several people in view at once \
                 (about {} more such pairs)",
                scores.len(),
                with_faces.len(),
                MIN_PAIRS - scores.len()
            )));
        }
        let n = scores.len() as f64;
        let mean = scores.iter().map(|&v| v as f64).sum::<f64>() / n;
        let sd = (scores.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let mut eyes: Vec<f32> = with_faces.iter().flat_map(|t| t.eyes.iter().copied()).collect();
        let mut live: Vec<f32> = with_faces.iter().filter(|t| !t.liveness.is_empty()).map(|t| median(&mut t.liveness.clone())).collect();
        Ok(CameraCalibration {
            source: source.to_string(),
            frames,
            seconds,
            tracks: with_faces.len(),
            impostor_pairs: scores.len(),
            impostor_mean: mean as f32,
            impostor_std: sd as f32,
            impostor_max: scores.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            median_eye_px: median(&mut eyes),
            live_tracks: live.len(),
            live_median: if live.is_empty() { None } else { Some(median(&mut live)) },
            live_p10: if live.is_empty() { None } else { Some(quantile(&mut live, 0.1)) },
        })
    }
}

/// `engine`'s manifest with `cal` as the camera section of its embedder's calibration for its flip setting
/// (replacing an earlier one): save it with [`Manifest::save`] as the model directory's `manifest.json`, and
/// engines loaded from there adapt their thresholds to the camera. Fails when the manifest has no calibration
/// for the engine's embedder and flip setting.
pub fn manifest_with_camera(engine: &Engine, cal: CameraCalibration) -> Result<Manifest> {
    let mut m = engine.manifest().clone();
    m.set_camera_calibration(engine.embedder().name(), engine.options().flip, cal)?;
    Ok(m)
}

fn median(v: &mut [f32]) -> f32 {
    quantile(v, 0.5)
}

fn quantile(v: &mut [f32], q: f64) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}
