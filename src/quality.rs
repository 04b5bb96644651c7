//! Capture quality: classic measures on the aligned face (sharpness, brightness, exposure, contrast, pose from
//! the 5 landmarks, size, detector confidence) plus the learned LightQNet score, combined into an overall
//! 0–100 score and a verdict under a policy, with a bitmask of reasons a door gate can turn into advice.
//!
//! Quality is **not liveness**: a sharp, well-lit photo or screen replay of a face scores as high as the
//! person. It says whether a capture is good enough to recognise, not whether it is real.

use crate::align::align;
use crate::detect::Face;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::infer::CropModel;
use crate::pack::{ModelSpec, Task, Template};

/// Reason flags (bitmask). Stable values, mirrored in the C header.
pub mod reason {
    pub const TOO_DARK: u32 = 1 << 0;
    pub const TOO_BRIGHT: u32 = 1 << 1;
    pub const BLURRY: u32 = 1 << 2;
    pub const LOW_CONTRAST: u32 = 1 << 3;
    pub const POSE: u32 = 1 << 4;
    pub const TOO_SMALL: u32 = 1 << 5;
    pub const LOW_CONFIDENCE: u32 = 1 << 6;
    pub const LOW_LEARNED_QUALITY: u32 = 1 << 7;
    pub const LOW_OVERALL: u32 = 1 << 8;
    pub const OCCLUDED: u32 = 1 << 9;
    pub const COMPRESSED: u32 = 1 << 10;
    /// Names of the flags, in bit order, for messages and JSON.
    pub const NAMES: [&str; 11] = [
        "too_dark",
        "too_bright",
        "blurry",
        "low_contrast",
        "pose",
        "too_small",
        "low_confidence",
        "low_learned_quality",
        "low_overall",
        "occluded",
        "compressed",
    ];
    /// The names of the flags set in `bits`.
    pub fn names(bits: u32) -> Vec<&'static str> {
        NAMES.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, n)| *n).collect()
    }
}

/// A measured value and its 0–100 score (higher is better). `assessed == false` means the component could
/// not be measured (e.g. no quality model loaded): `raw` and `score` are then NaN and ignored.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Component {
    pub raw: f32,
    pub score: f32,
    pub assessed: bool,
}

impl Component {
    fn new(raw: f32, score: f32) -> Self {
        Component { raw, score: score.clamp(0.0, 100.0), assessed: true }
    }
    pub(crate) const NOT_ASSESSED: Component = Component { raw: f32::NAN, score: f32::NAN, assessed: false };
}

/// Everything measured about one face capture.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QualityReport {
    /// Overall score 0–100 (weighted geometric mean of the component scores).
    pub overall: f32,
    /// True when no reason flag is set under the policy used.
    pub acceptable: bool,
    /// Bitmask of reason flags (`FK_Q_*` in C, `quality::reason` in Rust).
    pub reasons: u32,
    /// Variance of the Laplacian of the aligned face's luma, times the crop's enlargement of a face smaller than
    /// the crop's own scale (raw; see `enlargement`); blur lowers it, size alone does not.
    pub sharpness: Component,
    /// Mean luma 0–255 of the face's centre.
    pub brightness: Component,
    /// Share (0–1) of face pixels that are crushed black (<16) or blown white (>239).
    pub exposure: Component,
    /// Standard deviation of the face's luma.
    pub contrast: Component,
    /// Head yaw, pitch, roll in degrees estimated from the 5 landmarks (raw = angle; score falls with |angle|).
    pub yaw: Component,
    pub pitch: Component,
    pub roll: Component,
    /// Inter-eye distance in pixels of the upright image.
    pub face_size: Component,
    /// Detector confidence (0–1).
    pub confidence: Component,
    /// LightQNet output (≈0.6 on good faces).
    pub learned: Component,
    /// Number of the eye and mouth regions (0–3) that are flat — covered by a hand, a bar, sunglasses.
    pub occlusion: Component,
    /// JPEG blockiness over the face box: luma steps across the 8-pixel block grid over steps inside blocks
    /// (≈1 for clean captures; heavy compression raises it).
    pub compression: Component,
}

