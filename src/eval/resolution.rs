//! Thresholds that know the capture: operating points measured per band of face resolution (inter-eye
//! distance in pixels), on LFW re-rendered the way a webcam captures faces.
//!
//! Small, blurred, compressed faces look more alike than press photos: their impostor scores are higher, so a
//! threshold measured on 250-px LFW photos lets strangers through at 70 px. Here every image of the pair list
//! is re-rendered for each band — downscaled (low-pass first, as optics do) until its eyes are a random
//! distance within the band apart, then blurred, given sensor noise and JPEG-compressed at random webcam
//! settings — and run through the whole pipeline again (detection on the small image included). Each band's
//! thresholds come from the impostor pairs with *both* sides rendered in that band: the conservative case of
//! a gate whose enrolment and visitors come from the same low-resolution camera. The table is made monotone
//! (a smaller band never decides at a lower threshold than a larger one) and written into the manifest
//! ([`crate::pack::ResolutionBand`]); the band above the last rendered one is the press-photo calibration.

use super::{extended_impostors, par_map, pipeline_description, primary_face, split, Pair, Run, Sample};
use crate::compare::{clopper_pearson, tar_at, OperatingPoint};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::image::degrade::{self, Rng};
use crate::image::Image;
use crate::pack::{Calibration, ResolutionBand, ResolutionTable};
use std::collections::HashMap;
use std::path::PathBuf;

/// Inter-eye distance bands (pixels, `[lo, hi)`) rendered by default; faces at or above the last `hi` are
/// decided at the press-photo calibration (LFW's own eyes are about 40 px apart).
pub const DEFAULT_BANDS: [(f32, f32); 4] = [(10.0, 16.0), (16.0, 22.0), (22.0, 30.0), (30.0, 40.0)];

/// How each rendered image is degraded, drawn per image and band from a seed (reproducible).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Render {
    /// Target inter-eye distance, pixels.
    pub eye_px: f32,
    /// Extra defocus / motion blur after downscaling, σ in output pixels.
    pub blur: f32,
    /// Sensor noise, σ in 8-bit levels.
    pub noise: f32,
    /// JPEG quality of the stream.
    pub jpeg: u8,
}

/// The ranges the degradations are drawn from (uniformly), written into the table's provenance.
pub const DEGRADATIONS: &str = "per image and band: downscaled (Gaussian low-pass σ = 0.5/scale − 0.5, then bilinear) to an inter-eye distance uniform in the band, Gaussian blur σ uniform in [0, 1.2] px, Gaussian noise σ uniform in [0, 6] levels, JPEG quality uniform in [35, 90]";

impl Render {
    /// The degradation of image `key` in band `(lo, hi)`.
    pub fn draw(key: &str, band: (f32, f32)) -> Render {
        let mut h = 0xcbf2_9ce4_8422_2325u64; // FNV-1a of the key and the band
        for b in key.bytes().chain(band.0.to_bits().to_le_bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        let mut r = Rng(h);
        Render {
            eye_px: band.0 + r.uniform() * (band.1 - band.0),
            blur: 1.2 * r.uniform(),
            noise: 6.0 * r.uniform(),
            jpeg: 35 + (r.uniform() * 56.0) as u8,
        }
    }

    /// `img`, whose face has eyes `eye_px_now` apart, rendered with these settings (`None` when it would have to
    /// be enlarged).
    pub fn apply(&self, img: &Image, eye_px_now: f32, seed: u64) -> Result<Option<Image>> {
        let scale = self.eye_px / eye_px_now;
        if !(scale > 0.0 && scale <= 1.0) {
            return Ok(None);
        }
        let small = degrade::downscale(img, scale)?;
        let blurred = degrade::gaussian_blur(&small, self.blur);
        let noisy = degrade::noise(&blurred, self.noise, seed);
        Ok(Some(degrade::jpeg(&noisy, self.jpeg)?))
    }
}

/// One image rendered into a band and run through the pipeline.
struct Rendered {
    sample: Sample,
    /// Inter-eye distance the detector found on the rendered image.
    eye_px: f32,
}

/// Renders and embeds `path` for every band (the original is detected once), and the original itself last:
/// per band, `None` when no face is found (in the original or the rendered image).
fn render_one(engine: &Engine, path: &PathBuf, bands: &[(f32, f32)]) -> Result<Vec<Option<Rendered>>> {
    let img = Image::open(path)?;
    let Some(face) = primary_face(engine, &img)? else { return Ok((0..=bands.len()).map(|_| None).collect()) };
    let key = path.to_string_lossy();
    let mut out = Vec::with_capacity(bands.len());
    for &band in bands {
        let r = Render::draw(&key, band);
        let Some(small) = r.apply(&img, face.eye_distance(), Rng(r.eye_px.to_bits() as u64).next_u64())? else {
            out.push(None);
            continue;
        };
        out.push(match primary_face(engine, &small)? {
            Some(f) => Some(Rendered {
                sample: Sample { embedding: engine.embed(&small, &f)?, detected: true, quality: None },
                eye_px: f.eye_distance(),
            }),
            None => None,
        });
    }
    out.push(Some(Rendered { sample: Sample { embedding: engine.embed(&img, &face)?, detected: true, quality: None }, eye_px: face.eye_distance() }));
    Ok(out)
}

/// Mean and standard deviation of impostor scores: what a camera's own impostors are compared with
/// ([`crate::engine::Engine::camera_threshold`]).
fn moments(s: &[f32]) -> (f32, f32) {
    let n = s.len().max(1) as f64;
    let mean = s.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = s.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean as f32, var.sqrt() as f32)
}

