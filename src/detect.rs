//! Face detection with YuNet: scale the upright image so its longer side is `input_size`, pad right/bottom
//! to multiples of 32, run, decode the three stride heads, threshold, NMS. Results are in the coordinates of
//! the upright image the caller gave.

use crate::error::{Error, Result};
use crate::image::{resize, Image};
use crate::infer::{parse_onnx, to_tensor, Net};
use crate::pack::{ModelSpec, Task};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tract_onnx::prelude::InferenceModel;

/// One detected face. Landmarks are in the order YuNet emits them and every template in the manifest uses:
/// 0 image-left eye (the subject's right eye), 1 image-right eye, 2 nose tip, 3 image-left mouth corner,
/// 4 image-right mouth corner. Coordinates are pixels of the upright image, `(x, y)` = top-left of the box.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Face {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    /// Detector confidence in [0, 1] (sqrt of class × objectness).
    pub score: f32,
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }
    /// Intersection over union of two boxes.
    pub fn iou(&self, o: &Face) -> f32 {
        let ix = (self.x + self.width).min(o.x + o.width) - self.x.max(o.x);
        let iy = (self.y + self.height).min(o.y + o.height) - self.y.max(o.y);
        let inter = ix.max(0.0) * iy.max(0.0);
        let union = self.area() + o.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
    /// Scales every coordinate by `s` and then shifts it by `(dx, dy)`.
    pub fn map(&mut self, s: f32, dx: f32, dy: f32) {
        self.map_xy(s, s, dx, dy);
    }
    /// Scales x by `sx`, y by `sy`, then shifts by `(dx, dy)`.
    pub fn map_xy(&mut self, sx: f32, sy: f32, dx: f32, dy: f32) {
        (self.x, self.y, self.width, self.height) = (self.x * sx + dx, self.y * sy + dy, self.width * sx, self.height * sy);
        for l in &mut self.landmarks {
            *l = [l[0] * sx + dx, l[1] * sy + dy];
        }
    }
    /// Distance between the eye landmarks, in pixels (the usual "face size" of recognition systems).
    pub fn eye_distance(&self) -> f32 {
        let [a, b] = [self.landmarks[0], self.landmarks[1]];
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
    }
}

/// Detection settings (part of the engine options).
#[derive(Clone, Debug, PartialEq)]
pub struct DetectParams {
    /// The image is scaled so its longer side is this many pixels before detection (then padded to /32).
    pub input_size: u32,
    /// Faces scoring below this are dropped.
    pub score_threshold: f32,
    /// Boxes overlapping a better one by more than this IoU are dropped.
    pub nms_iou: f32,
    /// Faces whose box is smaller than this (shorter side, pixels of the original image) are dropped.
    pub min_face_size: f32,
    /// At most this many faces are returned, best first.
    pub max_faces: usize,
}

impl Default for DetectParams {
    fn default() -> Self {
        DetectParams { input_size: 320, score_threshold: 0.5, nms_iou: 0.3, min_face_size: 0.0, max_faces: 64 }
    }
}

/// Largest detector input side accepted (memory and time guard).
pub const MAX_INPUT_SIZE: u32 = 2048;
/// Number of per-shape plans kept; images of many aspect ratios beyond that rebuild plans.
const PLAN_CACHE: usize = 32;

/// YuNet detector. Immutable after load except for its plan cache (one optimised plan per padded shape).
pub struct Detector {
    spec: ModelSpec,
    model: InferenceModel,
    strides: Vec<usize>,
    plans: Mutex<HashMap<(usize, usize), Arc<Net>>>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector").field("model", &self.spec.name).finish()
    }
}

