//! Comparing embeddings, and the evaluation maths behind every threshold facekit ships: the same code
//! computes the LFW figures and calibrates the operating points a door gate uses.
//!
//! **What a score means.** `similarity` is the cosine of the angle between two unit embeddings, in [-1, 1].
//! It is not a probability. A decision is taken at an *operating point*: `far_1e-3` means the threshold was
//! measured on labelled pairs so that at most 1 in 1,000 pairs of *different* people scored at or above it
//! (false-accept rate 0.1 %); the true-accept rate at that point is stored next to it in the manifest. Stricter
//! points (1e-4) reject more genuine users; looser ones (1e-2) let more impostors in.

use crate::error::{Error, Result};

/// Cosine similarity of two embeddings (plain dot product when both are unit length, as facekit's are).
pub fn cosine(a: &[f32], b: &[f32]) -> Result<f32> {
    if a.len() != b.len() || a.is_empty() {
        return Err(Error::invalid(format!("embeddings of different or zero length ({} vs {})", a.len(), b.len())));
    }
    let (mut ab, mut aa, mut bb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    let d = (aa * bb).sqrt();
    if !d.is_finite() || d <= f32::EPSILON || !ab.is_finite() {
        return Err(Error::invalid("embedding is zero or not finite"));
    }
    Ok((ab / d).clamp(-1.0, 1.0))
}

/// A named false-accept rate at which decisions are taken. C values are explicit: `-log10(FAR)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OperatingPoint {
    /// 1 impostor in 100 accepted: convenience (attendance kiosks).
    Far1e2 = 2,
    /// 1 in 1,000: the default for unlock and door gates.
    #[default]
    Far1e3 = 3,
    /// 1 in 10,000: high security.
    Far1e4 = 4,
}

impl OperatingPoint {
    pub const ALL: [OperatingPoint; 3] = [OperatingPoint::Far1e2, OperatingPoint::Far1e3, OperatingPoint::Far1e4];
    /// Manifest key, e.g. `far_1e-3`.
    pub fn key(self) -> &'static str {
        match self {
            OperatingPoint::Far1e2 => "far_1e-2",
            OperatingPoint::Far1e3 => "far_1e-3",
            OperatingPoint::Far1e4 => "far_1e-4",
        }
    }
    pub fn far(self) -> f64 {
        match self {
            OperatingPoint::Far1e2 => 1e-2,
            OperatingPoint::Far1e3 => 1e-3,
            OperatingPoint::Far1e4 => 1e-4,
        }
    }
    pub fn from_i32(v: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|o| *o as i32 == v)
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.key() == s || o.key().trim_start_matches("far_") == s)
    }
}

/// A comparison and its decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Match {
    /// Cosine similarity in [-1, 1].
    pub similarity: f32,
    /// `similarity >= threshold`.
    pub is_match: bool,
    /// The calibrated threshold of `operating_point`.
    pub threshold: f32,
    pub operating_point: OperatingPoint,
}

/// The threshold at which at most `far` of `impostors` are accepted (`score >= threshold`), using the
/// convention of the reference evaluation: with `k = max(1, ⌊far·n⌋)`, accept the impostors that score above
/// the k-th highest. `None` when there are too few impostors to measure `far` (fewer than `1/far`).
pub fn threshold_at_far(impostors: &[f32], far: f64) -> Option<f32> {
    if impostors.is_empty() || (impostors.len() as f64) * far < 1.0 {
        return None;
    }
    let mut imp: Vec<f32> = impostors.to_vec();
    imp.sort_by(|a, b| b.total_cmp(a));
    let k = ((far * imp.len() as f64).floor() as usize).max(1);
    Some(next_up(imp[k - 1]))
}

/// The smallest f32 greater than `x` (so `>= next_up(t)` means `> t`).
fn next_up(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f32::from_bits(1);
    }
    let b = x.to_bits();
    f32::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
}

/// Fraction (percent) of genuine scores at or above `t`.
pub fn tar_at(genuine: &[f32], t: f32) -> f64 {
    if genuine.is_empty() {
        return f64::NAN;
    }
    100.0 * genuine.iter().filter(|&&g| g >= t).count() as f64 / genuine.len() as f64
}

/// Equal error rate (percent): where false accepts and false rejects are equally frequent.
pub fn eer(genuine: &[f32], impostors: &[f32]) -> f64 {
    if genuine.is_empty() || impostors.is_empty() {
        return f64::NAN;
    }
    let mut all: Vec<(f32, bool)> = genuine.iter().map(|&s| (s, true)).chain(impostors.iter().map(|&s| (s, false))).collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ng, ni) = (genuine.len() as f64, impostors.len() as f64);
    // Threshold just above all[i]: genuine at or below are rejected, impostors above are accepted.
    let (mut rejected_g, mut rejected_i) = (0.0, 0.0);
    let mut best = (f64::INFINITY, 0.0);
    for &(_, g) in &all {
        if g { rejected_g += 1.0 } else { rejected_i += 1.0 }
        let (frr, far) = (rejected_g / ng, (ni - rejected_i) / ni);
        if (frr - far).abs() < best.0 {
            best = ((frr - far).abs(), (frr + far) / 2.0);
        }
    }
    100.0 * best.1
}

