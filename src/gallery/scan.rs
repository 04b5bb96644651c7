//! The inner loops: quantisation, dot products, top-k selection.
//!
//! The kernels are plain fixed-width array loops over `as_chunks`, safe code with nothing target-specific,
//! which LLVM vectorises. Each is compiled for several CPU targets and the best one the CPU supports is
//! picked at run time ([`crate::simd`]), so one portable build uses AVX-512 or AVX2 where present.

use crate::simd::dispatched;

/// Width of one int8 column block; int8 rows and the widened query are zero-padded to a multiple of it.
pub(super) const I8_LANES: usize = 64;

/// Quantises a unit-norm row into `out` (same length) with a symmetric per-row scale; returns the scale,
/// so that `row ≈ out * scale`. Values land in -127..=127.
pub(super) fn quantize_row(row: &[f32], out: &mut [i8]) -> f32 {
    let max = max_abs(row);
    let inv = 127.0 / max;
    for (o, &x) in out.iter_mut().zip(row) {
        // |x * inv| <= 127 up to rounding, and `as` saturates anyway.
        *o = round(x * inv) as i8;
    }
    max / 127.0
}

/// Quantises a unit-norm query like [`quantize_row`], widened to `i16` and zero-padded to `stride`. Its scale
/// is the same for every row, so it does not change the ranking and is dropped.
pub(super) fn quantize_query(q: &[f32], stride: usize) -> Vec<i16> {
    let inv = 127.0 / max_abs(q);
    let mut out = vec![0i16; stride];
    for (o, &x) in out.iter_mut().zip(q) {
        *o = round(x * inv) as i16;
    }
    out
}

/// Rounds to the nearest integer (ties to even) for |v| < 2^22: adding 1.5 * 2^23 leaves no mantissa bits for
/// the fraction, so the addition itself rounds. Unlike `f32::round`, which is a libm call per value on baseline
/// x86_64 (no SSE4.1), this vectorises.
#[inline]
fn round(v: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23
    (v + SHIFT) - SHIFT
}

/// Largest absolute value; positive for the unit vectors this is called with.
fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

/// Rows scored per kernel call: their scores stay in L1, and one comparison of the block's best score with
/// the top-k floor usually dismisses the whole block.
pub(super) const BLOCK_ROWS: usize = 256;

/// Scores every row of `rows` (padded int8 rows with their `scales`) against `query` and offers them to
/// `top` as `(approximate similarity / query scale, first_row + index)`.
pub(super) fn scan_i8(rows: &[i8], scales: &[f32], stride: usize, query: &[i16], first_row: u32, top: &mut TopK) {
    let mut scores = [0.0f32; BLOCK_ROWS];
    let blocks = rows.chunks(BLOCK_ROWS * stride).zip(scales.chunks(BLOCK_ROWS));
    for (b, (rows, scales)) in blocks.enumerate() {
        let scores = &mut scores[..scales.len()];
        if score_block(rows, scales, stride, query, scores) > top.floor() {
            let first = first_row + (b * BLOCK_ROWS) as u32;
            for (i, &s) in scores.iter().enumerate() {
                top.push(s, first + i as u32);
            }
        }
    }
}

dispatched! {
/// `out[i] = dot(row i, query) * scales[i]` for at most [`BLOCK_ROWS`] rows; returns the largest (-inf for none).
///
/// The common strides get a kernel fully unrolled over the row, which LLVM compiles to sign-extending loads,
/// `pmaddwd` and one horizontal sum per row; any other stride is summed in
/// [`I8_LANES`]-wide column blocks, each a pass over the block's rows (which stay in L1/L2).
pub(super) fn score_block(rows: &[i8], scales: &[f32], stride: usize, query: &[i16], out: &mut [f32]) -> f32 {
    let mut dots = [0i32; BLOCK_ROWS];
    let dots = &mut dots[..scales.len()];
    match stride {
        128 => add_dots::<128>(rows, stride, query, dots),
        256 => add_dots::<256>(rows, stride, query, dots),
        512 => add_dots::<512>(rows, stride, query, dots),
        _ => {
            for col in (0..stride).step_by(I8_LANES) {
                add_dots::<I8_LANES>(&rows[col..], stride, &query[col..], dots);
            }
        }
    }
    let mut best = f32::NEG_INFINITY;
    for ((o, &d), &s) in out.iter_mut().zip(dots.iter()).zip(scales) {
        *o = d as f32 * s;
        // Scores are finite: a plain comparison (`maxss`) rather than `f32::max`, which also handles NaN.
        best = if *o > best { *o } else { best };
    }
    best
}
}

