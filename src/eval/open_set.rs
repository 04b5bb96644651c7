//! Open-set 1:N identification, measured as NIST FRVT does: some probes are of enrolled people (mated), the
//! others of people never enrolled (non-mated), and a gallery must both find the right person and say
//! "nobody" to strangers.
//!
//! Protocol on a list of people with their images, sorted by name (LFW: [`super::lfw_people`]): the people
//! with at least 2 images, at even positions (0, 2, 4, …), are enrolled with their first image, and so is
//! every person with a single image (distractors). Mated probes: every other image of the enrolled
//! multi-image people. Non-mated probes: every image of the multi-image people at odd positions.
//!
//! At a threshold t, FPIR(t) is the share of non-mated probes whose best score is ≥ t (a stranger let in),
//! FNIR(t) the share of mated probes whose best candidate is someone else or scores < t. Rank-1 is the share
//! of mated probes whose best candidate is right, whatever its score.

use super::{embed_all, Run};
use crate::compare::{roc, tar_at, threshold_at_far};
use crate::engine::Engine;
use crate::error::Result;
use crate::gallery::Gallery;
use std::path::PathBuf;
use std::time::Instant;

/// Who is enrolled with which image, and the probes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Protocol {
    pub gallery: Vec<(String, PathBuf)>,
    /// Probes of enrolled people, with who they are.
    pub mated: Vec<(String, PathBuf)>,
    pub nonmated: Vec<PathBuf>,
}

/// The protocol (module docs) on `people` (each person's images in order; the people in the order given,
/// which should be sorted by name).
pub fn protocol(people: &[(String, Vec<PathBuf>)]) -> Protocol {
    let mut p = Protocol::default();
    let mut multi = 0usize;
    for (name, imgs) in people {
        match imgs.as_slice() {
            [] => {}
            [only] => p.gallery.push((name.clone(), only.clone())),
            [first, rest @ ..] => {
                if multi % 2 == 0 {
                    p.gallery.push((name.clone(), first.clone()));
                    p.mated.extend(rest.iter().map(|r| (name.clone(), r.clone())));
                } else {
                    p.nonmated.extend(imgs.iter().cloned());
                }
                multi += 1;
            }
        }
    }
    p
}

/// Best-candidate scores of the probes.
#[derive(Clone, Debug, Default)]
pub struct Scores {
    /// Per mated probe: its best score when the best candidate is the right person, −∞ when it is not (a miss
    /// at every threshold).
    pub mated: Vec<f32>,
    /// Per non-mated probe: its best score.
    pub nonmated: Vec<f32>,
}

impl Scores {
    /// FNIR (percent) at the threshold where FPIR ≤ `fpir` (the calibration's convention on the non-mated
    /// scores); NaN when there are too few non-mated probes to measure it.
    pub fn fnir_at_fpir(&self, fpir: f64) -> f64 {
        threshold_at_far(&self.nonmated, fpir).map_or(f64::NAN, |t| self.fnir_at(t))
    }
    /// FNIR (percent) at threshold `t`.
    pub fn fnir_at(&self, t: f32) -> f64 {
        100.0 - tar_at(&self.mated, t)
    }
    /// FPIR (percent) at threshold `t`.
    pub fn fpir_at(&self, t: f32) -> f64 {
        tar_at(&self.nonmated, t)
    }
    /// The DET curve: (FPIR, FNIR) as fractions, one point per distinct non-mated score.
    pub fn det(&self) -> Vec<(f64, f64)> {
        roc(&self.mated, &self.nonmated).into_iter().map(|(fpir, hit)| (fpir, 1.0 - hit)).collect()
    }
}

/// The gallery-size threshold rule ([`Engine::gallery_threshold`]) checked against the probes: what FPIR a
/// target gives.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RuleCheck {
    pub target_fpir: f64,
    /// target / gallery templates.
    pub per_comparison_far: f64,
    /// The FAR the threshold stands for (differs when the gallery is too large for the calibrated points).
    pub calibrated_far: f64,
    /// The gallery is too large for the target to be held by the calibrated points.
    pub exceeds_calibration: bool,
    pub threshold: f32,
    /// Measured FPIR and FNIR at that threshold, percent.
    pub fpir: f64,
    pub fnir: f64,
}

