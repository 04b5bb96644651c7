//! Embedding: an aligned crop → the model's feature vector, L2-normalised, optionally averaged with the
//! embedding of the mirrored crop (flip test-time augmentation: faces are near-symmetric, so the sum cancels
//! some pose and lighting noise).

use crate::error::{Error, Result};
use crate::image::Image;
use crate::infer::CropModel;
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

/// An embedding model with its alignment template and fixed-shape plan.
#[derive(Debug)]
pub struct Embedder {
    model: CropModel,
    template: Template,
}

impl Embedder {
    pub fn new(spec: &ModelSpec, bytes: &[u8]) -> Result<Self> {
        let template = spec.template()?.clone();
        Ok(Embedder { model: CropModel::load(spec, bytes, Task::Embed)?, template })
    }

    pub fn spec(&self) -> &ModelSpec {
        &self.model.spec
    }
    pub fn template(&self) -> &Template {
        &self.template
    }
    pub fn dim(&self) -> usize {
        self.model.dim
    }

    /// Embeds an aligned crop (as made by [`crate::align::align`] with this model's template).
    pub fn embed(&self, crop: &Image, flip: bool) -> Result<Embedding> {
        let mut v = self.model.run(crop)?;
        if flip {
            let f = self.model.run(&mirror(crop))?;
            v.iter_mut().zip(f).for_each(|(a, b)| *a += b);
        }
        Embedding::from_vec(v).ok_or_else(|| Error::Internal(format!("{} produced a zero or NaN embedding", self.model.spec.name)))
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
