//! Model packs: a manifest (JSON) that says everything about each model — file, sha256, task, input layout,
//! channel order, normalisation, alignment template, output, licence, source, calibrated thresholds — plus
//! the model bytes, read from a directory, from one buffer in memory, or compiled into the library.
//!
//! A directory without its own `manifest.json` (such as `../shared/models`) is read with the default
//! manifest compiled into facekit (`models/manifest.json` in the source tree).

pub mod container;

use crate::error::{Error, Result};
use crate::read::{read_limited, ReadError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default manifest, compiled in.
pub const DEFAULT_MANIFEST: &str = include_str!("../../models/manifest.json");
/// Manifest format this build understands.
pub const MANIFEST_FORMAT: u32 = 1;
/// File name of a manifest inside a model directory or pack.
pub const MANIFEST_FILE: &str = "manifest.json";

// Limits (README "Limits"): checked against file metadata or the container's entry length before reading.
/// Largest model file, in a directory or a pack (the largest real one, dlib_resnet, is 22 MB). Above it:
/// [`Error::ModelLoad`].
pub const MAX_MODEL_BYTES: u64 = 128 * 1024 * 1024;
/// Largest manifest (the default one is about 8 KB). Above it: [`Error::ModelFormat`].
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

/// What a model is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Detect,
    Embed,
    Quality,
    Liveness,
}

/// Tensor layout of an image input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    NCHW,
    NHWC,
}

/// Channel order the model expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channels {
    RGB,
    BGR,
}

/// How pixels become the model's input: `value = (pixel · scale − mean[c]) / std[c]`, channels in `channels`
/// order, laid out as `layout`. `width`/`height` are fixed input sizes (absent for the detector, whose size is
/// chosen at run time and padded to `size_multiple`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    pub name: String,
    pub layout: Layout,
    pub channels: Channels,
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_multiple: Option<usize>,
}

/// An alignment template: where the face's landmarks go in a `width`×`height` crop. Target point `i` is the
/// mean of the detector landmarks listed in `from[i]` (landmark order: see [`crate::detect::Face`]), so a
/// 3-point template (eyes, mouth centre) is written `from: [[0],[1],[3,4]]`. The crop is then resized to
/// `resize_to` if given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub width: u32,
    pub height: u32,
    pub points: Vec<[f32; 2]>,
    pub from: Vec<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize_to: Option<[u32; 2]>,
}

/// The output a model's consumer reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputSpec {
    pub name: String,
    pub dim: usize,
}

/// Thresholds measured by `facekit calibrate`, and where they came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Data set and protocol the scores came from.
    pub dataset: String,
    /// Pipeline settings used (detector, input size), since thresholds hold only for the same pipeline.
    pub pipeline: String,
    /// Whether embeddings were flip-augmented: flip changes the score distribution, so each setting has its
    /// own calibration.
    pub flip: bool,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    /// Operating point name (`far_1e-2`, `far_1e-3`, `far_1e-4`) → cosine threshold: a pair matches when its
    /// similarity is ≥ the threshold; measured so that at most that fraction of impostor pairs pass.
    pub thresholds: BTreeMap<String, f32>,
    /// True-accept rate measured at each threshold, in percent.
    #[serde(default)]
    pub tar: BTreeMap<String, f32>,
    /// Best-accuracy threshold on the same data (10-fold mean), for reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_accuracy_threshold: Option<f32>,
    /// How many impostor scores reach each threshold: the count a FAR rests on (about 30 at `far_1e-6` on
    /// LFW's 29.6 million impostor pairs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub impostors_accepted: BTreeMap<String, u64>,
    /// 95 % Clopper–Pearson interval of the FAR at each threshold, from that count (see
    /// [`crate::compare::clopper_pearson`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub far_interval_95: BTreeMap<String, [f64; 2]>,
    /// The same operating points per band of face resolution (`facekit calibrate resolution`): what decisions
    /// use when the capture's inter-eye distance is known ([`crate::engine::ThresholdRule::Resolution`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_eye_distance: Option<ResolutionTable>,
    /// The installed camera's section (`facekit calibrate camera`), measured with this embedder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<CameraCalibration>,
}

/// What one installed camera showed (`facekit calibrate camera`, from unlabelled footage): its strangers'
/// scores against each other (faces in view at the same time are different people) and its live faces'
/// liveness. Its impostor scores join a gallery's own when thresholds adapt to the camera
/// ([`crate::Engine::camera_threshold`]); the liveness figures are reported, not used: a threshold lowered to
/// admit one camera's live faces admits its photos too, because spoof scores do not move with a camera's live
/// scores (BENCHMARKS.md, "Liveness adapted to each camera's live faces").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraCalibration {
    /// The footage it was measured on.
    pub source: String,
    pub frames: u64,
    pub seconds: f64,
    /// Tracks with at least one good capture.
    pub tracks: usize,
    /// Pairs of those tracks in view together, and their scores (mean over the two tracks' captures).
    pub impostor_pairs: usize,
    pub impostor_mean: f32,
    pub impostor_std: f32,
    pub impostor_max: f32,
    pub median_eye_px: f32,
    /// Tracks with a liveness score, the median of their (per-track median) scores and its 10th percentile.
    pub live_tracks: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_median: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_p10: Option<f32>,
}

