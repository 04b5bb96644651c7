//! Embedding: a face → the model's feature vector, L2-normalised, optionally averaged with the embedding of
//! the mirrored crop (flip test-time augmentation: faces are near-symmetric, so the sum cancels some pose and
//! lighting noise).
//!
//! An embedder is one model or an ensemble of several (the accurate mode, [`crate::pack::Ensemble`]): each
//! member aligns the face onto its own template and embeds it; the fused embedding is the concatenation of the
//! members' unit embeddings, each scaled by `sqrt(weight / impostor_std)`, normalised again. Its cosine is an
//! increasing affine function of the z-score fusion of the members' cosines (the unit test
//! `fused_cosine_is_z_fusion` checks it), so comparisons, thresholds and galleries need nothing special for it.

use crate::align::align;
use crate::detect::Face;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::infer::CropModel;
use crate::pack::{Ensemble, ModelPack, ModelSpec, Task, Template};

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

/// One model of an embedder, its alignment template and its scale in the fused embedding.
#[derive(Debug)]
struct Member {
    model: CropModel,
    template: Template,
    scale: f32,
}

impl Member {
    fn load(spec: &ModelSpec, bytes: &[u8], scale: f32) -> Result<Self> {
        let template = spec.template()?.clone();
        Ok(Member { model: CropModel::load(spec, bytes, Task::Embed)?, template, scale })
    }

    /// The raw output for an aligned crop, plus that of the mirrored crop with `flip`.
    fn run(&self, crop: &Image, flip: bool) -> Result<Vec<f32>> {
        let mut v = self.model.run(crop)?;
        if flip {
            let f = self.model.run(&mirror(crop))?;
            v.iter_mut().zip(f).for_each(|(a, b)| *a += b);
        }
        Ok(v)
    }
}

/// An embedding model, or an ensemble of them, with fixed-shape plans.
#[derive(Debug)]
pub struct Embedder {
    name: String,
    model_id: String,
    members: Vec<Member>,
}

impl Embedder {
    /// One model.
    pub fn new(spec: &ModelSpec, bytes: &[u8]) -> Result<Self> {
        Ok(Embedder { name: spec.name.clone(), model_id: spec.sha256.clone(), members: vec![Member::load(spec, bytes, 1.0)?] })
    }

    /// An ensemble of the pack's models (each file checked against its sha256).
    pub fn ensemble(e: &Ensemble, pack: &ModelPack) -> Result<Self> {
        let mut members = Vec::with_capacity(e.members.len());
        let mut parts = Vec::with_capacity(e.members.len());
        for p in &e.members {
            let spec = pack.manifest.model(&p.model)?;
            members.push(Member::load(spec, &pack.read_verified(spec)?, p.scale())?);
            parts.push(format!("{} {} x{}", spec.name, spec.sha256, p.scale()));
        }
        // The id names every model and its scale: a gallery of fused templates never meets other embeddings,
        // nor fused ones normalised differently.
        Ok(Embedder { name: e.name.clone(), model_id: format!("ensemble {}: {}", e.name, parts.join(" + ")), members })
    }

    /// The model's or the ensemble's name in the manifest.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// What made the embeddings: a model's sha256, or an ensemble's models, their sha256s and scales.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }
    /// Names of the member models (one for a single model).
    pub fn model_names(&self) -> Vec<&str> {
        self.members.iter().map(|m| m.model.spec.name.as_str()).collect()
    }
    /// The template of the first (primary) model: the crop `Engine::align` makes, which the quality measures
    /// and `fk_align` use.
    pub fn template(&self) -> &Template {
        &self.members[0].template
    }
    /// Embedding dimension (the sum of the members').
    pub fn dim(&self) -> usize {
        self.members.iter().map(|m| m.model.dim).sum()
    }

