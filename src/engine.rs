//! The engine: owns the loaded models and the options, immutable after construction, `Send + Sync`, meant to
//! be created once and shared (by reference or `Arc`) by every thread of the application.

use crate::align::align;
use crate::compare::{cosine, gallery_far, interpolate_threshold, GalleryThreshold, Match, OperatingPoint};
use crate::detect::{DetectParams, Detector, Face, Region};
use crate::embed::{Embedder, Embedding};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::liveness::{Liveness, LivenessPoint, LivenessReport, LivenessStatus};
use crate::pack::{find_model_dir, Calibration, EmbedderSpec, Manifest, ModelPack};
use crate::quality::{reason, QualityModel, QualityPolicy, QualityReport};
use std::path::Path;

/// Fast or accurate: which embedder `Options::embedder = None` means, and (through [`Options::accurate`]) the
/// settings that go with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// The manifest's default embedder (MobileFaceNet): the fastest pipeline.
    #[default]
    Fast,
    /// The manifest's accurate ensemble (MobileFaceNet and dlib ResNet, scores fused), with flip augmentation
    /// and landmark refinement: several times the embedding cost (README, "Accurate mode").
    Accurate,
}

impl Mode {
    pub const NAMES: [&'static str; 2] = ["fast", "accurate"];
    pub fn name(self) -> &'static str {
        match self {
            Mode::Fast => "fast",
            Mode::Accurate => "accurate",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Mode::Fast, Mode::Accurate].into_iter().find(|m| m.name() == s)
    }
}

/// Which thresholds decisions are taken at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ThresholdRule {
    /// [`ThresholdRule::Resolution`], raised for the camera: a gallery of people enrolled on the camera shows
    /// how much higher strangers score against each other there than in the calibration
    /// ([`Engine::camera_threshold`]); decisions against it are taken that much higher.
    #[default]
    Camera,
    /// The operating point's threshold for the capture's resolution: the band of the calibration's
    /// `by_eye_distance` table that the face's inter-eye distance falls in (small faces are decided at the
    /// thresholds measured at their size). Without a table, or when no face is known, the single one.
    Resolution,
    /// One threshold per operating point, measured on press photos (facekit before the resolution table).
    Single,
}

impl ThresholdRule {
    pub const NAMES: [&'static str; 3] = ["camera", "resolution", "single"];
    pub fn name(self) -> &'static str {
        match self {
            ThresholdRule::Camera => "camera",
            ThresholdRule::Resolution => "resolution",
            ThresholdRule::Single => "single",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [ThresholdRule::Camera, ThresholdRule::Resolution, ThresholdRule::Single].into_iter().find(|m| m.name() == s)
    }
}

/// Fewest same-camera impostor scores (pairs of different enrolled people: 3 people) from which
/// [`Engine::camera_threshold`] adapts a threshold to the camera.
pub const MIN_CAMERA_PAIRS: usize = 3;
/// Fewest same-camera impostor scores (10 people) from which the camera's own impostor spread is used.
pub const MIN_CAMERA_SPREAD_PAIRS: usize = 45;

/// Engine settings. Start from `Options::default()` (or [`Options::accurate`]) and change what you need.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Detector model name in the manifest (`yunet_s`, `yunet_n`); `None` = the manifest's default.
    pub detector: Option<String>,
    /// Embedder: a model (`mobilefacenet`, `dlib_resnet`) or an ensemble (`mobilefacenet+dlib_resnet`) of the
    /// manifest; `None` = the manifest's default for `mode`.
    pub embedder: Option<String>,
    /// Which embedder `embedder = None` means. [`Options::accurate`] sets the other settings of the mode too.
    pub mode: Mode,
    /// Before a face is embedded, detect it again inside a square around its box, scaled up to the detector's
    /// input (a second pass over a face-sized region: steadier landmarks, a better alignment).
    pub refine_landmarks: bool,
    /// Quality model name (`lightqnet_dm100`, `lightqnet_dm050`); `None` = the manifest's default.
    pub quality_model: Option<String>,
    /// Load the learned quality model (LightQNet). Without it the quality report marks that component as
    /// not assessed.
    pub load_quality: bool,
    /// Load the liveness models (if the manifest has them). Off: `liveness` is unsupported and decisions under
    /// a policy that requires liveness are refused with [`Error::Unsupported`].
    pub load_liveness: bool,
    /// Operating point of liveness decisions.
    pub liveness_point: LivenessPoint,
    pub detect: DetectParams,
    /// Average each embedding with the one of the mirrored crop (2× embed time, better accuracy).
    pub flip: bool,
    /// Operating point of `compare`/`verify` decisions.
    pub operating_point: OperatingPoint,
    /// Thresholds for the camera and the capture's resolution (default), the resolution only, or one per
    /// operating point.
    pub thresholds: ThresholdRule,
    /// Thresholds of the quality gate.
    pub quality: QualityPolicy,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            detector: None,
            embedder: None,
            quality_model: None,
            load_quality: true,
            load_liveness: true,
            liveness_point: LivenessPoint::default(),
            detect: DetectParams::default(),
            flip: false,
            operating_point: OperatingPoint::default(),
            thresholds: ThresholdRule::default(),
            quality: QualityPolicy::default(),
            mode: Mode::Fast,
            refine_landmarks: false,
        }
    }
}

