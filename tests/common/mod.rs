//! Shared helpers of the integration tests: where `../shared` is, and engines built once per test binary.
#![allow(dead_code)]

use facekit::{Engine, Options};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The shared folder beside the repository (data, models, golden), or `$FACEKIT_SHARED`.
pub fn shared() -> PathBuf {
    std::env::var_os("FACEKIT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

pub fn models() -> PathBuf {
    shared().join("models")
}

pub fn data(rel: &str) -> PathBuf {
    shared().join("data").join(rel)
}

pub fn lfw(name: &str, n: u32) -> PathBuf {
    data("lfw/images").join(name).join(format!("{name}_{n:04}.jpg"))
}

/// The default engine (detector input 320, no flip), shared by the tests of one binary.
pub fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::from_dir(models(), Options::default()).expect("default engine loads"))
}

/// An engine with the reference's golden settings (detector input 640, LightQNet-dm100).
pub fn engine_640() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let mut o = Options::default();
        o.detect.input_size = 640;
        o.quality_model = Some("lightqnet_dm100".into());
        Engine::from_dir(models(), o).expect("engine loads")
    })
}

/// Every frame of a shared clip (`data/video/NAME`), decoded once each by ffmpeg exactly as `facekit track`
/// does (Debian's `ffmpeg`; `.ci/run` installs it).
pub fn video(name: &str) -> Vec<facekit::Image> {
    use std::process::Command;
    let path = data("video").join(name);
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0:s=x"])
        .arg(&path)
        .output()
        .expect("ffprobe (Debian package ffmpeg)");
    let dims = String::from_utf8_lossy(&probe.stdout);
    let (w, h) = dims.trim().trim_end_matches('x').split_once('x').expect("WxH");
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&path)
        .args(["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success(), "ffmpeg failed on {name}");
    let n = (w * h * 3) as usize;
    out.stdout.chunks_exact(n).map(|c| facekit::Image::from_rgb(w, h, c.to_vec()).unwrap()).collect()
}

/// The default engine with the policy's liveness requirement off, for decisions on LFW's press photos: a
/// photo of a photo by design, which the liveness check refuses about a third of the time (George_W_Bush_0002
/// scores 0.001). Tests of the refusal itself use Replay-Attack frames (tests/liveness.rs).
pub fn engine_for_press_photos() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let mut o = Options::default();
        o.quality.require_liveness = false;
        Engine::from_dir(models(), o).expect("engine loads")
    })
}
