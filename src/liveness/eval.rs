//! Measuring liveness the way ISO/IEC 30107-3 does, on a folder of labelled captures, and calibrating its
//! operating points. The same code gives the figures in BENCHMARKS.md and the thresholds in the manifest.
//!
//! A data set folder holds `real/` and `spoof/` trees (any depth, symlinks followed). A first folder level
//! named `train`, `dev`, `devel` or `test` is a split; under `spoof/`, the next folder names the attack type.
//! Each image is scored on its face nearest the centre (the reference's rule, [`crate::eval::primary_face`]).
//!
//! Rates: **APCER** = share of spoofs accepted as live, **BPCER** = share of live faces refused, **ACER** =
//! their mean, all in percent. A file without a face, or whose face cannot be checked (too small, cut off), is
//! counted and treated as refused at every threshold — what a door gate does with it: a live person there
//! counts against BPCER, a spoof there is not accepted. A file that cannot be decoded is counted and listed,
//! and left out of the rates.

use super::{LivenessPoint, LivenessScore, LivenessStatus};
use crate::compare::{eer, roc, threshold_at_far};
use crate::detect::Face;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::eval::{par_map, primary_face};
use crate::image::Image;
use crate::pack::LivenessCalibration;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Names of a first folder level that make a split.
pub const SPLITS: [&str; 4] = ["train", "dev", "devel", "test"];
/// File extensions that are listed (case-insensitive).
pub const EXTENSIONS: [&str; 5] = ["jpg", "jpeg", "png", "webp", "bmp"];

/// One labelled capture.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Item {
    pub path: PathBuf,
    pub live: bool,
    /// The split folder (`devel`, `test`, …), if the tree has one.
    pub split: Option<String>,
    /// The attack type of a spoof (the folder under `spoof/[split/]`), if any.
    pub attack: Option<String>,
}

/// Image files under `dir`, any depth, following symlinks (a folder reached twice is read once).
fn walk(dir: &Path, seen: &mut HashSet<PathBuf>, out: &mut Vec<PathBuf>) -> Result<()> {
    let canonical = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    if !seen.insert(canonical) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = entry.map_err(|e| Error::io(dir, e))?.path();
        // `metadata` follows symlinks; a dangling link is an error, not a silently missing file.
        let meta = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?;
        if meta.is_dir() {
            walk(&p, seen, out)?;
        } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())) {
            out.push(p);
        }
    }
    Ok(())
}

/// Lists a liveness data set: every image under `dir/real` and `dir/spoof`, sorted, only those of `split` if
/// given. Errors: a missing `real/` or `spoof/` folder, a split nobody has, no real or no spoof image left.
pub fn list(dir: &Path, split: Option<&str>) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for (class, live) in [("real", true), ("spoof", false)] {
        let root = dir.join(class);
        if !root.is_dir() {
            return Err(Error::invalid(format!("{}: no {class}/ folder (a liveness data set has real/ and spoof/)", dir.display())));
        }
        let mut files = Vec::new();
        walk(&root, &mut HashSet::new(), &mut files)?;
        for path in files {
            let rel = path.strip_prefix(&root).unwrap_or(&path);
            let mut folders: Vec<String> = rel.parent().into_iter().flat_map(|p| p.iter()).map(|c| c.to_string_lossy().into_owned()).collect();
            let s = (folders.first().is_some_and(|f| SPLITS.contains(&f.as_str()))).then(|| folders.remove(0));
            let attack = if live { None } else { folders.into_iter().next() };
            items.push(Item { path, live, split: s, attack });
        }
    }
    if let Some(want) = split {
        let found: std::collections::BTreeSet<&str> = items.iter().filter_map(|i| i.split.as_deref()).collect();
        if !found.contains(want) {
            return Err(Error::invalid(format!("{}: no split '{want}' (splits found: {found:?})", dir.display())));
        }
        items.retain(|i| i.split.as_deref() == Some(want));
    }
    for (class, live) in [("real", true), ("spoof", false)] {
        if !items.iter().any(|i| i.live == live) {
            let s = split.map(|s| format!(" in split '{s}'")).unwrap_or_default();
            return Err(Error::invalid(format!("{}: no {class} image{s} (extensions: {})", dir.display(), EXTENSIONS.join(", "))));
        }
    }
    items.sort();
    Ok(items)
}

