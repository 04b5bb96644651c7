//! `eval` and `calibrate`: the evaluation code of the library run on labelled data, with plots.

use crate::args::{fraction, ModelArgs, PipelineArgs, QualityArgs};
use crate::exit::{pct, Code};
use crate::plot;
use crate::ThreadArgs;
use clap::{Args, Subcommand};
use facekit::eval::{self, Pair};
use facekit::gallery::Gallery;
use facekit::liveness;
use facekit::LivenessPoint;
use facekit::{Engine, Error};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub enum EvalCommand {
    /// LFW verification (10-fold accuracy, TAR at FAR, EER) through the whole pipeline.
    Lfw {
        /// LFW folder (images/NAME/NAME_NNNN.jpg and pairs.txt).
        root: PathBuf,
        /// Pair list in LFW's format [default: ROOT/pairs.txt].
        #[arg(long, value_name = "FILE")]
        pairs: Option<PathBuf>,
        #[command(flatten)]
        opts: EvalArgs,
    },
    /// Verification on a pair list: lines `pathA<TAB>pathB<TAB>1|0[<TAB>fold]`.
    Pairs {
        list: PathBuf,
        #[command(flatten)]
        opts: EvalArgs,
    },
    /// Decisions on a camera facekit was not calibrated on, leave-one-person-out: labelled clips through the
    /// tracker against galleries of everyone but one person; counts false opens, genuine acceptances and
    /// refusals (bench/camera_eval.sh runs it on the shared clips). Last line: one JSON object.
    Camera(crate::camera::CameraEvalArgs),
    /// Presentation-attack detection measured as ISO/IEC 30107-3 does: APCER, BPCER, ACER, AUC, BPCER at
    /// APCER 1 % and 5 %, APCER per attack type.
    Liveness {
        #[command(flatten)]
        data: LivenessDataArgs,
        #[arg(long)]
        json: bool,
        /// Operating point whose calibrated threshold the rates are taken at.
        #[arg(long, value_name = "OP", default_value = LivenessPoint::default().key(), value_parser = crate::args::liveness_op_parser())]
        liveness_op: LivenessPoint,
        /// Write the DET curve (BPCER against APCER, log axes) as an SVG plot.
        #[arg(long, value_name = "F.svg")]
        det: Option<PathBuf>,
        /// Write the ROC curve (live faces accepted against APCER) as an SVG plot.
        #[arg(long, value_name = "F.svg")]
        roc: Option<PathBuf>,
    },
    /// LFW 1:N. Closed set (default): each person's first image enrolled, every further image a probe
    /// (rank-1, rank-5). Open set (--open-set, as NIST FRVT): people with 2+ images at even positions enrolled
    /// with their first image, single-image people enrolled as distractors; mated probes = the enrolled
    /// people's other images, non-mated probes = every image of the odd-position people (rank-1, FNIR at FPIR
    /// 1e-1/1e-2/1e-3, the gallery-size threshold rule checked at those targets).
    Identify {
        root: PathBuf,
        /// Only the first N people (sorted by name).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// The open-set protocol (FPIR/FNIR) instead of the closed set.
        #[arg(long)]
        open_set: bool,
        /// Write the open-set DET curve (FNIR against FPIR, log axes) as an SVG plot.
        #[arg(long, value_name = "F.svg", requires = "open_set")]
        det: Option<PathBuf>,
        /// Instead of evaluating, write the open-set gallery (DIR/gallery.fkg, enrolled as evaluated) and its
        /// probes' embeddings (DIR/probes.npz: embeddings, identities "" for non-mated, paths) for another
        /// implementation to replay (bench/milvus_parity.py).
        #[arg(long, value_name = "DIR", requires = "open_set", conflicts_with = "det")]
        export: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
}

/// How images are embedded: threads, and an embedding cache shared by the commands of one configuration.
#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    threads: ThreadArgs,
    /// Embedding cache: images this pipeline already embedded into FILE are read from it, new ones are
    /// added (a file made by another pipeline is replaced). Use one file per configuration.
    #[arg(long, value_name = "FILE")]
    cache: Option<PathBuf>,
}

