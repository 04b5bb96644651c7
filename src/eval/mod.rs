//! Evaluation through the whole pipeline (detect → align → embed → compare) on labelled pairs: the LFW
//! protocol, generic pair lists, calibration of operating points, quality-based rejection, the score
//! normalisation of ensembles, and open-set 1:N identification ([`open_set`]).

pub mod cache;
pub mod camera;
pub mod open_set;
pub mod resolution;

use crate::compare::{clopper_pearson, eer, kfold_accuracy, tar_at, threshold_at_far, OperatingPoint, SortedScores};
use crate::detect::Face;
use crate::embed::Embedding;
use crate::engine::{Engine, Options, REFINE_INPUT, REFINE_REGION};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::pack::{Calibration, Ensemble, ModelPack};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// One labelled pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    pub a: PathBuf,
    pub b: PathBuf,
    pub same: bool,
    pub fold: Option<usize>,
}

/// Reads LFW's `pairs.txt` (header `10 300`, then per fold 300 `NAME i j` and 300 `NAME1 i NAME2 j` lines)
/// or a header-less Dev file, for images at `ROOT/images/NAME/NAME_NNNN.jpg`.
pub fn lfw_pairs(root: &Path, pairs_file: Option<&Path>) -> Result<Vec<Pair>> {
    let file = pairs_file.map(Path::to_path_buf).unwrap_or_else(|| root.join("pairs.txt"));
    let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
    let img = |n: &str, i: &str| -> Result<PathBuf> {
        let i: u32 = i.parse().map_err(|_| Error::invalid(format!("{}: bad image number '{i}'", file.display())))?;
        Ok(root.join("images").join(n).join(format!("{n}_{i:04}.jpg")))
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty()).peekable();
    let mut per_fold = None;
    if let Some(h) = lines.peek() {
        let t: Vec<&str> = h.split_whitespace().collect();
        if t.len() == 2 && t.iter().all(|x| x.parse::<usize>().is_ok()) {
            per_fold = t[1].parse::<usize>().ok().map(|n| 2 * n);
            lines.next();
        }
    }
    let mut pairs = Vec::new();
    for (k, l) in lines.enumerate() {
        let t: Vec<&str> = l.split_whitespace().collect();
        let fold = per_fold.map(|n| k / n.max(1));
        pairs.push(match t.len() {
            3 => Pair { a: img(t[0], t[1])?, b: img(t[0], t[2])?, same: true, fold },
            4 => Pair { a: img(t[0], t[1])?, b: img(t[2], t[3])?, same: false, fold },
            _ => return Err(Error::invalid(format!("{}: malformed line '{l}'", file.display()))),
        });
    }
    Ok(pairs)
}

/// LFW's people with their images (`ROOT/images/NAME/*`), both sorted: the identity lists of the 1:N
/// evaluations.
pub fn lfw_people(root: &Path) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let dir = root.join("images");
    let mut people = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?.flatten() {
        let path = entry.path();
        let mut imgs: Vec<PathBuf> = std::fs::read_dir(&path).map_err(|e| Error::io(&path, e))?.flatten().map(|f| f.path()).collect();
        imgs.sort();
        if !imgs.is_empty() {
            people.push((entry.file_name().to_string_lossy().into_owned(), imgs));
        }
    }
    people.sort();
    Ok(people)
}

/// Reads a pair list: `pathA<TAB>pathB<TAB>1|0[<TAB>fold]`, paths absolute or relative to the list's folder.
pub fn list_pairs(list: &Path) -> Result<Vec<Pair>> {
    let text = std::fs::read_to_string(list).map_err(|e| Error::io(list, e))?;
    let base = list.parent().unwrap_or(Path::new("."));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let t: Vec<&str> = l.split('\t').collect();
            let bad = || Error::invalid(format!("{}: malformed line '{l}'", list.display()));
            if t.len() < 3 || t.len() > 4 {
                return Err(bad());
            }
            let same = match t[2].trim() {
                "1" => true,
                "0" => false,
                _ => return Err(bad()),
            };
            let fold = t.get(3).map(|f| f.trim().parse::<usize>().map_err(|_| bad())).transpose()?;
            Ok(Pair { a: base.join(t[0]), b: base.join(t[1]), same, fold })
        })
        .collect()
}