/// What became of one capture.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The face was scored (or found not checkable: see the score's status).
    Scored { face: Face, score: LivenessScore },
    /// No face, even at the detector's retry threshold.
    NoFace,
    /// The file could not be read or decoded (the message says why).
    Unreadable(String),
}

/// A capture and its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredItem {
    pub item: Item,
    pub outcome: Outcome,
}

impl ScoredItem {
    /// The score decisions are taken on: the combined score of an assessed face; -∞ (refused at any
    /// threshold) without a face or for a face that cannot be checked; `None` for an unreadable file.
    pub fn decision_score(&self) -> Option<f32> {
        match &self.outcome {
            Outcome::Scored { score, .. } if score.status == LivenessStatus::Assessed => Some(score.score),
            Outcome::Scored { .. } | Outcome::NoFace => Some(f32::NEG_INFINITY),
            Outcome::Unreadable(_) => None,
        }
    }
}

/// Scores one capture: its face nearest the centre, then the liveness models.
pub fn score_item(engine: &Engine, item: &Item) -> Result<ScoredItem> {
    let liveness = engine.liveness_model().ok_or_else(|| Error::Unsupported("the engine has no liveness models loaded".into()))?;
    let img = match Image::open(&item.path) {
        Ok(i) => i,
        Err(e @ (Error::Decode { .. } | Error::Io { .. } | Error::InvalidImage(_))) => {
            return Ok(ScoredItem { item: item.clone(), outcome: Outcome::Unreadable(e.to_string()) })
        }
        Err(e) => return Err(e),
    };
    let outcome = match primary_face(engine, &img)? {
        Some(face) => Outcome::Scored { face, score: liveness.score(&img, &face)? },
        None => Outcome::NoFace,
    };
    Ok(ScoredItem { item: item.clone(), outcome })
}

/// Scores every capture on `threads` threads sharing `engine`.
pub fn score_items(engine: &Engine, items: &[Item], threads: usize, progress: bool) -> Result<Vec<ScoredItem>> {
    par_map(items, threads, progress.then_some("captures"), |it| score_item(engine, it))
}

/// APCER and BPCER (percent) at threshold `t`: spoofs with score ≥ t accepted, live faces below t refused.
pub fn rates(real: &[f32], spoof: &[f32], t: f32) -> (f64, f64) {
    let share = |v: &[f32], f: &dyn Fn(f32) -> bool| if v.is_empty() { f64::NAN } else { 100.0 * v.iter().filter(|&&s| f(s)).count() as f64 / v.len() as f64 };
    (share(spoof, &|s| s >= t), share(real, &|s| s < t))
}

/// Area under the ROC curve with live faces as the positive class: P(live score > spoof score) + ½ P(tie),
/// by ranks. NaN if either list is empty.
pub fn auc(real: &[f32], spoof: &[f32]) -> f64 {
    if real.is_empty() || spoof.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f32, bool)> = real.iter().map(|&s| (s, true)).chain(spoof.iter().map(|&s| (s, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut i, mut rank_sum) = (0, 0.0f64);
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid_rank * all[i..=j].iter().filter(|x| x.1).count() as f64;
        i = j + 1;
    }
    let (np, nn) = (real.len() as f64, spoof.len() as f64);
    (rank_sum - np * (np + 1.0) / 2.0) / (np * nn)
}

/// The threshold at which at most `apcer` of the spoofs pass (the face calibration's convention:
/// [`crate::compare::threshold_at_far`]); `None` with too few spoofs to measure it.
pub fn threshold_at_apcer(spoof: &[f32], apcer: f64) -> Option<f32> {
    threshold_at_far(spoof, apcer)
}