/// Thresholds of the quality gate. Every field can be overridden; presets: [`QualityPolicy::enrolment`],
/// [`QualityPolicy::unlock`], [`QualityPolicy::gate`].
#[derive(Clone, Debug, PartialEq)]
pub struct QualityPolicy {
    pub min_brightness: f32,
    pub max_brightness: f32,
    pub max_bad_exposure: f32,
    pub min_sharpness: f32,
    pub min_contrast: f32,
    pub max_yaw: f32,
    pub max_pitch: f32,
    pub max_roll: f32,
    pub min_eye_distance: f32,
    pub min_confidence: f32,
    pub min_learned: f32,
    pub min_overall: f32,
    /// More flat (covered) eye/mouth regions than this sets OCCLUDED (0 = any; 3 disables the check).
    pub max_occluded_regions: f32,
    /// Blockiness above this sets COMPRESSED.
    pub max_blockiness: f32,
    /// Decisions (verify, enrolment, …) also require a live face ([`crate::Engine::check_capture`]). True in
    /// every preset; turn it off only for captures known to be live, e.g. a test on press photos.
    pub require_liveness: bool,
}

impl QualityPolicy {
    /// Enrolment: the template will be compared against for years — strictest.
    pub fn enrolment() -> Self {
        QualityPolicy {
            min_brightness: 60.0,
            max_brightness: 200.0,
            max_bad_exposure: 0.10,
            min_sharpness: 60.0,
            min_contrast: 25.0,
            max_yaw: 20.0,
            max_pitch: 20.0,
            max_roll: 15.0,
            min_eye_distance: 40.0,
            min_confidence: 0.8,
            min_learned: 0.45,
            min_overall: 60.0,
            max_occluded_regions: 0.0,
            max_blockiness: 1.3,
            require_liveness: true,
        }
    }
    /// 1:1 unlock on a live camera: the user retries at once, so moderate.
    pub fn unlock() -> Self {
        QualityPolicy {
            min_brightness: 40.0,
            max_brightness: 220.0,
            max_bad_exposure: 0.25,
            // Sharpness at the crop's scale; under 25 (0.7 per pixel of eye distance) blurred LFW faces of
            // strangers pass the far_1e-3 threshold of their size 2-20x too often (bench/quality_floors.py).
            min_sharpness: 25.0,
            min_contrast: 15.0,
            max_yaw: 35.0,
            max_pitch: 30.0,
            max_roll: 30.0,
            // From the per-resolution calibration (manifest `by_eye_distance`): TAR at far_1e-3 is 91.6 % from
            // 22 px, 68.4 % below (BENCHMARKS.md, "Quality floors").
            min_eye_distance: 22.0,
            min_confidence: 0.6,
            min_learned: 0.30,
            min_overall: 40.0,
            max_occluded_regions: 0.0,
            max_blockiness: 1.6,
            require_liveness: true,
        }
    }
    /// 1:N gate: every extra attempt is a false-match chance against the whole gallery — between the two.
    pub fn gate() -> Self {
        QualityPolicy {
            min_brightness: 50.0,
            max_brightness: 210.0,
            max_bad_exposure: 0.15,
            // 40 (1.1 per eye pixel): the far_1e-4 threshold keeps its rate above it (bench/quality_floors.py).
            min_sharpness: 40.0,
            min_contrast: 20.0,
            max_yaw: 25.0,
            max_pitch: 25.0,
            max_roll: 20.0,
            min_eye_distance: 30.0,
            min_confidence: 0.7,
            min_learned: 0.38,
            min_overall: 50.0,
            max_occluded_regions: 0.0,
            max_blockiness: 1.45,
            require_liveness: true,
        }
    }
    /// Names of the presets, strictest first.
    pub const NAMES: [&'static str; 3] = ["enrolment", "unlock", "gate"];
    /// A preset by name (`enrolment`, `unlock`, `gate`).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "enrolment" | "enrollment" => Some(Self::enrolment()),
            "unlock" => Some(Self::unlock()),
            "gate" => Some(Self::gate()),
            _ => None,
        }
    }
    pub(crate) fn validate(&self) -> Result<()> {
        let v = [
            self.min_brightness, self.max_brightness, self.max_bad_exposure, self.min_sharpness, self.min_contrast,
            self.max_yaw, self.max_pitch, self.max_roll, self.min_eye_distance, self.min_confidence, self.min_learned,
            self.min_overall, self.max_occluded_regions, self.max_blockiness,
        ];
        if v.iter().any(|x| !x.is_finite()) || self.min_brightness > self.max_brightness {
            return Err(Error::invalid("quality policy has a non-finite or inverted threshold"));
        }
        Ok(())
    }
}

