//! Liveness (presentation-attack detection): is the face in front of the camera a live person, or a print,
//! a photo or a video on a screen? An ensemble of small RGB models (MiniFASNet V2 and V1SE by default), each
//! fed its own crop of the face box, as the manifest describes (crop scale, input size, channel order, live
//! class, how the scores combine). The score is the probability of a live face; the decision is taken at an
//! operating point calibrated on labelled captures (`apcer_5e-2`: at most 5 % of the calibration spoofs pass).
//!
//! What a single RGB frame can tell: prints and photos or videos shown on a phone or a monitor, by their
//! texture, moiré, reflections and frame edges. What it cannot: 3D masks, and a good replay may pass. A live
//! camera should average the score over several frames of one track.

#[cfg(feature = "eval")]
pub mod eval;

use crate::detect::Face;
use crate::error::{Error, Result};
use crate::image::{resize, Image};
use crate::infer::CropModel;
use crate::pack::{Combine, LivenessCalibration, LivenessHead, LivenessSet, ModelPack, Task, MAX_LIVENESS_MODELS};

/// A face is cut off by the frame edge — and not scored: the crop would show part of a face, off-centre, not
/// what the models were trained on — when a landmark lies outside the image (the detector boxes only the
/// visible part of a cut face, but places its landmarks where the face would be) or when more than this share
/// of the box does. Chosen, not measured: on every Replay-Attack frame and the first photo of 400 LFW people
/// the primary face has all landmarks inside and at most 7.5 % of its box outside.
pub const MAX_OUTSIDE_SHARE: f32 = 0.2;

/// Whether a face could be checked. Values are stable (C: `fk_liveness_status`).
/// cbindgen:rename-all=ScreamingSnakeCase
/// cbindgen:prefix-with-name
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LivenessStatus {
    /// Scored: `score` and `is_live` hold.
    Assessed = 0,
    /// A model's crop would hold fewer pixels than its input (a face box under ~30 pixels, or a frame smaller
    /// than 80×80): the texture that tells a print or a screen from skin is not in the frame. Move closer.
    FaceTooSmall = 1,
    /// The face is cut off by the frame edge: a landmark lies outside the image, or more than 20 % of the
    /// face box (`MAX_OUTSIDE_SHARE`) does. Centre the face.
    FaceAtBorder = 2,
}

impl LivenessStatus {
    /// A short name for messages and JSON.
    pub fn name(self) -> &'static str {
        match self {
            LivenessStatus::Assessed => "assessed",
            LivenessStatus::FaceTooSmall => "face_too_small",
            LivenessStatus::FaceAtBorder => "face_at_border",
        }
    }
}

/// A named share of spoofs that may pass, at which liveness decisions are taken. C values are the APCER in
/// per mille (`fk_liveness_point`).
/// cbindgen:rename-all=ScreamingSnakeCase
/// cbindgen:prefix-with-name
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum LivenessPoint {
    /// At most 1 spoof in 100 accepted: strict (more live users asked to retry).
    Apcer1e2 = 10,
    /// At most 5 in 100: the default.
    #[default]
    Apcer5e2 = 50,
}

impl LivenessPoint {
    /// cbindgen:ignore
    pub const ALL: [LivenessPoint; 2] = [LivenessPoint::Apcer1e2, LivenessPoint::Apcer5e2];
    /// Manifest key, e.g. `apcer_5e-2`.
    pub fn key(self) -> &'static str {
        match self {
            LivenessPoint::Apcer1e2 => "apcer_1e-2",
            LivenessPoint::Apcer5e2 => "apcer_5e-2",
        }
    }
    /// The APCER as a fraction.
    pub fn apcer(self) -> f64 {
        match self {
            LivenessPoint::Apcer1e2 => 1e-2,
            LivenessPoint::Apcer5e2 => 5e-2,
        }
    }
    pub fn from_i32(v: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|o| *o as i32 == v)
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.key() == s || o.key().trim_start_matches("apcer_") == s)
    }
}