/// The threshold (midpoint between neighbouring scores) that maximises accuracy, and that accuracy (percent).
pub fn best_threshold(scores: &[f32], same: &[bool]) -> (f32, f64) {
    let mut v: Vec<(f32, bool)> = scores.iter().copied().zip(same.iter().copied()).collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = v.len();
    let total_g = v.iter().filter(|x| x.1).count();
    // Threshold below v[i]: v[..i] predicted different, v[i..] same.
    let (mut correct, mut best) = (total_g, (f32::NEG_INFINITY, total_g));
    for i in 0..n {
        correct = if v[i].1 { correct - 1 } else { correct + 1 };
        if correct > best.1 && (i + 1 == n || v[i + 1].0 > v[i].0) {
            let t = if i + 1 < n { (v[i].0 + v[i + 1].0) / 2.0 } else { next_up(v[i].0) };
            best = (t, correct);
        }
    }
    (best.0, if n == 0 { f64::NAN } else { 100.0 * best.1 as f64 / n as f64 })
}

/// 10-fold cross-validated accuracy (LFW protocol): for each fold, the threshold is chosen on the other nine
/// folds and accuracy measured on it. Returns (mean, standard deviation, mean threshold), percent.
pub fn kfold_accuracy(scores: &[f32], same: &[bool], folds: &[usize]) -> (f64, f64, f32) {
    let k = folds.iter().copied().max().map_or(0, |m| m + 1);
    let mut accs = Vec::new();
    let mut thr = 0.0;
    for f in 0..k {
        let train: Vec<usize> = (0..scores.len()).filter(|&i| folds[i] != f).collect();
        let test: Vec<usize> = (0..scores.len()).filter(|&i| folds[i] == f).collect();
        if test.is_empty() {
            continue;
        }
        let (t, _) = best_threshold(&train.iter().map(|&i| scores[i]).collect::<Vec<_>>(), &train.iter().map(|&i| same[i]).collect::<Vec<_>>());
        let ok = test.iter().filter(|&&i| (scores[i] >= t) == same[i]).count();
        accs.push(100.0 * ok as f64 / test.len() as f64);
        thr += t;
    }
    let n = accs.len() as f64;
    let mean = accs.iter().sum::<f64>() / n;
    let sd = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();
    (mean, sd, thr / n as f32)
}

/// Points (FAR, TAR) of the ROC curve, one per distinct impostor score, for plotting.
pub fn roc(genuine: &[f32], impostors: &[f32]) -> Vec<(f64, f64)> {
    let mut imp = impostors.to_vec();
    imp.sort_by(|a, b| b.total_cmp(a));
    let mut gen = genuine.to_vec();
    gen.sort_by(|a, b| b.total_cmp(a));
    let (mut pts, mut gi) = (Vec::new(), 0);
    for (i, &t) in imp.iter().enumerate() {
        while gi < gen.len() && gen[gi] >= t {
            gi += 1;
        }
        pts.push(((i + 1) as f64 / imp.len() as f64, gi as f64 / gen.len().max(1) as f64));
    }
    pts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_basics_and_errors() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]).unwrap() - 1.0).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[0.0, 2.0]).unwrap()).abs() < 1e-6);
        assert!(cosine(&[1.0], &[1.0, 0.0]).is_err());
        assert!(cosine(&[0.0, 0.0], &[1.0, 0.0]).is_err());
        assert!(cosine(&[f32::NAN, 0.0], &[1.0, 0.0]).is_err());
    }

    #[test]
    fn threshold_at_far_accepts_the_right_count() {
        let imp: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let t = threshold_at_far(&imp, 1e-2).unwrap();
        // k = 10: the 10th highest (0.990) is the cut; 9 impostors (0.991..0.999) are above it.
        assert_eq!(imp.iter().filter(|&&s| s >= t).count(), 9);
        assert!(threshold_at_far(&imp, 1e-4).is_none(), "1000 impostors cannot measure 1e-4");
        assert_eq!(tar_at(&[0.5, 0.995, 1.0], t), 200.0 / 3.0);
    }

    #[test]
    fn best_threshold_and_kfold_on_separable_scores() {
        let scores = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9];
        let same = [false, false, false, true, true, true];
        let (t, acc) = best_threshold(&scores, &same);
        assert!(t > 0.3 && t < 0.7, "{t}");
        assert_eq!(acc, 100.0);
        let (m, sd, _) = kfold_accuracy(&scores, &same, &[0, 1, 0, 1, 0, 1]);
        assert_eq!((m, sd), (100.0, 0.0));
    }

    #[test]
    fn eer_of_overlapping_scores() {
        // One impostor (0.55) above one genuine (0.5): FAR = FRR = 1/4 just above 0.5.
        let e = eer(&[0.5, 0.6, 0.7, 0.8], &[0.1, 0.2, 0.3, 0.55]);
        assert!((e - 25.0).abs() < 1e-9, "{e}");
        assert_eq!(eer(&[0.9], &[0.1]), 0.0);
    }

    #[test]
    fn roc_is_monotone() {
        let r = roc(&[0.9, 0.8, 0.3], &[0.1, 0.5, 0.2]);
        assert_eq!(r.len(), 3);
        assert!(r.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(r[0], (1.0 / 3.0, 2.0 / 3.0));
    }

    #[test]
    fn operating_points_round_trip() {
        for o in OperatingPoint::ALL {
            assert_eq!(OperatingPoint::from_i32(o as i32), Some(o));
            assert_eq!(OperatingPoint::parse(o.key()), Some(o));
        }
        assert_eq!(OperatingPoint::from_i32(7), None);
    }
}