/// BPCER (percent) at the threshold where APCER ≤ `apcer`; NaN when not measurable.
pub fn bpcer_at_apcer(real: &[f32], spoof: &[f32], apcer: f64) -> f64 {
    threshold_at_apcer(spoof, apcer).map_or(f64::NAN, |t| rates(real, spoof, t).1)
}

/// One point of the DET / ROC curve (fractions, not percent).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct CurvePoint {
    pub apcer: f64,
    pub bpcer: f64,
}

/// The trade-off curve, one point per distinct spoof score, APCER rising: plot BPCER against APCER for a
/// DET curve, or 1 − BPCER against APCER for a ROC curve.
pub fn curve(real: &[f32], spoof: &[f32]) -> Vec<CurvePoint> {
    roc(real, spoof).into_iter().map(|(far, tar)| CurvePoint { apcer: far, bpcer: 1.0 - tar }).collect()
}

/// Liveness figures of one data set (rates in percent, AUC as a fraction). NaN fields serialise as `null`.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LivenessEvaluation {
    pub dataset: String,
    pub split: Option<String>,
    /// Live and spoof captures counted in the rates (unreadable files excluded).
    pub real: usize,
    pub spoof: usize,
    /// Captures without a face (refused: BPCER for live ones, not accepted for spoofs).
    pub no_face: usize,
    /// Captures whose face was too small or cut off for the liveness crop (refused likewise).
    pub not_assessable: usize,
    /// Files that could not be decoded: listed, not in the rates.
    pub unreadable: Vec<String>,
    pub operating_point: String,
    /// The engine's calibrated threshold at `operating_point` (null if the manifest has none).
    pub threshold: Option<f32>,
    pub apcer: f64,
    pub bpcer: f64,
    pub acer: f64,
    pub auc: f64,
    /// Equal error rate, percent.
    pub eer: f64,
    #[serde(rename = "bpcer_at_apcer_1e-2")]
    pub bpcer_at_apcer_1e2: f64,
    #[serde(rename = "bpcer_at_apcer_5e-2")]
    pub bpcer_at_apcer_5e2: f64,
    /// APCER (percent, at `threshold`) per attack type, and the number of spoofs of each.
    pub apcer_by_attack: BTreeMap<String, f64>,
    pub spoof_by_attack: BTreeMap<String, usize>,
    /// AUC of each model alone, over the assessed faces.
    pub auc_by_model: BTreeMap<String, f64>,
    pub seconds: f64,
    pub detector: String,
    pub detector_input: u32,
}

/// Decision scores of the live and the spoof captures (unreadable files left out).
pub fn split_scores(scored: &[ScoredItem]) -> (Vec<f32>, Vec<f32>) {
    let pick = |live: bool| scored.iter().filter(|s| s.item.live == live).filter_map(ScoredItem::decision_score).collect();
    (pick(true), pick(false))
}

/// The figures of scored captures at `threshold` (when given). `models` names the ensemble's models, in order.
pub fn evaluation(scored: &[ScoredItem], threshold: Option<f32>, models: &[&str]) -> LivenessEvaluation {
    let (real, spoof) = split_scores(scored);
    let (apcer, bpcer) = threshold.map_or((f64::NAN, f64::NAN), |t| rates(&real, &spoof, t));
    let mut by_attack: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for s in scored.iter().filter(|s| !s.item.live) {
        if let Some(v) = s.decision_score() {
            by_attack.entry(s.item.attack.clone().unwrap_or_default()).or_default().push(v);
        }
    }
    let assessed = |live: bool, m: usize| -> Vec<f32> {
        scored
            .iter()
            .filter(|s| s.item.live == live)
            .filter_map(|s| match &s.outcome {
                Outcome::Scored { score, .. } => score.models.get(m).copied(),
                _ => None,
            })
            .collect()
    };
    LivenessEvaluation {
        real: real.len(),
        spoof: spoof.len(),
        no_face: scored.iter().filter(|s| s.outcome == Outcome::NoFace).count(),
        not_assessable: scored
            .iter()
            .filter(|s| matches!(&s.outcome, Outcome::Scored { score, .. } if score.status != LivenessStatus::Assessed))
            .count(),
        unreadable: scored.iter().filter(|s| matches!(s.outcome, Outcome::Unreadable(_))).map(|s| s.item.path.display().to_string()).collect(),
        threshold,
        apcer,
        bpcer,
        acer: (apcer + bpcer) / 2.0,
        auc: auc(&real, &spoof),
        eer: eer(&real, &spoof),
        bpcer_at_apcer_1e2: bpcer_at_apcer(&real, &spoof, 1e-2),
        bpcer_at_apcer_5e2: bpcer_at_apcer(&real, &spoof, 5e-2),
        apcer_by_attack: by_attack.iter().map(|(k, v)| (k.clone(), threshold.map_or(f64::NAN, |t| rates(&[], v, t).0))).collect(),
        spoof_by_attack: by_attack.iter().map(|(k, v)| (k.clone(), v.len())).collect(),
        auc_by_model: models.iter().enumerate().map(|(m, n)| (n.to_string(), auc(&assessed(true, m), &assessed(false, m)))).collect(),
        ..Default::default()
    }
}

