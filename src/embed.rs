//! Embedding: an aligned crop → the model's feature vector, L2-normalised, optionally averaged with the
//! embedding of the mirrored crop (flip test-time augmentation: faces are near-symmetric, so the sum cancels
//! some pose and lighting noise).

use crate::error::{Error, Result};
use crate::image::Image;
use crate::infer::{parse_onnx, to_tensor, Net};
use crate::pack::{ModelSpec, Task, Template};

/// A unit-length face embedding. Compare two with [`crate::compare::cosine`].
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding(Vec<f32>);

impl Embedding {
    /// Normalises `v` to unit length; `None` for zero, empty or non-finite vectors.
    pub fn from_vec(mut v: Vec<f32>) -> Option<Self> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if v.is_empty() || !n.is_finite() || n <= f32::EPSILON {
            return None;
        }
        v.iter_mut().for_each(|x| *x /= n);
        Some(Embedding(v))
    }
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
    pub fn dim(&self) -> usize {
        self.0.len()
    }
    pub fn into_vec(self) -> Vec<f32> {
        self.0
    }
}

/// An embedding model with its fixed-shape plan.
#[derive(Debug)]
pub struct Embedder {
    spec: ModelSpec,
    template: Template,
    dim: usize,
    net: Net,
}

impl Embedder {
    pub fn new(spec: &ModelSpec, bytes: &[u8]) -> Result<Self> {
        let what = &spec.name;
        if spec.task != Task::Embed {
            return Err(Error::ModelFormat(format!("model '{what}' is not an embedder")));
        }
        let template = spec.template.clone().ok_or_else(|| Error::ModelFormat(format!("{what}: no template")))?;
        let out = spec.output.as_ref().ok_or_else(|| Error::ModelFormat(format!("{what}: no output")))?;
        let (w, h) = crop_size(spec)?;
        let net = Net::build(&parse_onnx(bytes, what)?, what, &spec.input.name, &input_shape(spec, w, h), &[&out.name])?;
        let e = Embedder { spec: spec.clone(), template, dim: out.dim, net };
        // Prove the output has the promised dimension now, not on the first frame.
        let probe = e.raw(&Image::zeroed(w as u32, h as u32))?;
        if probe.len() != e.dim {
            return Err(Error::ModelFormat(format!("{what}: output has {} values, manifest says {}", probe.len(), e.dim)));
        }
        Ok(e)
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }
    pub fn template(&self) -> &Template {
        &self.template
    }
    pub fn dim(&self) -> usize {
        self.dim
    }

    fn raw(&self, crop: &Image) -> Result<Vec<f32>> {
        let (w, h) = (crop.width() as usize, crop.height() as usize);
        if [1, 3, h, w] != self.net.shape[..] && [1, h, w, 3] != self.net.shape[..] {
            return Err(Error::invalid(format!("crop is {w}x{h}, {} wants {:?}", self.spec.name, self.net.shape)));
        }
        let mut out = self.net.run(to_tensor(crop, &self.spec.input, w, h))?;
        Ok(out.swap_remove(0))
    }

    /// Embeds an aligned crop (as made by [`crate::align::align`] with this model's template).
    pub fn embed(&self, crop: &Image, flip: bool) -> Result<Embedding> {
        let mut v = self.raw(crop)?;
        if flip {
            let f = self.raw(&mirror(crop))?;
            v.iter_mut().zip(f).for_each(|(a, b)| *a += b);
        }
        Embedding::from_vec(v).ok_or_else(|| Error::Internal(format!("{} produced a zero or NaN embedding", self.spec.name)))
    }
}

/// The crop size a fixed-input model wants.
pub(crate) fn crop_size(spec: &ModelSpec) -> Result<(usize, usize)> {
    match (spec.input.width, spec.input.height) {
        (Some(w), Some(h)) if (1..=1024).contains(&w) && (1..=1024).contains(&h) => Ok((w, h)),
        _ => Err(Error::ModelFormat(format!("{}: manifest must give input width and height (1..=1024)", spec.name))),
    }
}

pub(crate) fn input_shape(spec: &ModelSpec, w: usize, h: usize) -> Vec<usize> {
    match spec.input.layout {
        crate::pack::Layout::NCHW => vec![1, 3, h, w],
        crate::pack::Layout::NHWC => vec![1, h, w, 3],
    }
}

/// Horizontal mirror of an image.
pub fn mirror(img: &Image) -> Image {
    let w = img.width() as usize;
    let px: Vec<u8> = img
        .pixels()
        .chunks_exact(w * 3)
        .flat_map(|row| row.chunks_exact(3).rev().flatten().copied())
        .collect();
    Image::from_rgb(img.width(), img.height(), px).expect("same size")
}