impl Options {
    /// The accurate mode: the manifest's ensemble, flip augmentation and landmark refinement.
    pub fn accurate() -> Self {
        let mut o = Options::default();
        o.set_mode(Mode::Accurate);
        o
    }
    /// Sets `mode` and the settings that go with it (flip, landmark refinement; the embedder goes back to the
    /// mode's default). Set it before changing those individually.
    pub fn set_mode(&mut self, mode: Mode) {
        let accurate = mode == Mode::Accurate;
        (self.mode, self.embedder, self.flip, self.refine_landmarks) = (mode, None, accurate, accurate);
    }
}

/// Side of the square a face is re-detected in ([`Options::refine_landmarks`]), in face box sizes, and the
/// detector input it is scaled to.
pub const REFINE_REGION: f32 = 1.5;
pub const REFINE_INPUT: u32 = 320;

/// The face pipeline. See the crate docs for an example.
#[derive(Debug)]
pub struct Engine {
    detector: Detector,
    embedder: Embedder,
    quality: Option<QualityModel>,
    liveness: Option<Liveness>,
    calibration: Option<Calibration>,
    /// The manifest it was loaded from (what a calibration on the device starts from: [`crate::camera`]).
    manifest: Manifest,
    options: Options,
    origin: String,
}

impl Engine {
    /// Loads the models of a pack, verifying every file's sha256 and every model's inputs/outputs.
    pub fn from_pack(pack: &ModelPack, options: Options) -> Result<Self> {
        let m = &pack.manifest;
        let det_spec = m.model(options.detector.as_deref().unwrap_or(&m.defaults.detector))?;
        let emb_name = match (&options.embedder, options.mode) {
            (Some(n), _) => n.as_str(),
            (None, Mode::Fast) => &m.defaults.embedder,
            (None, Mode::Accurate) => m.defaults.accurate.as_deref().ok_or_else(|| {
                Error::Unsupported(format!("the model pack ({}) has no accurate-mode ensemble", pack.origin()))
            })?,
        };
        let emb_spec = m.embedder(emb_name)?;
        let detector = Detector::new(det_spec, &pack.read_verified(det_spec)?)?;
        let embedder = match emb_spec {
            EmbedderSpec::Model(s) => Embedder::new(s, &pack.read_verified(s)?)?,
            EmbedderSpec::Ensemble(e) => Embedder::ensemble(e, pack)?,
        };
        let quality = match (options.load_quality, options.quality_model.as_deref().or(m.defaults.quality.as_deref())) {
            (true, Some(name)) => {
                let spec = m.model(name)?;
                Some(QualityModel::new(spec, &pack.read_verified(spec)?)?)
            }
            _ => None,
        };
        let liveness = match (options.load_liveness, &m.liveness) {
            (true, Some(set)) => Some(Liveness::load(set, pack)?),
            _ => None,
        };
        let calibration = emb_spec.calibrations().iter().find(|c| c.flip == options.flip).cloned();
        options.quality.validate()?;
        Ok(Engine { detector, embedder, quality, liveness, calibration, manifest: m.clone(), options, origin: pack.origin() })
    }

