//! Engine cold start for bench/footprint.sh: loads the default models (detector, embedder, learned quality,
//! liveness pair) from a model directory and from a pack in memory, alternating, on one thread; prints the
//! medians as JSON.
//!   cargo run --release --example footprint -- [MODEL_DIR] [RUNS]
use facekit::pack::ModelPack;
use facekit::{Engine, Options};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "../shared/models".into());
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(7);
    // The default pack (what `--features bundled` compiles in): no second detector, embedder or quality model.
    let names = ["yunet_s", "mobilefacenet", "lightqnet_dm050", "minifasnet_v2", "minifasnet_v1se"];
    let pack = ModelPack::pack_dir(&dir, Some(&names))?;
    let (mut from_dir, mut from_mem) = (vec![], vec![]);
    for _ in 0..runs {
        let t = Instant::now();
        let e = Engine::from_dir(&dir, Options::default())?;
        from_dir.push(t.elapsed().as_secs_f64() * 1e3);
        drop(e);
        let t = Instant::now();
        let e = Engine::from_pack_bytes(&pack, Options::default())?;
        from_mem.push(t.elapsed().as_secs_f64() * 1e3);
        drop(e);
    }
    println!(
        "{{\"load_ms\": {:.1}, \"load_ms_memory\": {:.1}, \"load_runs\": {}, \"pack_bytes\": {}}}",
        median(from_dir),
        median(from_mem),
        runs,
        pack.len()
    );
    Ok(())
}