impl Default for QualityPolicy {
    fn default() -> Self {
        Self::unlock()
    }
}

/// The learned quality model (LightQNet) with its own alignment template.
#[derive(Debug)]
pub struct QualityModel {
    model: CropModel,
    template: Template,
}

impl QualityModel {
    pub fn new(spec: &ModelSpec, bytes: &[u8]) -> Result<Self> {
        let template = spec.template()?.clone();
        Ok(QualityModel { model: CropModel::load(spec, bytes, Task::Quality)?, template })
    }

    /// The model's name in the manifest.
    pub fn name(&self) -> &str {
        &self.model.spec.name
    }

    /// The raw LightQNet score of a face.
    pub fn score(&self, img: &Image, face: &Face) -> Result<f32> {
        let out = self.model.run(&align(img, face, &self.template)?)?;
        out.first().copied().ok_or_else(|| Error::Internal("empty quality output".into()))
    }
}

/// Linear ramp: 0 at `lo`, 100 at `hi` (either direction).
fn ramp(x: f32, lo: f32, hi: f32) -> f32 {
    (100.0 * (x - lo) / (hi - lo)).clamp(0.0, 100.0)
}

/// Head pose (yaw, pitch, roll) in degrees from the 5 landmarks, by a rigid-face approximation: with the eye
/// line levelled, the nose tip's sideways offset from the eye–mouth axis over the eye distance is
/// `(d/E)·tan(yaw)` and its height between eye and mouth lines moves with `tan(pitch)`; `d/E ≈ 0.5` (nose depth
/// over eye distance of an average face) and the frontal ratios are those of the ArcFace template. Positive
/// yaw = nose towards image-right; positive pitch = looking up; positive roll = clockwise in the image.
pub fn head_pose(face: &Face) -> (f32, f32, f32) {
    let l = &face.landmarks;
    let (dx, dy) = (l[1][0] - l[0][0], l[1][1] - l[0][1]);
    let roll = dy.atan2(dx);
    let (c, s) = (roll.cos(), roll.sin());
    // Rotate all points by -roll about the eye midpoint.
    let em = [(l[0][0] + l[1][0]) / 2.0, (l[0][1] + l[1][1]) / 2.0];
    let r = |p: [f32; 2]| {
        let (x, y) = (p[0] - em[0], p[1] - em[1]);
        [c * x + s * y, -s * x + c * y]
    };
    let eye = (dx * dx + dy * dy).sqrt().max(1e-3);
    let nose = r(l[2]);
    let mm = r([(l[3][0] + l[4][0]) / 2.0, (l[3][1] + l[4][1]) / 2.0]);
    // Nose offset from the eye–mouth axis (the axis runs from (0,0) to mm).
    let axis_x_at_nose = if mm[1].abs() > 1e-3 { mm[0] * nose[1] / mm[1] } else { 0.0 };
    let yaw = ((nose[0] - axis_x_at_nose) / eye / 0.5).atan();
    // ArcFace template: nose sits 0.494 of the way from eye line to mouth line; 0.43 = (d/E)/(mouth-eye/E).
    let t = if mm[1].abs() > 1e-3 { nose[1] / mm[1] } else { 0.494 };
    let pitch = ((0.494 - t) / 0.43).atan();
    (yaw.to_degrees(), pitch.to_degrees(), roll.to_degrees())
}

