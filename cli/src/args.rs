//! Option groups, each declared once and flattened into the subcommands it applies to, and their translation
//! into the library's `Options` and model pack.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;
use facekit::compare::OperatingPoint;
use facekit::pack::{find_model_dir, Manifest, ModelPack};
use facekit::liveness::LivenessPoint;
use facekit::quality::QualityPolicy;
use facekit::{DetectParams, Engine, Error, Options, ThresholdRule};
use std::path::PathBuf;
use std::time::Instant;

/// Where the models come from: every command that loads them.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model directory [default: $FACEKIT_MODELS, ./models, ../shared/models, then the installed pack: PREFIX/share/facekit/models beside the program, /usr/local/share/facekit/models, /usr/share/facekit/models].
    #[arg(long, global = true, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Use this manifest instead of the directory's own or the built-in one.
    #[arg(long, global = true, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

impl ModelArgs {
    pub fn dir(&self) -> Result<PathBuf, Error> {
        find_model_dir(self.models.as_deref())
    }

    pub fn pack(&self) -> Result<ModelPack, Error> {
        let dir = self.dir()?;
        match &self.manifest {
            Some(m) => {
                let text = std::fs::read_to_string(m).map_err(|e| Error::Io { path: m.clone(), source: e })?;
                ModelPack::from_dir_with_manifest(dir, Manifest::parse(&text)?)
            }
            None => ModelPack::from_dir(dir),
        }
    }
}

const DEFAULT_DETECT: DetectParams = DetectParams { input_size: 320, score_threshold: 0.5, nms_iou: 0.3, min_face_size: 0.0, max_faces: 64 };

/// How faces are detected and embedded: every command that detects.
#[derive(Args, Debug, Clone)]
pub struct PipelineArgs {
    /// Detector model of the manifest (yunet_s, yunet_n) [default: the manifest's].
    #[arg(long, value_name = "NAME")]
    pub detector: Option<String>,
    /// Embedder of the manifest: a model (mobilefacenet, dlib_resnet) or an ensemble
    /// (mobilefacenet+dlib_resnet) [default: the manifest's].
    #[arg(long, value_name = "NAME", conflicts_with = "accurate")]
    pub embedder: Option<String>,
    /// Accurate mode: MobileFaceNet and dlib ResNet fused, flip augmentation, landmark refinement (several
    /// times the embedding cost; its own calibration).
    #[arg(long)]
    pub accurate: bool,
    /// Detect each face again on its upscaled region before embedding (steadier landmarks; one more
    /// detector run per face).
    #[arg(long)]
    pub refine_landmarks: bool,
    /// Detector input: the longer image side is scaled to this many pixels.
    #[arg(long, value_name = "PX", default_value_t = DEFAULT_DETECT.input_size,
          value_parser = clap::value_parser!(u32).range(32..=facekit::detect::MAX_INPUT_SIZE as i64))]
    pub det_size: u32,
    /// Detector score threshold: faces scoring at or below it are dropped.
    #[arg(long, value_name = "SCORE", default_value_t = DEFAULT_DETECT.score_threshold, value_parser = unit_interval)]
    pub min_score: f32,
    /// At most this many faces per image, best first.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DETECT.max_faces,
          value_parser = clap::value_parser!(u32).range(1..=4096).map(|v| v as usize))]
    pub max_faces: usize,
    /// Faces whose box is smaller than this (shorter side, pixels) are dropped.
    #[arg(long, value_name = "PX", default_value_t = DEFAULT_DETECT.min_face_size, value_parser = non_negative)]
    pub min_face: f32,
    /// Flip test-time augmentation (embeds the mirrored face too: 2x embed time, its own calibration).
    #[arg(long)]
    pub flip: bool,
}

impl PipelineArgs {
    /// Library options for these settings (the quality model is not loaded unless `quality` asks for it).
    pub fn options(&self, quality: Option<&QualityArgs>) -> Options {
        let mut o = if self.accurate { Options::accurate() } else { Options::default() };
        o.detector = self.detector.clone();
        o.embedder = self.embedder.clone();
        o.flip |= self.flip;
        o.refine_landmarks |= self.refine_landmarks;
        o.detect = DetectParams {
            input_size: self.det_size,
            score_threshold: self.min_score,
            max_faces: self.max_faces,
            min_face_size: self.min_face,
            ..DetectParams::default()
        };
        o.load_quality = quality.is_some();
        // Loaded by the commands that need it (deciding, liveness): two more models to load otherwise.
        o.load_liveness = false;
        if let Some(q) = quality {
            o.quality_model = q.quality_model.clone();
            o.quality = q.policy.clone();
        }
        o
    }

    pub fn engine(&self, models: &ModelArgs, quality: Option<&QualityArgs>) -> Result<Engine, Error> {
        load(models, self.options(quality))
    }
}