/// The face a data set means in a photo with several: the reference's rule — nearest the centre, with a bonus
/// for size; if none is found at the engine's threshold, one retry at 0.05.
pub fn primary_face(engine: &Engine, img: &Image) -> Result<Option<Face>> {
    let mut faces = engine.detect(img)?;
    if faces.is_empty() {
        let mut p = engine.options().detect.clone();
        p.score_threshold = 0.05;
        faces = engine.detect_with(img, &p)?;
    }
    let (cx, cy) = (img.width() as f32 / 2.0, img.height() as f32 / 2.0);
    let cost = |f: &Face| {
        let (fx, fy) = (f.x + f.width / 2.0, f.y + f.height / 2.0);
        ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt() - 0.3 * f.area().sqrt()
    };
    Ok(faces.into_iter().min_by(|a, b| cost(a).total_cmp(&cost(b))))
}

/// What the pipeline made of one image.
#[derive(Clone, Debug)]
pub struct Sample {
    pub embedding: Embedding,
    /// False when no face was found and the centre-crop fallback was embedded.
    pub detected: bool,
    /// Overall quality score (when asked for).
    pub quality: Option<f32>,
}

/// Embeds one image the evaluation way: primary face, or (as the reference does) a centre crop placed like
/// the template when nothing is detected, so every pair gets a score and failures are counted, not dropped.
pub fn sample(engine: &Engine, path: &Path, with_quality: bool) -> Result<Sample> {
    let img = Image::open(path)?;
    let face = primary_face(engine, &img)?;
    let detected = face.is_some();
    let face = face.unwrap_or_else(|| centre_face(engine, &img));
    let embedding = engine.embed(&img, &face)?;
    let quality = if with_quality { Some(if detected { engine.quality(&img, &face)?.overall } else { 0.0 }) } else { None };
    Ok(Sample { embedding, detected, quality })
}

/// Landmarks of the embedder's template scaled into the image centre (the reference's no-face fallback).
fn centre_face(engine: &Engine, img: &Image) -> Face {
    let t = engine.embedder().template();
    let (w, h) = (img.width() as f32, img.height() as f32);
    let s = w.min(h) / t.width as f32 * 0.8;
    let mut f = Face { score: 0.0, x: 0.0, y: 0.0, width: w, height: h, ..Default::default() };
    for (i, p) in t.points.iter().take(5).enumerate() {
        f.landmarks[i] = [p[0] * s + 0.1 * w, p[1] * s + 0.1 * h];
    }
    f
}