/// A data set's name for reports and the manifest: the folder and the split.
fn dataset_name(dir: &Path, split: Option<&str>, real: usize, spoof: usize) -> String {
    let s = split.map(|s| format!(" split {s}")).unwrap_or_default();
    format!("{}{s}: {real} real, {spoof} spoof", dir.display())
}

/// Lists, scores and measures a data set through `engine` at the engine's liveness operating point.
pub fn evaluate_dir(engine: &Engine, dir: &Path, split: Option<&str>, threads: usize, progress: bool) -> Result<(LivenessEvaluation, Vec<ScoredItem>)> {
    let t0 = Instant::now();
    let items = list(dir, split)?;
    let scored = score_items(engine, &items, threads, progress)?;
    let liveness = engine.liveness_model().ok_or_else(|| Error::Unsupported("the engine has no liveness models loaded".into()))?;
    let op = engine.options().liveness_point;
    let mut r = evaluation(&scored, liveness.threshold(op).ok(), &liveness.model_names());
    r.dataset = dataset_name(dir, split, r.real, r.spoof);
    r.split = split.map(str::to_string);
    r.operating_point = op.key().to_string();
    r.seconds = t0.elapsed().as_secs_f64();
    r.detector = engine.detector_name().to_string();
    r.detector_input = engine.options().detect.input_size;
    Ok((r, scored))
}

/// Thresholds for every liveness operating point measurable on these scores, with the APCER and BPCER
/// they give on the same data.
pub fn calibration(real: &[f32], spoof: &[f32], dataset: String, pipeline: String) -> LivenessCalibration {
    let mut c = LivenessCalibration {
        dataset,
        pipeline,
        real: real.len(),
        spoof: spoof.len(),
        thresholds: BTreeMap::new(),
        apcer: BTreeMap::new(),
        bpcer: BTreeMap::new(),
        per_set: BTreeMap::new(),
    };
    for op in LivenessPoint::ALL {
        if let Some(t) = threshold_at_apcer(spoof, op.apcer()) {
            let (a, b) = rates(real, spoof, t);
            c.thresholds.insert(op.key().to_string(), t);
            c.apcer.insert(op.key().to_string(), a as f32);
            c.bpcer.insert(op.key().to_string(), b as f32);
        }
    }
    c
}