/// Operating points per band of face resolution, measured on re-rendered photos
/// ([`crate::eval::resolution`]), with their provenance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResolutionTable {
    pub dataset: String,
    /// How the photos were re-rendered (ranges of downscale, blur, noise, JPEG quality).
    pub degradations: String,
    pub pipeline: String,
    /// Ascending by `min_eye_px`; the first band also holds faces below its minimum, the last one every
    /// larger face.
    pub bands: Vec<ResolutionBand>,
}

/// One band of a [`ResolutionTable`]: faces whose eyes are at least `min_eye_px` apart (and less than the next
/// band's minimum).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResolutionBand {
    pub min_eye_px: f32,
    /// Threshold per operating point, as applied (monotone: see [`crate::eval::resolution::make_monotone`]).
    pub thresholds: BTreeMap<String, f32>,
    /// The thresholds as measured in this band alone, before the table was made monotone.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub measured: BTreeMap<String, f32>,
    /// True-accept rate (percent) of the band's genuine pairs at each applied threshold.
    #[serde(default)]
    pub tar: BTreeMap<String, f32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub impostors_accepted: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub far_interval_95: BTreeMap<String, [f64; 2]>,
    #[serde(default)]
    pub genuine_pairs: usize,
    #[serde(default)]
    pub impostor_pairs: usize,
    /// Images rendered into the band with a face found, and without.
    #[serde(default)]
    pub images: usize,
    #[serde(default)]
    pub images_without_face: usize,
    /// Mean and standard deviation of the band's impostor scores (a camera's own impostors are compared with
    /// them: [`crate::engine::Engine::camera_threshold`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impostor_mean: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impostor_std: Option<f32>,
    /// Median inter-eye distance the detector measured on the band's renders (none for the press band).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub median_eye_px: Option<f32>,
    /// The genuine scores, while calibrating (not stored).
    #[serde(skip)]
    pub genuine_scores: Vec<f32>,
}

impl ResolutionTable {
    /// The band a face with eyes `eye_px` apart falls in (below the first band: the first).
    pub fn band(&self, eye_px: f32) -> Option<&ResolutionBand> {
        self.bands.iter().rev().find(|b| eye_px >= b.min_eye_px).or(self.bands.first())
    }

    /// Bands ascending; every band with the same operating points, finite; thresholds never lower for a
    /// smaller face or a stricter point. The error names the entry.
    pub fn check(&self, owner: &str) -> Result<()> {
        let bad = |msg: String| Err(Error::ModelFormat(format!("manifest: {owner}: by_eye_distance: {msg}")));
        let Some(first) = self.bands.first() else { return bad("no bands".into()) };
        let keys: Vec<&String> = first.thresholds.keys().collect();
        if keys.is_empty() {
            return bad(format!("band min_eye_px={} has no operating point", first.min_eye_px));
        }
        for (i, b) in self.bands.iter().enumerate() {
            let name = format!("band min_eye_px={}", b.min_eye_px);
            if !(b.min_eye_px.is_finite() && b.min_eye_px >= 0.0) || (i > 0 && b.min_eye_px <= self.bands[i - 1].min_eye_px) {
                return bad(format!("{name} is not above the previous band's"));
            }
            if b.thresholds.keys().collect::<Vec<_>>() != keys {
                let missing: Vec<&&String> = keys.iter().filter(|k| !b.thresholds.contains_key(**k)).collect();
                return bad(format!("{name} misses or adds an operating point (missing {missing:?}; every band needs {keys:?})"));
            }
            let mut prev = f32::NEG_INFINITY;
            for op in crate::compare::OperatingPoint::ALL {
                let Some(&t) = b.thresholds.get(op.key()) else { continue };
                if !t.is_finite() || t < prev {
                    return bad(format!("{name} {} = {t} is not finite or lower than a looser point's", op.key()));
                }
                prev = t;
                if i > 0 && t > self.bands[i - 1].thresholds[op.key()] {
                    return bad(format!("{name} {} = {t} is above the smaller band's: the table is not monotone", op.key()));
                }
            }
        }
        Ok(())
    }
}

impl Calibration {
    /// The calibrated points `(FAR, threshold)`, for [`crate::compare::interpolate_threshold`].
    pub fn points(&self) -> Vec<(f64, f32)> {
        crate::compare::OperatingPoint::ALL
            .iter()
            .filter_map(|op| self.thresholds.get(op.key()).map(|&t| (op.far(), t)))
            .collect()
    }
}