/// What the models make of one face, before any threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct LivenessScore {
    pub status: LivenessStatus,
    /// Combined probability of a live face in [0, 1]; NaN unless `status` is `Assessed`.
    pub score: f32,
    /// Each model's probability of a live face, in the manifest's order (empty unless assessed).
    pub models: Vec<f32>,
}

/// The liveness of one face at an operating point. Passed to C with a size argument (`fk_liveness`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LivenessReport {
    /// Whether the face could be checked; when it is not `Assessed`, `score` and the model scores are NaN and
    /// `is_live` is false.
    pub status: LivenessStatus,
    /// Probability of a live face in [0, 1] (the manifest's combination of the models' scores).
    pub score: f32,
    /// `score >= threshold`.
    pub is_live: bool,
    /// The calibrated threshold of `operating_point`.
    pub threshold: f32,
    pub operating_point: LivenessPoint,
    /// Number of models; `model_scores[i]` for `i < model_count` is model i's probability of a live face.
    pub model_count: u32,
    pub model_scores: [f32; MAX_LIVENESS_MODELS],
}

/// The box as the reference turns a detector box into integers: clamped to the image, then
/// `[int(x1), int(y1), int(x2 - x1 + 1), int(y2 - y1 + 1)]`. `None` when under 2 pixels a side.
pub fn face_box(img_w: u32, img_h: u32, face: &Face) -> Option<[i64; 4]> {
    let (x1, y1) = ((face.x as f64).max(0.0), (face.y as f64).max(0.0));
    let x2 = (face.x as f64 + face.width as f64).min(img_w as f64 - 1.0);
    let y2 = (face.y as f64 + face.height as f64).min(img_h as f64 - 1.0);
    (x2 - x1 >= 2.0 && y2 - y1 >= 2.0).then(|| [x1 as i64, y1 as i64, (x2 - x1 + 1.0) as i64, (y2 - y1 + 1.0) as i64])
}

/// minivision's `CropImage._get_new_box`, in the reference's double arithmetic: the box `[x, y, w, h]` scaled
/// by `scale` about its centre (the scale reduced so the crop fits the image), shifted back inside the image.
/// Returns the inclusive corners `(x1, y1, x2, y2)`.
pub fn scaled_box(src_w: u32, src_h: u32, bbox: [i64; 4], scale: f64) -> (i64, i64, i64, i64) {
    let (sw, sh) = (src_w as f64, src_h as f64);
    let [x, y, bw, bh] = bbox.map(|v| v as f64);
    let scale = ((sh - 1.0) / bh).min(((sw - 1.0) / bw).min(scale));
    let (nw, nh) = (bw * scale, bh * scale);
    let (cx, cy) = (bw / 2.0 + x, bh / 2.0 + y);
    let (mut x1, mut y1, mut x2, mut y2) = (cx - nw / 2.0, cy - nh / 2.0, cx + nw / 2.0, cy + nh / 2.0);
    if x1 < 0.0 {
        x2 -= x1;
        x1 = 0.0;
    }
    if y1 < 0.0 {
        y2 -= y1;
        y1 = 0.0;
    }
    if x2 > sw - 1.0 {
        x1 -= x2 - sw + 1.0;
        x2 = sw - 1.0;
    }
    if y2 > sh - 1.0 {
        y1 -= y2 - sh + 1.0;
        y2 = sh - 1.0;
    }
    // `int()` truncates toward zero; a rounding residue below 0 becomes 0 as in the reference.
    (x1 as i64, y1 as i64, x2 as i64, y2 as i64)
}

/// Share of the face box's area outside the image (1 for an empty box).
pub fn outside_share(img_w: u32, img_h: u32, face: &Face) -> f32 {
    let area = face.area();
    if area <= 0.0 {
        return 1.0;
    }
    let ix = ((face.x + face.width).min(img_w as f32) - face.x.max(0.0)).max(0.0);
    let iy = ((face.y + face.height).min(img_h as f32) - face.y.max(0.0)).max(0.0);
    (1.0 - ix * iy / area).clamp(0.0, 1.0)
}