impl RunArgs {
    fn run(&self) -> eval::Run {
        eval::Run { threads: self.threads.get(), progress: true, cache: self.cache.clone() }
    }
}

/// The liveness data set arguments of `eval liveness` and `calibrate liveness`.
#[derive(Args, Debug)]
pub struct LivenessDataArgs {
    /// Folder with real/ and spoof/ trees (any depth; a first level named train/dev/devel/test is a split;
    /// under spoof/, the next folder names the attack type).
    dir: PathBuf,
    /// Only this split (the first folder level under real/ and spoof/).
    #[arg(long, value_name = "NAME")]
    split: Option<String>,
    #[command(flatten)]
    threads: ThreadArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

impl LivenessDataArgs {
    fn engine(&self, m: &ModelArgs, op: LivenessPoint) -> Result<Engine, Error> {
        let mut o = self.pipeline.options(None);
        o.load_liveness = true;
        o.liveness_point = op;
        crate::args::load(m, o)
    }
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    #[arg(long)]
    json: bool,
    /// Use N pairs spread evenly over the list.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Write the ROC curve (TAR against FAR, log scale) as a plot.
    #[arg(long, value_name = "FILE")]
    roc: Option<PathBuf>,
    /// Also report FNMR after rejecting this fraction of the lowest-quality pairs (loads the quality model).
    #[arg(long, value_name = "FRACTION", value_parser = fraction)]
    reject: Option<f64>,
    /// Write the error-versus-reject curve (loads the quality model).
    #[arg(long, value_name = "FILE")]
    erc: Option<PathBuf>,
    /// Learned quality model for --reject/--erc [default: the manifest's].
    #[arg(long, value_name = "NAME")]
    quality_model: Option<String>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(Subcommand, Debug)]
pub enum CalibrateCommand {
    /// Thresholds from LFW: its genuine pairs against every different-identity pair of its images.
    Lfw {
        root: PathBuf,
        #[arg(long, value_name = "FILE")]
        pairs: Option<PathBuf>,
        #[command(flatten)]
        opts: CalibrateArgs,
    },
    /// Liveness thresholds (APCER 1 % and 5 %) on a development split of a real/ + spoof/ data set.
    Liveness {
        #[command(flatten)]
        data: LivenessDataArgs,
        /// Manifest to write (the input manifest with the liveness calibration replaced).
        #[arg(long, value_name = "MANIFEST", required = true)]
        out: PathBuf,
    },
    /// Adapt to the installed camera from unlabelled footage: what its strangers score against each other
    /// (faces in view at the same time are different people) and its live faces' liveness, written as the
    /// manifest's camera section; thresholds against galleries are then adapted to it (option thresholds=camera).
    /// Refuses, writing nothing, when the footage holds fewer than 10 pairs of faces in view together.
    Camera {
        /// Clips of the camera's footage (video files or folders of frames).
        #[arg(required = true)]
        clips: Vec<PathBuf>,
        /// Frame rate of the footage (for the seconds reported).
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
        #[arg(long, value_name = "MANIFEST", required = true)]
        out: PathBuf,
        #[command(flatten)]
        decision: crate::args::DecisionArgs,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Liveness thresholds pooled over several cameras' development sets so that no single one defines them:
    /// at each point, the mean of the sets' APCERs is held (each set weighs the same).
    LivenessPooled {
        /// A data set and its development split, DIR:SPLIT (repeat; at least two).
        #[arg(long = "set", value_name = "DIR:SPLIT", required = true)]
        sets: Vec<String>,
        #[arg(long, value_name = "MANIFEST", required = true)]
        out: PathBuf,
        #[command(flatten)]
        threads: ThreadArgs,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
    /// Thresholds from a pair list (`pathA<TAB>pathB<TAB>1|0`); impostors from different identity folders.
    Pairs {
        list: PathBuf,
        #[command(flatten)]
        opts: CalibrateArgs,
    },
    /// Thresholds per band of face resolution: the pair list's images re-rendered as a webcam captures them
    /// (downscaled to 10-40 px between the eyes, blurred, noisy, JPEG), each band calibrated like `lfw` with
    /// both sides of every pair in the band. Needs the embedder's press-photo calibration in the manifest (it
    /// is the band above 40 px). Writes the table into that calibration.
    Resolution {
        root: PathBuf,
        #[arg(long, value_name = "FILE")]
        pairs: Option<PathBuf>,
        #[command(flatten)]
        opts: CalibrateArgs,
    },
    /// Score normalisation of an ensemble: each model's impostor cosine mean and standard deviation over every
    /// different-identity pair of a pair list's images (default: LFW's development list pairsDevTrain.txt,
    /// not the test folds). Calibrate the ensemble's thresholds afterwards: they depend on it.
    Fusion {
        root: PathBuf,
        /// Pair list in LFW's format [default: ROOT/pairsDevTrain.txt].
        #[arg(long, value_name = "FILE")]
        pairs: Option<PathBuf>,
        /// Ensemble of the manifest [default: the manifest's accurate-mode one].
        #[arg(long, value_name = "NAME")]
        ensemble: Option<String>,
        #[command(flatten)]
        opts: CalibrateArgs,
    },
}

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// Manifest to write (the input manifest with this embedder's calibration replaced).
    #[arg(long, value_name = "MANIFEST", required = true)]
    out: PathBuf,
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// `n` pairs spread evenly over the list.
fn limit(pairs: Vec<Pair>, n: Option<usize>) -> Vec<Pair> {
    match n {
        Some(n) if n > 0 && n < pairs.len() => {
            let step = pairs.len() / n;
            pairs.into_iter().step_by(step).take(n).collect()
        }
        _ => pairs,
    }
}

pub fn eval(m: &ModelArgs, c: EvalCommand) -> Result<Code, Error> {
    match c {
        EvalCommand::Lfw { root, pairs, opts } => evaluate(m, eval::lfw_pairs(&root, pairs.as_deref())?, opts),
        EvalCommand::Pairs { list, opts } => evaluate(m, eval::list_pairs(&list)?, opts),
        EvalCommand::Identify { root, limit, open_set: false, json, run, pipeline, .. } => identify(m, &pipeline, &root, limit, json, &run.run()),
        EvalCommand::Identify { root, limit, open_set: true, export: Some(dir), run, pipeline, .. } => {
            let e = pipeline.engine(m, None)?;
            let probes = eval::open_set::export(&e, &lfw_people(&root, limit)?, &run.run(), &dir)?;
            println!("{}", json!({"gallery": dir.join("gallery.fkg"), "probes_file": dir.join("probes.npz"), "probes": probes, "model_id": e.model_id()}));
            Ok(Code::Ok)
        }
        EvalCommand::Identify { root, limit, open_set: true, det, json, run, pipeline, .. } => {
            open_set(m, &pipeline, &root, limit, json, det.as_deref(), &run.run())
        }
        EvalCommand::Camera(a) => crate::camera::eval_camera(m, a),
        EvalCommand::Liveness { data, json, liveness_op, det, roc } => eval_liveness(m, &data, liveness_op, json, det.as_deref(), roc.as_deref()),
    }
}

fn eval_liveness(m: &ModelArgs, d: &LivenessDataArgs, op: LivenessPoint, json: bool, det: Option<&Path>, roc: Option<&Path>) -> Result<Code, Error> {
    let e = d.engine(m, op)?;
    let (r, scored) = liveness::eval::evaluate_dir(&e, &d.dir, d.split.as_deref(), d.threads.get(), true)?;
    let (real, spoof) = liveness::eval::split_scores(&scored);
    let points: Vec<(f64, f64)> = liveness::eval::curve(&real, &spoof).iter().map(|p| (p.apcer, p.bpcer)).collect();
    if let Some(f) = det {
        plot::det(&points, "APCER (spoofs accepted)", "BPCER (live faces refused), %", "Liveness DET").save(f)?;
    }
    if let Some(f) = roc {
        let pts: Vec<(f64, f64)> = points.iter().map(|&(a, b)| (a, 1.0 - b)).collect();
        plot::roc(&pts).save(f)?;
    }
    if json {
        println!("{}", serde_json::to_string(&r).expect("report serialises"));
        return Ok(Code::Ok);
    }
    let few = "too few captures";
    println!(
        "{}  real {}  spoof {}  no face {}  not checkable {}  unreadable {}",
        r.dataset, r.real, r.spoof, r.no_face, r.not_assessable, r.unreadable.len()
    );
    let at = r.threshold.map_or("n/a (not calibrated)".into(), |t| format!("{t:.4} ({})", r.operating_point));
    println!(
        "threshold {at}: APCER {}  BPCER {}  ACER {}",
        pct(r.apcer, "not calibrated"),
        pct(r.bpcer, "not calibrated"),
        pct(r.acer, "not calibrated")
    );
    println!(
        "AUC {}  EER {}  BPCER@APCER1% {}  BPCER@APCER5% {}  ({:.0} s)",
        if r.auc.is_finite() { format!("{:.4}", r.auc) } else { format!("n/a ({few})") },
        pct(r.eer, few),
        pct(r.bpcer_at_apcer_1e2, "too few spoofs"),
        pct(r.bpcer_at_apcer_5e2, "too few spoofs"),
        r.seconds
    );
    for (attack, a) in &r.apcer_by_attack {
        println!("  APCER {attack:16} {} ({} spoofs)", pct(*a, "not calibrated"), r.spoof_by_attack.get(attack).copied().unwrap_or(0));
    }
    Ok(Code::Ok)
}

fn evaluate(m: &ModelArgs, pairs: Vec<Pair>, a: EvalArgs) -> Result<Code, Error> {
    let pairs = limit(pairs, a.limit);
    let want_quality = a.reject.is_some() || a.erc.is_some();
    let quality = want_quality.then(|| QualityArgs { quality_model: a.quality_model.clone(), policy: Default::default() });
    let e = a.pipeline.engine(m, quality.as_ref())?;
    let (mut r, scored) = eval::evaluate(&e, &pairs, &a.run.run(), want_quality)?;
    if want_quality {
        r.reject = Some(eval::reject_report(&scored, a.reject.unwrap_or(0.1)));
    }
    if let Some(f) = &a.roc {
        let (g, i) = eval::split(&scored.sims, &scored.same);
        plot::roc(&facekit::compare::roc(&g, &i)).save(f)?;
    }
    if let (Some(f), Some(rj)) = (&a.erc, &r.reject) {
        plot::erc(&rj.erc).save(f)?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&r).expect("report serialises"));
    } else {
        let imp = "too few impostor pairs";
        println!(
            "pairs {}  images {}  no-face {}  accuracy {} ± {:.2}  TAR@FAR1e-2 {}  TAR@FAR1e-3 {}  EER {}  ({:.0} s)",
            r.pairs,
            r.images,
            r.failures,
            pct(r.accuracy, "no pairs"),
            r.accuracy_std,
            pct(r.tar_at_far_1e2, imp),
            pct(r.tar_at_far_1e3, imp),
            pct(r.eer, "needs genuine and impostor pairs"),
            r.seconds
        );
        if let Some(x) = &r.extended {
            let tars: Vec<String> = facekit::OperatingPoint::ALL
                .iter()
                .map(|op| format!("TAR@FAR{} {}", op.key().trim_start_matches("far_"), pct(x.tar[op.key()], imp)))
                .collect();
            println!("against all {} different-identity pairs of the images: {}", x.impostor_pairs, tars.join("  "));
        }
        if let Some(rj) = &r.reject {
            println!(
                "reject {:.0}% ({} pairs): FNMR@FMR1e-3 {} -> {}, FNMR@FMR1e-2 {} -> {}",
                100.0 * rj.fraction,
                rj.rejected,
                pct(rj.fnmr_1e3_before, imp),
                pct(rj.fnmr_1e3_after, imp),
                pct(rj.fnmr_1e2_before, imp),
                pct(rj.fnmr_1e2_after, imp)
            );
        }
    }
    Ok(Code::Ok)
}

pub fn calibrate(m: &ModelArgs, c: CalibrateCommand) -> Result<Code, Error> {
    if let CalibrateCommand::Liveness { data, out } = &c {
        let e = data.engine(m, LivenessPoint::default())?;
        let cal = liveness::eval::calibrate_dir(&e, &data.dir, data.split.as_deref(), data.threads.get(), true)?;
        let mut manifest = m.pack()?.manifest;
        manifest.set_liveness_calibration(cal.clone())?;
        return save(out, &manifest, &cal);
    }
    if let CalibrateCommand::Camera { clips, fps, out, decision, pipeline } = &c {
        let mut o = pipeline.options(None);
        decision.apply(&mut o, facekit::quality::QualityPolicy::unlock());
        let pk = m.pack()?;
        let e = Engine::from_pack(&pk, o)?;
        let source = clips.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", ");
        let mut decoded = Vec::new();
        for c in clips {
            decoded.push(crate::video::decode_all(c, None)?);
        }
        let cal = eval::camera::calibrate(&e, decoded, *fps, &source)?;
        let manifest = facekit::camera::manifest_with_camera(&e, cal.clone())?;
        return save(out, &manifest, &cal);
    }
    if let CalibrateCommand::LivenessPooled { sets, out, threads, pipeline } = &c {
        let mut o = pipeline.options(None);
        o.load_liveness = true;
        let e = crate::args::load(m, o)?;
        let sets: Vec<(PathBuf, Option<String>)> = sets
            .iter()
            .map(|s| match s.rsplit_once(':') {
                Some((d, sp)) if !sp.is_empty() && !sp.contains('/') => (PathBuf::from(d), Some(sp.to_string())),
                _ => (PathBuf::from(s), None),
            })
            .collect();
        let cal = liveness::eval::calibrate_pooled(&e, &sets, threads.get(), true)?;
        let mut manifest = m.pack()?.manifest;
        manifest.set_liveness_calibration(cal.clone())?;
        return save(out, &manifest, &cal);
    }
    if let CalibrateCommand::Fusion { root, pairs, ensemble, opts: a } = &c {
        let file = pairs.clone().unwrap_or_else(|| root.join("pairsDevTrain.txt"));
        let list = limit(eval::lfw_pairs(root, Some(&file))?, a.limit);
        let pk = m.pack()?;
        let mut manifest = pk.manifest.clone();
        let name = match ensemble.as_deref().or(manifest.defaults.accurate.as_deref()) {
            Some(n) => n.to_string(),
            None => return Err(Error::invalid("the manifest has no accurate-mode ensemble: name one with --ensemble")),
        };
        let before = manifest.ensemble(&name)?.clone();
        let dataset = format!("LFW {}", file.display());
        let after = eval::normalise_ensemble(&pk, &a.pipeline.options(None), &before, &list, &dataset, &a.run.run())?;
        let slot = manifest.ensembles.iter_mut().find(|e| e.name == name).expect("found above");
        *slot = after.clone();
        // The fused scores changed: the old thresholds no longer hold.
        slot.calibrations.clear();
        write_manifest(&a.out, &manifest)?;
        println!("{}", serde_json::to_string_pretty(&after.members).expect("serialises"));
        eprintln!("wrote {} (the ensemble's calibrations were removed: run `facekit calibrate lfw --embedder {name}`)", a.out.display());
        return Ok(Code::Ok);
    }
    if let CalibrateCommand::Resolution { root, pairs, opts: a } = &c {
        let list = limit(eval::lfw_pairs(root, pairs.as_deref())?, a.limit);
        let pk = m.pack()?;
        let e = Engine::from_pack(&pk, a.pipeline.options(None))?;
        let base = e.calibration().cloned().ok_or_else(|| Error::invalid("the embedder has no press-photo calibration for this flip setting: run `facekit calibrate lfw` first"))?;
        let dataset = format!("LFW {}", pairs.as_deref().unwrap_or(&root.join("pairs.txt")).display());
        let table = eval::resolution::calibrate(&e, &list, &dataset, &eval::resolution::DEFAULT_BANDS, &base, &a.run.run())?;
        let mut manifest = pk.manifest.clone();
        let cals = manifest.calibrations_mut(e.embedder().name())?;
        let cal = cals.iter_mut().find(|c| c.flip == base.flip).expect("the engine's calibration is the manifest's");
        cal.by_eye_distance = Some(table.clone());
        write_manifest(&a.out, &manifest)?;
        println!("{}", serde_json::to_string_pretty(&table).expect("serialises"));
        eprintln!("wrote {}", a.out.display());
        return Ok(Code::Ok);
    }
    let (pairs, dataset, a) = match c {
        CalibrateCommand::Lfw { root, pairs, opts } => (eval::lfw_pairs(&root, pairs.as_deref())?, format!("LFW {}", root.display()), opts),
        CalibrateCommand::Pairs { list, opts } => (eval::list_pairs(&list)?, list.display().to_string(), opts),
        CalibrateCommand::Liveness { .. } | CalibrateCommand::LivenessPooled { .. } | CalibrateCommand::Camera { .. } | CalibrateCommand::Fusion { .. } | CalibrateCommand::Resolution { .. } => unreachable!("handled above"),
    };
    let pairs = limit(pairs, a.limit);
    let pk = m.pack()?;
    let e = Engine::from_pack(&pk, a.pipeline.options(None))?;
    let cal = eval::calibrate(&e, &pairs, &dataset, &a.run.run())?;
    let mut manifest = pk.manifest.clone();
    let cals = manifest.calibrations_mut(e.embedder().name())?;
    cals.retain(|c| c.flip != cal.flip);
    cals.push(cal.clone());
    cals.sort_by_key(|c| c.flip);
    write_manifest(&a.out, &manifest)?;
    println!("{}", serde_json::to_string_pretty(&cal).expect("serialises"));
    eprintln!("wrote {}", a.out.display());
    Ok(Code::Ok)
}

