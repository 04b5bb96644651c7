//! Runs the C tests in tests/c against the committed header and the built shared library: the happy path
//! on real photos, the bad-input table, 8 threads sharing one engine, and all of them again under valgrind
//! (when valgrind is installed; `.ci/run` installs it and sets FACEKIT_REQUIRE_VALGRIND=1) and built with
//! clang's AddressSanitizer and UndefinedBehaviorSanitizer (when clang is installed; `.ci/run` installs it
//! and sets FACEKIT_REQUIRE_SANITIZERS=1).

mod common;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// target/release (or debug): where cargo put libfacekit.so for this test binary.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// How the C test program is built and run.
#[derive(Clone, Copy, PartialEq)]
enum Check {
    Plain,
    Valgrind,
    /// clang -fsanitize=address,undefined: heap and stack errors, leaks (LeakSanitizer) and undefined
    /// behaviour in the C program and at every pointer the library hands back; the first report fails it.
    Sanitizers,
}

/// Compiles tests/c/api_test.c once per test binary with warnings as errors: with `$CC` (default `cc`), or
/// with clang and the sanitizers.
fn program(sanitized: bool) -> &'static Path {
    static PLAIN: OnceLock<PathBuf> = OnceLock::new();
    static SANITIZED: OnceLock<PathBuf> = OnceLock::new();
    (if sanitized { &SANITIZED } else { &PLAIN }).get_or_init(|| {
        let lib = lib_dir();
        assert!(
            lib.join("libfacekit.so").exists(),
            "libfacekit.so not built in {}: run `cargo build --release` before `cargo test --release`",
            lib.display()
        );
        // The SONAME is libfacekit.so.<major>; cargo writes only libfacekit.so, so link the versioned name.
        let soname = lib.join(format!("libfacekit.so.{}", env!("CARGO_PKG_VERSION_MAJOR")));
        if !soname.exists() {
            let _ = std::os::unix::fs::symlink("libfacekit.so", &soname);
        }
        let (out, mut cmd) = if sanitized {
            let mut c = Command::new("clang");
            c.args(["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]);
            (lib.join("c_api_test_sanitized"), c)
        } else {
            (lib.join("c_api_test"), Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into())))
        };
        let st = cmd
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-g", "-o"])
            .arg(&out)
            .arg(root().join("tests/c/api_test.c"))
            .arg(format!("-I{}", root().join("include").display()))
            .arg(format!("-L{}", lib.display()))
            .arg(format!("-Wl,-rpath,{}", lib.display()))
            .args(["-lfacekit", "-lpthread", "-lm", "-ldl"])
            .status()
            .expect("a C compiler");
        assert!(st.success(), "compiling tests/c/api_test.c failed");
        out
    })
}

fn run(mode: &str, extra: &[&str], check: Check) {
    let mut cmd = match check {
        Check::Plain => Command::new(program(false)),
        Check::Valgrind => {
            let mut c = Command::new("valgrind");
            // A 160-pixel detector input: valgrind runs inference ~50x slower, and what it checks is memory
            // safety, not accuracy (the decisions asserted still hold at 160 on LFW's 250x250 photos).
            c.env("FK_TEST_DET_SIZE", "160").env("FK_TEST_VALGRIND", "1");
            c.args(["--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=definite,possible", "--quiet"])
                .arg(format!("--suppressions={}", root().join("tests/c/valgrind.supp").display()))
                .arg(program(false));
            c
        }
        Check::Sanitizers => {
            let mut c = Command::new(program(true));
            c.env("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1")
                .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1");
            c
        }
    };
    let out = cmd.arg(common::shared()).arg(mode).args(extra).output().expect("run the C test");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}");
    let how = match check {
        Check::Plain => "",
        Check::Valgrind => " under valgrind",
        Check::Sanitizers => " under ASan+UBSan",
    };
    assert!(out.status.success(), "C test '{mode}'{how} failed:\n{text}");
    if check == Check::Sanitizers {
        for report in ["Sanitizer", "runtime error:"] {
            assert!(!text.contains(report), "C test '{mode}'{how} printed a sanitizer report:\n{text}");
        }
    }
}

fn have_clang() -> bool {
    let ok = Command::new("clang").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        assert!(std::env::var_os("FACEKIT_REQUIRE_SANITIZERS").is_none(), "clang is required but not installed");
        eprintln!("clang not installed: skipping the sanitizer run");
    }
    ok
}

