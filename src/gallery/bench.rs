//! Synthetic benchmark of the int8 search against the exact `f32` scan.

use std::time::{Duration, Instant};

use super::{Gallery, MAX_DIM};

/// Results of [`bench()`]. Times are medians over the queries, in milliseconds, single-threaded.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Templates (= identities) in the gallery.
    pub size: usize,
    pub dim: usize,
    /// [`Gallery::search_f32_exact`].
    pub ms_per_search_f32: f64,
    /// [`Gallery::search`] (int8 scan + exact re-rank).
    pub ms_per_search_int8: f64,
    /// Fraction of queries whose int8 top-1 identity equals the exact top-1.
    pub recall_at_1_int8_vs_f32: f64,
    /// Time spent in [`Gallery::enroll`] building the gallery (data generation excluded).
    pub build_seconds: f64,
}

/// Hits asked for per search.
const BENCH_K: usize = 1;
/// Every `RANDOM_EVERY`-th query is a random vector (nobody's face: the top-1 is a near tie); the others are
/// a random enrolled template plus noise.
const RANDOM_EVERY: usize = 5;
/// Templates generated and then enrolled per batch, so that generation is not timed as enrolment.
const BATCH: usize = 4096;

/// Builds a gallery of `size` random unit templates of `dim` values (one per identity) and runs `queries`
/// searches with both the int8 and the exact scan, all from `seed`. Most queries are an enrolled template plus
/// Gaussian noise of norm 0.6–0.8 (cosine about 0.8 to the original: a genuine but imperfect match); every fifth
/// is a pure random vector.
///
/// # Panics
/// If `dim` is 0 or above [`MAX_DIM`].
pub fn bench(size: usize, dim: usize, queries: usize, seed: u64) -> BenchReport {
    assert!((1..=MAX_DIM).contains(&dim), "bench dimension {dim} is outside 1..={MAX_DIM}");
    let gallery = Gallery::new("bench", dim).expect("valid model id and dimension");
    let mut rng = SplitMix64::new(seed);

    let mut build = Duration::ZERO;
    let mut batch = Vec::with_capacity(BATCH * dim);
    for start in (0..size).step_by(BATCH) {
        let end = (start + BATCH).min(size);
        batch.clear();
        for _ in start..end {
            batch.extend(rng.unit_vector(dim));
        }
        let t = Instant::now();
        for (i, v) in (start..end).zip(batch.chunks_exact(dim)) {
            gallery.enroll(&i.to_string(), &[v]).expect("random unit vectors are valid templates");
        }
        build += t.elapsed();
    }

    let mut f32_ms = Vec::with_capacity(queries);
    let mut int8_ms = Vec::with_capacity(queries);
    let (mut compared, mut agreed) = (0usize, 0usize);
    for n in 0..queries {
        let query = if size == 0 || n % RANDOM_EVERY == RANDOM_EVERY - 1 {
            rng.unit_vector(dim)
        } else {
            let row = rng.below(size);
            let template = gallery.read().expect("no panics while benchmarking").f32_row(row).to_vec();
            let noise = rng.unit_vector(dim);
            let scale = (0.6 + 0.2 * rng.uniform()) as f32;
            template.iter().zip(&noise).map(|(t, e)| t + scale * e).collect()
        };
        let t = Instant::now();
        let exact = gallery.search_f32_exact(&query, BENCH_K, None).expect("valid query");
        f32_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let fast = gallery.search(&query, BENCH_K, None).expect("valid query");
        int8_ms.push(t.elapsed().as_secs_f64() * 1e3);
        if let Some(top) = exact.first() {
            compared += 1;
            agreed += usize::from(fast.first().is_some_and(|h| h.id == top.id));
        }
    }

    BenchReport {
        size,
        dim,
        ms_per_search_f32: median(f32_ms),
        ms_per_search_int8: median(int8_ms),
        recall_at_1_int8_vs_f32: if compared == 0 { 1.0 } else { agreed as f64 / compared as f64 },
        build_seconds: build.as_secs_f64(),
    }
}

/// Median, 0 for no samples (so the report always serialises to finite numbers).
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// SplitMix64: tiny, fast, well-mixed; plenty for synthetic data.
pub(super) struct SplitMix64(u64);

impl SplitMix64 {
    pub(super) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(super) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0); the modulo bias is negligible for the sizes used here.
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Standard normal (Box–Muller).
    pub(super) fn gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln stays finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A direction drawn uniformly on the unit sphere (normalised Gaussian vector).
    pub(super) fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
        let v: Vec<f64> = (0..dim).map(|_| self.gaussian()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        v.iter().map(|x| (x / norm) as f32).collect()
    }
}