/// Runs `f` on every item on `threads` threads (sharing whatever `f` borrows, e.g. one engine), results in the
/// items' order; with a `progress` label, a progress bar on stderr. The first error stops the run.
pub fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, progress: Option<&str>, f: impl Fn(&T) -> Result<R> + Sync) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Vec<Result<Vec<(usize, R)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(item)?));
                        let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if let Some(label) = progress.filter(|_| d % 50 == 0 || d == items.len()) {
                            let bar = 30 * d / items.len();
                            eprint!("\r[{}{}] {d}/{} {label}", "#".repeat(bar), " ".repeat(30 - bar), items.len());
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Internal("worker panicked".into())))).collect()
    });
    if progress.is_some() {
        eprintln!();
    }
    let mut all = Vec::with_capacity(items.len());
    for r in results {
        all.extend(r?);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

/// How an evaluation runs.
#[derive(Clone, Debug, Default)]
pub struct Run {
    /// Worker threads sharing the engine (0 counts as 1).
    pub threads: usize,
    /// A progress bar on stderr.
    pub progress: bool,
    /// An embedding cache file ([`cache`]): images it holds for this pipeline are not embedded again, and the
    /// new ones are added to it.
    pub cache: Option<PathBuf>,
}

/// Embeds every distinct image of `paths` on `run.threads` threads sharing one engine (those in the cache
/// excepted).
pub fn embed_all(engine: &Engine, paths: &[PathBuf], run: &Run, with_quality: bool) -> Result<HashMap<PathBuf, Sample>> {
    let mut uniq: Vec<&PathBuf> = paths.iter().collect();
    uniq.sort();
    uniq.dedup();
    let pipeline = cache::pipeline(engine);
    let mut known = match &run.cache {
        Some(f) => cache::load(f, &pipeline)?,
        None => HashMap::new(),
    };
    let todo: Vec<&PathBuf> = uniq.iter().copied().filter(|p| !known.get(*p).is_some_and(|s| !with_quality || s.quality.is_some())).collect();
    let samples = par_map(&todo, run.threads, run.progress.then_some("images"), |p| sample(engine, p, with_quality))?;
    known.extend(todo.into_iter().cloned().zip(samples));
    if let (Some(f), false) = (&run.cache, known.is_empty()) {
        cache::save(f, &pipeline, &known)?;
    }
    Ok(uniq.into_iter().map(|p| (p.clone(), known[p].clone())).collect())
}

/// Verification figures of a scored pair set.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    pub pairs: usize,
    pub images: usize,
    /// Images where no face was found (embedded from the centre-crop fallback).
    pub failures: usize,
    /// Percent; 10-fold cross-validated mean when folds exist, else at the best threshold.
    pub accuracy: f64,
    pub accuracy_std: f64,
    pub best_threshold: f32,
    #[serde(rename = "tar_at_far_1e-2")]
    pub tar_at_far_1e2: f64,
    #[serde(rename = "tar_at_far_1e-3")]
    pub tar_at_far_1e3: f64,
    #[serde(rename = "threshold_at_far_1e-3")]
    pub threshold_at_far_1e3: Option<f32>,
    pub eer: f64,
    pub seconds: f64,
    pub detector: String,
    pub detector_input: u32,
    pub embedder: String,
    pub flip: bool,
    pub refine_landmarks: bool,
    /// Stricter points, measured against every different-identity pair of the images (when the images sit in
    /// identity folders, as LFW's do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended: Option<ExtendedReport>,
    /// Quality-based rejection, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject: Option<RejectReport>,
}

/// TAR of the list's genuine pairs against every different-identity pair of its detected images: millions of
/// impostor scores, so FAR 1e-4 to 1e-6 are measured rather than extrapolated.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ExtendedReport {
    pub impostor_pairs: usize,
    /// Operating point (`far_1e-2` … `far_1e-6`) → TAR in percent (null when not measurable).
    pub tar: BTreeMap<String, f64>,
    /// Operating point → impostor scores at or above its threshold.
    pub impostors_accepted: BTreeMap<String, usize>,
}

/// False-non-match rates before and after dropping the lowest-quality pairs.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RejectReport {
    pub fraction: f64,
    pub rejected: usize,
    #[serde(rename = "fnmr_at_fmr_1e-3_before")]
    pub fnmr_1e3_before: f64,
    #[serde(rename = "fnmr_at_fmr_1e-3_after")]
    pub fnmr_1e3_after: f64,
    #[serde(rename = "fnmr_at_fmr_1e-2_before")]
    pub fnmr_1e2_before: f64,
    #[serde(rename = "fnmr_at_fmr_1e-2_after")]
    pub fnmr_1e2_after: f64,
    /// (rejected fraction, FNMR at FMR 1e-3 in percent) from 0 to 30 %, for the error-versus-reject curve.
    pub erc: Vec<(f64, f64)>,
}

/// Scored pairs: similarity, label, fold, pair quality.
pub struct Scored {
    pub sims: Vec<f32>,
    pub same: Vec<bool>,
    pub folds: Vec<usize>,
    pub quality: Vec<f32>,
}

/// Scores every pair from the embedded samples.
pub fn score(pairs: &[Pair], samples: &HashMap<PathBuf, Sample>) -> Result<Scored> {
    let mut s = Scored { sims: vec![], same: vec![], folds: vec![], quality: vec![] };
    for (i, p) in pairs.iter().enumerate() {
        let (a, b) = (&samples[&p.a], &samples[&p.b]);
        s.sims.push(crate::compare::cosine(a.embedding.as_slice(), b.embedding.as_slice())?);
        s.same.push(p.same);
        s.folds.push(p.fold.unwrap_or(i % 10));
        s.quality.push(a.quality.unwrap_or(f32::NAN).min(b.quality.unwrap_or(f32::NAN)));
    }
    Ok(s)
}

