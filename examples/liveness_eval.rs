//! Liveness evaluation and calibration through the library, until the CLI's `facekit eval liveness` and
//! `facekit calibrate liveness` call the same functions (then this example can go).
//!
//!   cargo run --release --example liveness_eval -- DIR [--split NAME] [--models DIR] [--manifest FILE] [--threads N]
//!       prints the LivenessEvaluation as JSON (at the manifest's calibrated threshold)
//!   cargo run --release --example liveness_eval -- DIR --split devel --calibrate --out MANIFEST [...]
//!       calibrates the operating points on that split and writes the manifest with the calibration
use facekit::liveness::eval::{calibrate_dir, evaluate_dir};
use facekit::pack::{Manifest, ModelPack};
use facekit::{Engine, Error, Options};
use std::path::Path;

fn main() -> facekit::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let dir = args.first().cloned().ok_or_else(|| Error::invalid("usage: liveness_eval DIR [--split NAME] [--calibrate --out MANIFEST]"))?;
    let models = value("--models").unwrap_or_else(|| "../shared/models".into());
    let mut pack = ModelPack::from_dir(&models)?;
    if let Some(m) = value("--manifest") {
        pack = ModelPack::from_dir_with_manifest(&models, Manifest::parse(&std::fs::read_to_string(&m).map_err(|e| Error::invalid(format!("{m}: {e}")))?)?)?;
    }
    let engine = Engine::from_pack(&pack, Options { load_quality: false, ..Options::default() })?;
    let threads = value("--threads").and_then(|t| t.parse().ok()).unwrap_or(2);
    let split = value("--split");
    if args.iter().any(|a| a == "--calibrate") {
        let out = value("--out").ok_or_else(|| Error::invalid("--calibrate needs --out MANIFEST"))?;
        let cal = calibrate_dir(&engine, Path::new(&dir), split.as_deref(), threads, true)?;
        eprintln!("{}", serde_json::to_string_pretty(&cal).unwrap_or_default());
        let mut manifest = pack.manifest.clone();
        manifest.set_liveness_calibration(cal)?;
        std::fs::write(&out, manifest.to_json()).map_err(|e| Error::invalid(format!("{out}: {e}")))?;
        eprintln!("wrote {out}");
    } else {
        let (report, _) = evaluate_dir(&engine, Path::new(&dir), split.as_deref(), threads, true)?;
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    }
    Ok(())
}