fn have_valgrind() -> bool {
    let ok = Command::new("valgrind").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        assert!(std::env::var_os("FACEKIT_REQUIRE_VALGRIND").is_none(), "valgrind is required but not installed");
        eprintln!("valgrind not installed: skipping the valgrind run");
    }
    ok
}

#[test]
fn c_happy_path_on_real_photos() {
    run("happy", &[], Check::Plain);
}

/// Model directories for the bad-input table: one whose manifest has no liveness entries, one whose manifest
/// says MiniFASNetV2 has 2 classes (it has 3). The model files are links to ../shared/models; the folders live
/// beside the test program in target/ and are remade by every run.
fn liveness_dirs() -> [String; 2] {
    static D: OnceLock<[String; 2]> = OnceLock::new();
    D.get_or_init(|| {
        let make = |tag: &str, edit: &dyn Fn(&mut facekit::pack::Manifest)| {
            let d = lib_dir().join(format!("c-test-models-{tag}"));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            let mut m = facekit::pack::Manifest::default_manifest();
            edit(&mut m);
            for s in &m.models {
                std::os::unix::fs::symlink(common::models().join(&s.file), d.join(&s.file)).unwrap();
            }
            std::fs::write(d.join("manifest.json"), m.to_json()).unwrap();
            d.display().to_string()
        };
        [
            make("nolive", &|m| {
                m.liveness = None;
                m.models.retain(|s| s.liveness.is_none());
            }),
            make("mismatch", &|m| {
                let v2 = m.model_mut("minifasnet_v2").unwrap();
                v2.output.as_mut().unwrap().dim = 2;
                v2.liveness.as_mut().unwrap().live_class = 0;
            }),
        ]
    })
    .clone()
}

#[test]
fn c_bad_input_table() {
    let [a, b] = liveness_dirs();
    run("bad", &[&a, &b], Check::Plain);
}

/// `FACEKIT_C_THREAD_CALLS` (default 50) calls per thread: cross/test.sh runs fewer under QEMU, where each
/// call is ~25x slower.
#[test]
fn c_eight_threads_share_one_engine() {
    let calls = std::env::var("FACEKIT_C_THREAD_CALLS").unwrap_or_else(|_| "50".into());
    run("threads", &[&calls], Check::Plain);
}

// The same programs under valgrind (separate tests so the harness runs them side by side).
#[test]
fn c_bad_input_table_under_valgrind() {
    if have_valgrind() {
        let [a, b] = liveness_dirs();
        run("bad", &[&a, &b], Check::Valgrind);
    }
}

#[test]
fn c_happy_path_under_valgrind() {
    if have_valgrind() {
        run("happy", &[], Check::Valgrind);
    }
}

#[test]
fn c_threads_under_valgrind() {
    if have_valgrind() {
        // One call per thread (plus the reference call): valgrind serialises the 8 threads, ~25 s a verify.
        run("threads", &["1"], Check::Valgrind);
    }
}

// And built with the sanitizers: these run at native speed (the library itself is not instrumented; ASan
// still checks every allocation it makes, through the intercepted malloc/free).
#[test]
fn c_happy_path_under_sanitizers() {
    if have_clang() {
        run("happy", &[], Check::Sanitizers);
    }
}

#[test]
fn c_bad_input_table_under_sanitizers() {
    if have_clang() {
        let [a, b] = liveness_dirs();
        run("bad", &[&a, &b], Check::Sanitizers);
    }
}

#[test]
fn c_threads_under_sanitizers() {
    if have_clang() {
        run("threads", &["20"], Check::Sanitizers);
    }
}

/// The shared library exports only the `fk_` C API, under a versioned SONAME.
#[test]
fn shared_library_exports_only_fk_symbols() {
    let so = lib_dir().join("libfacekit.so");
    let out = Command::new("nm").args(["-D", "--defined-only"]).arg(&so).output().expect("nm (binutils)");
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert!(names.len() >= 30, "too few exports: {names:?}");
    let foreign: Vec<&&str> = names.iter().filter(|n| !n.starts_with("fk_")).collect();
    assert!(foreign.is_empty(), "non-fk_ exports: {foreign:?}");
    let dynamic = Command::new("readelf").arg("-d").arg(&so).output().expect("readelf");
    let soname = format!("libfacekit.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
    assert!(String::from_utf8_lossy(&dynamic.stdout).contains(&soname), "SONAME is not {soname}");
}