/// Measures the per-band table for `engine` (its embedder and flip setting) on `pairs` (genuine pairs from
/// the list, impostors from every different-identity pair of its images, as [`super::calibrate`]), with
/// `base` the press-photo calibration of the same pipeline (the band above the last rendered one).
pub fn calibrate(engine: &Engine, pairs: &[Pair], dataset: &str, bands: &[(f32, f32)], base: &Calibration, run: &Run) -> Result<ResolutionTable> {
    if bands.is_empty() || bands.windows(2).any(|w| !(w[0].1 <= w[1].0 + 1e-3 && w[0].0 < w[0].1)) {
        return Err(Error::invalid("resolution bands must be non-empty, increasing and not overlapping"));
    }
    let mut paths: Vec<PathBuf> = pairs.iter().flat_map(|p| [p.a.clone(), p.b.clone()]).collect();
    paths.sort();
    paths.dedup();
    let mut out = Vec::new();
    let mut rendered = par_map(&paths, run.threads, run.progress.then_some("images rendered into every band"), |p| render_one(engine, p, bands))?;
    for (k, &band) in bands.iter().enumerate() {
        let mut samples = HashMap::new();
        let mut eyes = Vec::new();
        for (p, r) in paths.iter().zip(rendered.iter_mut().map(|v| v[k].take())).filter_map(|(p, r)| r.map(|r| (p, r))) {
            eyes.push(r.eye_px);
            samples.insert(p.clone(), r.sample);
        }
        let found: Vec<&Pair> = pairs.iter().filter(|p| samples.contains_key(&p.a) && samples.contains_key(&p.b)).collect();
        let sims: Vec<f32> = found.iter().map(|p| crate::compare::cosine(samples[&p.a].embedding.as_slice(), samples[&p.b].embedding.as_slice())).collect::<Result<_>>()?;
        let same: Vec<bool> = found.iter().map(|p| p.same).collect();
        let (genuine, _) = split(&sims, &same);
        let impostors = extended_impostors(&samples, run.threads)?
            .ok_or_else(|| Error::invalid(format!("no impostor pairs in band {band:?}: images need identity folders")))?;
        let (impostor_mean, impostor_std) = moments(impostors.scores());
        let mut b = ResolutionBand {
            impostor_mean: Some(impostor_mean),
            impostor_std: Some(impostor_std),
            min_eye_px: band.0,
            images: samples.len(),
            images_without_face: paths.len() - samples.len(),
            median_eye_px: Some(median(&mut eyes)),
            genuine_pairs: genuine.len(),
            impostor_pairs: impostors.len(),
            ..Default::default()
        };
        for op in OperatingPoint::ALL {
            if let Some(t) = impostors.threshold_at_far(op.far()) {
                let k = op.key().to_string();
                let acc = impostors.accepted(t) as u64;
                b.thresholds.insert(k.clone(), t);
                b.measured.insert(k.clone(), t);
                b.impostors_accepted.insert(k.clone(), acc);
                let (lo, hi) = clopper_pearson(acc, impostors.len() as u64, 0.95);
                b.far_interval_95.insert(k, [lo, hi]);
            }
        }
        b.genuine_scores = genuine;
        out.push(b);
    }
    // The band above the last rendered one: the press photos themselves.
    let press: HashMap<PathBuf, Sample> =
        paths.iter().zip(rendered.iter_mut().map(|v| v[bands.len()].take())).filter_map(|(p, r)| r.map(|r| (p.clone(), r.sample))).collect();
    let press_moments = extended_impostors(&press, run.threads)?.map(|i| moments(i.scores()));
    let top = ResolutionBand {
        impostor_mean: press_moments.map(|m| m.0),
        impostor_std: press_moments.map(|m| m.1),
        min_eye_px: bands[bands.len() - 1].1,
        thresholds: base.thresholds.clone(),
        measured: base.thresholds.clone(),
        tar: base.tar.clone(),
        impostors_accepted: base.impostors_accepted.clone(),
        far_interval_95: base.far_interval_95.clone(),
        genuine_pairs: base.genuine_pairs,
        impostor_pairs: base.impostor_pairs,
        ..Default::default()
    };
    out.push(top);
    make_monotone(&mut out);
    for b in out.iter_mut().filter(|b| !b.genuine_scores.is_empty()) {
        b.tar = b.thresholds.iter().map(|(k, &t)| (k.clone(), tar_at(&b.genuine_scores, t) as f32)).collect();
    }
    Ok(ResolutionTable {
        dataset: format!("{dataset}, re-rendered per band; genuine = the list's same-person pairs, impostors = every different-identity pair of its images, both sides in the band"),
        degradations: DEGRADATIONS.into(),
        pipeline: pipeline_description(engine),
        bands: out,
    })
}