/// Luma statistics of the central region of an aligned crop (its borders may hold background or warp padding).
fn luma_stats(crop: &Image) -> (f32, f32, f32, f32) {
    let (w, h) = (crop.width() as usize, crop.height() as usize);
    let px = crop.pixels();
    let luma = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        0.299 * px[i] as f32 + 0.587 * px[i + 1] as f32 + 0.114 * px[i + 2] as f32
    };
    let (x0, x1, y0, y1) = (w / 6, w - w / 6, h / 6, h - h / 12);
    let (mut sum, mut sq, mut bad, mut n) = (0f64, 0f64, 0usize, 0usize);
    let mut lap = Vec::with_capacity((x1 - x0) * (y1 - y0));
    for y in y0..y1 {
        for x in x0..x1 {
            let v = luma(x, y);
            sum += v as f64;
            sq += (v * v) as f64;
            n += 1;
            if !(16.0..=239.0).contains(&v) {
                bad += 1;
            }
            if x > 0 && y > 0 && x + 1 < w && y + 1 < h {
                lap.push(luma(x - 1, y) + luma(x + 1, y) + luma(x, y - 1) + luma(x, y + 1) - 4.0 * v);
            }
        }
    }
    let mean = (sum / n as f64) as f32;
    let std = ((sq / n as f64) as f32 - mean * mean).max(0.0).sqrt();
    let lm = lap.iter().sum::<f32>() / lap.len().max(1) as f32;
    let lap_var = lap.iter().map(|v| (v - lm) * (v - lm)).sum::<f32>() / lap.len().max(1) as f32;
    (mean, std, bad as f32 / n as f32, lap_var)
}

/// How much the aligned crop enlarges `face` (1 for a face at or above the crop's own scale). Enlarging blurs:
/// on clean LFW faces re-rendered at 12-40 px between the eyes, the crop's Laplacian variance fell in proportion
/// to the eye distance (2.3-2.6 per pixel at every size, `bench/quality_floors.py`). Sharpness is therefore read
/// at the crop's scale (variance × enlargement), so the blur floors judge blur and not size, which has its own
/// floor (`min_eye_distance`).
fn enlargement(face: &Face, crop: &Image, t: &Template) -> f32 {
    let (Some(a), Some(b)) = (t.points.first(), t.points.get(1)) else { return 1.0 };
    let crop_eye = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt() * crop.width() as f32 / t.width.max(1) as f32;
    let eye = face.eye_distance();
    if eye.is_finite() && eye >= 1.0 && crop_eye.is_finite() { (crop_eye / eye).max(1.0) } else { 1.0 }
}