/// Genuine and impostor scores of a scored pair list.
pub fn split(sims: &[f32], same: &[bool]) -> (Vec<f32>, Vec<f32>) {
    let g = sims.iter().zip(same).filter(|x| *x.1).map(|x| *x.0).collect();
    let i = sims.iter().zip(same).filter(|x| !*x.1).map(|x| *x.0).collect();
    (g, i)
}

/// TAR (percent) at a FAR, by the reference's convention; NaN when not measurable.
pub fn tar_at_far(genuine: &[f32], impostors: &[f32], far: f64) -> f64 {
    threshold_at_far(impostors, far).map_or(f64::NAN, |t| tar_at(genuine, t))
}

/// Accuracy, TAR@FAR and EER of scored pairs.
pub fn report(s: &Scored, has_folds: bool) -> Report {
    let (g, i) = split(&s.sims, &s.same);
    let (accuracy, accuracy_std, best_threshold) = if has_folds {
        kfold_accuracy(&s.sims, &s.same, &s.folds)
    } else {
        let (t, a) = crate::compare::best_threshold(&s.sims, &s.same);
        (a, 0.0, t)
    };
    Report {
        pairs: s.sims.len(),
        accuracy,
        accuracy_std,
        best_threshold,
        tar_at_far_1e2: tar_at_far(&g, &i, 1e-2),
        tar_at_far_1e3: tar_at_far(&g, &i, 1e-3),
        threshold_at_far_1e3: threshold_at_far(&i, 1e-3),
        eer: eer(&g, &i),
        ..Default::default()
    }
}

/// FNMR (percent) at FMR `far` after dropping the `fraction` of pairs with the lowest pair quality. The
/// threshold is re-measured on the impostors that remain, as an operator would after deploying the gate.
pub fn fnmr_after_reject(s: &Scored, fraction: f64, far: f64) -> (f64, usize) {
    let mut order: Vec<usize> = (0..s.sims.len()).collect();
    order.sort_by(|&a, &b| s.quality[a].total_cmp(&s.quality[b]));
    let drop = ((fraction * order.len() as f64).round() as usize).min(order.len());
    let kept = &order[drop..];
    let g: Vec<f32> = kept.iter().filter(|&&k| s.same[k]).map(|&k| s.sims[k]).collect();
    let i: Vec<f32> = kept.iter().filter(|&&k| !s.same[k]).map(|&k| s.sims[k]).collect();
    (100.0 - tar_at_far(&g, &i, far), drop)
}

/// The rejection part of a report.
pub fn reject_report(s: &Scored, fraction: f64) -> RejectReport {
    let (b3, _) = fnmr_after_reject(s, 0.0, 1e-3);
    let (a3, rejected) = fnmr_after_reject(s, fraction, 1e-3);
    let (b2, _) = fnmr_after_reject(s, 0.0, 1e-2);
    let (a2, _) = fnmr_after_reject(s, fraction, 1e-2);
    let erc = (0..=30).map(|p| (p as f64 / 100.0, fnmr_after_reject(s, p as f64 / 100.0, 1e-3).0)).collect();
    RejectReport { fraction, rejected, fnmr_1e3_before: b3, fnmr_1e3_after: a3, fnmr_1e2_before: b2, fnmr_1e2_after: a2, erc }
}