/// An embedder made of several embedding models whose scores are fused (facekit's accurate mode). Each member
/// model embeds the face on its own template; the fused embedding is the concatenation of the members' unit
/// embeddings, each scaled by `sqrt(weight / impostor_std)`, normalised again. The cosine of two fused
/// embeddings is then `Σ (wᵢ/σᵢ)·cᵢ / Σ (wᵢ/σᵢ)`, an increasing affine function of the z-score fusion
/// `Σ wᵢ·(cᵢ − μᵢ)/σᵢ` of the members' cosines `cᵢ`: comparisons, galleries and thresholds work on it as on
/// any embedder. It has its own calibration, like a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ensemble {
    pub name: String,
    pub members: Vec<EnsembleMember>,
    /// Where the members' impostor means and standard deviations were measured.
    pub normalisation: String,
    /// Measured thresholds of the fused score, one entry per flip setting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calibrations: Vec<Calibration>,
}

/// One model of an [`Ensemble`] and its score normalisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnsembleMember {
    /// An embedding model of the manifest.
    pub model: String,
    /// Its weight in the fused z-score (the weights need not sum to 1).
    pub weight: f32,
    /// Mean and standard deviation of its cosine over impostor pairs.
    pub impostor_mean: f32,
    pub impostor_std: f32,
}

impl EnsembleMember {
    /// The factor its unit embedding is scaled by in the fused embedding: `sqrt(weight / impostor_std)`.
    pub fn scale(&self) -> f32 {
        (self.weight / self.impostor_std).sqrt()
    }
}

/// Everything about one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    pub name: String,
    pub task: Task,
    pub file: String,
    pub sha256: String,
    pub input: InputSpec,
    /// Output names the detector reads (`cls_8`… for YuNet) or the one output of other models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strides: Option<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Template>,
    /// The layout tract runs the convolutions in, when not the model's own: `NHWC` halves the depthwise
    /// convolutions' time on MobileFaceNet and LightQNet (BENCHMARKS.md), and slows YuNet, whose early layers
    /// have few channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_layout: Option<Layout>,
    /// Measured thresholds, one entry per flip setting (embedders only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calibrations: Vec<Calibration>,
    /// How a liveness model sees a face and reads its output (liveness models only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<LivenessHead>,
    pub licence: String,
    pub source: String,
}

/// A liveness model's crop and output: the detector box scaled by `crop_scale` about its centre (the scale
/// reduced to fit, the crop shifted back inside the image, as minivision's `CropImage._get_new_box` does),
/// resized to the input size; the output (`output.dim` logits) is softmaxed when `softmax` is set, and
/// `live_class` is the index of the "real face" class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LivenessHead {
    /// f64 so that 2.7 is the same number as in the reference's Python arithmetic.
    pub crop_scale: f64,
    pub live_class: usize,
    pub softmax: bool,
}

/// How the liveness models' P(live) values become one score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Combine {
    /// The mean of the models' P(live).
    Mean,
}

/// Liveness thresholds measured by `facekit calibrate liveness` on labelled real and spoof captures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LivenessCalibration {
    /// Data set and split the scores came from.
    pub dataset: String,
    /// Pipeline settings used (detector, input size): the face box decides the crops.
    pub pipeline: String,
    pub real: usize,
    pub spoof: usize,
    /// Operating point (`apcer_5e-2`, `apcer_1e-2`) → score threshold: a face is live when its score is ≥ the
    /// threshold; measured so that at most that fraction of the spoofs pass.
    pub thresholds: BTreeMap<String, f32>,
    /// APCER and BPCER measured at each threshold on the same data, in percent.
    #[serde(default)]
    pub apcer: BTreeMap<String, f32>,
    #[serde(default)]
    pub bpcer: BTreeMap<String, f32>,
    /// A pooled calibration's data sets: per set, per operating point, [APCER, BPCER] in percent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_set: BTreeMap<String, BTreeMap<String, [f32; 2]>>,
}

/// The liveness stage of a pack: which models, how their scores combine, and the calibrated thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LivenessSet {
    pub models: Vec<String>,
    pub combine: Combine,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<LivenessCalibration>,
}

/// Most models a liveness ensemble may have (the C report has a slot for each).
pub const MAX_LIVENESS_MODELS: usize = 4;

impl ModelSpec {
    /// The alignment template of a model that needs one (embedders, quality).
    pub fn template(&self) -> Result<&Template> {
        self.template.as_ref().ok_or_else(|| Error::ModelFormat(format!("{}: no template", self.name)))
    }
}

/// Which model of the pack each stage uses unless the options say otherwise.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Defaults {
    pub detector: String,
    pub embedder: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// The ensemble of the accurate mode (`Options::mode`), if the pack has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accurate: Option<String>,
}