/// Makes the table decide no lower for a smaller face, and no lower for a stricter point: a band's
/// threshold is raised to the larger band's (smaller faces are never decided more loosely than larger ones
/// because of sampling noise in the tail) and to its looser point's. Only points every band measured stay.
pub fn make_monotone(bands: &mut [ResolutionBand]) {
    let keys: Vec<String> = OperatingPoint::ALL.iter().map(|o| o.key().to_string()).filter(|k| bands.iter().all(|b| b.thresholds.contains_key(k))).collect();
    for b in bands.iter_mut() {
        b.thresholds.retain(|k, _| keys.contains(k));
        let mut floor = f32::NEG_INFINITY;
        for k in &keys {
            let t = b.thresholds.get_mut(k).expect("kept above");
            *t = t.max(floor);
            floor = *t;
        }
    }
    for i in (0..bands.len().saturating_sub(1)).rev() {
        for k in &keys {
            let above = bands[i + 1].thresholds[k];
            let t = bands[i].thresholds.get_mut(k).expect("kept above");
            *t = t.max(above);
        }
    }
}

fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn band(min: f32, t: &[(&str, f32)]) -> ResolutionBand {
        ResolutionBand { min_eye_px: min, thresholds: t.iter().map(|(k, v)| (k.to_string(), *v)).collect(), ..Default::default() }
    }

    #[test]
    fn renders_are_reproducible_and_in_range() {
        let a = Render::draw("x/y.jpg", (16.0, 22.0));
        assert_eq!(a, Render::draw("x/y.jpg", (16.0, 22.0)));
        assert_ne!(a, Render::draw("x/z.jpg", (16.0, 22.0)));
        for k in 0..200 {
            let r = Render::draw(&format!("img{k}"), (16.0, 22.0));
            assert!((16.0..22.0).contains(&r.eye_px) && (0.0..=1.2).contains(&r.blur) && (0.0..=6.0).contains(&r.noise));
            assert!((35..=90).contains(&r.jpeg), "{}", r.jpeg);
        }
        let img = Image::from_rgb(100, 80, vec![120; 100 * 80 * 3]).unwrap();
        let small = a.apply(&img, 40.0, 1).unwrap().unwrap();
        assert!(small.width() < 100 && small.width() >= 40, "{}", small.width());
        assert!(a.apply(&img, 10.0, 1).unwrap().is_none(), "never enlarged");
    }

    #[test]
    fn monotone_table_never_decides_a_smaller_face_more_loosely() {
        let mut t = vec![
            band(10.0, &[("far_1e-3", 0.40), ("far_1e-4", 0.45), ("far_1e-5", 0.5)]),
            band(16.0, &[("far_1e-3", 0.42), ("far_1e-4", 0.41)]),
            band(22.0, &[("far_1e-3", 0.30), ("far_1e-4", 0.36)]),
        ];
        make_monotone(&mut t);
        // far_1e-5 is not measured in every band: dropped. Within a band, stricter >= looser; across bands,
        // smaller >= larger.
        assert!(t.iter().all(|b| !b.thresholds.contains_key("far_1e-5")));
        assert_eq!(t[1].thresholds["far_1e-4"], 0.42);
        assert_eq!(t[0].thresholds["far_1e-3"], 0.42);
        assert_eq!(t[0].thresholds["far_1e-4"], 0.45);
        assert_eq!(t[2].thresholds["far_1e-3"], 0.30);
    }
}