/// Calibrates the liveness operating points on one split of a data set (put the result in a manifest with
/// [`crate::pack::Manifest::set_liveness_calibration`]). Refuses the `test` split, and a whole data set that
/// has one: thresholds are chosen on development data and reported on test data, never the other way round.
pub fn calibrate_dir(engine: &Engine, dir: &Path, split: Option<&str>, threads: usize, progress: bool) -> Result<LivenessCalibration> {
    let items = list(dir, split)?;
    if items.iter().any(|i| i.split.as_deref() == Some("test")) {
        return Err(Error::invalid(format!(
            "{}: calibrating on the test split would tune on the data the figures are reported on; pass a development split (e.g. devel)",
            dir.display()
        )));
    }
    let scored = score_items(engine, &items, threads, progress)?;
    let (real, spoof) = split_scores(&scored);
    let pipeline = format!("detector {} at input {}, face nearest the centre", engine.detector_name(), engine.options().detect.input_size);
    let cal = calibration(&real, &spoof, dataset_name(dir, split, real.len(), spoof.len()), pipeline);
    if cal.thresholds.is_empty() {
        return Err(Error::invalid(format!("{}: {} spoofs are too few to measure APCER 5 %", dir.display(), spoof.len())));
    }
    Ok(cal)
}

/// Calibrates on several data sets (cameras) pooled so that no single one defines the threshold: each
/// operating point's threshold is the lowest at which the **mean of the sets' APCERs** is at most the
/// point's APCER (every set weighs the same, however many images it has). The calibration records the mean
/// rates and each set's own APCER and BPCER at the chosen thresholds. `sets`: folders and their development
/// splits (a `test` split is refused, as by [`calibrate_dir`]).
pub fn calibrate_pooled(engine: &Engine, sets: &[(PathBuf, Option<String>)], threads: usize, progress: bool) -> Result<LivenessCalibration> {
    if sets.len() < 2 {
        return Err(Error::invalid("pooled calibration needs at least two data sets"));
    }
    let mut scored = Vec::new();
    for (dir, split) in sets {
        let items = list(dir, split.as_deref())?;
        if items.iter().any(|i| i.split.as_deref() == Some("test")) {
            return Err(Error::invalid(format!("{}: calibrating on a test split; pass a development split", dir.display())));
        }
        let (real, spoof) = split_scores(&score_items(engine, &items, threads, progress)?);
        if real.is_empty() || spoof.is_empty() {
            return Err(Error::invalid(format!("{}: needs both real and spoof captures", dir.display())));
        }
        scored.push((dataset_name(dir, split.as_deref(), real.len(), spoof.len()), real, spoof));
    }
    let mean_rates = |t: f32| -> (f64, f64) {
        let r: Vec<(f64, f64)> = scored.iter().map(|(_, real, spoof)| rates(real, spoof, t)).collect();
        (r.iter().map(|x| x.0).sum::<f64>() / r.len() as f64, r.iter().map(|x| x.1).sum::<f64>() / r.len() as f64)
    };
    // Candidate thresholds: just above every spoof score (where APCER steps down).
    let mut cands: Vec<f32> = scored.iter().flat_map(|(_, _, sp)| sp.iter().map(|&v| next_above(v))).filter(|v| v.is_finite()).collect();
    cands.sort_by(|a, b| a.total_cmp(b));
    cands.dedup();
    let mut c = LivenessCalibration {
        dataset: format!("pooled, every set weighing the same: {}", scored.iter().map(|s| s.0.as_str()).collect::<Vec<_>>().join("; ")),
        pipeline: format!("detector {} at input {}, face nearest the centre", engine.detector_name(), engine.options().detect.input_size),
        real: scored.iter().map(|s| s.1.len()).sum(),
        spoof: scored.iter().map(|s| s.2.len()).sum(),
        thresholds: BTreeMap::new(),
        apcer: BTreeMap::new(),
        bpcer: BTreeMap::new(),
        per_set: BTreeMap::new(),
    };
    for op in LivenessPoint::ALL {
        let Some(&t) = cands.iter().find(|&&t| mean_rates(t).0 <= 100.0 * op.apcer() + 1e-9) else { continue };
        let (a, b) = mean_rates(t);
        let k = op.key().to_string();
        c.thresholds.insert(k.clone(), t);
        c.apcer.insert(k.clone(), a as f32);
        c.bpcer.insert(k.clone(), b as f32);
        for (name, real, spoof) in &scored {
            let (a, b) = rates(real, spoof, t);
            c.per_set.entry(name.clone()).or_default().insert(k.clone(), [a as f32, b as f32]);
        }
    }
    if c.thresholds.is_empty() {
        return Err(Error::invalid("too few spoofs to measure APCER 5 %"));
    }
    Ok(c)
}