/// The manifest of a model pack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub name: String,
    pub defaults: Defaults,
    pub models: Vec<ModelSpec>,
    /// The liveness ensemble; a pack without one still loads (liveness is then unsupported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<LivenessSet>,
    /// Fused embedders (the accurate mode); a pack without them still loads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ensembles: Vec<Ensemble>,
}

/// What an embedder name of the manifest stands for.
#[derive(Clone, Copy, Debug)]
pub enum EmbedderSpec<'a> {
    Model(&'a ModelSpec),
    Ensemble(&'a Ensemble),
}

impl EmbedderSpec<'_> {
    /// Its measured thresholds, one per flip setting.
    pub fn calibrations(&self) -> &[Calibration] {
        match self {
            EmbedderSpec::Model(m) => &m.calibrations,
            EmbedderSpec::Ensemble(e) => &e.calibrations,
        }
    }
}

/// Most models an embedder ensemble may have.
pub const MAX_ENSEMBLE_MODELS: usize = 4;

impl Manifest {
    /// Parses and checks a manifest.
    pub fn parse(text: &str) -> Result<Self> {
        let m: Manifest =
            serde_json::from_str(text).map_err(|e| Error::ModelFormat(format!("manifest: {e}")))?;
        if m.format != MANIFEST_FORMAT {
            return Err(Error::ModelFormat(format!(
                "manifest format {} is not supported (this build reads format {MANIFEST_FORMAT})",
                m.format
            )));
        }
        for s in &m.models {
            if s.sha256.len() != 64 || !s.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::ModelFormat(format!("manifest: model {} has a malformed sha256", s.name)));
            }
            if s.input.std.iter().any(|&v| v == 0.0 || !v.is_finite()) || !s.input.scale.is_finite() {
                return Err(Error::ModelFormat(format!("manifest: model {} has a zero or non-finite std/scale", s.name)));
            }
            if let Some(t) = &s.template {
                if t.points.len() != t.from.len()
                    || t.points.len() < 2
                    || t.from.iter().any(|f| f.is_empty() || f.iter().any(|&i| i >= 5))
                {
                    return Err(Error::ModelFormat(format!("manifest: model {} has an inconsistent template", s.name)));
                }
            }
        }
        for name in [Some(&m.defaults.detector), Some(&m.defaults.embedder), m.defaults.quality.as_ref()].into_iter().flatten() {
            m.model(name)?;
        }
        if let Some(l) = &m.liveness {
            m.check_liveness(l)?;
        }
        for e in &m.ensembles {
            m.check_ensemble(e)?;
        }
        let tables = m.models.iter().map(|s| (&s.name, &s.calibrations)).chain(m.ensembles.iter().map(|e| (&e.name, &e.calibrations)));
        for (name, cals) in tables {
            for c in cals {
                if let Some(t) = &c.by_eye_distance {
                    t.check(&format!("{name} (flip={})", c.flip))?;
                }
                if let Some(cam) = &c.camera {
                    let ok = |v: f32| v.is_finite() && (-1.0..=1.0).contains(&v);
                    if cam.impostor_pairs < 2 || !ok(cam.impostor_mean) || !(cam.impostor_std.is_finite() && cam.impostor_std >= 0.0) {
                        return Err(Error::ModelFormat(format!(
                            "manifest: {name} (flip={}): camera: impostor_pairs must be at least 2, impostor_mean in [-1, 1], impostor_std finite and non-negative",
                            c.flip
                        )));
                    }
                }
            }
        }
        if let Some(a) = &m.defaults.accurate {
            m.ensemble(a)?;
        }
        Ok(m)
    }
    /// An ensemble has 2..=MAX_ENSEMBLE_MODELS distinct embedding models with usable weights and impostor
    /// statistics, and a name no model has.
    fn check_ensemble(&self, e: &Ensemble) -> Result<()> {
        let bad = |msg: String| Err(Error::ModelFormat(format!("manifest: ensemble {}: {msg}", e.name)));
        if self.models.iter().any(|m| m.name == e.name) || self.ensembles.iter().filter(|o| o.name == e.name).count() > 1 {
            return bad("its name is taken by another model or ensemble".into());
        }
        if !(2..=MAX_ENSEMBLE_MODELS).contains(&e.members.len()) {
            return bad(format!("{} models listed (2..={MAX_ENSEMBLE_MODELS})", e.members.len()));
        }
        for (i, p) in e.members.iter().enumerate() {
            if self.model(&p.model)?.task != Task::Embed || e.members[..i].iter().any(|q| q.model == p.model) {
                return bad(format!("model {} must be an embedder, listed once", p.model));
            }
            let ok = |v: f32| v.is_finite() && v > 0.0;
            if !ok(p.weight) || !ok(p.impostor_std) || !p.impostor_mean.is_finite() {
                return bad(format!("model {}: weight and impostor_std must be positive, impostor_mean finite", p.model));
            }
        }
        Ok(())
    }
    /// The liveness set names 1..=MAX_LIVENESS_MODELS liveness models, each with a usable crop and output.
    fn check_liveness(&self, l: &LivenessSet) -> Result<()> {
        let bad = |msg: String| Err(Error::ModelFormat(format!("manifest: liveness: {msg}")));
        if l.models.is_empty() || l.models.len() > MAX_LIVENESS_MODELS {
            return bad(format!("{} models listed (1..={MAX_LIVENESS_MODELS})", l.models.len()));
        }
        for name in &l.models {
            let s = self.model(name)?;
            let (Some(h), Some(out)) = (&s.liveness, &s.output) else {
                return bad(format!("model {name} needs a liveness head and an output"));
            };
            if s.task != Task::Liveness {
                return bad(format!("model {name} is a {:?} model", s.task));
            }
            if !(h.crop_scale.is_finite() && h.crop_scale >= 1.0) || out.dim < 2 || h.live_class >= out.dim {
                return bad(format!("model {name}: crop_scale must be >= 1 and live_class < output dim >= 2"));
            }
        }
        if let Some(c) = &l.calibration {
            if c.thresholds.values().any(|t| !t.is_finite()) {
                return bad("a calibrated threshold is not finite".into());
            }
        }
        Ok(())
    }
    /// The built-in default manifest.
    pub fn default_manifest() -> Self {
        Self::parse(DEFAULT_MANIFEST).expect("the compiled-in manifest is checked by a test")
    }
    /// The model called `name`.
    pub fn model(&self, name: &str) -> Result<&ModelSpec> {
        self.models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::ModelFormat(format!("manifest names no model '{name}'")))
    }
    /// The ensemble called `name`.
    pub fn ensemble(&self, name: &str) -> Result<&Ensemble> {
        self.ensembles
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| Error::ModelFormat(format!("manifest names no ensemble '{name}'")))
    }
    /// The embedding model or ensemble called `name`.
    pub fn embedder(&self, name: &str) -> Result<EmbedderSpec<'_>> {
        match self.ensembles.iter().find(|e| e.name == name) {
            Some(e) => Ok(EmbedderSpec::Ensemble(e)),
            None => self.model(name).map(EmbedderSpec::Model),
        }
    }
    /// The calibrations of the embedding model or ensemble called `name`, to be replaced by `facekit calibrate`.
    pub fn calibrations_mut(&mut self, name: &str) -> Result<&mut Vec<Calibration>> {
        match self.ensembles.iter().position(|e| e.name == name) {
            Some(i) => Ok(&mut self.ensembles[i].calibrations),
            None => Ok(&mut self.model_mut(name)?.calibrations),
        }
    }
    pub fn model_mut(&mut self, name: &str) -> Result<&mut ModelSpec> {
        self.models
            .iter_mut()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::ModelFormat(format!("manifest names no model '{name}'")))
    }
    /// Records a liveness calibration (from [`crate::liveness::eval::calibrate_dir`]) in the liveness set.
    pub fn set_liveness_calibration(&mut self, cal: LivenessCalibration) -> Result<()> {
        let set = self.liveness.as_mut().ok_or_else(|| Error::Unsupported("the manifest has no liveness models to calibrate".into()))?;
        set.calibration = Some(cal);
        Ok(())
    }
    /// Records an installed camera's section (from [`crate::camera::CameraCalibrator`]) in the calibration of
    /// embedder `name` for flip setting `flip`, replacing an earlier one. That calibration must exist (the
    /// camera's figures only adjust its thresholds).
    pub fn set_camera_calibration(&mut self, name: &str, flip: bool, cal: CameraCalibration) -> Result<()> {
        let slot = self.calibrations_mut(name)?.iter_mut().find(|c| c.flip == flip).ok_or_else(|| {
            Error::invalid(format!(
                "embedder '{name}' has no calibration for flip={flip} in the manifest: run `facekit calibrate lfw` first"
            ))
        })?;
        slot.camera = Some(cal);
        Ok(())
    }
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest serialises") + "\n"
    }
    /// Writes the manifest to `path` atomically: a temporary file beside it, flushed to disk, then renamed over
    /// `path`, so a reader (or a power cut) sees the old manifest or the new one, never a part. On an error
    /// `path` is unchanged and the temporary file is removed.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        use std::io::Write;
        let path = path.as_ref();
        let name = path.file_name().ok_or_else(|| Error::invalid(format!("manifest path {} has no file name", path.display())))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{}.tmp-{}-{n}", name.to_string_lossy(), std::process::id()));
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let written = file.write_all(self.to_json().as_bytes()).and_then(|()| file.sync_all());
        drop(file);
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(path, e));
        }
        Ok(())
    }
}