/// What `facekit eval identify --open-set` reports; rates in percent.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Report {
    pub gallery_size: usize,
    pub mated_probes: usize,
    pub nonmated_probes: usize,
    /// Images where no face was found (embedded from the centre-crop fallback, as the verification does).
    pub failures: usize,
    pub rank1: f64,
    #[serde(rename = "fnir_at_fpir_1e-1")]
    pub fnir_at_fpir_1e1: f64,
    #[serde(rename = "fnir_at_fpir_1e-2")]
    pub fnir_at_fpir_1e2: f64,
    #[serde(rename = "fnir_at_fpir_1e-3")]
    pub fnir_at_fpir_1e3: f64,
    /// The gallery-size threshold rule at targets 1e-1, 1e-2, 1e-3 (when the embedder is calibrated).
    pub gallery_rule: Vec<RuleCheck>,
    pub seconds: f64,
    pub embedder: String,
    pub flip: bool,
    pub refine_landmarks: bool,
    pub detector: String,
    pub detector_input: u32,
}

/// The protocol's gallery, enrolled in the protocol's order.
fn enrol(engine: &Engine, p: &Protocol, samples: &std::collections::HashMap<PathBuf, super::Sample>) -> Result<Gallery> {
    let g = Gallery::new(engine.model_id(), engine.dim())?;
    for (id, path) in &p.gallery {
        g.enroll(id, &[samples[path].embedding.as_slice()])?;
    }
    Ok(g)
}

/// Writes the protocol's gallery, enrolled exactly as [`evaluate`] enrols it, to `dir/gallery.fkg`, and its
/// probes to `dir/probes.npz` (`embeddings` float32 (probes, dim), `identities`: the enrolled identity of each
/// mated probe and "" for each non-mated one, `paths`; mated probes first, in the protocol's order), so that
/// another implementation can replay the same searches (`bench/milvus_parity.py`). Returns the probe count.
pub fn export(engine: &Engine, people: &[(String, Vec<PathBuf>)], run: &Run, dir: &std::path::Path) -> Result<usize> {
    let p = protocol(people);
    let paths: Vec<PathBuf> =
        p.gallery.iter().map(|g| g.1.clone()).chain(p.mated.iter().map(|m| m.1.clone())).chain(p.nonmated.iter().cloned()).collect();
    let samples = embed_all(engine, &paths, run, false)?;
    std::fs::create_dir_all(dir).map_err(|e| crate::Error::io(dir, e))?;
    enrol(engine, &p, &samples)?.save(dir.join("gallery.fkg"))?;
    let probes: Vec<(String, &PathBuf)> = p.mated.iter().map(|(id, path)| (id.clone(), path)).chain(p.nonmated.iter().map(|path| (String::new(), path))).collect();
    let embeddings: Vec<f32> = probes.iter().flat_map(|(_, path)| samples[*path].embedding.as_slice().to_vec()).collect();
    let labels: Vec<String> = probes.iter().map(|(id, _)| id.clone()).collect();
    let names: Vec<String> = probes.iter().map(|(_, path)| path.display().to_string()).collect();
    crate::gallery::write_npz(&dir.join("probes.npz"), &[("identities", &labels), ("paths", &names)], &[("embeddings", &embeddings, engine.dim())])?;
    Ok(probes.len())
}