/// How many of the eye and mouth regions of the aligned crop are flat — covered by a bar, a hand, dark
/// glasses: a region whose luma spread is under a fifth of the whole face's (relative, so it holds in dim
/// light) *and* under the plain skin's of the cheeks. The second test keeps small, soft webcam faces, whose eyes
/// are as smooth as their cheeks, from counting as covered; a cover is flatter than skin.
fn occluded_regions(crop: &Image, t: &Template, face_std: f32) -> f32 {
    let (w, h) = (crop.width() as i64, crop.height() as i64);
    let px = crop.pixels();
    let p = |i: usize| t.points.get(i).copied();
    let (Some(le), Some(re)) = (p(0), p(1)) else { return 0.0 };
    let ed = ((re[0] - le[0]).powi(2) + (re[1] - le[1]).powi(2)).sqrt();
    let spread = |c: [f32; 2], hw: f32, hh: f32| {
        let (mut s, mut sq, mut n) = (0f32, 0f32, 0f32);
        for y in ((c[1] - hh) as i64).max(0)..((c[1] + hh) as i64).min(h) {
            for x in ((c[0] - hw) as i64).max(0)..((c[0] + hw) as i64).min(w) {
                let i = ((y * w + x) * 3) as usize;
                let v = 0.299 * px[i] as f32 + 0.587 * px[i + 1] as f32 + 0.114 * px[i + 2] as f32;
                s += v;
                sq += v * v;
                n += 1.0;
            }
        }
        (n > 0.0).then(|| (sq / n - (s / n).powi(2)).max(0.0).sqrt())
    };
    let mut regions = vec![(le, 0.25 * ed, 0.15 * ed), (re, 0.25 * ed, 0.15 * ed)];
    // Cheeks: below each eye, halfway down to the mouth line (without a mouth point, 0.55 eye distances).
    let mouth_y = match (p(3), p(4)) {
        (Some(ml), Some(mr)) => {
            regions.push(([(ml[0] + mr[0]) / 2.0, (ml[1] + mr[1]) / 2.0], 0.45 * ed, 0.15 * ed));
            (ml[1] + mr[1]) / 2.0
        }
        _ => le[1].max(re[1]) + 1.1 * ed,
    };
    let skin = [le, re]
        .iter()
        .filter_map(|e| spread([e[0], (e[1] + mouth_y) / 2.0], 0.12 * ed, 0.12 * ed))
        .fold(0.0f32, f32::max);
    let cover = (0.2 * face_std + 0.5).min(skin);
    regions.into_iter().filter(|&(c, hw, hh)| spread(c, hw, hh).is_some_and(|s| s < cover)).count() as f32
}

/// JPEG blockiness inside the face box of the upright image: mean luma step across the 8×8 grid divided by
/// the mean step elsewhere. `None` when the box is too small to tell (under 16 pixels a side).
pub fn blockiness(img: &Image, face: &Face) -> Option<f32> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    // A box may start at or beyond the right/bottom edge (a fuzzing finding: clamp(w, w - 1) panicked).
    let x0 = (face.x.max(0.0) as i64).min(w - 1);
    let y0 = (face.y.max(0.0) as i64).min(h - 1);
    let x1 = ((face.x + face.width) as i64).clamp(x0, w - 1);
    let y1 = ((face.y + face.height) as i64).clamp(y0, h - 1);
    if x1 - x0 < 16 || y1 - y0 < 16 {
        return None;
    }
    let px = img.pixels();
    let l = |x: i64, y: i64| {
        let i = ((y * w + x) * 3) as usize;
        0.299 * px[i] as f32 + 0.587 * px[i + 1] as f32 + 0.114 * px[i + 2] as f32
    };
    let (mut edge, mut ne, mut inner, mut ni) = (0f32, 0f32, 0f32, 0f32);
    for y in y0..y1 {
        for x in x0..x1 {
            let here = l(x, y);
            for (d, on_grid) in [((l(x + 1, y) - here).abs(), (x + 1) % 8 == 0), ((l(x, y + 1) - here).abs(), (y + 1) % 8 == 0)] {
                if on_grid {
                    edge += d;
                    ne += 1.0;
                } else {
                    inner += d;
                    ni += 1.0;
                }
            }
        }
    }
    (inner > 0.0).then(|| (edge / ne) / (inner / ni).max(1e-3))
}

