//! Alignment: the least-squares similarity transform (Umeyama 1991, reflection-safe) from a face's landmarks
//! onto a model's template, and a bilinear warp of the upright image into the template's crop.

use crate::detect::Face;
use crate::error::{Error, Result};
use crate::image::{resize, Image};
use crate::pack::Template;
use nalgebra::{Matrix2, Vector2};

/// A 2×3 affine map `[a b tx; c d ty]` taking image coordinates to crop coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity(pub [[f32; 3]; 2]);

impl Similarity {
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        let m = &self.0;
        [m[0][0] * p[0] + m[0][1] * p[1] + m[0][2], m[1][0] * p[0] + m[1][1] * p[1] + m[1][2]]
    }
    /// Scale factor of the map (crop pixels per image pixel).
    pub fn scale(&self) -> f32 {
        (self.0[0][0] * self.0[1][1] - self.0[0][1] * self.0[1][0]).abs().sqrt()
    }
    /// The inverse map (crop → image).
    pub fn inverse(&self) -> Option<Similarity> {
        let m = &self.0;
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        if det.abs() < 1e-12 || !det.is_finite() {
            return None;
        }
        let (a, b, c, d) = (m[1][1] / det, -m[0][1] / det, -m[1][0] / det, m[0][0] / det);
        Some(Similarity([[a, b, -(a * m[0][2] + b * m[1][2])], [c, d, -(c * m[0][2] + d * m[1][2])]]))
    }
}

/// Umeyama's least-squares similarity (rotation, uniform scale, translation; never a reflection) mapping
/// `src` points onto `dst` points. `None` if the points are degenerate (all equal, NaN).
pub fn umeyama(src: &[[f32; 2]], dst: &[[f32; 2]]) -> Option<Similarity> {
    let n = src.len();
    if n < 2 || n != dst.len() {
        return None;
    }
    let to_v = |p: &[f32; 2]| Vector2::new(p[0] as f64, p[1] as f64);
    let mean = |pts: &[[f32; 2]]| pts.iter().map(to_v).sum::<Vector2<f64>>() / n as f64;
    let (ms, md) = (mean(src), mean(dst));
    let mut cov = Matrix2::<f64>::zeros();
    let mut var = 0.0;
    for (s, d) in src.iter().zip(dst) {
        let (sc, dc) = (to_v(s) - ms, to_v(d) - md);
        cov += dc * sc.transpose();
        var += sc.norm_squared();
    }
    cov /= n as f64;
    var /= n as f64;
    if var <= 1e-12 || !var.is_finite() {
        return None;
    }
    let svd = cov.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    // Reflection guard: flip the smallest singular direction if det(cov) < 0.
    let sign = if cov.determinant() < 0.0 { -1.0 } else { 1.0 };
    let d = Matrix2::new(1.0, 0.0, 0.0, sign);
    let r = u * d * vt;
    let scale = (svd.singular_values[0] + sign * svd.singular_values[1]) / var;
    let t = md - scale * r * ms;
    let m = scale * r;
    let out = Similarity([
        [m[(0, 0)] as f32, m[(0, 1)] as f32, t[0] as f32],
        [m[(1, 0)] as f32, m[(1, 1)] as f32, t[1] as f32],
    ]);
    out.0.iter().flatten().all(|v| v.is_finite()).then_some(out)
}

/// The landmark points a template's target points correspond to (means of the listed landmarks).
pub fn template_sources(face: &Face, t: &Template) -> Vec<[f32; 2]> {
    t.from
        .iter()
        .map(|idx| {
            let n = idx.len() as f32;
            let s = idx.iter().fold([0.0, 0.0], |a, &i| [a[0] + face.landmarks[i][0], a[1] + face.landmarks[i][1]]);
            [s[0] / n, s[1] / n]
        })
        .collect()
}

/// The similarity taking `face`'s landmarks onto `template`.
pub fn transform_for(face: &Face, template: &Template) -> Result<Similarity> {
    umeyama(&template_sources(face, template), &template.points)
        .ok_or_else(|| Error::invalid("face landmarks are degenerate; cannot align"))
}