/// Adds to `dots[i]` the dot product of the first `B` values of row `i` (rows `stride` apart) with `query`.
#[inline(always)]
fn add_dots<const B: usize>(rows: &[i8], stride: usize, query: &[i16], dots: &mut [i32]) {
    let q = query.first_chunk::<B>().expect("the query is padded like the rows");
    for (row, d) in rows.chunks(stride).zip(dots) {
        *d += dot_i8(row.first_chunk::<B>().expect("each row holds `stride >= B` values"), q);
    }
}

/// Products of sign-extended 16-bit values summed into 32 independent `i32` lanes (the shape LLVM turns into
/// `pmaddwd`), which cannot overflow: |sum| <= 127 * 127 * 4096 < 2^26.
#[inline(always)]
fn dot_i8<const B: usize>(row: &[i8; B], query: &[i16; B]) -> i32 {
    let mut acc = [0i32; 32];
    for (r, q) in row.as_chunks::<32>().0.iter().zip(query.as_chunks::<32>().0) {
        for i in 0..32 {
            acc[i] += i32::from(r[i]) * i32::from(q[i]);
        }
    }
    acc.iter().sum()
}

dispatched! {
/// Exact `f32` dot product, see [`dot_f32_lanes`].
pub(super) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    dot_f32_lanes(a, b)
}
}

dispatched! {
/// `out[i]` = [`dot_f32`] of row `i` of `rows` (`q.len()` values each) with `q`. The common dimensions get
/// the loop unrolled over the row (the same additions in the same order; about 15 % faster at 128).
pub(super) fn dots_f32(rows: &[f32], q: &[f32], out: &mut [f32]) {
    match q.len() {
        128 => dots_fixed::<128>(rows, q, out),
        256 => dots_fixed::<256>(rows, q, out),
        512 => dots_fixed::<512>(rows, q, out),
        dim => {
            for (row, o) in rows.chunks_exact(dim).zip(out) {
                *o = dot_f32_lanes(row, q);
            }
        }
    }
}
}

/// [`dots_f32`] for rows of exactly `D` values.
#[inline(always)]
fn dots_fixed<const D: usize>(rows: &[f32], q: &[f32], out: &mut [f32]) {
    let q = q.first_chunk::<D>().expect("the query has `D` values");
    for (row, o) in rows.as_chunks::<D>().0.iter().zip(out) {
        *o = dot_f32_lanes(row, q);
    }
}

/// Exact `f32` dot product in 16 independent lanes, then the lanes summed in order. LLVM does not reorder
/// float additions, so every target (one AVX-512 register, two AVX, four SSE or NEON) performs the same
/// additions in the same order: a similarity is bit-identical on every CPU (no FMA, for the same reason).
/// The in-order lane sum is also what LLVM keeps in vector registers; a pairwise tree made it split the whole
/// loop into 2-float pieces, 1.4x slower over a 1 M × 128 gallery.
#[inline(always)]
fn dot_f32_lanes(a: &[f32], b: &[f32]) -> f32 {
    let (ca, ra) = a.as_chunks::<16>();
    let (cb, rb) = b.as_chunks::<16>();
    let mut acc = [0.0f32; 16];
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let lanes = acc.iter().fold(0.0f32, |s, &x| s + x);
    ra.iter().zip(rb).fold(lanes, |s, (x, y)| s + x * y)
}

dispatched! {
/// Reads every byte of `bytes` once as fast as the core can (wrapping sum of 64-bit words): the memory-read
/// time a scan of the same bytes is measured against.
pub(super) fn read_all(bytes: &[i8]) -> u64 {
    let (words, rest) = bytes.as_chunks::<8>();
    let (blocks, tail) = words.as_chunks::<8>();
    let mut acc = [0u64; 8];
    for block in blocks {
        for (a, w) in acc.iter_mut().zip(block) {
            *a = a.wrapping_add(u64::from_le_bytes(w.map(|b| b as u8)));
        }
    }
    let rest = rest.iter().map(|&b| u64::from(b as u8));
    acc.into_iter().chain(tail.iter().map(|w| u64::from_le_bytes(w.map(|b| b as u8)))).chain(rest).fold(0, u64::wrapping_add)
}
}