/// Assesses a face. `crop` is the embedder's aligned crop (so the classic measures see what recognition
/// sees, at a fixed scale); `learned` is the LightQNet score if a model is loaded.
pub fn assess(face: &Face, crop: &Image, template: &Template, learned: Option<f32>, blocky: Option<f32>, p: &QualityPolicy) -> QualityReport {
    use reason::*;
    let (mean, std, bad_exposure, lap_var) = luma_stats(crop);
    let sharp = lap_var * enlargement(face, crop, template);
    let occluded = occluded_regions(crop, template, std);
    let occlusion = Component::new(occluded, 100.0 - 50.0 * occluded);
    let compression = match blocky {
        Some(b) if b.is_finite() => Component::new(b, 100.0 - ramp(b, 1.1, 2.5)),
        _ => Component::NOT_ASSESSED,
    };
    let (yaw, pitch, roll) = head_pose(face);
    let eye = face.eye_distance();
    let brightness = Component::new(mean, 100.0 - (mean - 128.0).abs().max(0.0) * 100.0 / 128.0 * 1.3 + 30.0);
    let sharpness = Component::new(sharp, ramp(sharp.sqrt(), 2.0, 14.0));
    let exposure = Component::new(bad_exposure, 100.0 - ramp(bad_exposure, 0.02, 0.5));
    let contrast = Component::new(std, ramp(std, 8.0, 40.0));
    let angle = |a: f32, max: f32| Component::new(a, 100.0 - ramp(a.abs(), 5.0, 2.0 * max));
    let (cy, cp, cr) = (angle(yaw, 30.0), angle(pitch, 30.0), angle(roll, 30.0));
    let face_size = Component::new(eye, ramp(eye, 10.0, 60.0));
    let confidence = Component::new(face.score, ramp(face.score, 0.3, 0.95));
    let learned = match learned {
        Some(q) if q.is_finite() => Component::new(q, ramp(q, 0.15, 0.65)),
        _ => Component::NOT_ASSESSED,
    };
    // Weighted geometric mean of the assessed component scores (1 point floor so one zero does not hide the rest
    // entirely); the learned score carries half the weight when present: it predicts recognition error best.
    let parts: [(Component, f32); 11] = [
        (occlusion, 1.0),
        (compression, 0.5),
        (learned, 4.0),
        (sharpness, 1.0),
        (brightness, 0.5),
        (exposure, 0.5),
        (contrast, 0.5),
        (cy, 0.5),
        (cp, 0.25),
        (face_size, 0.5),
        (confidence, 0.25),
    ];
    let (mut lw, mut wsum) = (0.0f32, 0.0f32);
    for (c, w) in parts.iter().filter(|(c, _)| c.assessed) {
        lw += w * (c.score.max(1.0) / 100.0).ln();
        wsum += w;
    }
    let overall = 100.0 * (lw / wsum).exp();
    let mut reasons = 0;
    let mut flag = |cond: bool, bit: u32| {
        if cond {
            reasons |= bit
        }
    };
    flag(mean < p.min_brightness, TOO_DARK);
    flag(mean > p.max_brightness, TOO_BRIGHT);
    flag(bad_exposure > p.max_bad_exposure, if mean < 128.0 { TOO_DARK } else { TOO_BRIGHT });
    flag(sharp < p.min_sharpness, BLURRY);
    flag(std < p.min_contrast, LOW_CONTRAST);
    flag(yaw.abs() > p.max_yaw || pitch.abs() > p.max_pitch || roll.abs() > p.max_roll, POSE);
    flag(eye < p.min_eye_distance, TOO_SMALL);
    flag(face.score < p.min_confidence, LOW_CONFIDENCE);
    flag(learned.assessed && learned.raw < p.min_learned, LOW_LEARNED_QUALITY);
    flag(overall < p.min_overall, LOW_OVERALL);
    flag(occluded > p.max_occluded_regions, OCCLUDED);
    flag(compression.assessed && compression.raw > p.max_blockiness, COMPRESSED);
    QualityReport {
        overall,
        acceptable: reasons == 0,
        reasons,
        sharpness,
        brightness,
        exposure,
        contrast,
        yaw: cy,
        pitch: cp,
        roll: cr,
        face_size,
        confidence,
        learned,
        occlusion,
        compression,
    }
}

impl crate::engine::Engine {
    /// Quality of one face under the engine's policy.
    pub fn quality(&self, img: &Image, face: &Face) -> Result<QualityReport> {
        self.quality_with(img, face, &self.options().quality)
    }

    /// Quality of one face under another policy.
    pub fn quality_with(&self, img: &Image, face: &Face, policy: &QualityPolicy) -> Result<QualityReport> {
        self.quality_of_crop(img, face, &self.align(img, face)?, policy)
    }