impl Detector {
    /// Loads a detector from verified ONNX bytes and checks it by building a plan for a 320×320 input.
    pub fn new(spec: &ModelSpec, bytes: &[u8]) -> Result<Self> {
        if spec.task != Task::Detect {
            return Err(Error::ModelFormat(format!("model '{}' is not a detector", spec.name)));
        }
        let strides = spec.strides.clone().unwrap_or_else(|| vec![8, 16, 32]);
        let model = parse_onnx(bytes, &spec.name)?;
        let d = Detector { spec: spec.clone(), model, strides, plans: Mutex::new(HashMap::new()) };
        d.net(320, 320)?;
        Ok(d)
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    fn output_names(&self) -> Vec<String> {
        self.strides
            .iter()
            .flat_map(|s| ["cls", "obj", "bbox", "kps"].map(|k| format!("{k}_{s}")))
            .collect()
    }

    fn net(&self, w: usize, h: usize) -> Result<Arc<Net>> {
        if let Some(n) = self.plans.lock().ok().and_then(|p| p.get(&(w, h)).cloned()) {
            return Ok(n);
        }
        // Built outside the lock so other shapes are not held up; a rare duplicate build is harmless.
        let names = self.output_names();
        let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let net = Arc::new(Net::build(&self.model, &self.spec, &[1, 3, h, w], &refs)?);
        if let Ok(mut p) = self.plans.lock() {
            if p.len() >= PLAN_CACHE {
                p.clear();
            }
            p.insert((w, h), net.clone());
        }
        Ok(net)
    }

    /// Detects faces, best first.
    pub fn detect(&self, img: &Image, p: &DetectParams) -> Result<Vec<Face>> {
        if p.input_size < 32 || p.input_size > MAX_INPUT_SIZE {
            return Err(Error::invalid(format!("detector input size {} outside 32..={MAX_INPUT_SIZE}", p.input_size)));
        }
        let (w, h) = (img.width() as f32, img.height() as f32);
        let s = p.input_size as f32;
        let sc = (s / w).min(s / h);
        let nw = ((w * sc).round() as u32).max(1);
        let nh = ((h * sc).round() as u32).max(1);
        let mult = self.spec.input.size_multiple.unwrap_or(32).max(1);
        let (pw, ph) = ((nw as usize).div_ceil(mult) * mult, (nh as usize).div_ceil(mult) * mult);
        let resized;
        let small = if (nw, nh) == (img.width(), img.height()) {
            img
        } else {
            resized = resize(img, nw, nh)?;
            &resized
        };
        let net = self.net(pw, ph)?;
        let out = net.run(to_tensor(small, &self.spec.input, pw, ph))?;
        // Scale back by 1/sc as the reference does (the per-axis rounding of the resized size is < 0.5 px).
        let (fx, fy) = (1.0 / sc, 1.0 / sc);
        let mut faces = Vec::new();
        for (si, &st) in self.strides.iter().enumerate() {
            let (cls, obj, bbox, kps) = (&out[4 * si], &out[4 * si + 1], &out[4 * si + 2], &out[4 * si + 3]);
            let cols = pw / st;
            let n = cols * (ph / st);
            if cls.len() != n || obj.len() != n || bbox.len() != 4 * n || kps.len() != 10 * n {
                return Err(Error::ModelFormat(format!("{}: unexpected output sizes at stride {st}", self.spec.name)));
            }
            let stf = st as f32;
            for i in 0..n {
                let score = (cls[i].clamp(0.0, 1.0) * obj[i].clamp(0.0, 1.0)).sqrt();
                if score.is_nan() || score <= p.score_threshold {
                    continue;
                }
                let (c, r) = ((i % cols) as f32, (i / cols) as f32);
                let b = &bbox[4 * i..4 * i + 4];
                let (cx, cy) = ((c + b[0]) * stf, (r + b[1]) * stf);
                let (bw, bh) = (b[2].exp() * stf, b[3].exp() * stf);
                let k = &kps[10 * i..10 * i + 10];
                let landmarks = std::array::from_fn(|j| [(k[2 * j] + c) * stf * fx, (k[2 * j + 1] + r) * stf * fy]);
                faces.push(Face {
                    x: (cx - bw / 2.0) * fx,
                    y: (cy - bh / 2.0) * fy,
                    width: bw * fx,
                    height: bh * fy,
                    score,
                    landmarks,
                });
            }
        }
        let mut faces = nms(faces, p.nms_iou);
        faces.retain(|f| f.width.min(f.height) >= p.min_face_size && f.width.is_finite() && f.height.is_finite());
        faces.truncate(p.max_faces);
        Ok(faces)
    }
}

/// A rectangle of whole pixels inside an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Region {
    /// The square of side `side` centred on `(cx, cy)`, shifted to lie inside a `w`×`h` image and cut to it
    /// where the image is smaller; `None` if nothing of it is left.
    pub fn square_around(cx: f32, cy: f32, side: f32, w: u32, h: u32) -> Option<Region> {
        if !(cx.is_finite() && cy.is_finite() && side.is_finite()) || side < 1.0 {
            return None;
        }
        let fit = |c: f32, len: u32| -> (u32, u32) {
            let s = (side.round() as u32).clamp(1, len.max(1));
            let start = (c - s as f32 / 2.0).round().clamp(0.0, (len - s) as f32) as u32;
            (start, s)
        };
        let ((x, width), (y, height)) = (fit(cx, w), fit(cy, h));
        (w > 0 && h > 0).then_some(Region { x, y, width, height })
    }
}