    /// Loads from a model directory (its own `manifest.json`, else the built-in default manifest).
    pub fn from_dir(dir: impl AsRef<Path>, options: Options) -> Result<Self> {
        Self::from_pack(&ModelPack::from_dir(dir)?, options)
    }

    /// Loads from a model pack held in memory (see [`crate::pack::container`]; `facekit pack` makes one).
    pub fn from_pack_bytes(bytes: &[u8], options: Options) -> Result<Self> {
        Self::from_pack(&ModelPack::from_bytes(bytes.to_vec())?, options)
    }

    /// Loads from the first model directory found: `$FACEKIT_MODELS`, `./models`, `../shared/models`, then the
    /// installed pack (`PREFIX/share/facekit/models` beside the program, `/usr/local/share/…`, `/usr/share/…`).
    pub fn find(options: Options) -> Result<Self> {
        Self::from_dir(find_model_dir(None)?, options)
    }

    /// Loads the model pack compiled into the library (cargo feature `bundled`).
    #[cfg(feature = "bundled")]
    pub fn bundled(options: Options) -> Result<Self> {
        Self::from_pack(&ModelPack::from_static(crate::BUNDLED_PACK)?, options)
    }

    pub fn options(&self) -> &Options {
        &self.options
    }
    /// Where the models came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }
    pub fn detector_name(&self) -> &str {
        self.detector.name()
    }
    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }
    pub fn quality_model(&self) -> Option<&QualityModel> {
        self.quality.as_ref()
    }
    /// The liveness stage, if loaded (for scores without a threshold, e.g. evaluation).
    pub fn liveness_model(&self) -> Option<&Liveness> {
        self.liveness.as_ref()
    }
    /// Identity of the embedder (a model's sha256; an ensemble's models, sha256s and scales): embeddings —
    /// and galleries — from different embedders never mix.
    pub fn model_id(&self) -> &str {
        self.embedder.model_id()
    }
    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.embedder.dim()
    }
    /// The manifest of the model pack the engine was loaded from (as it was at load time).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    /// The calibration that holds for this engine's embedder and flip setting, if measured.
    pub fn calibration(&self) -> Option<&Calibration> {
        self.calibration.as_ref()
    }

    /// Detects faces in an upright RGB image, best score first.
    pub fn detect(&self, img: &Image) -> Result<Vec<Face>> {
        self.detector.detect(img, &self.options.detect)
    }

    /// Detects with other parameters than the engine's (e.g. a lower threshold for a second try).
    pub fn detect_with(&self, img: &Image, params: &DetectParams) -> Result<Vec<Face>> {
        self.detector.detect(img, params)
    }

    /// Detects inside `region` with the detector input scaled to `params.input_size` (see
    /// [`Detector::detect_region`]); faces in `img`'s coordinates.
    pub fn detect_region(&self, img: &Image, region: Region, params: &DetectParams) -> Result<Vec<Face>> {
        self.detector.detect_region(img, region, params)
    }

    /// Detects inside several regions at once, each scaled into a `tile`-pixel square (see
    /// [`Detector::detect_regions`]); faces per region, in `img`'s coordinates.
    pub fn detect_regions(&self, img: &Image, regions: &[Region], tile: u32, params: &DetectParams) -> Result<Vec<Vec<Face>>> {
        self.detector.detect_regions(img, regions, tile, params)
    }

    /// The largest detected face, or [`Error::NoFace`].
    pub fn largest_face(&self, img: &Image) -> Result<Face> {
        self.detect(img)?
            .into_iter()
            .max_by(|a, b| a.area().total_cmp(&b.area()))
            .ok_or_else(|| Error::NoFace(String::new()))
    }

    /// The aligned crop the embedder sees (e.g. 112×112 for MobileFaceNet).
    pub fn align(&self, img: &Image, face: &Face) -> Result<Image> {
        align(img, face, self.embedder.template())
    }

    /// Aligns and embeds one face (its landmarks refined first and flip augmentation applied if the options
    /// say so).
    pub fn embed(&self, img: &Image, face: &Face) -> Result<Embedding> {
        self.embedder.embed(img, &self.refine(img, face)?, None, self.options.flip)
    }

    /// Embeds `face` when its aligned crop ([`align`](Self::align)) is already at hand. No landmark
    /// refinement: the crop was made from these landmarks.
    pub fn embed_with_crop(&self, img: &Image, face: &Face, crop: &Image) -> Result<Embedding> {
        self.embedder.embed(img, face, Some(crop), self.options.flip)
    }

    /// `face` detected again inside a square of [`REFINE_REGION`] box sizes around it, scaled to
    /// [`REFINE_INPUT`] pixels (the tracker's region re-detection, [`Detector::detect_region`]) when the
    /// options ask for landmark refinement; the detection overlapping `face` most (IoU ≥ 0.5), else `face`.
    pub fn refine(&self, img: &Image, face: &Face) -> Result<Face> {
        if !self.options.refine_landmarks {
            return Ok(*face);
        }
        let side = REFINE_REGION * face.width.max(face.height);
        let Some(region) = Region::square_around(face.x + face.width / 2.0, face.y + face.height / 2.0, side, img.width(), img.height()) else {
            return Ok(*face);
        };
        // A face is expected there: a lower score threshold, as the tracker's region search uses.
        let p = DetectParams { input_size: REFINE_INPUT, score_threshold: self.options.detect.score_threshold.min(0.3), min_face_size: 0.0, ..self.options.detect.clone() };
        let found = self.detector.detect_region(img, region, &p)?;
        Ok(found.into_iter().map(|f| (f.iou(face), f)).filter(|(iou, _)| *iou >= 0.5).max_by(|a, b| a.0.total_cmp(&b.0)).map_or(*face, |(_, f)| f))
    }

    /// The calibrated threshold of an operating point.
    pub fn threshold(&self, op: OperatingPoint) -> Result<f32> {
        let cal = self.calibration_or_err()?;
        cal.thresholds.get(op.key()).copied().ok_or_else(|| {
            Error::invalid(format!("operating point {} was not measurable on {}", op.key(), cal.dataset))
        })
    }

    /// The threshold of `op` for a comparison whose smaller face has eyes `eye_px` apart (see
    /// [`ThresholdRule::Resolution`]); `None`, or the [`ThresholdRule::Single`] rule, or a calibration without a
    /// resolution table: [`threshold`](Self::threshold).
    pub fn threshold_for(&self, op: OperatingPoint, eye_px: Option<f32>) -> Result<f32> {
        match self.band(eye_px)? {
            Some(b) => b.thresholds.get(op.key()).copied().ok_or_else(|| {
                Error::invalid(format!("operating point {} was not measurable in every resolution band", op.key()))
            }),
            None => self.threshold(op),
        }
    }

    /// The resolution band a face with eyes `eye_px` apart is decided in, under the engine's rule.
    pub fn band(&self, eye_px: Option<f32>) -> Result<Option<&crate::pack::ResolutionBand>> {
        let cal = self.calibration_or_err()?;
        Ok(match (self.options.thresholds, eye_px.filter(|e| e.is_finite()), &cal.by_eye_distance) {
            (ThresholdRule::Camera | ThresholdRule::Resolution, Some(e), Some(t)) => t.band(e),
            _ => None,
        })
    }

    /// [`gallery_threshold`](Self::gallery_threshold) for a probe whose eyes are `eye_px` apart: the size rule
    /// on the points of its resolution band.
    pub fn gallery_threshold_for(&self, target_fpir: f64, templates: usize, eye_px: Option<f32>) -> Result<GalleryThreshold> {
        let Some(band) = self.band(eye_px)? else { return self.gallery_threshold(target_fpir, templates) };
        if !(target_fpir > 0.0 && target_fpir < 1.0) {
            return Err(Error::invalid(format!("target FPIR {target_fpir} is not in (0, 1)")));
        }
        let per_comparison_far = gallery_far(target_fpir, templates);
        let points: Vec<(f64, f32)> = OperatingPoint::ALL.iter().filter_map(|op| band.thresholds.get(op.key()).map(|&t| (op.far(), t))).collect();
        let (threshold, calibrated_far) = interpolate_threshold(&points, per_comparison_far)
            .ok_or_else(|| Error::invalid("the resolution band has no operating point"))?;
        Ok(GalleryThreshold { threshold, target_fpir, per_comparison_far, calibrated_far, camera_shift: 0.0 })
    }

    /// `threshold` (calibrated at `eye_px`'s band) held on a camera whose strangers score differently from
    /// the calibration's: from `same_camera_impostors` (scores between different people captured by that
    /// camera, e.g. a gallery's enrolled identities: [`crate::gallery::Gallery::cross_identity_scores`]) and
    /// the manifest's camera section (`facekit calibrate camera`: faces in view together), the
    /// threshold's distance from the calibration's impostor mean, in impostor standard deviations, is kept from
    /// the camera's mean: `μ_cam + (t − μ_cal)·σ_cam/σ_cal`. The camera's spread is estimated only from
    /// [`MIN_CAMERA_SPREAD_PAIRS`] scores on (10 people); with fewer it is taken as the calibration's (the
    /// threshold moves by the difference of the means). Never lower than `threshold` (a camera never loosens
    /// a decision); `threshold` itself under another rule than [`ThresholdRule::Camera`], with fewer than
    /// [`MIN_CAMERA_PAIRS`] scores, or without the impostor statistics in the manifest.
    pub fn camera_threshold(&self, threshold: f32, same_camera_impostors: &[f32], eye_px: Option<f32>) -> Result<f32> {
        let finite: Vec<f64> = same_camera_impostors.iter().filter(|v| v.is_finite()).map(|&v| v as f64).collect();
        let cal = self.calibration_or_err()?;
        // The camera section's impostors (calibrate camera) join the given ones: counts, sums, squares.
        let (mut n, mut sum, mut sq) = (finite.len() as f64, finite.iter().sum::<f64>(), finite.iter().map(|v| v * v).sum::<f64>());
        if let Some(c) = &cal.camera {
            let (k, m, sd) = (c.impostor_pairs as f64, c.impostor_mean as f64, c.impostor_std as f64);
            n += k;
            sum += k * m;
            sq += (k - 1.0) * sd * sd + k * m * m;
        }
        if self.options.thresholds != ThresholdRule::Camera || n < MIN_CAMERA_PAIRS as f64 {
            return Ok(threshold);
        }
        let Some(table) = &cal.by_eye_distance else { return Ok(threshold) };
        let band = match eye_px.filter(|e| e.is_finite()) {
            Some(e) => table.band(e),
            None => table.bands.last(),
        };
        let (Some(mean_cal), Some(sd_cal)) = (band.and_then(|b| b.impostor_mean), band.and_then(|b| b.impostor_std)) else { return Ok(threshold) };
        let mean = sum / n;
        let sd = if n >= MIN_CAMERA_SPREAD_PAIRS as f64 { ((sq - n * mean * mean) / (n - 1.0)).max(0.0).sqrt() } else { sd_cal as f64 };
        let t = mean + (threshold as f64 - mean_cal as f64) * sd / (sd_cal as f64).max(1e-6);
        Ok((t as f32).clamp(threshold, 1.0))
    }

    /// The threshold a gallery decides at for a probe whose eyes are `eye_px` apart: the size rule on the
    /// points of its resolution band ([`gallery_threshold_for`](Self::gallery_threshold_for)), raised by the
    /// camera its enrolled identities show ([`camera_threshold`](Self::camera_threshold)). What the tracker,
    /// `facekit identify` and `fk_gallery_threshold` decide at.
    pub fn gallery_decision_threshold(&self, gallery: &crate::gallery::Gallery, target_fpir: f64, eye_px: Option<f32>) -> Result<GalleryThreshold> {
        let mut gt = self.gallery_threshold_for(target_fpir, gallery.template_count(), eye_px)?;
        let t = self.camera_threshold(gt.threshold, &gallery.cross_identity_scores(crate::gallery::CAMERA_COHORT), eye_px)?;
        gt.camera_shift = t - gt.threshold;
        gt.threshold = t;
        Ok(gt)
    }

    /// Compares two captures' embeddings at `op`, at the threshold for the smaller of the two faces' inter-eye
    /// distances (`None` where unknown: a template from elsewhere).
    pub fn compare_captures(&self, a: &[f32], eye_a: Option<f32>, b: &[f32], eye_b: Option<f32>, op: OperatingPoint) -> Result<Match> {
        let eye = match (eye_a, eye_b) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        let m = self.compare_at(a, b, op)?;
        let threshold = self.threshold_for(op, eye)?;
        Ok(Match { threshold, is_match: m.similarity >= threshold, ..m })
    }

    /// The threshold a gallery of `templates` templates decides at so that about `target_fpir` of strangers
    /// match someone (false-positive identification rate; deciding commands pass their operating point's FAR):
    /// per comparison, FAR = FPIR / templates ([`gallery_far`]), its threshold interpolated on log FAR between
    /// the calibrated points ([`interpolate_threshold`]). One template: the 1:1 threshold. A gallery too large
    /// for the strictest calibrated point gets that point's threshold, and
    /// [`GalleryThreshold::exceeds_calibration`] says so.
    pub fn gallery_threshold(&self, target_fpir: f64, templates: usize) -> Result<GalleryThreshold> {
        if !(target_fpir > 0.0 && target_fpir < 1.0) {
            return Err(Error::invalid(format!("target FPIR {target_fpir} is not in (0, 1)")));
        }
        let cal = self.calibration_or_err()?;
        let per_comparison_far = gallery_far(target_fpir, templates);
        let (threshold, calibrated_far) = interpolate_threshold(&cal.points(), per_comparison_far)
            .ok_or_else(|| Error::invalid(format!("no operating point was measurable on {}", cal.dataset)))?;
        Ok(GalleryThreshold { threshold, target_fpir, per_comparison_far, calibrated_far, camera_shift: 0.0 })
    }

    fn calibration_or_err(&self) -> Result<&Calibration> {
        self.calibration.as_ref().ok_or_else(|| {
            Error::invalid(format!(
                "embedder '{}' has no calibration for flip={} in the manifest; run `facekit calibrate`",
                self.embedder.name(),
                self.options.flip
            ))
        })
    }

    /// Compares two embeddings at the engine's operating point.
    pub fn compare(&self, a: &Embedding, b: &Embedding) -> Result<Match> {
        self.compare_at(a.as_slice(), b.as_slice(), self.options.operating_point)
    }

    /// Compares two embeddings (any unit or non-unit vectors of this engine's dimension) at `op`.
    pub fn compare_at(&self, a: &[f32], b: &[f32], op: OperatingPoint) -> Result<Match> {
        if a.len() != self.dim() || b.len() != self.dim() {
            return Err(Error::invalid(format!("embeddings must have {} values", self.dim())));
        }
        let similarity = cosine(a, b)?;
        let threshold = self.threshold(op)?;
        Ok(Match { similarity, is_match: similarity >= threshold, threshold, operating_point: op })
    }

    /// Liveness of one face at the engine's liveness operating point. [`Error::Unsupported`] when no liveness
    /// models are loaded (the manifest has none, or `load_liveness` is off).
    pub fn liveness(&self, img: &Image, face: &Face) -> Result<LivenessReport> {
        let l = self.liveness.as_ref().ok_or_else(|| {
            Error::Unsupported(if self.options.load_liveness {
                format!("the model pack ({}) has no liveness models", self.origin)
            } else {
                "liveness models are not loaded (option load_liveness is off)".into()
            })
        })?;
        l.assess(img, face, self.options.liveness_point)
    }

    /// The one check before facekit takes a decision on a capture (verify, enrolment, identification, the
    /// tracker): quality under the engine's policy, then — if the policy requires it — liveness. Refusals:
    /// [`Error::PoorQuality`] (the reasons, or a face too small or cut off for the liveness crop) and
    /// [`Error::NotLive`] (a print, a photo or a screen: "show your real face"); a policy that requires
    /// liveness on an engine without it gives [`Error::Unsupported`]. On success, the reports.
    pub fn check_capture(&self, img: &Image, face: &Face) -> Result<Capture> {
        let policy = &self.options.quality;
        let quality = self.quality(img, face)?;
        if !quality.acceptable {
            return Err(Error::PoorQuality(format!("{} (overall {:.0}/100)", reason::names(quality.reasons).join(", "), quality.overall)));
        }
        if !policy.require_liveness {
            return Ok(Capture { quality, liveness: None });
        }
        let l = self.liveness(img, face).map_err(|e| match e {
            Error::Unsupported(m) => Error::Unsupported(format!("the quality policy requires liveness, but {m} (option require_liveness=0 decides without it)")),
            e => e,
        })?;
        match l.status {
            LivenessStatus::Assessed if l.is_live => Ok(Capture { quality, liveness: Some(l) }),
            LivenessStatus::Assessed => Err(Error::NotLive(format!(
                "liveness {:.3} is under {:.3} ({}): show your real face",
                l.score,
                l.threshold,
                l.operating_point.key()
            ))),
            LivenessStatus::FaceTooSmall => Err(Error::PoorQuality("face too small for the liveness check: come closer".into())),
            LivenessStatus::FaceAtBorder => Err(Error::PoorQuality("face cut off by the frame edge: centre your face".into())),
        }
    }

    /// 1:1 verification: the largest face of each image, each checked by [`Engine::check_capture`] (a refusal
    /// says which image), compared at the engine's operating point (at the threshold for the smaller face's
    /// resolution: [`Engine::compare_captures`]).
    pub fn verify(&self, a: &Image, b: &Image) -> Result<Match> {
        let (mut emb, mut eyes) = (Vec::with_capacity(2), Vec::with_capacity(2));
        for (img, which) in [(a, "first"), (b, "second")] {
            let face = self.largest_face(img).map_err(|_| Error::NoFace(format!(" in the {which} image")))?;
            self.check_capture(img, &face).map_err(|e| match e {
                Error::PoorQuality(m) => Error::PoorQuality(format!("{which} image: {m}")),
                Error::NotLive(m) => Error::NotLive(format!("{which} image: {m}")),
                e => e,
            })?;
            emb.push(self.embed(img, &face)?);
            eyes.push(face.eye_distance());
        }
        self.compare_captures(emb[0].as_slice(), Some(eyes[0]), emb[1].as_slice(), Some(eyes[1]), self.options.operating_point)
    }
}

/// The reports of a capture that passed [`Engine::check_capture`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Capture {
    pub quality: QualityReport,
    /// `None` when the policy does not require liveness.
    pub liveness: Option<LivenessReport>,
}