/// Full evaluation of a pair set through `engine`.
pub fn evaluate(engine: &Engine, pairs: &[Pair], run: &Run, with_quality: bool) -> Result<(Report, Scored)> {
    let t0 = Instant::now();
    let paths: Vec<PathBuf> = pairs.iter().flat_map(|p| [p.a.clone(), p.b.clone()]).collect();
    let samples = embed_all(engine, &paths, run, with_quality)?;
    let scored = score(pairs, &samples)?;
    let mut r = report(&scored, pairs.iter().all(|p| p.fold.is_some()));
    if let Some(imp) = extended_impostors(&samples, run.threads)? {
        let (genuine, _) = split(&scored.sims, &scored.same);
        let mut x = ExtendedReport { impostor_pairs: imp.len(), ..Default::default() };
        for op in OperatingPoint::ALL {
            let t = imp.threshold_at_far(op.far());
            x.tar.insert(op.key().into(), t.map_or(f64::NAN, |t| tar_at(&genuine, t)));
            if let Some(t) = t {
                x.impostors_accepted.insert(op.key().into(), imp.accepted(t));
            }
        }
        r.extended = Some(x);
    }
    r.images = samples.len();
    r.failures = samples.values().filter(|s| !s.detected).count();
    r.seconds = t0.elapsed().as_secs_f64();
    r.detector = engine.detector_name().to_string();
    r.detector_input = engine.options().detect.input_size;
    r.embedder = engine.embedder().name().to_string();
    r.flip = engine.options().flip;
    r.refine_landmarks = engine.options().refine_landmarks;
    Ok((r, scored))
}

/// Identity of an image for extended impostor sets: its folder name (LFW's layout).
fn identity(p: &Path) -> Option<&str> {
    p.parent()?.file_name()?.to_str()
}

/// The scores of every pair of detected images of different identities (folder names) among `samples`, on
/// `threads` threads; `None` when some image has no identity folder or there are no such pairs.
pub fn extended_impostors(samples: &HashMap<PathBuf, Sample>, threads: usize) -> Result<Option<SortedScores>> {
    let mut items: Vec<(&str, &[f32])> = Vec::with_capacity(samples.len());
    for (p, s) in samples.iter().filter(|(_, s)| s.detected) {
        let Some(id) = identity(p) else { return Ok(None) };
        items.push((id, s.embedding.as_slice()));
    }
    items.sort_by(|a, b| a.0.cmp(b.0));
    let rows: Vec<usize> = (0..items.len()).collect();
    let per_row = par_map(&rows, threads, None, |&i| {
        let (ida, a) = items[i];
        items[i + 1..].iter().filter(|(idb, _)| *idb != ida).map(|(_, b)| crate::compare::cosine(a, b)).collect::<Result<Vec<f32>>>()
    })?;
    let scores: Vec<f32> = per_row.into_iter().flatten().collect();
    Ok((!scores.is_empty()).then(|| SortedScores::new(scores)))
}

/// A short description of the pipeline a calibration holds for (thresholds hold only for the same one).
pub fn pipeline_description(engine: &Engine) -> String {
    let o = engine.options();
    let refine = if o.refine_landmarks { format!(", landmarks refined (second pass on {REFINE_REGION}x the box at {REFINE_INPUT})") } else { String::new() };
    format!("detector {} at input {}{refine}", engine.detector_name(), o.detect.input_size)
}

/// Measures operating-point thresholds on `pairs`. Impostor scores come from every pair of images of
/// different identities (folder names) among the pairs' images — millions of comparisons, so 1e-4 to 1e-6 are
/// measured on real data — falling back to the list's own impostor pairs when images have no identity
/// folders. Each threshold records how many impostor scores reach it and the 95 % Clopper–Pearson interval of
/// its FAR: at 1e-6 on LFW's 29.6 million pairs, about 30 scores.
pub fn calibrate(engine: &Engine, pairs: &[Pair], dataset: &str, run: &Run) -> Result<Calibration> {
    let paths: Vec<PathBuf> = pairs.iter().flat_map(|p| [p.a.clone(), p.b.clone()]).collect();
    let samples = embed_all(engine, &paths, run, false)?;
    let scored = score(pairs, &samples)?;
    let (genuine, list_impostors) = split(&scored.sims, &scored.same);
    let (impostors, extended) = match extended_impostors(&samples, run.threads)? {
        Some(i) => (i, true),
        None => (SortedScores::new(list_impostors), false),
    };
    let mut c = Calibration {
        dataset: format!(
            "{dataset}: {} genuine pairs; impostors = {}",
            genuine.len(),
            if extended { "all different-identity pairs of the list's detected images" } else { "the list's impostor pairs" }
        ),
        pipeline: pipeline_description(engine),
        flip: engine.options().flip,
        genuine_pairs: genuine.len(),
        impostor_pairs: impostors.len(),
        thresholds: BTreeMap::new(),
        tar: BTreeMap::new(),
        best_accuracy_threshold: Some(crate::compare::best_threshold(&scored.sims, &scored.same).0),
        impostors_accepted: BTreeMap::new(),
        far_interval_95: BTreeMap::new(),
        by_eye_distance: None,
        camera: None,
    };
    for op in OperatingPoint::ALL {
        if let Some(t) = impostors.threshold_at_far(op.far()) {
            let k = op.key().to_string();
            let accepted = impostors.accepted(t) as u64;
            let (lo, hi) = clopper_pearson(accepted, impostors.len() as u64, 0.95);
            c.thresholds.insert(k.clone(), t);
            c.tar.insert(k.clone(), tar_at(&genuine, t) as f32);
            c.impostors_accepted.insert(k.clone(), accepted);
            c.far_interval_95.insert(k, [lo, hi]);
        }
    }
    Ok(c)
}