/// Keeps the `cap` highest `(score, index)` pairs offered. Amortised O(1) per offer: items below the current
/// floor are rejected with one comparison; the buffer is cut back to `cap` (quickselect) when it reaches `2 * cap`.
pub(super) struct TopK {
    cap: usize,
    items: Vec<(f32, u32)>,
    /// Every kept item is at or above this; offers at or below it cannot enter.
    floor: f32,
}

impl TopK {
    pub(super) fn new(cap: usize) -> TopK {
        // With cap 0 nothing (finite) can ever enter.
        let floor = if cap == 0 { f32::INFINITY } else { f32::NEG_INFINITY };
        TopK { cap, items: Vec::with_capacity(2 * cap), floor }
    }

    /// Offers at or below this cannot enter.
    pub(super) fn floor(&self) -> f32 {
        self.floor
    }

    #[inline]
    pub(super) fn push(&mut self, score: f32, index: u32) {
        if score > self.floor {
            self.items.push((score, index));
            if self.items.len() >= 2 * self.cap {
                self.prune();
            }
        }
    }

    fn prune(&mut self) {
        if self.items.len() > self.cap {
            self.items.select_nth_unstable_by(self.cap - 1, |a, b| b.0.total_cmp(&a.0));
            self.items.truncate(self.cap);
            // After the selection the last kept item is the smallest kept one.
            self.floor = self.items[self.cap - 1].0;
        }
    }

