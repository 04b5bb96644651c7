//! The photo commands: detect, verify, quality, enroll, identify, pack.

use crate::args::{DecisionArgs, ModelArgs, PipelineArgs, QualityArgs};
use crate::draw::draw_faces;
use crate::exit::Code;
use facekit::gallery::Gallery;
use facekit::pack::ModelPack;
use facekit::quality::{reason, Component, QualityPolicy, QualityReport};
use facekit::{LivenessPoint, LivenessStatus};
use facekit::{Engine, Error, Face, Image};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn open(path: &Path) -> Result<Image, Error> {
    Image::open(path)
}

fn largest(e: &Engine, img: &Image, path: &Path) -> Result<Face, Error> {
    e.largest_face(img).map_err(|_| Error::NoFace(format!(" in {}", path.display())))
}

pub fn face_json(f: &Face) -> Value {
    json!({"box": [f.x, f.y, f.width, f.height], "score": f.score, "landmarks": f.landmarks})
}

pub fn detect(m: &ModelArgs, p: &PipelineArgs, images: &[PathBuf], json: bool, draw: Option<&Path>) -> Result<Code, Error> {
    let e = p.engine(m, None)?;
    let mut out = Vec::new();
    for path in images {
        let img = open(path)?;
        let faces = e.detect(&img)?;
        if let Some(d) = draw {
            let target = if images.len() > 1 {
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
                d.with_file_name(format!("{}-{stem}.png", d.file_stem().and_then(|s| s.to_str()).unwrap_or("draw")))
            } else {
                d.to_path_buf()
            };
            draw_faces(&img, &faces).save(&target)?;
        }
        if json {
            out.push(json!({"image": path, "width": img.width(), "height": img.height(), "faces": faces.iter().map(face_json).collect::<Vec<_>>()}));
        } else {
            println!("{}: {} face(s)", path.display(), faces.len());
            for f in &faces {
                println!(
                    "  box {:.0},{:.0} {:.0}x{:.0}  score {:.3}  eyes ({:.0},{:.0}) ({:.0},{:.0})",
                    f.x, f.y, f.width, f.height, f.score, f.landmarks[0][0], f.landmarks[0][1], f.landmarks[1][0], f.landmarks[1][1]
                );
            }
        }
    }
    if json {
        println!("{}", Value::Array(out));
    }
    Ok(Code::Ok)
}

/// The engine of a deciding command: `d` applied over the pipeline settings, `default` the policy.
fn deciding_engine(m: &ModelArgs, p: &PipelineArgs, d: &DecisionArgs, default: QualityPolicy) -> Result<Engine, Error> {
    let mut o = p.options(None);
    d.apply(&mut o, default);
    crate::args::load(m, o)
}

pub fn verify(m: &ModelArgs, p: &PipelineArgs, d: &DecisionArgs, a: &Path, b: &Path, json: bool) -> Result<Code, Error> {
    let e = deciding_engine(m, p, d, QualityPolicy::unlock())?;
    // Each capture is checked (quality, liveness) before it is compared: a refusal exits 4 or 5.
    let r = e.verify(&open(a)?, &open(b)?)?;
    let cal = e.calibration().map(|c| c.dataset.clone()).unwrap_or_default();
    if json {
        println!(
            "{}",
            json!({
                "similarity": r.similarity, "match": r.is_match, "threshold": r.threshold,
                "operating_point": r.operating_point.key(), "false_accept_rate": r.operating_point.far(),
                "calibrated_on": cal, "liveness_checked": e.options().quality.require_liveness,
            })
        );
    } else {
        println!(
            "{}: similarity {:.4} {} threshold {:.4} (operating point {}: at most {} of different-person pairs score this high; measured on {})",
            if r.is_match { "MATCH" } else { "NO MATCH" },
            r.similarity,
            if r.is_match { ">=" } else { "<" },
            r.threshold,
            r.operating_point.key(),
            r.operating_point.far(),
            cal
        );
    }
    Ok(if r.is_match { Code::Ok } else { Code::NoMatch })
}

pub fn report_json(r: &QualityReport) -> Value {
    let c = |c: &Component| if c.assessed { json!({"raw": c.raw, "score": c.score}) } else { json!({"assessed": false}) };
    json!({
        "overall": r.overall, "acceptable": r.acceptable, "reasons": reason::names(r.reasons), "reason_bits": r.reasons,
        "components": {
            "sharpness": c(&r.sharpness), "brightness": c(&r.brightness), "exposure": c(&r.exposure),
            "contrast": c(&r.contrast), "yaw": c(&r.yaw), "pitch": c(&r.pitch), "roll": c(&r.roll),
            "face_size": c(&r.face_size), "confidence": c(&r.confidence), "learned": c(&r.learned),
            "occlusion": c(&r.occlusion), "compression": c(&r.compression),
        }
    })
}

