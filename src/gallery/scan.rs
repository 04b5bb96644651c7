//! The inner loops: quantisation, dot products, top-k selection.
//!
//! The kernels are plain fixed-width array loops over `as_chunks`, which LLVM vectorises on the baseline
//! target (SSE2 on x86_64, NEON on aarch64) in safe code with nothing target-specific.

/// Width of one int8 step; int8 rows and the widened query are zero-padded to a multiple of it.
pub(super) const I8_LANES: usize = 16;

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

/// Dot product of a padded int8 row with the padded `i16` query (both a multiple of [`I8_LANES`] long).
///
/// Written as the pattern LLVM turns into `pmaddwd` on plain SSE2 (and widening multiply-adds on NEON):
/// products of sign-extended 16-bit values summed into 16 independent `i32` lanes, which cannot overflow
/// (|sum| <= 127 * 127 * 4096 < 2^26). `inline(never)` is deliberate: inlined into the row loop, the same code was
/// vectorised without `pmaddwd` and ran 4x slower in a micro-benchmark (the best inlinable variant found was
/// still 25 % slower than this call, which costs a few cycles per 128-byte row).
#[inline(never)]
fn dot_i8(row: &[i8], query: &[i16]) -> i32 {
    let (row, _) = row.as_chunks::<I8_LANES>();
    let (query, _) = query.as_chunks::<I8_LANES>();
    let mut acc = [0i32; I8_LANES];
    for (r, q) in row.iter().zip(query) {
        for i in 0..I8_LANES {
            acc[i] += i32::from(r[i]) * i32::from(q[i]);
        }
    }
    acc.iter().sum()
}

/// Scores every row of `rows` (a block of padded int8 rows with their `scales`) against `query` and offers
/// them to `top` as `(approximate similarity / query scale, first_row + index)`.
pub(super) fn scan_i8(rows: &[i8], scales: &[f32], stride: usize, query: &[i16], first_row: u32, top: &mut TopK) {
    for (i, (row, &scale)) in rows.chunks_exact(stride).zip(scales).enumerate() {
        top.push(dot_i8(row, query) as f32 * scale, first_row + i as u32);
    }
}

/// Exact `f32` dot product. Eight independent accumulators: LLVM does not reorder float additions by itself,
/// and one accumulator would make every addition wait for the previous one.
#[inline]
pub(super) fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    let mut acc = [0.0f32; 8];
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + tail
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
    #[test]
    fn round_matches_round_ties_even() {
        let halves = (-300..=300).map(|i| i as f32 * 0.5);
        let others = (-100_000..=100_000).map(|i| i as f32 * 0.001_37);
        for v in halves.chain(others).chain([0.499_999_97, -0.499_999_97, 126.5, -126.5, 127.49]) {
            assert_eq!(super::round(v), v.round_ties_even(), "{v}");
        }
    }
}