    /// The kept pairs, best first.
    pub(super) fn into_sorted(mut self) -> Vec<(f32, u32)> {
        self.prune();
        self.items.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gallery::bench::SplitMix64;

    /// Plain scalar reference of the int8 dot product.
    fn dot_i8_reference(row: &[i8], query: &[i16]) -> i32 {
        row.iter().zip(query).map(|(&r, &q)| i32::from(r) * i32::from(q)).sum()
    }

    /// `rows` random padded int8 rows of `dim` values (zeros after `dim`), their scales and a query, with
    /// values drawn from `pick`.
    fn int8_case(
        rng: &mut SplitMix64,
        rows: usize,
        dim: usize,
        pick: fn(&mut SplitMix64) -> i8,
    ) -> (Vec<i8>, Vec<f32>, Vec<i16>, usize) {
        let stride = dim.next_multiple_of(I8_LANES);
        let mut m = vec![0i8; rows * stride];
        for row in m.chunks_exact_mut(stride) {
            row[..dim].iter_mut().for_each(|v| *v = pick(rng));
        }
        let scales = (0..rows).map(|_| (0.5 + rng.uniform()) as f32 / 127.0).collect();
        let mut q = vec![0i16; stride];
        q[..dim].iter_mut().for_each(|v| *v = i16::from(pick(rng)));
        (m, scales, q, stride)
    }

    fn uniform_i8(rng: &mut SplitMix64) -> i8 {
        (rng.below(255) as i32 - 127) as i8
    }

    #[test]
    fn int8_kernel_equals_scalar_reference() {
        let mut rng = SplitMix64::new(11);
        let extremes: [fn(&mut SplitMix64) -> i8; 4] =
            [uniform_i8, |_| 127, |_| -127, |r| if r.below(2) == 0 { 127 } else { -127 }];
        // Dims whose stride has its own unrolled kernel (65..=128, 193..=256, 449..=512) and dims taking the
        // column-block path (1..=64, 130, 300, 513, 1000, 4096), with block sizes from 1 to BLOCK_ROWS.
        for dim in [1, 5, 63, 64, 65, 100, 128, 130, 200, 256, 300, 511, 512, 513, 1000, 4096] {
            for rows in [1, 3, BLOCK_ROWS - 1, BLOCK_ROWS] {
                for pick in extremes {
                    let (m, scales, q, stride) = int8_case(&mut rng, rows, dim, pick);
                    let mut out = vec![f32::NAN; rows];
                    let best = score_block(&m, &scales, stride, &q, &mut out);
                    let expected: Vec<f32> = m
                        .chunks_exact(stride)
                        .zip(&scales)
                        .map(|(r, &s)| dot_i8_reference(r, &q) as f32 * s)
                        .collect();
                    assert_eq!(out, expected, "dim {dim}, rows {rows}");
                    assert_eq!(best, expected.iter().copied().fold(f32::NEG_INFINITY, f32::max));
                }
            }
        }
        // The extreme sum: 4096 products of 127 * 127 (and of -127 * 127) stay exact.
        let (m, q) = (vec![127i8; 4096], vec![-127i16; 4096]);
        let mut out = [0.0];
        score_block(&m, &[1.0], 4096, &q, &mut out);
        assert_eq!(out[0], (-127 * 127 * 4096) as f32);
    }

    #[test]
    fn int8_scan_keeps_the_best_rows_of_every_block() {
        let mut rng = SplitMix64::new(12);
        for (rows, want) in [(1, 1), (1000, 1), (1000, 32), (3 * BLOCK_ROWS + 17, 50)] {
            let (m, scales, q, stride) = int8_case(&mut rng, rows, 128, uniform_i8);
            let mut top = TopK::new(want);
            scan_i8(&m, &scales, stride, &q, 7, &mut top);
            let mut expected: Vec<(f32, u32)> = m
                .chunks_exact(stride)
                .zip(&scales)
                .enumerate()
                .map(|(i, (r, &s))| (dot_i8_reference(r, &q) as f32 * s, 7 + i as u32))
                .collect();
            expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            expected.truncate(want);
            assert_eq!(top.into_sorted(), expected, "rows {rows}, want {want}");
        }
    }

    #[test]
    fn f32_dot_is_accurate_and_the_same_on_every_target() {
        let mut rng = SplitMix64::new(13);
        for len in (1..=40).chain([127, 128, 129, 512, 4095, 4096]) {
            let a: Vec<f32> = (0..len).map(|_| rng.gaussian() as f32).collect();
            let b: Vec<f32> = (0..len).map(|_| rng.gaussian() as f32 * 1e3).collect();
            let exact: f64 = a.iter().zip(&b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
            let magnitude: f64 = a.iter().zip(&b).map(|(&x, &y)| (f64::from(x) * f64::from(y)).abs()).sum();
            let d = dot_f32(&a, &b);
            assert!((f64::from(d) - exact).abs() <= 1e-5 * magnitude, "len {len}: {d} vs {exact}");
            // The dispatched kernel (AVX-512, AVX2, ... whatever this CPU has) and the same code compiled for
            // the baseline target here agree to the bit.
            assert_eq!(d.to_bits(), dot_f32_lanes(&a, &b).to_bits(), "len {len}");
            let mut out = [0.0f32; 3];
            let rows: Vec<f32> = a.iter().chain(&b).chain(&a).copied().collect();
            dots_f32(&rows, &b, &mut out);
            assert_eq!(out.map(f32::to_bits), [dot_f32(&a, &b), dot_f32(&b, &b), dot_f32(&a, &b)].map(f32::to_bits));
        }
    }

    #[test]
    fn read_all_sums_every_byte() {
        let mut rng = SplitMix64::new(14);
        for len in [0, 1, 7, 8, 63, 64, 65, 1000] {
            let v: Vec<i8> = (0..len).map(|_| uniform_i8(&mut rng)).collect();
            let (words, rest) = v.as_chunks::<8>();
            let expected = words
                .iter()
                .map(|w| u64::from_le_bytes(w.map(|b| b as u8)))
                .chain(rest.iter().map(|&b| u64::from(b as u8)))
                .fold(0u64, u64::wrapping_add);
            assert_eq!(read_all(&v), expected, "len {len}");
        }
    }

    #[test]
    fn round_matches_round_ties_even() {
        let halves = (-300..=300).map(|i| i as f32 * 0.5);
        let others = (-100_000..=100_000).map(|i| i as f32 * 0.001_37);
        for v in halves.chain(others).chain([0.499_999_97, -0.499_999_97, 126.5, -126.5, 127.49]) {
            assert_eq!(super::round(v), v.round_ties_even(), "{v}");
        }
    }
}