/// Warps `img` through `m` into a `w`×`h` crop: each crop pixel samples the image bilinearly at `m⁻¹(x, y)`;
/// outside the image is black (as OpenCV's `warpAffine` with a constant border).
pub fn warp(img: &Image, m: &Similarity, w: u32, h: u32) -> Result<Image> {
    let inv = m.inverse().ok_or_else(|| Error::invalid("alignment transform is not invertible"))?;
    let k = &inv.0;
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    let (src, stride) = (img.pixels(), img.width() as usize * 3);
    let mut out = Image::zeroed(w, h);
    for (y, row) in out.pixels_mut().chunks_exact_mut(w as usize * 3).enumerate() {
        let yf = y as f32;
        for (x, o) in row.chunks_exact_mut(3).enumerate() {
            let xf = x as f32;
            let sx = k[0][0] * xf + k[0][1] * yf + k[0][2];
            let sy = k[1][0] * xf + k[1][1] * yf + k[1][2];
            // floor() and round() are libm calls on baseline x86-64 (no SSE4.1): use casts, which compile inline.
            let (x0, y0) = (floor(sx), floor(sy));
            let (ax, ay) = (sx - x0 as f32, sy - y0 as f32);
            // Bilinear mix with fixed-point weights (11 bits, as OpenCV's resize): integer arithmetic only.
            let (wx, wy) = ((ax * 2048.0 + 0.5) as i32, (ay * 2048.0 + 0.5) as i32);
            let mix = |p00: i32, p10: i32, p01: i32, p11: i32| {
                let (top, bot) = (p00 * (2048 - wx) + p10 * wx, p01 * (2048 - wx) + p11 * wx);
                ((top * (2048 - wy) + bot * wy + (1 << 21)) >> 22) as u8
            };
            let (x1, y1) = (x0.saturating_add(1), y0.saturating_add(1));
            if x0 >= 0 && y0 >= 0 && x1 < iw && y1 < ih {
                // Inside: the 2×2 neighbourhood straight from two rows.
                let i = y0 as usize * stride + x0 as usize * 3;
                let (t, b) = (&src[i..i + 6], &src[i + stride..i + stride + 6]);
                for c in 0..3 {
                    o[c] = mix(t[c] as i32, t[c + 3] as i32, b[c] as i32, b[c + 3] as i32);
                }
            } else {
                // At the border: black outside, as OpenCV's constant border.
                let (p00, p10, p01, p11) = (img.get(x0, y0), img.get(x1, y0), img.get(x0, y1), img.get(x1, y1));
                for c in 0..3 {
                    o[c] = mix(p00[c] as i32, p10[c] as i32, p01[c] as i32, p11[c] as i32);
                }
            }
        }
    }
    Ok(out)
}

/// `v.floor() as i64` without the libm call (|v| < 2⁶³).
fn floor(v: f32) -> i64 {
    let t = v as i64;
    if (t as f32) > v { t - 1 } else { t }
}

/// Aligns `face` in `img` onto `template`: the crop a model of that template expects.
pub fn align(img: &Image, face: &Face, template: &Template) -> Result<Image> {
    let m = transform_for(face, template)?;
    let crop = warp(img, &m, template.width, template.height)?;
    match template.resize_to {
        Some([w, h]) if (w, h) != (template.width, template.height) => resize(&crop, w, h),
        _ => Ok(crop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umeyama_recovers_a_known_similarity() {
        let src = [[10.0, 20.0], [40.0, 22.0], [25.0, 40.0], [12.0, 55.0], [38.0, 56.0]];
        let (s, th, tx, ty) = (1.7f32, 0.3f32, 5.0f32, -3.0f32);
        let dst: Vec<[f32; 2]> = src
            .iter()
            .map(|p| [s * (th.cos() * p[0] - th.sin() * p[1]) + tx, s * (th.sin() * p[0] + th.cos() * p[1]) + ty])
            .collect();
        let m = umeyama(&src, &dst).unwrap();
        for (p, q) in src.iter().zip(&dst) {
            let r = m.apply(*p);
            assert!((r[0] - q[0]).abs() < 1e-3 && (r[1] - q[1]).abs() < 1e-3);
        }
        assert!((m.scale() - s).abs() < 1e-4);
        let inv = m.inverse().unwrap();
        let back = inv.apply(m.apply([3.0, 4.0]));
        assert!((back[0] - 3.0).abs() < 1e-3 && (back[1] - 4.0).abs() < 1e-3);
    }

    #[test]
    fn umeyama_never_reflects() {
        // Mirror-image targets: the best proper similarity has positive determinant.
        let src = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        let dst = [[0.0, 0.0], [-10.0, 0.0], [0.0, 10.0]];
        let m = umeyama(&src, &dst).unwrap();
        assert!(m.0[0][0] * m.0[1][1] - m.0[0][1] * m.0[1][0] >= 0.0);
    }

    #[test]
    fn degenerate_points_are_refused() {
        assert!(umeyama(&[[1.0, 1.0]; 5], &[[0.0, 0.0]; 5]).is_none());
        assert!(umeyama(&[[f32::NAN, 1.0], [2.0, 2.0]], &[[0.0, 0.0], [1.0, 1.0]]).is_none());
    }

    #[test]
    fn identity_warp_copies_pixels() {
        let px: Vec<u8> = (0..4 * 4 * 3).map(|i| i as u8).collect();
        let img = Image::from_rgb(4, 4, px).unwrap();
        let id = Similarity([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        assert_eq!(warp(&img, &id, 4, 4).unwrap(), img);
    }
}