pub fn quality(m: &ModelArgs, p: &PipelineArgs, q: &QualityArgs, images: &[PathBuf], json: bool) -> Result<Code, Error> {
    let e = p.engine(m, Some(q))?;
    let mut out = Vec::new();
    for path in images {
        let img = open(path)?;
        let r = e.quality(&img, &largest(&e, &img, path)?)?;
        if json {
            let mut v = report_json(&r);
            v["image"] = json!(path);
            out.push(v);
        } else {
            let learned = if r.learned.assessed { format!("{:.3}", r.learned.raw) } else { "n/a (no quality model)".into() };
            println!(
                "{}: overall {:.0}/100 {} {:?}  (sharpness {:.0}, brightness {:.0}, yaw {:.0}°, pitch {:.0}°, roll {:.0}°, eyes {:.0}px, learned {learned})",
                path.display(),
                r.overall,
                if r.acceptable { "OK" } else { "REFUSED" },
                reason::names(r.reasons),
                r.sharpness.raw,
                r.brightness.raw,
                r.yaw.raw,
                r.pitch.raw,
                r.roll.raw,
                r.face_size.raw,
            );
        }
    }
    if json {
        println!("{}", Value::Array(out));
    }
    Ok(Code::Ok)
}

#[derive(clap::Subcommand, Debug)]
pub enum GalleryCommand {
    /// Write a gallery file's templates (the unit-norm floats it scores with), their identities and its model
    /// id to an interchange file. Needs no models: the gallery file names its embedder.
    Export {
        gallery: PathBuf,
        #[arg(long, value_name = "FILE.npz")]
        out: PathBuf,
    },
    /// Build a gallery file from an interchange file (templates stored bit for bit, so searches answer as in
    /// the gallery it was exported from). The file must be of this pipeline's embedder (`--accurate` for an
    /// accurate-mode gallery); a truncated or inconsistent file or another model id is refused and --out is left
    /// as it was. --out is replaced atomically.
    Import {
        file: PathBuf,
        #[arg(long, value_name = "G.fkg")]
        out: PathBuf,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
}

pub fn gallery(m: &ModelArgs, c: GalleryCommand) -> Result<Code, Error> {
    let (g, from, to) = match c {
        GalleryCommand::Export { gallery, out } => {
            let g = Gallery::load_any(&gallery)?;
            g.export_npz(&out)?;
            (g, gallery, out)
        }
        GalleryCommand::Import { file, out, pipeline } => {
            let e = pipeline.engine(m, None)?;
            let g = Gallery::import_npz(&file, e.model_id(), e.dim())?;
            g.save(&out)?;
            (g, file, out)
        }
    };
    println!(
        "{} -> {}: {} templates of {} identities, model {}, dimension {}",
        from.display(),
        to.display(),
        g.template_count(),
        g.count(),
        g.model_id(),
        g.dim()
    );
    Ok(Code::Ok)
}

fn open_gallery(e: &Engine, path: &Path) -> Result<Gallery, Error> {
    if path.exists() {
        Gallery::load(path, e.model_id(), e.dim())
    } else {
        Gallery::new(e.model_id(), e.dim())
    }
}

/// Enrolment checks every capture under the enrolment policy (quality and liveness: an enrolment photo of a
/// photo is the worst case); --force enrolls a capture of poor quality anyway, never a spoof.
pub fn enroll(m: &ModelArgs, p: &PipelineArgs, d: &DecisionArgs, gallery: &Path, id: &str, images: &[PathBuf], force: bool) -> Result<Code, Error> {
    let e = deciding_engine(m, p, d, QualityPolicy::enrolment())?;
    let g = open_gallery(&e, gallery)?;
    let mut added = 0;
    let mut refusal = None;
    for path in images {
        let img = open(path)?;
        let face = largest(&e, &img, path)?;
        match e.check_capture(&img, &face) {
            Ok(_) => {}
            Err(Error::PoorQuality(why)) if force => eprintln!("{}: enrolled despite poor quality ({why})", path.display()),
            Err(err @ (Error::PoorQuality(_) | Error::NotLive(_))) => {
                eprintln!("skipped {}: {err}{}", path.display(), if matches!(err, Error::PoorQuality(_)) { " (--force enrolls it anyway)" } else { "" });
                refusal = Some(err);
                continue;
            }
            Err(err) => return Err(err),
        }
        g.enroll(id, &[e.embed(&img, &face)?.as_slice()])?;
        added += 1;
    }
    if added == 0 {
        // Nothing enrolled: the refusal is the outcome (exit 4 or 5), and the gallery file is left as it was.
        return Err(refusal.unwrap_or_else(|| Error::invalid("no image given")));
    }
    g.save(gallery)?;
    println!("{id}: {added} template(s) added; gallery {} holds {} identities", gallery.display(), g.count());
    Ok(Code::Ok)
}

pub fn identify(m: &ModelArgs, p: &PipelineArgs, d: &DecisionArgs, gallery: &Path, image: &Path, json: bool) -> Result<Code, Error> {
    let e = deciding_engine(m, p, d, QualityPolicy::gate())?;
    let g = Gallery::load(gallery, e.model_id(), e.dim())?;
    let img = open(image)?;
    let face = largest(&e, &img, image)?;
    e.check_capture(&img, &face)?;
    let emb = e.embed(&img, &face)?;
    // The threshold for this gallery's size (about `op`'s FAR of strangers match anyone), at this face's
    // resolution.
    let gt = e.gallery_decision_threshold(&g, d.op.far(), Some(face.eye_distance()))?;
    let threshold = gt.threshold;
    if gt.exceeds_calibration() {
        eprintln!(
            "facekit: warning: {} templates at a target FPIR of {:e} need a per-comparison FAR of {:.1e}, below the strictest calibrated point ({:e}): strangers will match more often than the target",
            g.template_count(), gt.target_fpir, gt.per_comparison_far, gt.calibrated_far
        );
    }
    let hits = g.search(emb.as_slice(), 5, Some(threshold))?;
    let rule = format!("{} for {} templates: per-comparison FAR {:.1e}", d.op.key(), g.template_count(), gt.per_comparison_far);
    if json {
        let h: Vec<Value> = hits.iter().map(|h| json!({"id": h.id, "similarity": h.similarity})).collect();
        println!(
            "{}",
            json!({
                "identity": hits.first().map(|h| h.id.clone()), "hits": h, "threshold": threshold, "operating_point": d.op.key(),
                "target_fpir": gt.target_fpir, "templates": g.template_count(), "per_comparison_far": gt.per_comparison_far,
                "calibrated_far": gt.calibrated_far, "eye_distance": face.eye_distance(), "thresholds": d.thresholds.name(), "camera_shift": gt.camera_shift,
            })
        );
    } else if let Some(best) = hits.first() {
        println!("{} (similarity {:.4}, threshold {threshold:.4} at {rule})", best.id, best.similarity);
        for h in &hits[1..] {
            println!("  also above threshold: {} ({:.4})", h.id, h.similarity);
        }
    } else {
        println!("nobody enrolled (no identity reaches the threshold {threshold:.4} at {rule})");
    }
    Ok(if hits.is_empty() { Code::NoMatch } else { Code::Ok })
}

/// Liveness of the face of each image (the face nearest the centre, as the evaluation picks it). Exit 0 when
/// every face is live, 4 when any is not, 5 when a face could not be checked (too small, cut off).
pub fn liveness(m: &ModelArgs, p: &PipelineArgs, op: LivenessPoint, images: &[PathBuf], json: bool) -> Result<Code, Error> {
    let mut o = p.options(None);
    o.load_liveness = true;
    o.liveness_point = op;
    let e = crate::args::load(m, o)?;
    let names = e.liveness_model().map(|l| l.model_names().iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap_or_default();
    let (mut out, mut code) = (Vec::new(), Code::Ok);
    for path in images {
        let img = open(path)?;
        let face = facekit::eval::primary_face(&e, &img)?.ok_or_else(|| Error::NoFace(format!(" in {}", path.display())))?;
        let r = e.liveness(&img, &face)?;
        let assessed = r.status == LivenessStatus::Assessed;
        code = match (assessed, r.is_live, code) {
            (true, false, _) => Code::NotLive,
            (false, _, Code::Ok) => Code::PoorQuality,
            (_, _, c) => c,
        };
        let scores: serde_json::Map<String, Value> =
            names.iter().zip(&r.model_scores[..r.model_count as usize]).map(|(n, s)| (n.clone(), json!(s))).collect();
        if json {
            out.push(json!({
                "image": path, "status": r.status.name(), "score": assessed.then_some(r.score), "live": r.is_live,
                "threshold": r.threshold, "operating_point": r.operating_point.key(), "models": scores, "face": face_json(&face),
            }));
        } else if assessed {
            println!(
                "{}: {} (score {:.4} {} threshold {:.4} at {}; {})",
                path.display(),
                if r.is_live { "LIVE" } else { "NOT LIVE" },
                r.score,
                if r.is_live { ">=" } else { "<" },
                r.threshold,
                r.operating_point.key(),
                scores.iter().map(|(n, s)| format!("{n} {:.4}", s.as_f64().unwrap_or(f64::NAN))).collect::<Vec<_>>().join(", ")
            );
        } else {
            println!("{}: not assessed ({})", path.display(), r.status.name());
        }
    }
    if json {
        println!("{}", Value::Array(out));
    }
    Ok(code)
}

pub fn pack(m: &ModelArgs, out: &Path, only: Option<&[String]>) -> Result<Code, Error> {
    let names: Option<Vec<&str>> = only.map(|v| v.iter().map(String::as_str).collect());
    let bytes = ModelPack::pack_dir(m.dir()?, names.as_deref())?;
    std::fs::write(out, &bytes).map_err(|e| Error::Io { path: out.into(), source: e })?;
    println!("wrote {}: {} bytes", out.display(), bytes.len());
    Ok(Code::Ok)
}