/// Loads an engine, saying how long it took when FACEKIT_VERBOSE is set.
pub fn load(models: &ModelArgs, options: Options) -> Result<Engine, Error> {
    let t = Instant::now();
    let e = Engine::from_pack(&models.pack()?, options)?;
    if std::env::var_os("FACEKIT_VERBOSE").is_some() {
        eprintln!("models loaded from {} in {:.0} ms", e.origin(), t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(e)
}

/// The quality gate: commands that score or gate captures.
#[derive(Args, Debug, Clone)]
pub struct QualityArgs {
    /// Learned quality model (lightqnet_dm050: 2x faster; lightqnet_dm100: best error-versus-reject) [default: the manifest's].
    #[arg(long, value_name = "NAME")]
    pub quality_model: Option<String>,
    /// Quality policy the verdict is taken under.
    #[arg(long, default_value = "unlock", value_parser = policy_parser())]
    pub policy: QualityPolicy,
}

/// How decisions are taken: commands that decide (verify, identify, enroll, track). A capture is refused
/// when it fails the quality policy, or when the policy requires liveness and the face is not live.
#[derive(Args, Debug, Clone)]
pub struct DecisionArgs {
    /// Operating point: the false-accept rate the decision threshold was calibrated for.
    #[arg(long, value_name = "OP", default_value = OperatingPoint::default().key(), value_parser = op_parser())]
    pub op: OperatingPoint,
    /// Capture policy: quality thresholds, and whether liveness is required (all presets require it)
    /// [default: unlock; identify: gate; enroll: enrolment].
    #[arg(long, value_parser = policy_parser())]
    pub policy: Option<QualityPolicy>,
    /// Decide without the liveness check (photos of photos, e.g. LFW's press photos, are refused by it).
    #[arg(long)]
    pub no_liveness: bool,
    /// Liveness operating point: the share of spoofs the liveness threshold lets through (calibrated).
    #[arg(long, value_name = "OP", default_value = LivenessPoint::default().key(),
          value_parser = liveness_op_parser())]
    pub liveness_op: LivenessPoint,
    /// Learned quality model of the capture check [default: the manifest's].
    #[arg(long, value_name = "NAME")]
    pub quality_model: Option<String>,
    /// Thresholds: for the capture's resolution (the calibration's per-band table), raised for the camera a
    /// gallery was enrolled on (`camera`); the resolution only (`resolution`); or the one press-photo
    /// threshold per operating point (`single`, facekit's earlier rule).
    #[arg(long, value_name = "RULE", default_value = "camera",
          value_parser = PossibleValuesParser::new(ThresholdRule::NAMES).map(|s| ThresholdRule::parse(&s).expect("listed")))]
    pub thresholds: ThresholdRule,
}

impl DecisionArgs {
    /// `o` set up to decide: the operating points, the policy (`default` unless --policy), its quality model,
    /// and the liveness models when the policy requires liveness.
    pub fn apply(&self, o: &mut Options, default: QualityPolicy) {
        o.operating_point = self.op;
        o.thresholds = self.thresholds;
        o.quality = self.policy.clone().unwrap_or(default);
        o.quality.require_liveness &= !self.no_liveness;
        o.liveness_point = self.liveness_op;
        o.load_quality = true;
        o.quality_model = self.quality_model.clone();
        o.load_liveness = o.quality.require_liveness;
    }
}

pub fn op_parser() -> impl clap::builder::TypedValueParser<Value = OperatingPoint> {
    PossibleValuesParser::new(OperatingPoint::ALL.map(|o| o.key()))
        .map(|s| OperatingPoint::parse(&s).expect("only listed values pass the parser"))
}

pub fn liveness_op_parser() -> impl clap::builder::TypedValueParser<Value = LivenessPoint> {
    PossibleValuesParser::new(LivenessPoint::ALL.map(|p| p.key())).map(|s| LivenessPoint::parse(&s).expect("only listed values pass the parser"))
}

pub fn policy_parser() -> impl clap::builder::TypedValueParser<Value = QualityPolicy> {
    PossibleValuesParser::new(QualityPolicy::NAMES).map(|s| QualityPolicy::preset(&s).expect("only listed values pass the parser"))
}

fn unit_interval(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a number in 0..=1")),
    }
}

fn non_negative(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("'{s}' is not a non-negative number")),
    }
}

/// A fraction in [0, 1) (e.g. `--reject 0.1`).
pub fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not a fraction in 0..1")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_defaults_are_the_library_defaults() {
        // The CLI shows its defaults in --help from a const; it must not drift from the library's.
        assert_eq!(super::DEFAULT_DETECT, facekit::DetectParams::default());
    }
}