fn softmax(v: &mut [f32]) {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        *x = (*x - m).exp();
        sum += *x;
    }
    v.iter_mut().for_each(|x| *x /= sum);
}

/// The liveness stage: its models, how their scores combine, and the calibrated thresholds.
#[derive(Debug)]
pub struct Liveness {
    models: Vec<(CropModel, LivenessHead)>,
    combine: Combine,
    calibration: Option<LivenessCalibration>,
}

impl Liveness {
    /// Loads the models of a pack's liveness set (each checked against the manifest: input, output size).
    pub fn load(set: &LivenessSet, pack: &ModelPack) -> Result<Self> {
        let models = set
            .models
            .iter()
            .map(|name| {
                let spec = pack.manifest.model(name)?;
                let head = spec.liveness.clone().ok_or_else(|| Error::ModelFormat(format!("{name}: no liveness head")))?;
                Ok((CropModel::load(spec, &pack.read_verified(spec)?, Task::Liveness)?, head))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Liveness { models, combine: set.combine, calibration: set.calibration.clone() })
    }

    /// The models' names, in the order of the scores.
    pub fn model_names(&self) -> Vec<&str> {
        self.models.iter().map(|(m, _)| m.spec.name.as_str()).collect()
    }

    /// The calibration in the manifest, if any.
    pub fn calibration(&self) -> Option<&LivenessCalibration> {
        self.calibration.as_ref()
    }

    /// The calibrated threshold of an operating point.
    pub fn threshold(&self, op: LivenessPoint) -> Result<f32> {
        let cal = self.calibration.as_ref().ok_or_else(|| {
            Error::invalid("the liveness models have no calibration in the manifest; run `facekit calibrate liveness`")
        })?;
        cal.thresholds
            .get(op.key())
            .copied()
            .ok_or_else(|| Error::invalid(format!("liveness operating point {} was not measurable on {}", op.key(), cal.dataset)))
    }

    /// Whether `face` can be checked in `img`, and each model's crop rectangle `(x, y, w, h)` if so.
    fn crops(&self, img: &Image, face: &Face) -> std::result::Result<Vec<(u32, u32, u32, u32)>, LivenessStatus> {
        let (w, h) = (img.width(), img.height());
        let landmark_outside = face.landmarks.iter().any(|&[x, y]| !(0.0..w as f32).contains(&x) || !(0.0..h as f32).contains(&y));
        if landmark_outside || outside_share(w, h, face) > MAX_OUTSIDE_SHARE {
            return Err(LivenessStatus::FaceAtBorder);
        }
        let bbox = face_box(w, h, face).ok_or(LivenessStatus::FaceTooSmall)?;
        self.models
            .iter()
            .map(|(m, head)| {
                let (x1, y1, x2, y2) = scaled_box(w, h, bbox, head.crop_scale);
                let (cw, ch) = ((x2 - x1 + 1) as u32, (y2 - y1 + 1) as u32);
                let too_small = Some(cw as usize) < m.spec.input.width || Some(ch as usize) < m.spec.input.height;
                if too_small { Err(LivenessStatus::FaceTooSmall) } else { Ok((x1 as u32, y1 as u32, cw, ch)) }
            })
            .collect()
    }

    /// Scores one face: each model on its crop, then the combination.
    pub fn score(&self, img: &Image, face: &Face) -> Result<LivenessScore> {
        let finite = [face.x, face.y, face.width, face.height].iter().all(|v| v.is_finite());
        if !finite {
            return Err(Error::invalid("face box has non-finite coordinates"));
        }
        let rects = match self.crops(img, face) {
            Ok(r) => r,
            Err(status) => return Ok(LivenessScore { status, score: f32::NAN, models: Vec::new() }),
        };
        let mut models = Vec::with_capacity(rects.len());
        for ((m, head), (x, y, w, h)) in self.models.iter().zip(rects) {
            let (iw, ih) = (m.spec.input.width.unwrap_or(0) as u32, m.spec.input.height.unwrap_or(0) as u32);
            let mut out = m.run(&resize(&img.crop(x, y, w, h)?, iw, ih)?)?;
            if head.softmax {
                softmax(&mut out);
            }
            let p = out.get(head.live_class).copied().filter(|p| p.is_finite());
            models.push(p.ok_or_else(|| Error::Internal(format!("{}: no finite live-class output", m.spec.name)))?);
        }
        let score = match self.combine {
            Combine::Mean => models.iter().sum::<f32>() / models.len() as f32,
        };
        Ok(LivenessScore { status: LivenessStatus::Assessed, score, models })
    }

    /// Scores one face and decides at `op`'s calibrated threshold.
    pub fn assess(&self, img: &Image, face: &Face, op: LivenessPoint) -> Result<LivenessReport> {
        let threshold = self.threshold(op)?;
        let s = self.score(img, face)?;
        let mut model_scores = [f32::NAN; MAX_LIVENESS_MODELS];
        model_scores.iter_mut().zip(&s.models).for_each(|(d, v)| *d = *v);
        Ok(LivenessReport {
            status: s.status,
            score: s.score,
            is_live: s.status == LivenessStatus::Assessed && s.score >= threshold,
            threshold,
            operating_point: op,
            model_count: self.models.len() as u32,
            model_scores,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_box_matches_the_reference_arithmetic() {
        // Expected values from ../shared/tools/liveness_ref.py's new_box.
        assert_eq!(scaled_box(320, 240, [120, 60, 90, 120], 2.7), (75, 0, 254, 239)); // scale reduced to fit
        assert_eq!(scaled_box(640, 480, [300, 200, 60, 80], 2.7), (249, 132, 411, 348)); // full scale, inside
        assert_eq!(scaled_box(640, 480, [5, 5, 60, 80], 4.0), (0, 0, 240, 320)); // shifted right and down
        assert_eq!(scaled_box(640, 480, [600, 420, 39, 59], 4.0), (483, 243, 639, 479)); // shifted left and up
    }

    #[test]
    fn face_box_clamps_and_truncates_like_the_reference() {
        let f = Face { x: -3.6, y: 10.7, width: 50.2, height: 60.9, ..Default::default() };
        // x1 = 0, y1 = 10.7, x2 = 46.6, y2 = 71.6 → [0, 10, int(47.6), int(61.9)]
        assert_eq!(face_box(100, 100, &f), Some([0, 10, 47, 61]));
        let f = Face { x: 99.0, y: 99.0, width: 30.0, height: 30.0, ..Default::default() };
        assert_eq!(face_box(100, 100, &f), None, "under 2 pixels inside the image");
    }

    #[test]
    fn outside_share_of_boxes() {
        let f = |x: f32, y: f32| Face { x, y, width: 10.0, height: 10.0, ..Default::default() };
        assert_eq!(outside_share(100, 100, &f(10.0, 10.0)), 0.0);
        assert!((outside_share(100, 100, &f(-5.0, 10.0)) - 0.5).abs() < 1e-6);
        assert!((outside_share(100, 100, &f(95.0, 95.0)) - 0.75).abs() < 1e-6);
        assert_eq!(outside_share(100, 100, &f(200.0, 0.0)), 1.0);
        assert_eq!(outside_share(100, 100, &Face::default()), 1.0);
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut v = [1.0, 2.0, 3.0];
        softmax(&mut v);
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6 && v[2] > v[1] && v[1] > v[0]);
        let mut big = [1000.0, 0.0, -1000.0];
        softmax(&mut big);
        assert_eq!(big[0], 1.0);
    }

    #[test]
    fn operating_points_round_trip() {
        for o in LivenessPoint::ALL {
            assert_eq!(LivenessPoint::from_i32(o as i32), Some(o));
            assert_eq!(LivenessPoint::parse(o.key()), Some(o));
        }
        assert_eq!(LivenessPoint::parse("5e-2"), Some(LivenessPoint::Apcer5e2));
        assert_eq!(LivenessPoint::from_i32(3), None);
    }
}