    /// Quality when the embedder's aligned crop of `face` is already at hand (the tracker embeds the same crop).
    pub fn quality_of_crop(&self, img: &Image, face: &Face, crop: &Image, policy: &QualityPolicy) -> Result<QualityReport> {
        policy.validate()?;
        let learned = self.quality_model().map(|q| q.score(img, face)).transpose()?;
        Ok(assess(face, crop, self.embedder().template(), learned, blockiness(img, face), policy))
    }

    /// The verdict of [`quality_of_crop`](Self::quality_of_crop) for a gate that needs only the verdict: a
    /// capture the classic measures already refuse (pose, blur, light, size, cover) is refused without running
    /// the learned model, whose score then reads "not assessed"; the others get the full report.
    pub fn quality_gate(&self, img: &Image, face: &Face, crop: &Image, policy: &QualityPolicy) -> Result<QualityReport> {
        policy.validate()?;
        let blocky = blockiness(img, face);
        let classic = assess(face, crop, self.embedder().template(), None, blocky, policy);
        // LOW_OVERALL is left to the full report: the learned score weighs in the overall score.
        if classic.reasons & !reason::LOW_OVERALL != 0 {
            return Ok(classic);
        }
        let learned = self.quality_model().map(|q| q.score(img, face)).transpose()?;
        Ok(assess(face, crop, self.embedder().template(), learned, blocky, policy))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blockiness_of_a_box_outside_the_image_is_none() {
        let img = Image::from_rgb(40, 39, vec![7; 40 * 39 * 3]).unwrap();
        for (x, y) in [(40.0, 0.0), (0.0, 39.0), (500.0, 500.0), (f32::INFINITY, 0.0)] {
            let f = Face { x, y, width: 30.0, height: 30.0, ..Default::default() };
            assert_eq!(blockiness(&img, &f), None, "box at ({x}, {y})");
        }
    }

    fn frontal() -> Face {
        // The ArcFace template itself: a frontal face.
        Face {
            landmarks: [[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37], [70.73, 92.20]],
            score: 0.9,
            width: 80.0,
            height: 100.0,
            ..Default::default()
        }
    }

    #[test]
    fn frontal_template_has_near_zero_pose() {
        let (y, p, r) = head_pose(&frontal());
        assert!(y.abs() < 2.0 && p.abs() < 2.0 && r.abs() < 1.0, "{y} {p} {r}");
    }

    #[test]
    fn pose_signs_follow_the_landmarks() {
        let mut f = frontal();
        f.landmarks[2][0] += 15.0; // nose to image-right
        assert!(head_pose(&f).0 > 20.0);
        let mut f = frontal();
        f.landmarks[2][1] -= 10.0; // nose up towards the eyes: looking up
        assert!(head_pose(&f).1 > 15.0);
        let mut f = frontal();
        for p in f.landmarks.iter_mut() {
            *p = [p[0] * 0.94 - p[1] * 0.342, p[0] * 0.342 + p[1] * 0.94]; // rotate 20° clockwise
        }
        let (y, p, r) = head_pose(&f);
        assert!((r - 20.0).abs() < 1.0 && y.abs() < 2.0 && p.abs() < 2.0, "{y} {p} {r}");
    }

    #[test]
    fn flat_dark_crop_is_flagged() {
        let crop = Image::from_rgb(112, 112, vec![5; 112 * 112 * 3]).unwrap();
        let t = crate::pack::Manifest::default_manifest().model("mobilefacenet").unwrap().template.clone().unwrap();
        let r = assess(&frontal(), &crop, &t, None, None, &QualityPolicy::unlock());
        assert!(!r.acceptable);
        assert!(r.reasons & reason::TOO_DARK != 0 && r.reasons & reason::BLURRY != 0, "{:?}", reason::names(r.reasons));
        assert!(!r.learned.assessed && r.learned.score.is_nan());
        assert!(r.overall.is_finite());
    }
}