    /// Embeds `face` of `img`. `primary` is the face already aligned onto [`template`](Self::template), when
    /// at hand (the other members align it themselves).
    pub fn embed(&self, img: &Image, face: &Face, primary: Option<&Image>, flip: bool) -> Result<Embedding> {
        let aligned;
        let crop0 = match primary {
            Some(c) => c,
            None => {
                aligned = align(img, face, self.template())?;
                &aligned
            }
        };
        let zero = || Error::Internal(format!("{} produced a zero or NaN embedding", self.name));
        if let [only] = self.members.as_slice() {
            return Embedding::from_vec(only.run(crop0, flip)?).ok_or_else(zero);
        }
        let mut fused = Vec::with_capacity(self.dim());
        for (i, m) in self.members.iter().enumerate() {
            let v = if i == 0 { m.run(crop0, flip)? } else { m.run(&align(img, face, &m.template)?, flip)? };
            let unit = Embedding::from_vec(v).ok_or_else(zero)?;
            fused.extend(unit.as_slice().iter().map(|x| x * m.scale));
        }
        Embedding::from_vec(fused).ok_or_else(zero)
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

#[cfg(test)]
mod tests {
    use crate::compare::cosine;
    use crate::pack::EnsembleMember;

    /// A deterministic pseudo-random unit vector.
    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..dim)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        super::Embedding::from_vec(v).unwrap().into_vec()
    }

    /// The fused embedding as `Embedder::embed` makes it from the members' unit embeddings.
    fn fuse(parts: &[Vec<f32>], members: &[EnsembleMember]) -> Vec<f32> {
        let v: Vec<f32> = parts.iter().zip(members).flat_map(|(p, m)| p.iter().map(move |x| x * m.scale())).collect();
        super::Embedding::from_vec(v).unwrap().into_vec()
    }

    /// The design's claim, checked on random pairs: the cosine of two fused embeddings is an increasing affine
    /// function of the z-score fusion `Σ wᵢ (cᵢ − μᵢ) / σᵢ` of the members' cosines — with slope
    /// `1 / Σ wᵢ/σᵢ` and offset `Σ wᵢ μᵢ/σᵢ / Σ wᵢ/σᵢ` — so a threshold on one is a threshold on the other.
    #[test]
    fn fused_cosine_is_z_fusion() {
        let members = [
            EnsembleMember { model: "a".into(), weight: 0.5, impostor_mean: 0.02, impostor_std: 0.09 },
            EnsembleMember { model: "b".into(), weight: 0.5, impostor_mean: 0.55, impostor_std: 0.05 },
        ];
        let s: f64 = members.iter().map(|m| (m.weight / m.impostor_std) as f64).sum();
        let offset: f64 = members.iter().map(|m| (m.weight * m.impostor_mean / m.impostor_std) as f64).sum::<f64>() / s;
        let mut pairs = Vec::new();
        for k in 0..200u64 {
            // Members of different dimensions; b's pair shares a component so its cosines spread.
            let (a1, a2) = (unit(4 * k, 128), unit(4 * k + 1, 128));
            let mut b2 = unit(4 * k + 3, 64);
            let b1 = unit(4 * k + 2, 64);
            b2.iter_mut().zip(&b1).for_each(|(y, x)| *y += (k % 7) as f32 * 0.3 * x);
            let b2 = super::Embedding::from_vec(b2).unwrap().into_vec();
            let (ca, cb) = (cosine(&a1, &a2).unwrap() as f64, cosine(&b1, &b2).unwrap() as f64);
            let z: f64 = [ca, cb].iter().zip(&members).map(|(c, m)| m.weight as f64 * (c - m.impostor_mean as f64) / m.impostor_std as f64).sum();
            let fused = cosine(&fuse(&[a1, b1], &members), &fuse(&[a2, b2], &members)).unwrap() as f64;
            assert!((fused - (z / s + offset)).abs() < 1e-5, "pair {k}: fused cosine {fused}, z {z}");
            pairs.push((z, fused));
        }
        // Increasing: the order of the pairs by z-score is their order by fused cosine.
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(pairs.windows(2).all(|w| w[1].1 >= w[0].1 - 1e-6));
    }
}
