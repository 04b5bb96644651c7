//! Adapting to a camera from unlabelled footage (`facekit calibrate camera`): what the installed camera's
//! strangers score against each other, from faces that are in view **at the same time** (always different
//! people), and what its live faces score for liveness. The result is the manifest's camera section
//! ([`CameraCalibration`]); the engine adds its impostor scores to a gallery's own when it adapts thresholds
//! to the camera ([`crate::Engine::camera_threshold`]).

use crate::compare::cosine;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::pack::CameraCalibration;
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

/// Measures a camera from clips of its footage (each a sequence of frames; a new clip starts a new stream).
/// `source` describes the footage for the manifest. Refuses (writing nothing) when the footage has no face,
/// or fewer than [`MIN_PAIRS`] pairs of faces in view together, saying how much more it needs.
pub fn calibrate(engine: &Engine, clips: impl IntoIterator<Item = Vec<Image>>, fps: f64, source: &str) -> Result<CameraCalibration> {
    let (mut frames, mut tracks) = (0u64, Vec::<TrackEvidence>::new());
    for clip in clips {
        let mut t = Tracker::new(engine, TrackerOptions::default())?;
        t.set_reference(Reference::None)?;
        let mut live: BTreeMap<u64, TrackEvidence> = BTreeMap::new();
        for f in &clip {
            let up = t.update(f)?;
            for tr in &up.tracks {
                let ev = live.entry(tr.id).or_default();
                if tr.missed == 0 {
                    ev.frames.insert(frames);
                }
                // A new capture since the last frame: keep its embedding (the tracker's latest).
                if tr.captures as usize > ev.embeddings.len() {
                    if let Some(e) = t.last_capture(tr.id) {
                        ev.embeddings.push(e.0.as_slice().to_vec());
                        ev.eyes.push(e.1);
                        if e.2.is_finite() {
                            ev.liveness.push(e.2);
                        }
                    }
                }
            }
            frames += 1;
        }
        tracks.extend(live.into_values());
    }
    let with_faces: Vec<&TrackEvidence> = tracks.iter().filter(|t| !t.embeddings.is_empty()).collect();
    let seconds = frames as f64 / fps.max(1e-3);
    if with_faces.is_empty() {
        return Err(Error::invalid(format!(
            "no face good enough to embed in {frames} frames ({seconds:.0} s) of {source}: a camera calibration needs footage of people in view"
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