/// Runs the protocol on `people` through `engine`: enrols the gallery, searches every probe.
pub fn evaluate(engine: &Engine, people: &[(String, Vec<PathBuf>)], run: &Run) -> Result<(Report, Scores)> {
    let t0 = Instant::now();
    let p = protocol(people);
    let paths: Vec<PathBuf> =
        p.gallery.iter().map(|g| g.1.clone()).chain(p.mated.iter().map(|m| m.1.clone())).chain(p.nonmated.iter().cloned()).collect();
    let samples = embed_all(engine, &paths, run, false)?;
    let g = enrol(engine, &p, &samples)?;
    let best = |path: &PathBuf| -> Result<Option<(String, f32)>> {
        Ok(g.search(samples[path].embedding.as_slice(), 1, None)?.into_iter().next().map(|h| (h.id, h.similarity)))
    };
    let mut s = Scores::default();
    let mut right = 0usize;
    for (id, path) in &p.mated {
        let hit = best(path)?.filter(|(who, _)| who == id);
        right += usize::from(hit.is_some());
        s.mated.push(hit.map_or(f32::NEG_INFINITY, |h| h.1));
    }
    for path in &p.nonmated {
        s.nonmated.push(best(path)?.map_or(f32::NEG_INFINITY, |h| h.1));
    }
    let mut gallery_rule = Vec::new();
    if engine.calibration().is_some() {
        for target in [1e-1, 1e-2, 1e-3] {
            let t = engine.gallery_threshold(target, g.template_count())?;
            gallery_rule.push(RuleCheck {
                target_fpir: target,
                per_comparison_far: t.per_comparison_far,
                calibrated_far: t.calibrated_far,
                exceeds_calibration: t.exceeds_calibration(),
                threshold: t.threshold,
                fpir: s.fpir_at(t.threshold),
                fnir: s.fnir_at(t.threshold),
            });
        }
    }
    let o = engine.options();
    let r = Report {
        gallery_size: g.count(),
        mated_probes: s.mated.len(),
        nonmated_probes: s.nonmated.len(),
        failures: samples.values().filter(|x| !x.detected).count(),
        rank1: if s.mated.is_empty() { f64::NAN } else { 100.0 * right as f64 / s.mated.len() as f64 },
        fnir_at_fpir_1e1: s.fnir_at_fpir(1e-1),
        fnir_at_fpir_1e2: s.fnir_at_fpir(1e-2),
        fnir_at_fpir_1e3: s.fnir_at_fpir(1e-3),
        gallery_rule,
        seconds: t0.elapsed().as_secs_f64(),
        embedder: engine.embedder().name().to_string(),
        flip: o.flip,
        refine_landmarks: o.refine_landmarks,
        detector: engine.detector_name().to_string(),
        detector_input: o.detect.input_size,
    };
    Ok((r, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str, n: usize) -> (String, Vec<PathBuf>) {
        (name.into(), (1..=n).map(|i| PathBuf::from(format!("{name}_{i}"))).collect())
    }

    #[test]
    fn protocol_splits_as_specified() {
        let people = [person("A", 3), person("B", 1), person("C", 2), person("D", 4), person("E", 2), person("F", 1)];
        let p = protocol(&people);
        // Multi-image people in order: A (0, enrolled), C (1, non-mated), D (2, enrolled), E (3, non-mated).
        let ids: Vec<&str> = p.gallery.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(ids, ["A", "B", "D", "F"]);
        assert!(p.gallery.iter().all(|(n, path)| *path == PathBuf::from(format!("{n}_1"))));
        assert_eq!(p.mated.len(), 2 + 3);
        assert!(p.mated.iter().all(|(n, path)| (n == "A" || n == "D") && *path != PathBuf::from(format!("{n}_1"))));
        assert_eq!(p.nonmated, ["C_1", "C_2", "E_1", "E_2"].map(PathBuf::from));
    }

    #[test]
    fn fnir_and_fpir_follow_their_definitions() {
        // Mated: two right (0.9, 0.6), one wrong; non-mated best scores 0.1..0.5.
        let s = Scores { mated: vec![0.9, 0.6, f32::NEG_INFINITY], nonmated: vec![0.1, 0.2, 0.3, 0.4, 0.5] };
        assert_eq!(s.fpir_at(0.35), 40.0);
        assert!((s.fnir_at(0.7) - 200.0 / 3.0).abs() < 1e-9);
        assert!((s.fnir_at(0.0) - 100.0 / 3.0).abs() < 1e-9, "a wrong best candidate is a miss at any threshold");
        // FPIR ≤ 20 %: k = 1, threshold just above 0.5; both right candidates pass.
        assert!((s.fnir_at_fpir(0.2) - 100.0 / 3.0).abs() < 1e-9);
        assert!(s.fnir_at_fpir(0.01).is_nan(), "5 non-mated probes cannot measure 1 %");
        let det = s.det();
        assert_eq!(det.len(), 5);
        assert!(det.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 >= w[1].1));
    }
}
