//! The engine: owns the loaded models and the options, immutable after construction, `Send + Sync`, meant to
//! be created once and shared (by reference or `Arc`) by every thread of the application.

use crate::align::align;
use crate::compare::{cosine, Match, OperatingPoint};
use crate::detect::{DetectParams, Detector, Face, Region};
use crate::embed::{Embedder, Embedding};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::liveness::{Liveness, LivenessPoint, LivenessReport, LivenessStatus};
use crate::pack::{find_model_dir, Calibration, ModelPack};
use crate::quality::{reason, QualityModel, QualityPolicy, QualityReport};
use std::path::Path;

/// Engine settings. Start from `Options::default()` and change what you need.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Detector model name in the manifest (`yunet_s`, `yunet_n`); `None` = the manifest's default.
    pub detector: Option<String>,
    /// Embedder model name (`mobilefacenet`, `dlib_resnet`); `None` = the manifest's default.
    pub embedder: Option<String>,
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
            quality: QualityPolicy::default(),
        }
    }
}

/// The face pipeline. See the crate docs for an example.
#[derive(Debug)]
pub struct Engine {
    detector: Detector,
    embedder: Embedder,
    quality: Option<QualityModel>,
    liveness: Option<Liveness>,
    calibration: Option<Calibration>,
    options: Options,
    origin: String,
}

impl Engine {
    /// Loads the models of a pack, verifying every file's sha256 and every model's inputs/outputs.
    pub fn from_pack(pack: &ModelPack, options: Options) -> Result<Self> {
        let m = &pack.manifest;
        let det_spec = m.model(options.detector.as_deref().unwrap_or(&m.defaults.detector))?;
        let emb_spec = m.model(options.embedder.as_deref().unwrap_or(&m.defaults.embedder))?;
        let detector = Detector::new(det_spec, &pack.read_verified(det_spec)?)?;
        let embedder = Embedder::new(emb_spec, &pack.read_verified(emb_spec)?)?;
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
        let calibration = emb_spec.calibrations.iter().find(|c| c.flip == options.flip).cloned();
        options.quality.validate()?;
        Ok(Engine { detector, embedder, quality, liveness, calibration, options, origin: pack.origin() })
    }

    /// Loads from a model directory (its own `manifest.json`, else the built-in default manifest).
    pub fn from_dir(dir: impl AsRef<Path>, options: Options) -> Result<Self> {
        Self::from_pack(&ModelPack::from_dir(dir)?, options)
    }

    /// Loads from a model pack held in memory (see [`crate::pack::container`]; `facekit pack` makes one).
    pub fn from_pack_bytes(bytes: &[u8], options: Options) -> Result<Self> {
        Self::from_pack(&ModelPack::from_bytes(bytes.to_vec())?, options)
    }

    /// Loads from the first model directory found: `$FACEKIT_MODELS`, `./models`, `../shared/models`.
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
    /// Identity of the embedder (its sha256): embeddings — and galleries — from different models never mix.
    pub fn model_id(&self) -> &str {
        &self.embedder.spec().sha256
    }
    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.embedder.dim()
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

    /// Aligns and embeds one face (with flip augmentation if the options say so).
    pub fn embed(&self, img: &Image, face: &Face) -> Result<Embedding> {
        self.embed_aligned(&self.align(img, face)?)
    }

    /// Embeds an already aligned crop.
    pub fn embed_aligned(&self, crop: &Image) -> Result<Embedding> {
        self.embedder.embed(crop, self.options.flip)
    }

    /// The calibrated threshold of an operating point.
    pub fn threshold(&self, op: OperatingPoint) -> Result<f32> {
        let cal = self.calibration.as_ref().ok_or_else(|| {
            Error::invalid(format!(
                "embedder '{}' has no calibration for flip={} in the manifest; run `facekit calibrate`",
                self.embedder.spec().name,
                self.options.flip
            ))
        })?;
        cal.thresholds.get(op.key()).copied().ok_or_else(|| {
            Error::invalid(format!("operating point {} was not measurable on {}", op.key(), cal.dataset))
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
    /// says which image), compared at the engine's operating point.
    pub fn verify(&self, a: &Image, b: &Image) -> Result<Match> {
        let mut emb = Vec::with_capacity(2);
        for (img, which) in [(a, "first"), (b, "second")] {
            let face = self.largest_face(img).map_err(|_| Error::NoFace(format!(" in the {which} image")))?;
            self.check_capture(img, &face).map_err(|e| match e {
                Error::PoorQuality(m) => Error::PoorQuality(format!("{which} image: {m}")),
                Error::NotLive(m) => Error::NotLive(format!("{which} image: {m}")),
                e => e,
            })?;
            emb.push(self.embed(img, &face)?);
        }
        self.compare(&emb[0], &emb[1])
    }
}

/// The reports of a capture that passed [`Engine::check_capture`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Capture {
    pub quality: QualityReport,
    /// `None` when the policy does not require liveness.
    pub liveness: Option<LivenessReport>,
}
