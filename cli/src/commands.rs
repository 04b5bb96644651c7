//! The photo commands: detect, verify, quality, enroll, identify, pack.

use crate::args::{DecisionArgs, ModelArgs, PipelineArgs, QualityArgs};
use crate::draw::draw_faces;
use crate::exit::Code;
use facekit::gallery::Gallery;
use facekit::pack::ModelPack;
use facekit::quality::{reason, Component, QualityPolicy, QualityReport};
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

pub fn verify(m: &ModelArgs, p: &PipelineArgs, d: &DecisionArgs, a: &Path, b: &Path, json: bool) -> Result<Code, Error> {
    let mut o = p.options(None);
    o.operating_point = d.op;
    let e = crate::args::load(m, o)?;
    let (ia, ib) = (open(a)?, open(b)?);
    let ea = e.embed(&ia, &largest(&e, &ia, a)?)?;
    let eb = e.embed(&ib, &largest(&e, &ib, b)?)?;
    let r = e.compare(&ea, &eb)?;
    let cal = e.calibration().map(|c| c.dataset.clone()).unwrap_or_default();
    if json {
        println!(
            "{}",
            json!({
                "similarity": r.similarity, "match": r.is_match, "threshold": r.threshold,
                "operating_point": r.operating_point.key(), "false_accept_rate": r.operating_point.far(),
                "calibrated_on": cal,
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

fn open_gallery(e: &Engine, path: &Path) -> Result<Gallery, Error> {
    if path.exists() {
        Gallery::load(path, e.model_id(), e.dim())
    } else {
        Gallery::new(e.model_id(), e.dim())
    }
}

/// Enrolment refuses poor captures (enrolment policy) unless --force: a bad template hurts every later match.
pub fn enroll(m: &ModelArgs, p: &PipelineArgs, gallery: &Path, id: &str, images: &[PathBuf], force: bool) -> Result<Code, Error> {
    let q = QualityArgs { quality_model: None, policy: QualityPolicy::enrolment() };
    let e = p.engine(m, Some(&q))?;
    let g = open_gallery(&e, gallery)?;
    let mut added = 0;
    for path in images {
        let img = open(path)?;
        let face = largest(&e, &img, path)?;
        let r = e.quality(&img, &face)?;
        if !r.acceptable && !force {
            eprintln!(
                "skipped {}: quality {:.0}/100, {:?} (use --force to enroll anyway)",
                path.display(),
                r.overall,
                reason::names(r.reasons)
            );
            continue;
        }
        g.enroll(id, &[e.embed(&img, &face)?.as_slice()])?;
        added += 1;
    }
    g.save(gallery)?;
    println!("{id}: {added} template(s) added; gallery {} holds {} identities", gallery.display(), g.count());
    Ok(Code::Ok)
}

pub fn identify(m: &ModelArgs, p: &PipelineArgs, d: &DecisionArgs, gallery: &Path, image: &Path, json: bool) -> Result<Code, Error> {
    let e = p.engine(m, None)?;
    let g = Gallery::load(gallery, e.model_id(), e.dim())?;
    let img = open(image)?;
    let emb = e.embed(&img, &largest(&e, &img, image)?)?;
    let threshold = e.threshold(d.op)?;
    let hits = g.search(emb.as_slice(), 5, Some(threshold))?;
    if json {
        let h: Vec<Value> = hits.iter().map(|h| json!({"id": h.id, "similarity": h.similarity})).collect();
        println!("{}", json!({"identity": hits.first().map(|h| h.id.clone()), "hits": h, "threshold": threshold, "operating_point": d.op.key()}));
    } else if let Some(best) = hits.first() {
        println!("{} (similarity {:.4}, threshold {:.4} at {})", best.id, best.similarity, threshold, d.op.key());
        for h in &hits[1..] {
            println!("  also above threshold: {} ({:.4})", h.id, h.similarity);
        }
    } else {
        println!("nobody enrolled (no identity reaches the threshold {threshold:.4} at {})", d.op.key());
    }
    Ok(if hits.is_empty() { Code::NoMatch } else { Code::Ok })
}

pub fn pack(m: &ModelArgs, out: &Path, only: Option<&[String]>) -> Result<Code, Error> {
    let names: Option<Vec<&str>> = only.map(|v| v.iter().map(String::as_str).collect());
    let bytes = ModelPack::pack_dir(m.dir()?, names.as_deref())?;
    std::fs::write(out, &bytes).map_err(|e| Error::Io { path: out.into(), source: e })?;
    println!("wrote {}: {} bytes", out.display(), bytes.len());
    Ok(Code::Ok)
}