/// Where a pack's files come from.
#[derive(Clone, Debug)]
enum Source {
    Dir(PathBuf),
    Memory(Arc<[u8]>, Vec<(String, std::ops::Range<usize>)>),
    Static(&'static [u8], Vec<(String, std::ops::Range<usize>)>),
}

/// A manifest plus access to the model files it names.
#[derive(Clone, Debug)]
pub struct ModelPack {
    pub manifest: Manifest,
    source: Source,
}

impl ModelPack {
    /// A model directory: its own `manifest.json` if present, else the built-in default manifest.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::ModelLoad(format!("model directory {} does not exist", dir.display())));
        }
        let mf = dir.join(MANIFEST_FILE);
        let manifest = if mf.is_file() {
            let bytes = read_limited(&mf, MAX_MANIFEST_BYTES).map_err(|e| match e {
                ReadError::Io(e) => Error::io(&mf, e),
                ReadError::TooLarge(n) => manifest_too_large(n),
            })?;
            Manifest::parse(std::str::from_utf8(&bytes).map_err(|_| Error::ModelFormat("manifest is not UTF-8".into()))?)?
        } else {
            Manifest::default_manifest()
        };
        Ok(ModelPack { manifest, source: Source::Dir(dir.to_path_buf()) })
    }

    /// A directory with an explicit manifest file (e.g. one written by `facekit calibrate`).
    pub fn from_dir_with_manifest(dir: impl AsRef<Path>, manifest: Manifest) -> Result<Self> {
        let mut p = Self::from_dir(dir)?;
        p.manifest = manifest;
        Ok(p)
    }

    /// A pack held in memory (see [`container`]); it must contain `manifest.json`.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>) -> Result<Self> {
        let bytes: Arc<[u8]> = bytes.into();
        let entries = container::parse(&bytes).map_err(Error::ModelFormat)?;
        let manifest = Self::manifest_of(&bytes, &entries)?;
        Ok(ModelPack { manifest, source: Source::Memory(bytes, entries) })
    }

    /// A pack compiled into the binary.
    pub fn from_static(bytes: &'static [u8]) -> Result<Self> {
        let entries = container::parse(bytes).map_err(Error::ModelFormat)?;
        let manifest = Self::manifest_of(bytes, &entries)?;
        Ok(ModelPack { manifest, source: Source::Static(bytes, entries) })
    }

    fn manifest_of(bytes: &[u8], entries: &[(String, std::ops::Range<usize>)]) -> Result<Manifest> {
        let r = entries
            .iter()
            .find(|(n, _)| n == MANIFEST_FILE)
            .map(|(_, r)| r.clone())
            .ok_or_else(|| Error::ModelFormat("model pack has no manifest.json".into()))?;
        if r.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(manifest_too_large(r.len() as u64));
        }
        let text = std::str::from_utf8(&bytes[r]).map_err(|_| Error::ModelFormat("manifest is not UTF-8".into()))?;
        Manifest::parse(text)
    }

    /// Serialises a directory's models (those named in `names`, or all) with the manifest into one pack.
    pub fn pack_dir(dir: impl AsRef<Path>, names: Option<&[&str]>) -> Result<Vec<u8>> {
        let pack = Self::from_dir(dir)?;
        let mut files = Vec::new();
        for m in &pack.manifest.models {
            if names.is_none_or(|n| n.contains(&m.name.as_str())) {
                files.push((m.file.clone(), pack.read_verified(m)?));
            }
        }
        let mut manifest = pack.manifest.clone();
        manifest.models.retain(|m| files.iter().any(|(f, _)| *f == m.file));
        // Liveness and ensembles stay only with all their models: a pack without them loads with liveness /
        // the accurate mode unsupported.
        if let Some(l) = &manifest.liveness {
            if l.models.iter().any(|n| manifest.model(n).is_err()) {
                manifest.liveness = None;
            }
        }
        let models = manifest.models.clone();
        manifest.ensembles.retain(|e| e.members.iter().all(|p| models.iter().any(|m| m.name == p.model)));
        if manifest.defaults.accurate.as_ref().is_some_and(|a| manifest.ensemble(a).is_err()) {
            manifest.defaults.accurate = None;
        }
        let text = manifest.to_json();
        let mut entries: Vec<(&str, &[u8])> = vec![(MANIFEST_FILE, text.as_bytes())];
        entries.extend(files.iter().map(|(f, b)| (f.as_str(), b.as_slice())));
        Ok(container::write(&entries))
    }

    /// Reads a model's bytes and checks them against the manifest's sha256.
    pub fn read_verified(&self, spec: &ModelSpec) -> Result<Vec<u8>> {
        let too_large = |n: u64| {
            Error::ModelLoad(format!("model '{}': {n} bytes is more than the {MAX_MODEL_BYTES}-byte limit", spec.name))
        };
        let bytes: Cow<[u8]> = match &self.source {
            Source::Dir(d) => {
                let p = d.join(&spec.file);
                Cow::Owned(read_limited(&p, MAX_MODEL_BYTES).map_err(|e| match e {
                    ReadError::Io(e) => Error::ModelLoad(format!("model '{}': cannot read {}: {e}", spec.name, p.display())),
                    ReadError::TooLarge(n) => too_large(n),
                })?)
            }
            Source::Memory(b, e) => Cow::Borrowed(Self::entry(b, e, &spec.file)?),
            Source::Static(b, e) => Cow::Borrowed(Self::entry(b, e, &spec.file)?),
        };
        if bytes.len() as u64 > MAX_MODEL_BYTES {
            return Err(too_large(bytes.len() as u64));
        }
        let actual = sha256_hex(&bytes);
        if !actual.eq_ignore_ascii_case(&spec.sha256) {
            return Err(Error::ModelChecksum { file: spec.file.clone(), expected: spec.sha256.clone(), actual });
        }
        Ok(bytes.into_owned())
    }

    fn entry<'b>(b: &'b [u8], entries: &[(String, std::ops::Range<usize>)], file: &str) -> Result<&'b [u8]> {
        entries
            .iter()
            .find(|(n, _)| n == file)
            .map(|(_, r)| &b[r.clone()])
            .ok_or_else(|| Error::ModelLoad(format!("model pack has no file '{file}'")))
    }

    /// A short description of where the pack came from.
    pub fn origin(&self) -> String {
        match &self.source {
            Source::Dir(d) => d.display().to_string(),
            Source::Memory(b, _) => format!("<memory pack, {} bytes>", b.len()),
            Source::Static(b, _) => format!("<bundled pack, {} bytes>", b.len()),
        }
    }
}

