//! The command line as a user meets it: strict parsing (usage errors exit 2 with a hint), per-subcommand
//! help, the version, completions, and the exit codes a script branches on, on real photos.

use std::path::PathBuf;
use std::process::{Command, Output};

fn shared() -> PathBuf {
    std::env::var_os("FACEKIT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

fn lfw(name: &str, n: u32) -> String {
    shared().join(format!("data/lfw/images/{name}/{name}_{n:04}.jpg")).display().to_string()
}

fn facekit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_facekit"))
        .args(args)
        .env("FACEKIT_MODELS", shared().join("models"))
        .output()
        .expect("run facekit")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A usage error: exit code 2, a message naming the problem, and a usage hint.
fn usage_error(args: &[&str], mentions: &str) {
    let o = facekit(args);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?} should be a usage error:\n{t}");
    assert!(t.contains(mentions), "{args:?}: message should mention {mentions:?}:\n{t}");
    assert!(t.contains("Usage:") || t.contains("--help"), "{args:?}: no usage hint:\n{t}");
    assert!(o.stdout.is_empty(), "{args:?}: a usage error prints nothing on stdout");
}

#[test]
fn the_mistyped_option_of_the_issue_is_an_error_not_a_silent_change() {
    let root = shared().join("data/lfw").display().to_string();
    usage_error(&["eval", "lfw", &root, "--limit", "10", "--bogus", "--json"], "--bogus");
}

#[test]
fn unknown_option_missing_value_wrong_type_and_foreign_option_are_usage_errors() {
    let img = lfw("George_W_Bush", 1);
    usage_error(&["detect", &img, "--frobnicate"], "--frobnicate");
    usage_error(&["detect", &img, "--det-size"], "--det-size");
    usage_error(&["detect", &img, "--det-size", "big"], "big");
    usage_error(&["detect", &img, "--det-size", "4"], "--det-size"); // outside 32..=2048
    usage_error(&["detect", &img, "--min-score", "1.5"], "--min-score");
    usage_error(&["eval", "lfw", "x", "--limit", "-3"], "-3");
    usage_error(&["eval", "lfw", "x", "--limit", "many"], "many");
    usage_error(&["verify", &img, &img, "--op", "far_1e-9"], "far_1e-3"); // lists the allowed values
    usage_error(&["quality", &img, "--policy", "strict"], "enrolment");
    // Options of other subcommands.
    usage_error(&["pack", "/tmp/x.fkpack", "--json"], "--json");
    usage_error(&["bench", "gallery", "--image", &img], "--image");
    usage_error(&["detect", &img, "--op", "far_1e-3"], "--op");
    usage_error(&["verify", &img], "IMAGE_B");
    usage_error(&["frobnicate"], "frobnicate");
    usage_error(&[], "Usage");
}

#[test]
fn help_per_subcommand_version_and_completions() {
    let o = facekit(&["help", "verify"]);
    assert_eq!(o.status.code(), Some(0));
    let t = text(&o);
    assert!(t.contains("same person") && t.contains("--op") && t.contains("far_1e-4"), "{t}");
    let o = facekit(&["detect", "--help"]);
    let t = text(&o);
    assert!(t.contains("--min-score") && t.contains("[default: 0.5]") && t.contains("[default: 64]"), "defaults shown:\n{t}");
    let o = facekit(&["--help"]);
    let t = text(&o);
    assert!(t.contains("Exit codes") && t.contains("3  no face found"), "{t}");
    let o = facekit(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).contains(env!("CARGO_PKG_VERSION")));
    for shell in ["bash", "zsh", "fish"] {
        let o = facekit(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let t = String::from_utf8_lossy(&o.stdout);
        assert!(t.contains("facekit") && t.contains("verify") && t.contains("det-size"), "{shell} completions");
    }
    usage_error(&["completions", "tcsh"], "tcsh");
}

#[test]
fn verify_exit_codes_match_no_match_no_face_and_missing_file() {
    // LFW's press photos are photos of photos, which the liveness check refuses: these decide without it.
    let same = facekit(&["verify", &lfw("George_W_Bush", 1), &lfw("George_W_Bush", 2), "--json", "--no-liveness"]);
    let t = text(&same);
    assert_eq!(same.status.code(), Some(0), "{t}");
    let v: serde_json::Value = serde_json::from_slice(&same.stdout).expect("JSON on stdout");
    assert_eq!(v["match"], true);
    let diff = facekit(&["verify", &lfw("George_W_Bush", 1), &lfw("Colin_Powell", 1), "--no-liveness"]);
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff));
    assert!(text(&diff).contains("NO MATCH"));
    let white = shared().join("data/faces/face-api.js/test/images/white.png").display().to_string();
    let noface = facekit(&["verify", &white, &lfw("George_W_Bush", 1)]);
    assert_eq!(noface.status.code(), Some(3), "{}", text(&noface));
    let missing = facekit(&["verify", "/nonexistent/a.jpg", &lfw("George_W_Bush", 1)]);
    assert_eq!(missing.status.code(), Some(7), "{}", text(&missing));
}