/// Measures an ensemble's score normalisation: for each member model (embedding on its own, with `base`'s
/// detector and flip settings), the mean and standard deviation of its cosine over every different-identity
/// pair of the images of `pairs`. The weights stay as they are. Returns the ensemble with the new statistics
/// and `dataset` recorded.
pub fn normalise_ensemble(pack: &ModelPack, base: &Options, ensemble: &Ensemble, pairs: &[Pair], dataset: &str, run: &Run) -> Result<Ensemble> {
    let paths: Vec<PathBuf> = pairs.iter().flat_map(|p| [p.a.clone(), p.b.clone()]).collect();
    let mut out = ensemble.clone();
    let (mut counts, mut pipeline) = (Vec::new(), String::new());
    for m in &mut out.members {
        let o = Options { embedder: Some(m.model.clone()), load_quality: false, load_liveness: false, ..base.clone() };
        let engine = Engine::from_pack(pack, o)?;
        let samples = embed_all(&engine, &paths, run, false)?;
        let imp = extended_impostors(&samples, run.threads)?
            .ok_or_else(|| Error::invalid("normalisation needs images in identity folders, of several identities"))?;
        let n = imp.len() as f64;
        let mean = imp.scores().iter().map(|&s| s as f64).sum::<f64>() / n;
        let var = imp.scores().iter().map(|&s| (s as f64 - mean).powi(2)).sum::<f64>() / n;
        (m.impostor_mean, m.impostor_std) = (mean as f32, var.sqrt() as f32);
        counts.push(imp.len().to_string());
        pipeline = pipeline_description(&engine);
    }
    out.normalisation = format!(
        "{dataset}: each model's impostor cosine mean and std over all different-identity pairs of the list's detected images ({} pairs); {pipeline}; flip {}",
        counts.join(" / "),
        base.flip
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_pairs_parses_and_rejects() {
        let dir = std::env::temp_dir().join(format!("fk-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("list.tsv");
        std::fs::write(&f, "a.jpg\t/x/b.jpg\t1\t3\nc.jpg\td.jpg\t0\n").unwrap();
        let p = list_pairs(&f).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].a, dir.join("a.jpg"));
        assert_eq!(p[0].b, PathBuf::from("/x/b.jpg"));
        assert_eq!((p[0].same, p[0].fold, p[1].same, p[1].fold), (true, Some(3), false, None));
        std::fs::write(&f, "a.jpg\tb.jpg\tyes\n").unwrap();
        assert!(list_pairs(&f).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejection_drops_lowest_quality_first() {
        // Two genuine pairs: the low-quality one scores below every impostor.
        let s = Scored {
            sims: vec![0.9, 0.1, 0.2, 0.3],
            same: vec![true, true, false, false],
            folds: vec![0; 4],
            quality: vec![90.0, 10.0, 80.0, 70.0],
        };
        assert_eq!(fnmr_after_reject(&s, 0.0, 0.5).0, 50.0);
        let (after, dropped) = fnmr_after_reject(&s, 0.25, 0.5);
        assert_eq!((after, dropped), (0.0, 1));
    }
}
