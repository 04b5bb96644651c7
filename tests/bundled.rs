//! The `bundled` feature: the default model pack compiled into the library, no files at run time.
//! Run with `cargo test --release --features bundled --test bundled` (.ci/run does).
#![cfg(feature = "bundled")]

mod common;
use facekit::{Engine, Image, Options};

#[test]
fn bundled_engine_needs_no_model_files() {
    let e = Engine::bundled(Options::default()).unwrap();
    assert!(e.origin().starts_with("<bundled pack"), "{}", e.origin());
    let a = Image::open(common::lfw("George_W_Bush", 1)).unwrap();
    let b = Image::open(common::lfw("George_W_Bush", 2)).unwrap();
    let m = e.verify(&a, &b).unwrap();
    assert!(m.is_match);
    // Same numbers as the directory pack.
    let d = common::engine().verify(&a, &b).unwrap();
    assert_eq!(m.similarity, d.similarity);
}