fn replay(rel: &str) -> String {
    shared().join("data/liveness/replay-attack").join(rel).display().to_string()
}

#[test]
fn a_spoof_is_refused_with_its_own_exit_code() {
    let live_a = replay("real/test/client009_session01_webcam_authenticate_controlled_1.jpg");
    let live_b = replay("real/test/client009_session01_webcam_authenticate_controlled_2.jpg");
    let phone = replay("spoof/test/mobile_photo/fixed_attack_mobile_client009_session01_mobile_photo_controlled.jpg");
    let ok = facekit(&["verify", &live_a, &live_b]);
    assert_eq!(ok.status.code(), Some(0), "two live captures of one person match:\n{}", text(&ok));
    let spoof = facekit(&["verify", &live_a, &phone]);
    assert_eq!(spoof.status.code(), Some(4), "{}", text(&spoof));
    assert!(text(&spoof).contains("show your real face"), "{}", text(&spoof));
    let live = facekit(&["liveness", &live_a, "--json"]);
    assert_eq!(live.status.code(), Some(0), "{}", text(&live));
    let v: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    assert_eq!(v[0]["live"], true);
    assert!(v[0]["models"].as_object().is_some_and(|m| m.len() == 2), "{v}");
    let both = facekit(&["liveness", &live_a, &phone]);
    assert_eq!(both.status.code(), Some(4), "{}", text(&both));
    usage_error(&["liveness", &live_a, "--liveness-op", "apcer_0.5"], "apcer_5e-2");
}

#[test]
fn detector_settings_are_reachable() {
    let img = shared().join("data/faces/face_recognition/examples/two_people.jpg").display().to_string();
    let count = |extra: &[&str]| {
        let mut a = vec!["detect", img.as_str(), "--json"];
        a.extend_from_slice(extra);
        let o = facekit(&a);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v[0]["faces"].as_array().unwrap().len()
    };
    assert_eq!(count(&[]), 2);
    assert_eq!(count(&["--max-faces", "1"]), 1);
    assert_eq!(count(&["--min-face", "100000"]), 0);
    assert_eq!(count(&["--min-score", "0.9999"]), 0);
}