fn manifest_too_large(n: u64) -> Error {
    Error::ModelFormat(format!("manifest: {n} bytes is more than the {MAX_MANIFEST_BYTES}-byte limit"))
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Finds a model directory for tools and tests: `explicit`, then `$FACEKIT_MODELS`, then `./models`, then
/// `../shared/models`, then the installed pack (see below). A candidate counts only if it holds the default manifest's detector and embedder files.
pub fn find_model_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let mut tried = Vec::new();
    let env = std::env::var_os("FACEKIT_MODELS").map(PathBuf::from);
    // Then the working directory's packs (a source checkout), then where packages install the default pack:
    // PREFIX/share/facekit/models beside the running program's PREFIX/bin (packaging/install.sh, a .deb),
    // and the system prefixes for a library loaded by a program installed elsewhere.
    let beside_exe = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|prefix| prefix.join("share/facekit/models")));
    let installed = beside_exe
        .into_iter()
        .chain([PathBuf::from("/usr/local/share/facekit/models"), PathBuf::from("/usr/share/facekit/models")]);
    let mut candidates: Vec<PathBuf> = env.into_iter().collect();
    candidates.extend([PathBuf::from("models"), PathBuf::from("../shared/models")]);
    for dir in installed {
        if !candidates.contains(&dir) {
            candidates.push(dir);
        }
    }
    for dir in candidates {
        if let Ok(pack) = ModelPack::from_dir(&dir) {
            let m = &pack.manifest;
            let has = |name: &str| m.model(name).map(|s| dir.join(&s.file).is_file()).unwrap_or(false);
            if has(&m.defaults.detector) && has(&m.defaults.embedder) {
                return Ok(dir);
            }
        }
        tried.push(dir.display().to_string());
    }
    Err(Error::ModelLoad(format!(
        "no model directory found (tried $FACEKIT_MODELS, {}); pass --models DIR or set FACEKIT_MODELS",
        tried.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_manifest_parses() {
        let m = Manifest::default_manifest();
        assert_eq!(m.model(&m.defaults.embedder).unwrap().task, Task::Embed);
        assert_eq!(Manifest::parse(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn bad_manifests_are_clear_errors() {
        assert!(matches!(Manifest::parse("{"), Err(Error::ModelFormat(_))));
        assert!(matches!(Manifest::parse("{}"), Err(Error::ModelFormat(_))));
        let mut m = Manifest::default_manifest();
        m.format = 99;
        assert!(matches!(Manifest::parse(&m.to_json()), Err(Error::ModelFormat(_))));
        let mut m = Manifest::default_manifest();
        m.models[0].sha256 = "xyz".into();
        assert!(matches!(Manifest::parse(&m.to_json()), Err(Error::ModelFormat(_))));
        let mut m = Manifest::default_manifest();
        m.defaults.embedder = "nope".into();
        assert!(matches!(Manifest::parse(&m.to_json()), Err(Error::ModelFormat(_))));
    }

    /// A resolution table that is not monotone, or whose bands do not all have the same operating points, is
    /// refused at load with ModelFormat naming the entry; the compiled-in one loads and decides small faces higher.
    #[test]
    fn resolution_tables_are_checked_at_load() {
        let m = Manifest::default_manifest();
        let name = m.defaults.embedder.clone();
        let cal = m.embedder(&name).unwrap().calibrations().iter().find(|c| !c.flip).unwrap().clone();
        let t = cal.by_eye_distance.clone().expect("the default manifest has a resolution table");
        t.check("x").unwrap();
        let (small, press) = (t.band(5.0).unwrap(), t.band(500.0).unwrap());
        assert_eq!(press.thresholds, cal.thresholds, "the largest band is the press-photo calibration");
        assert!(small.thresholds["far_1e-3"] > press.thresholds["far_1e-3"]);
        let reparse = |edit: &dyn Fn(&mut ResolutionTable)| {
            let mut m2 = m.clone();
            let c = m2.calibrations_mut(&name).unwrap().iter_mut().find(|c| !c.flip).unwrap();
            edit(c.by_eye_distance.as_mut().unwrap());
            Manifest::parse(&m2.to_json())
        };
        let err = |r: Result<Manifest>| match r {
            Err(Error::ModelFormat(msg)) => msg,
            other => panic!("expected ModelFormat, got {other:?}"),
        };
        let msg = err(reparse(&|t| {
            let b = &mut t.bands[1];
            *b.thresholds.get_mut("far_1e-3").unwrap() = 0.01;
        }));
        assert!(msg.contains("by_eye_distance") && msg.contains("min_eye_px") && msg.contains("far_1e-"), "{msg}");
        let msg = err(reparse(&|t| {
            t.bands[2].thresholds.remove("far_1e-4");
        }));
        assert!(msg.contains("misses") && msg.contains("far_1e-4"), "{msg}");
        let msg = err(reparse(&|t| t.bands.swap(0, 1)));
        assert!(msg.contains("not above the previous band"), "{msg}");
        assert!(matches!(reparse(&|t| t.bands.clear()), Err(Error::ModelFormat(_))));
    }

    #[test]
    fn container_round_trip_and_truncation() {
        let pack = container::write(&[("a", b"hello"), ("b.onnx", &[1, 2, 3])]);
        let e = container::parse(&pack).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(&pack[e[0].1.clone()], b"hello");
        for n in 0..pack.len() {
            assert!(container::parse(&pack[..n]).is_err(), "truncated at {n}");
        }
        assert!(container::parse(b"FKPACK\0\x02\0\0\0\0").is_err());
        assert!(ModelPack::from_bytes(container::write(&[("x", b"y")])).is_err()); // no manifest
    }

    /// A scratch folder, removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!("facekit-pack-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            Scratch(p)
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn is_limit(r: &Result<impl std::fmt::Debug>) -> bool {
        matches!(r, Err(Error::ModelLoad(m) | Error::ModelFormat(m)) if m.contains("limit"))
    }

    #[test]
    fn model_files_over_the_limit_are_refused_before_reading() {
        // A directory: sparse files one byte over the limits, refused from their length.
        let dir = Scratch::new("limits");
        let m = Manifest::default_manifest();
        let det = m.model(&m.defaults.detector).unwrap().clone();
        std::fs::File::create(dir.0.join(&det.file)).unwrap().set_len(MAX_MODEL_BYTES + 1).unwrap();
        let pack = ModelPack::from_dir(&dir.0).unwrap();
        let r = pack.read_verified(&det);
        assert!(is_limit(&r) && matches!(r, Err(Error::ModelLoad(_))), "{r:?}");
        std::fs::File::create(dir.0.join(MANIFEST_FILE)).unwrap().set_len(MAX_MANIFEST_BYTES + 1).unwrap();
        let r = ModelPack::from_dir(&dir.0);
        assert!(is_limit(&r) && matches!(r, Err(Error::ModelFormat(_))), "{r:?}");
        // A pack in memory: the entries' lengths are checked the same way.
        let big_manifest = vec![b' '; MAX_MANIFEST_BYTES as usize + 1];
        let r = ModelPack::from_bytes(container::write(&[(MANIFEST_FILE, &big_manifest)]));
        assert!(is_limit(&r) && matches!(r, Err(Error::ModelFormat(_))), "{r:?}");
        let big_model = vec![0u8; MAX_MODEL_BYTES as usize + 1];
        let text = m.to_json();
        let pack = ModelPack::from_bytes(container::write(&[(MANIFEST_FILE, text.as_bytes()), (&det.file, &big_model)])).unwrap();
        let r = pack.read_verified(&det);
        assert!(is_limit(&r) && matches!(r, Err(Error::ModelLoad(_))), "{r:?}");
    }
}