/// Writes the calibrated manifest and prints what was measured.
fn save(out: &Path, manifest: &facekit::pack::Manifest, measured: &impl serde::Serialize) -> Result<Code, Error> {
    write_manifest(out, manifest)?;
    println!("{}", serde_json::to_string_pretty(measured).expect("serialises"));
    eprintln!("wrote {}", out.display());
    Ok(Code::Ok)
}

fn write_manifest(out: &Path, manifest: &facekit::pack::Manifest) -> Result<(), Error> {
    manifest.save(out)
}

/// LFW 1:N, closed set: each person's first image (sorted) enrolled, every further image of people with 2+
/// images a probe.
fn identify(m: &ModelArgs, p: &PipelineArgs, root: &Path, limit: Option<usize>, json: bool, run: &eval::Run) -> Result<Code, Error> {
    let t0 = Instant::now();
    let people = lfw_people(root, limit)?;
    let e = p.engine(m, None)?;
    let all: Vec<PathBuf> = people.iter().flat_map(|(_, v)| v.iter().cloned()).collect();
    let samples = eval::embed_all(&e, &all, run, false)?;
    let g = Gallery::new(e.model_id(), e.dim())?;
    for (name, imgs) in &people {
        g.enroll(name, &[samples[&imgs[0]].embedding.as_slice()])?;
    }
    let (mut probes, mut r1, mut r5, mut failures) = (0usize, 0usize, 0usize, 0usize);
    for (name, imgs) in &people {
        for p in &imgs[1..] {
            let s = &samples[p];
            failures += usize::from(!s.detected);
            let hits = g.search(s.embedding.as_slice(), 5, None)?;
            probes += 1;
            r1 += usize::from(hits.first().is_some_and(|h| &h.id == name));
            r5 += usize::from(hits.iter().any(|h| &h.id == name));
        }
    }
    let rate = |n: usize| if probes == 0 { f64::NAN } else { 100.0 * n as f64 / probes as f64 };
    let v = json!({
        "gallery": g.count(), "probes": probes, "failures": failures, "rank1": rate(r1), "rank5": rate(r5),
        "seconds": t0.elapsed().as_secs_f64(), "embedder": e.embedder().name(), "flip": e.options().flip,
    });
    if json {
        println!("{v}");
    } else {
        println!(
            "gallery {}  probes {}  no-face {}  rank-1 {}  rank-5 {}  ({:.0} s)",
            g.count(),
            probes,
            failures,
            pct(rate(r1), "no probes"),
            pct(rate(r5), "no probes"),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(Code::Ok)
}

/// LFW's people sorted by name, the first `limit` of them.
fn lfw_people(root: &Path, limit: Option<usize>) -> Result<Vec<(String, Vec<PathBuf>)>, Error> {
    let mut people = eval::lfw_people(root)?;
    if let Some(n) = limit {
        people.truncate(n);
    }
    Ok(people)
}

/// LFW 1:N, open set (see `facekit eval identify --help` and `facekit::eval::open_set`).
fn open_set(m: &ModelArgs, p: &PipelineArgs, root: &Path, limit: Option<usize>, json: bool, det: Option<&Path>, run: &eval::Run) -> Result<Code, Error> {
    let people = lfw_people(root, limit)?;
    let e = p.engine(m, None)?;
    let (r, scores) = eval::open_set::evaluate(&e, &people, run)?;
    if let Some(f) = det {
        let mut plot = plot::det(&scores.det(), "FPIR (share of strangers matched to someone)", "FNIR (enrolled people missed), %", "Open-set 1:N DET");
        let rule: Vec<(f64, f64)> = r.gallery_rule.iter().map(|g| (g.fpir / 100.0, g.fnir / 100.0)).collect();
        plot.add_markers("gallery rule at target FPIR 1e-1, 1e-2, 1e-3", &rule);
        plot.save(f)?;
    }
    if json {
        println!("{}", serde_json::to_string(&r).expect("report serialises"));
        return Ok(Code::Ok);
    }
    let few = "too few non-mated probes";
    println!(
        "gallery {}  mated probes {}  non-mated probes {}  no-face {}  rank-1 {}  FNIR@FPIR1e-1 {}  FNIR@FPIR1e-2 {}  FNIR@FPIR1e-3 {}  ({:.0} s)",
        r.gallery_size,
        r.mated_probes,
        r.nonmated_probes,
        r.failures,
        pct(r.rank1, "no mated probes"),
        pct(r.fnir_at_fpir_1e1, few),
        pct(r.fnir_at_fpir_1e2, few),
        pct(r.fnir_at_fpir_1e3, few),
        r.seconds
    );
    for g in &r.gallery_rule {
        let clamp = if g.exceeds_calibration { format!(" (beyond the calibration: held at {:.0e})", g.calibrated_far) } else { String::new() };
        println!(
            "gallery rule, target FPIR {:.0e}: per-comparison FAR {:.2e}{clamp}, threshold {:.4}: measured FPIR {}, FNIR {}",
            g.target_fpir,
            g.per_comparison_far,
            g.threshold,
            pct(g.fpir, few),
            pct(g.fnir, "no mated probes")
        );
    }
    Ok(Code::Ok)
}