impl Detector {
    /// Detects faces inside `region` of `img` with the detector input scaled to `p.input_size` (up or down):
    /// faces come back in `img`'s coordinates. A face region seen at a larger scale than the full frame gives
    /// steadier landmarks.
    pub fn detect_region(&self, img: &Image, region: Region, p: &DetectParams) -> Result<Vec<Face>> {
        let crop = img.crop(region.x, region.y, region.width, region.height)?;
        let mut faces = self.detect(&crop, p)?;
        for f in &mut faces {
            f.map(1.0, region.x as f32, region.y as f32);
        }
        Ok(faces)
    }

    /// Detects faces inside several regions of `img` in one run per 16 regions: each region is scaled to fit a
    /// `tile`×`tile` square and the squares sit side by side in one detector input. Faces come back per
    /// region (the square holding their centre), in `img`'s coordinates. The tracker re-detects every face in
    /// an enlarged box around its predicted position this way: at its small inputs most of a run's cost is
    /// fixed (scaling, tensor, the plan's per-operator work), so one run for all regions is much cheaper than
    /// one each.
    pub fn detect_regions(&self, img: &Image, regions: &[Region], tile: u32, p: &DetectParams) -> Result<Vec<Vec<Face>>> {
        const PER_RUN: usize = 16;
        if !(32..=MAX_INPUT_SIZE / PER_RUN as u32).contains(&tile) || tile % 32 != 0 {
            return Err(Error::invalid(format!("region tile {tile} must be a multiple of 32 in 32..={}", MAX_INPUT_SIZE / PER_RUN as u32)));
        }
        let mut out = Vec::with_capacity(regions.len());
        for chunk in regions.chunks(PER_RUN) {
            // Exactly as many squares as regions: an empty square costs as much as a full one, and the plans
            // this makes (one per count, at most PER_RUN per tile size) are built once per engine.
            let slots = chunk.len() as u32;
            let mut canvas = Image::zeroed(tile * slots, tile);
            let mut scales = Vec::with_capacity(chunk.len());
            for (k, r) in chunk.iter().enumerate() {
                let s = tile as f32 / r.width.max(r.height) as f32;
                let (w, h) = (((r.width as f32 * s).round() as u32).clamp(1, tile), ((r.height as f32 * s).round() as u32).clamp(1, tile));
                canvas.paste(&resize(&img.crop(r.x, r.y, r.width, r.height)?, w, h)?, k as u32 * tile, 0)?;
                scales.push((r.width as f32 / w as f32, r.height as f32 / h as f32));
            }
            let params = DetectParams { input_size: tile * slots, max_faces: 4 * PER_RUN, ..p.clone() };
            let mut per = vec![Vec::new(); chunk.len()];
            for mut f in self.detect(&canvas, &params)? {
                let k = ((f.x + f.width / 2.0) / tile as f32).floor();
                if k < 0.0 || k as usize >= chunk.len() {
                    continue; // centred on an empty square
                }
                let (k, r) = (k as usize, chunk[k as usize]);
                let (sx, sy) = scales[k];
                f.map_xy(sx, sy, r.x as f32 - k as f32 * tile as f32 * sx, r.y as f32);
                per[k].push(f);
            }
            out.extend(per);
        }
        Ok(out)
    }
}

/// Greedy non-maximum suppression, best score first.
pub fn nms(mut faces: Vec<Face>, iou: f32) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Face> = Vec::with_capacity(faces.len().min(64));
    for f in faces {
        if keep.iter().all(|k| k.iou(&f) <= iou) {
            keep.push(f);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, score: f32) -> Face {
        Face { x, y: 0.0, width: 10.0, height: 10.0, score, ..Default::default() }
    }

    #[test]
    fn nms_keeps_best_of_overlaps() {
        let kept = nms(vec![face(0.0, 0.6), face(1.0, 0.9), face(50.0, 0.7)], 0.3);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].x, 50.0);
    }

    #[test]
    fn square_regions_stay_inside_the_image() {
        assert_eq!(Region::square_around(50.0, 50.0, 20.0, 100, 100), Some(Region { x: 40, y: 40, width: 20, height: 20 }));
        // Shifted back inside at the border, cut to the image where it is smaller.
        assert_eq!(Region::square_around(5.0, 95.0, 20.0, 100, 100), Some(Region { x: 0, y: 80, width: 20, height: 20 }));
        assert_eq!(Region::square_around(30.0, 10.0, 80.0, 60, 40), Some(Region { x: 0, y: 0, width: 60, height: 40 }));
        assert_eq!(Region::square_around(f32::NAN, 10.0, 80.0, 60, 40), None);
        assert_eq!(Region::square_around(10.0, 10.0, 0.2, 60, 40), None);
    }

    #[test]
    fn iou_of_identical_and_disjoint() {
        assert!((face(0.0, 1.0).iou(&face(0.0, 1.0)) - 1.0).abs() < 1e-6);
        assert_eq!(face(0.0, 1.0).iou(&face(20.0, 1.0)), 0.0);
    }
}