/// The smallest f32 above `x`.
fn next_above(x: f32) -> f32 {
    if !x.is_finite() {
        return x;
    }
    if x == 0.0 {
        return f32::from_bits(1);
    }
    f32::from_bits(if x > 0.0 { x.to_bits() + 1 } else { x.to_bits() - 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_at_a_threshold() {
        let real = [0.9, 0.8, 0.4, f32::NEG_INFINITY];
        let spoof = [0.1, 0.95, 0.3, 0.5];
        let (a, b) = rates(&real, &spoof, 0.5);
        assert_eq!((a, b), (50.0, 50.0)); // spoofs 0.95 and 0.5 pass; real 0.4 and the faceless one refused
        assert!(rates(&[], &spoof, 0.5).1.is_nan());
    }

    #[test]
    fn auc_counts_ties_as_half() {
        assert_eq!(auc(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        assert_eq!(auc(&[0.1], &[0.9]), 0.0);
        assert_eq!(auc(&[0.5], &[0.5]), 0.5);
        // 2 real × 2 spoof: (0.6 > 0.2, 0.6 > 0.6 tie, 0.9 > both) = (1 + 0.5 + 2) / 4.
        assert_eq!(auc(&[0.6, 0.9], &[0.2, 0.6]), 0.875);
        assert_eq!(auc(&[f32::NEG_INFINITY], &[f32::NEG_INFINITY, 0.3]), 0.25);
        assert!(auc(&[], &[0.1]).is_nan());
    }

    #[test]
    fn calibration_keeps_apcer_at_or_below_the_target() {
        // 100 spoofs 0.00..0.99, 20 real 0.80..0.99: at APCER 5 % the cut is just above the 5th highest spoof.
        let spoof: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
        let real: Vec<f32> = (80..100).map(|i| i as f32 / 100.0).collect();
        let c = calibration(&real, &spoof, "synthetic".into(), "none".into());
        let t = c.thresholds["apcer_5e-2"];
        assert!(t > 0.95 && t < 0.951, "{t}");
        assert_eq!(c.apcer["apcer_5e-2"], 4.0); // 0.96..0.99 pass
        assert_eq!(c.bpcer["apcer_5e-2"], 80.0); // real 0.80..0.95 refused: 16 of 20
        assert_eq!(rates(&real, &spoof, t), (4.0, 80.0));
        assert!(c.thresholds["apcer_1e-2"] > 0.99);
        // 50 spoofs cannot measure 1 % (needs 100).
        let c = calibration(&real, &spoof[..50], "s".into(), "p".into());
        assert!(!c.thresholds.contains_key("apcer_1e-2") && c.thresholds.contains_key("apcer_5e-2"));
        assert!(bpcer_at_apcer(&real, &spoof[..50], 1e-2).is_nan());
    }

    #[test]
    fn curve_runs_from_strict_to_lax() {
        let c = curve(&[0.9, 0.7, 0.2], &[0.1, 0.8, 0.3]);
        assert_eq!(c.len(), 3);
        assert!(c.windows(2).all(|w| w[0].apcer <= w[1].apcer && w[0].bpcer >= w[1].bpcer));
        assert_eq!(c[0], CurvePoint { apcer: 1.0 / 3.0, bpcer: 1.0 - 1.0 / 3.0 }); // at 0.8: one spoof, one real pass
        assert_eq!(c[2].apcer, 1.0);
    }

    fn item(live: bool, attack: Option<&str>) -> Item {
        Item { path: PathBuf::from("x.jpg"), live, split: None, attack: attack.map(str::to_string) }
    }

    fn scored(live: bool, attack: Option<&str>, outcome: Outcome) -> ScoredItem {
        ScoredItem { item: item(live, attack), outcome }
    }

    fn assessed(s: f32) -> Outcome {
        Outcome::Scored { face: Face::default(), score: LivenessScore { status: LivenessStatus::Assessed, score: s, models: vec![s, s] } }
    }

    #[test]
    fn evaluation_counts_failures_as_refusals() {
        let too_small = Outcome::Scored {
            face: Face::default(),
            score: LivenessScore { status: LivenessStatus::FaceTooSmall, score: f32::NAN, models: vec![] },
        };
        let s = vec![
            scored(true, None, assessed(0.9)),
            scored(true, None, Outcome::NoFace),
            scored(true, None, too_small),
            scored(true, None, Outcome::Unreadable("bad".into())),
            scored(false, Some("print"), assessed(0.95)),
            scored(false, Some("print"), assessed(0.1)),
            scored(false, Some("replay"), Outcome::NoFace),
            scored(false, Some("replay"), assessed(0.2)),
        ];
        let r = evaluation(&s, Some(0.5), &["a", "b"]);
        assert_eq!((r.real, r.spoof, r.no_face, r.not_assessable, r.unreadable.len()), (3, 4, 2, 1, 1));
        assert_eq!(r.bpcer, 200.0 / 3.0); // two of three counted live captures refused
        assert_eq!(r.apcer, 25.0);
        assert_eq!((r.apcer_by_attack["print"], r.apcer_by_attack["replay"]), (50.0, 0.0));
        assert_eq!(r.spoof_by_attack["replay"], 2);
        assert_eq!(r.auc_by_model["a"], 2.0 / 3.0); // assessed faces only: live 0.9 against 0.95, 0.1, 0.2
        let json = serde_json::to_value(&r).unwrap();
        for k in ["apcer", "bpcer", "acer", "auc", "bpcer_at_apcer_5e-2", "apcer_by_attack", "real", "spoof", "no_face"] {
            assert!(json.get(k).is_some(), "JSON key {k}");
        }
        assert!(json["bpcer_at_apcer_1e-2"].is_null(), "4 spoofs cannot measure 1 %: null, not a number");
    }

    #[test]
    fn listing_reads_splits_attacks_and_symlinks() {
        let d = std::env::temp_dir().join(format!("fk-live-list-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for p in ["real/devel/a.jpg", "real/test/sub/b.JPG", "spoof/devel/print/c.png", "spoof/test/replay/deep/d.jpg", "spoof/test/e.jpg", "notes.txt"] {
            std::fs::create_dir_all(d.join(p).parent().unwrap()).unwrap();
            std::fs::write(d.join(p), b"x").unwrap();
        }
        std::fs::write(d.join("real/test/readme.txt"), b"x").unwrap();
        let outside = d.join("elsewhere");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("f.jpg"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside, d.join("spoof/devel/linked")).unwrap();
        std::os::unix::fs::symlink(d.join("spoof"), d.join("spoof/devel/loop")).unwrap(); // a cycle: read once
        let all = list(&d, None).unwrap();
        let names: Vec<String> = all.iter().map(|i| i.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(all.len(), 6, "{names:?}");
        let c = all.iter().find(|i| i.path.ends_with("c.png")).unwrap();
        assert_eq!((c.live, c.split.as_deref(), c.attack.as_deref()), (false, Some("devel"), Some("print")));
        let f = all.iter().find(|i| i.path.ends_with("f.jpg")).unwrap();
        assert_eq!(f.attack.as_deref(), Some("linked"));
        let e = all.iter().find(|i| i.path.ends_with("e.jpg")).unwrap();
        assert_eq!((e.split.as_deref(), e.attack.as_deref()), (Some("test"), None));
        assert_eq!(list(&d, Some("test")).unwrap().len(), 3);
        assert!(list(&d, Some("train")).unwrap_err().to_string().contains("no split 'train'"));
        // Empty or missing class folders are clear errors.
        std::fs::remove_dir_all(d.join("real/devel")).unwrap();
        assert!(list(&d, Some("devel")).unwrap_err().to_string().contains("no real image in split 'devel'"));
        std::fs::remove_dir_all(d.join("real")).unwrap();
        assert!(list(&d, None).unwrap_err().to_string().contains("no real/ folder"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
