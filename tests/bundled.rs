//! The `bundled` feature: the default model pack compiled into the library, no files at run time.
//! Run with `cargo test --release --features bundled --test bundled` (.ci/run does).
#![cfg(feature = "bundled")]

mod common;
use facekit::{Engine, Image, Options};

#[test]
fn bundled_engine_needs_no_model_files() {
    // LFW press photos: the policy's liveness requirement is off for them (see common::engine_for_press_photos).
    let mut o = Options::default();
    o.quality.require_liveness = false;
    let e = Engine::bundled(o).unwrap();
    assert!(e.origin().starts_with("<bundled pack"), "{}", e.origin());
    let a = Image::open(common::lfw("George_W_Bush", 1)).unwrap();
    let b = Image::open(common::lfw("George_W_Bush", 2)).unwrap();
    let m = e.verify(&a, &b).unwrap();
    assert!(m.is_match);
    // Same numbers as the directory pack.
    let d = common::engine_for_press_photos().verify(&a, &b).unwrap();
    assert_eq!(m.similarity, d.similarity);
    // The liveness models are in the pack too.
    let face = e.largest_face(&a).unwrap();
    let (l, d) = (e.liveness(&a, &face).unwrap(), common::engine().liveness(&a, &face).unwrap());
    assert_eq!((l.score, l.model_scores[..2].to_vec(), l.threshold), (d.score, d.model_scores[..2].to_vec(), d.threshold));
}
