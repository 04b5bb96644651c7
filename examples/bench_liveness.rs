//! Times the liveness stage alone (both models: crops, resize, inference, softmax), single thread, on the
//! face of one image: median ms over `--runs` calls after two warm-up calls. Prints JSON. Used by
//! bench/liveness_vs_onnxruntime.sh, which times the onnxruntime reference in alternating rounds.
//!
//! cargo run --release --example bench_liveness -- IMAGE [--runs N] [--models DIR]
use facekit::{Engine, Image, Options};
use std::time::Instant;

fn main() -> facekit::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let image = args.first().cloned().ok_or_else(|| facekit::Error::invalid("usage: bench_liveness IMAGE [--runs N] [--models DIR]"))?;
    let runs: usize = value("--runs").and_then(|v| v.parse().ok()).unwrap_or(50);
    let t0 = Instant::now();
    let engine = Engine::from_dir(value("--models").unwrap_or_else(|| "../shared/models".into()), Options { load_quality: false, ..Options::default() })?;
    let load_ms = t0.elapsed().as_secs_f64() * 1e3;
    let img = Image::open(&image)?;
    let face = facekit::eval::primary_face(&engine, &img)?.ok_or_else(|| facekit::Error::NoFace(format!(" in {image}")))?;
    let live = engine.liveness_model().ok_or_else(|| facekit::Error::Unsupported("no liveness models".into()))?;
    let mut ms = Vec::with_capacity(runs);
    let mut score = 0.0;
    for i in 0..runs + 2 {
        let t = Instant::now();
        score = live.score(&img, &face)?.score;
        if i >= 2 {
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "{{\"image\": {:?}, \"width\": {}, \"height\": {}, \"runs\": {runs}, \"liveness_ms\": {:.4}, \"score\": {score:.6}, \"engine_load_ms\": {load_ms:.1}}}",
        image,
        img.width(),
        img.height(),
        ms[ms.len() / 2]
    );
    Ok(())
}