#[test]
fn unmeasurable_figures_are_not_printed_as_numbers() {
    // 10 pairs cannot measure TAR at FAR 1e-3: text says why, JSON says null.
    let dir = std::env::temp_dir().join(format!("fk-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let list = dir.join("pairs.tsv");
    let names = ["George_W_Bush", "Colin_Powell", "Tony_Blair", "Donald_Rumsfeld", "Gerhard_Schroeder"];
    let mut lines = String::new();
    for (i, n) in names.iter().enumerate() {
        lines += &format!("{}\t{}\t1\n", lfw(n, 1), lfw(n, 2));
        lines += &format!("{}\t{}\t0\n", lfw(n, 1), lfw(names[(i + 1) % names.len()], 3));
    }
    std::fs::write(&list, lines).unwrap();
    let l = list.display().to_string();
    let o = facekit(&["eval", "pairs", &l, "--threads", "2"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("TAR@FAR1e-3 n/a (too few impostor pairs)") && !t.contains("NaN"), "{t}");
    let o = facekit(&["eval", "pairs", &l, "--json", "--threads", "2"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(v["tar_at_far_1e-3"].is_null(), "{v}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clap_stays_out_of_the_library() {
    // The library's own dependency tree (what a Rust user or a firmware build compiles) has no clap.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let o = Command::new(cargo)
        .args(["tree", "--offline", "-p", "facekit", "-e", "normal,build", "--prefix", "none"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo tree");
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && t.contains("tract-onnx"), "cargo tree failed:\n{}", text(&o));
    assert!(!t.lines().any(|l| l.starts_with("clap")), "clap in the library's tree:\n{t}");
}

/// `facekit track` on hostile input: a video cut short is tracked as far as it decodes (with a warning); a file
/// that is not a video, an empty or missing one, a video without frames, an unknown raw format and a raw stream
/// ending inside a frame each get a clear message and their exit code.
#[test]
fn track_refuses_or_reports_bad_video_clearly() {
    let dir = std::env::temp_dir().join(format!("facekit-cli-track-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clip = std::fs::read(shared().join("data/video/intel_asl_brother.mkv")).unwrap();
    let path = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let cut = path("cut.mkv", &clip[..clip.len() / 6]);
    let o = facekit(&["track", &cut, "--no-liveness"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("warning") && t.contains("frames decoded"), "a cut video is tracked as far as it goes, with a warning:\n{t}");
    for (name, bytes) in [("header.mkv", &clip[..300]), ("empty.mp4", &clip[..0]), ("text.mp4", b"not a video".as_slice())] {
        let p = path(name, bytes);
        let o = facekit(&["track", &p]);
        assert_eq!(o.status.code(), Some(7), "{name}:\n{}", text(&o));
    }
    let o = facekit(&["track", &dir.join("missing.mp4").display().to_string()]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    usage_error(&["track", "-", "--raw", "64x48", "--format", "yuyv"], "yuyv");
    usage_error(&["track", "-", "--raw", "0x48", "--format", "nv21"], "0x48");
    // Raw frames on stdin: 1.5 NV21 frames of 64x48 → one frame tracked, the partial one dropped with a warning.
    let mut child = Command::new(env!("CARGO_BIN_EXE_facekit"))
        .args(["track", "-", "--raw", "64x48", "--format", "nv21", "--no-liveness"])
        .env("FACEKIT_MODELS", shared().join("models"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &vec![128u8; 64 * 48 * 3 / 2 * 3 / 2]).unwrap();
    let o = child.wait_with_output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("1 frames") && t.contains("partial frame is dropped"), "{t}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `eval identify --open-set --json` reports the issue's keys, rates in percent, on a small slice of LFW (the
/// first 40 people by name; the full run is BENCHMARKS.md's), and writes its DET plot with labelled axes.
#[test]
fn open_set_identification_reports_its_keys_and_det_plot() {
    let root = shared().join("data/lfw").display().to_string();
    let det = std::env::temp_dir().join(format!("facekit-cli-det-{}.svg", std::process::id()));
    let o = facekit(&["eval", "identify", &root, "--open-set", "--limit", "40", "--json", "--det", &det.display().to_string()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    for k in ["gallery_size", "mated_probes", "nonmated_probes", "rank1", "fnir_at_fpir_1e-1", "fnir_at_fpir_1e-2", "fnir_at_fpir_1e-3"] {
        assert!(v.get(k).is_some(), "key {k} missing: {v}");
    }
    assert!(v["gallery_size"].as_u64().unwrap() > 0 && v["mated_probes"].as_u64().unwrap() > 0 && v["nonmated_probes"].as_u64().unwrap() > 0);
    let rank1 = v["rank1"].as_f64().unwrap();
    assert!((50.0..=100.0).contains(&rank1), "rank-1 in percent: {rank1}");
    assert!(v["fnir_at_fpir_1e-3"].is_null(), "too few non-mated probes for 1e-3: null, not a number");
    let svg = std::fs::read_to_string(&det).expect("DET plot written");
    assert!(svg.contains("FPIR") && svg.contains("FNIR"), "axis labels");
    let _ = std::fs::remove_file(&det);
}

/// `eval camera` refuses what it cannot evaluate, saying what is wrong: a clip that is not PERSON=FILE, one
/// person only (leave-one-person-out needs two), a missing clip, and a bad `--thresholds`.
#[test]
fn eval_camera_refuses_what_it_cannot_evaluate() {
    let clip = |name: &str| shared().join(format!("data/video/intel_asl_{name}.mkv")).display().to_string();
    let cases: [(Vec<String>, &str); 3] = [
        (vec!["--clip".into(), clip("again")], "PERSON=FILE"),
        (vec!["--clip".into(), format!("A={}", clip("again")), "--clip".into(), format!("A={}", clip("yes"))], "at least 2 people"),
        (vec!["--clip".into(), "A=/nonexistent/clip.mkv".into(), "--clip".into(), format!("B={}", clip("bird"))], "clip.mkv"),
    ];
    for (args, mentions) in cases {
        let mut a = vec!["eval", "camera"];
        a.extend(args.iter().map(String::as_str));
        let o = facekit(&a);
        let t = text(&o);
        assert!(!o.status.success(), "{a:?} should fail:\n{t}");
        assert!(t.contains(mentions), "{a:?}: message should mention {mentions:?}:\n{t}");
        assert!(o.stdout.is_empty(), "{a:?}: nothing on stdout");
    }
    usage_error(&["eval", "camera", "--clip", "A=x", "--thresholds", "loose"], "loose");
}

/// `calibrate camera` refuses footage that cannot show what strangers score on the camera, says what is
/// missing, and writes nothing: no face at all, one person only (an ASL clip), one still frame repeated.
#[test]
fn calibrate_camera_refuses_thin_evidence_and_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("fk-cam-{}", std::process::id()));
    let (gray, still) = (dir.join("gray"), dir.join("still"));
    std::fs::create_dir_all(&gray).unwrap();
    std::fs::create_dir_all(&still).unwrap();
    let photo = std::fs::read(lfw("Aaron_Eckhart", 1)).unwrap();
    let empty = std::fs::read(shared().join("data/faces/face-api.js/test/images/white.png")).unwrap();
    for i in 0..6 {
        std::fs::write(still.join(format!("{i:03}.jpg")), &photo).unwrap();
        std::fs::write(gray.join(format!("{i:03}.png")), &empty).unwrap();
    }
    let out = dir.join("camera.json");
    let one_person = shared().join("data/video/intel_asl_again.mkv");
    for (footage, mentions) in [(gray.clone(), "no face"), (one_person, "in view together"), (still.clone(), "in view together")] {
        let o = facekit(&["calibrate", "camera", footage.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let t = text(&o);
        assert!(!o.status.success(), "{footage:?} should be refused:\n{t}");
        assert!(t.contains(mentions) && (mentions == "no face" || t.contains("at least 10")), "{footage:?}: should say {mentions:?}:\n{t}");
        assert!(!out.exists(), "{footage:?}: nothing may be written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scratch folder removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("facekit-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn gallery_export_import_round_trip_and_refusals() {
    let s = Scratch::new("interchange");
    let (g, npz, back) = (s.path("g.fkg"), s.path("g.npz"), s.path("back.fkg"));
    for (id, n) in [("bush", 1), ("bush", 2), ("powell", 1)] {
        let person = if id == "bush" { "George_W_Bush" } else { "Colin_Powell" };
        let o = facekit(&["enroll", &g, id, &lfw(person, n), "--force", "--no-liveness"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let o = facekit(&["gallery", "export", &g, "--out", &npz]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("3 templates of 2 identities"), "{}", text(&o));
    let o = facekit(&["gallery", "import", &npz, "--out", &back]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // The imported gallery decides as the original: same identity, same score, for a photo not enrolled.
    let probe = lfw("George_W_Bush", 3);
    let (a, b) = (facekit(&["identify", &g, &probe, "--json", "--no-liveness"]), facekit(&["identify", &back, &probe, "--json", "--no-liveness"]));
    assert_eq!(a.stdout, b.stdout, "{}\n{}", text(&a), text(&b));
    assert_eq!(a.status.code(), b.status.code());

    // Truncated: refused with the data-error code, --out untouched.
    let bytes = std::fs::read(&npz).unwrap();
    let cut = s.path("cut.npz");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    let before = std::fs::read(&back).unwrap();
    let o = facekit(&["gallery", "import", &cut, "--out", &back]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    assert!(text(&o).contains("truncated"), "{}", text(&o));
    assert_eq!(std::fs::read(&back).unwrap(), before, "nothing imported");
    // Another model: the accurate mode's embedder is another model id.
    let o = facekit(&["gallery", "import", &npz, "--out", &s.path("acc.fkg"), "--accurate"]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    assert!(text(&o).contains("made by model"), "{}", text(&o));
    assert!(!std::path::Path::new(&s.path("acc.fkg")).exists());
    // Not a gallery at all.
    let o = facekit(&["gallery", "export", &npz, "--out", &s.path("x.npz")]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
}
