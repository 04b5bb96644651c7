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
    /// 1 in 100,000: galleries of hundreds (see [`gallery_far`]).
    Far1e5 = 5,
    /// 1 in 1,000,000: galleries of thousands; measured on few impostor scores (the calibration records how
    /// many, with a confidence interval).
    Far1e6 = 6,
}

impl OperatingPoint {
    pub const ALL: [OperatingPoint; 5] =
        [OperatingPoint::Far1e2, OperatingPoint::Far1e3, OperatingPoint::Far1e4, OperatingPoint::Far1e5, OperatingPoint::Far1e6];
    /// Manifest key, e.g. `far_1e-3`.
    pub fn key(self) -> &'static str {
        match self {
            OperatingPoint::Far1e2 => "far_1e-2",
            OperatingPoint::Far1e3 => "far_1e-3",
            OperatingPoint::Far1e4 => "far_1e-4",
            OperatingPoint::Far1e5 => "far_1e-5",
            OperatingPoint::Far1e6 => "far_1e-6",
        }
    }
    pub fn far(self) -> f64 {
        match self {
            OperatingPoint::Far1e2 => 1e-2,
            OperatingPoint::Far1e3 => 1e-3,
            OperatingPoint::Far1e4 => 1e-4,
            OperatingPoint::Far1e5 => 1e-5,
            OperatingPoint::Far1e6 => 1e-6,
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
    SortedScores::new(impostors.to_vec()).threshold_at_far(far)
}

/// Impostor scores sorted once (best first), for the many thresholds and counts a calibration reads from
/// millions of them.
#[derive(Clone, Debug)]
pub struct SortedScores(Vec<f32>);

impl SortedScores {
    pub fn new(mut scores: Vec<f32>) -> Self {
        scores.sort_unstable_by(|a, b| b.total_cmp(a));
        SortedScores(scores)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// See [`threshold_at_far`].
    pub fn threshold_at_far(&self, far: f64) -> Option<f32> {
        if self.0.is_empty() || (self.0.len() as f64) * far < 1.0 {
            return None;
        }
        let k = ((far * self.0.len() as f64).floor() as usize).max(1);
        Some(next_up(self.0[k - 1]))
    }
    /// The scores, best first.
    pub fn scores(&self) -> &[f32] {
        &self.0
    }
    /// How many scores are at or above `t` (accepted at threshold `t`).
    pub fn accepted(&self, t: f32) -> usize {
        self.0.partition_point(|&s| s >= t)
    }
}

/// Two-sided Clopper–Pearson ("exact") confidence interval of a rate observed as `x` events in `n` trials, at
/// `confidence` (e.g. 0.95): the rates whose binomial tail probability of `x` is at least (1 − confidence)/2
/// on either side. With `x` = 0 the lower end is 0; with `x` = `n` the upper end is 1. It assumes independent
/// trials; impostor pairs that share images are not quite that, so read it as a lower bound on the uncertainty.
pub fn clopper_pearson(x: u64, n: u64, confidence: f64) -> (f64, f64) {
    if n == 0 || x > n {
        return (f64::NAN, f64::NAN);
    }
    let tail = (1.0 - confidence.clamp(0.0, 1.0)) / 2.0;
    let (x, n) = (x as f64, n as f64);
    let lo = if x == 0.0 { 0.0 } else { beta_quantile(tail, x, n - x + 1.0) };
    let hi = if x == n { 1.0 } else { beta_quantile(1.0 - tail, x + 1.0, n - x) };
    (lo, hi)
}

/// The `q` quantile of the Beta(a, b) distribution, by bisection on the regularised incomplete beta function.
fn beta_quantile(q: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if beta_inc(a, b, mid) < q { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// The regularised incomplete beta function I_x(a, b) (continued fraction, modified Lentz; Numerical Recipes
/// §6.4), for a, b > 0 and x in [0, 1].
fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (-x).ln_1p();
    // The fraction converges fast below the mean; above it, use I_x(a, b) = 1 − I_{1−x}(b, a).
    if x < (a + 1.0) / (a + b + 2.0) {
        (ln_front.exp() * beta_fraction(a, b, x) / a).clamp(0.0, 1.0)
    } else {
        (1.0 - ln_front.exp() * beta_fraction(b, a, 1.0 - x) / b).clamp(0.0, 1.0)
    }
}

fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    d = 1.0 / if d.abs() < TINY { TINY } else { d };
    let mut h = d;
    for m in 1..1_000_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        for aa in [m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))] {
            d = 1.0 + aa * d;
            d = 1.0 / if d.abs() < TINY { TINY } else { d };
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let s = G[1..].iter().enumerate().fold(G[0], |s, (i, g)| s + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

/// Calibrated points `(FAR, threshold)` → the threshold at `far`, interpolated linearly in log10(FAR) between
/// the two neighbouring points. Outside the calibrated range the nearest end's threshold is returned, with
/// that end's FAR: looser than the loosest point is decided at the loosest (stricter than asked), stricter than
/// the strictest at the strictest (looser than asked: the caller should say so). `None` without points.
pub fn interpolate_threshold(points: &[(f64, f32)], far: f64) -> Option<(f32, f64)> {
    let mut p: Vec<(f64, f32)> = points.iter().copied().filter(|(f, t)| *f > 0.0 && f.is_finite() && t.is_finite()).collect();
    p.sort_by(|a, b| b.0.total_cmp(&a.0)); // loosest first
    let (first, last) = (*p.first()?, *p.last()?);
    if !(far > 0.0) || far >= first.0 {
        return Some((first.1, first.0));
    }
    if far <= last.0 {
        return Some((last.1, last.0));
    }
    let w = p.windows(2).find(|w| far <= w[0].0 && far >= w[1].0)?;
    let ((fa, ta), (fb, tb)) = (w[0], w[1]);
    let u = (far.log10() - fa.log10()) / (fb.log10() - fa.log10());
    Some(((ta as f64 + u * (tb as f64 - ta as f64)) as f32, far))
}

/// The per-comparison false-accept rate that keeps a gallery of `templates` templates at `target_fpir`: a
/// stranger is compared with every template, so (for rare matches) the chance that any of them reaches the
/// threshold is about `templates` × FAR. The rule: FAR = target FPIR / templates (one template: the 1:1
/// rate itself).
pub fn gallery_far(target_fpir: f64, templates: usize) -> f64 {
    target_fpir / templates.max(1) as f64
}

/// The threshold a gallery decides at, and what it stands for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GalleryThreshold {
    /// Cosine threshold: a best hit at or above it is a match.
    pub threshold: f32,
    /// The share of strangers the gallery may match (the operating point's FAR, read as an FPIR).
    pub target_fpir: f64,
    /// [`gallery_far`] of the target and the gallery's size.
    pub per_comparison_far: f64,
    /// The FAR the threshold was calibrated for: `per_comparison_far`, unless that lies outside the calibrated
    /// points (then the nearest end; stricter than the strictest point means the target is not held).
    pub calibrated_far: f64,
    /// What the threshold was raised by for the camera (0 unless decided against a gallery enrolled on a
    /// camera whose strangers score higher than the calibration's).
    pub camera_shift: f32,
}

impl GalleryThreshold {
    /// Whether the gallery is too large for its target FPIR to be held by the calibrated points.
    pub fn exceeds_calibration(&self) -> bool {
        self.calibrated_far > self.per_comparison_far * (1.0 + 1e-9)
    }
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
    fn sorted_scores_count_what_a_threshold_accepts() {
        let imp: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let s = SortedScores::new(imp.clone());
        let t = s.threshold_at_far(1e-2).unwrap();
        assert_eq!(Some(t), threshold_at_far(&imp, 1e-2));
        assert_eq!(s.accepted(t), 9);
        assert_eq!((s.accepted(-1.0), s.accepted(2.0)), (1000, 0));
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
        assert!((ln_gamma(1.0)).abs() < 1e-12);
        // Stirling with its first corrections, for a large argument.
        let x = 3.0e7f64;
        let stirling = (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * x);
        assert!((ln_gamma(x) - stirling).abs() / stirling < 1e-13);
    }

    /// P(X >= x) for X ~ Binomial(n, p), summed directly (small n only).
    fn binomial_upper_tail(x: u64, n: u64, p: f64) -> f64 {
        let mut c = 1.0f64; // C(n, i)
        let mut sum = 0.0;
        for i in 0..=n {
            if i >= x {
                sum += c * p.powi(i as i32) * (1.0 - p).powi((n - i) as i32);
            }
            c = c * (n - i) as f64 / (i + 1) as f64;
        }
        sum
    }

    #[test]
    fn clopper_pearson_solves_its_defining_equations() {
        // Textbook value: 5 of 20 → [0.0866, 0.4910].
        let (lo, hi) = clopper_pearson(5, 20, 0.95);
        assert!((lo - 0.0866).abs() < 1e-4 && (hi - 0.4910).abs() < 1e-4, "{lo} {hi}");
        for (x, n) in [(1u64, 10u64), (5, 20), (17, 40), (39, 40)] {
            let (lo, hi) = clopper_pearson(x, n, 0.95);
            assert!((binomial_upper_tail(x, n, lo) - 0.025).abs() < 1e-9, "lower end of {x}/{n}");
            assert!((1.0 - binomial_upper_tail(x + 1, n, hi) - 0.025).abs() < 1e-9, "upper end of {x}/{n}");
        }
        // No events: the upper end solves (1 − p)^n = 0.025.
        let (lo, hi) = clopper_pearson(0, 1000, 0.95);
        assert_eq!(lo, 0.0);
        assert!((hi - (1.0 - 0.025f64.powf(1.0 / 1000.0))).abs() < 1e-12);
        assert_eq!(clopper_pearson(7, 7, 0.95).1, 1.0);
        // 29 events in the 29.6 million LFW impostor pairs (FAR 1e-6): close to the exact Poisson interval
        // for 29 events, [19.42, 41.65] (chi-square quantiles with 58 and 60 degrees of freedom, halved).
        let n = 29_640_749u64;
        let (lo, hi) = clopper_pearson(29, n, 0.95);
        assert!((lo * n as f64 - 19.42).abs() < 0.01 && (hi * n as f64 - 41.65).abs() < 0.01, "{} {}", lo * n as f64, hi * n as f64);
        assert!(clopper_pearson(3, 2, 0.95).0.is_nan() && clopper_pearson(0, 0, 0.95).0.is_nan());
    }

    #[test]
    fn thresholds_interpolate_on_log_far() {
        let pts = [(1e-3, 0.33f32), (1e-2, 0.25), (1e-4, 0.40)];
        assert_eq!(interpolate_threshold(&pts, 1e-3), Some((0.33, 1e-3)));
        let (t, f) = interpolate_threshold(&pts, (1e-3f64 * 1e-4).sqrt()).unwrap();
        assert!((t - 0.365).abs() < 1e-6 && (f - 3.1623e-4).abs() < 1e-7, "{t} {f}");
        // Outside the calibrated range: the nearest end, and the FAR it stands for.
        assert_eq!(interpolate_threshold(&pts, 0.5), Some((0.25, 1e-2)));
        assert_eq!(interpolate_threshold(&pts, 1e-7), Some((0.40, 1e-4)));
        assert_eq!(interpolate_threshold(&[], 1e-3), None);
        assert_eq!(gallery_far(1e-2, 1000), 1e-5);
        assert_eq!(gallery_far(1e-3, 0), 1e-3);
        let g = GalleryThreshold { threshold: 0.4, target_fpir: 1e-3, per_comparison_far: 1e-7, calibrated_far: 1e-6, camera_shift: 0.0 };
        assert!(g.exceeds_calibration());
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
