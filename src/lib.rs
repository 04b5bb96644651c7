//! # facekit — on-device face recognition
//!
//! One frame flows one way: [`ImageView`] (the caller's pixels, any format/stride/rotation) → upright
//! [`Image`] → [`Engine::detect`] (YuNet: boxes, scores, 5 landmarks) → [`Engine::align`] (Umeyama similarity
//! onto the embedder's template) → [`Engine::embed`] (unit-length vector) → [`Engine::compare`] (cosine,
//! decided at a calibrated operating point). [`Engine::quality`] scores a capture before it is trusted,
//! [`Engine::liveness`] tells a live face from a print or a screen, and [`Engine::check_capture`] applies both
//! under the quality policy before a decision; [`gallery::Gallery`] answers "which enrolled person is this?".
//!
//! ```no_run
//! use facekit::{Engine, Image, Options};
//! let engine = Engine::find(Options::default())?;           // $FACEKIT_MODELS, ./models, ../shared/models
//! let a = Image::open("a.jpg")?;
//! let b = Image::open("b.jpg")?;
//! let m = engine.verify(&a, &b)?;
//! println!("similarity {:.3}, threshold {:.3} at {}: {}", m.similarity, m.threshold,
//!          m.operating_point.key(), if m.is_match { "same person" } else { "different people" });
//! # Ok::<(), facekit::Error>(())
//! ```
//!
//! The core is safe Rust (`#![deny(unsafe_code)]`; only the C-ABI module `ffi` is exempt). An [`Engine`] is
//! `Send + Sync`: share one across threads; calls never wait on each other.
#![deny(unsafe_code)]

pub mod align;
pub mod camera;
pub mod compare;
pub mod detect;
pub mod embed;
pub mod engine;
pub mod error;
pub mod ffi;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod gallery;
#[cfg(feature = "eval")]
pub mod eval;
pub mod image;
mod infer;
pub mod liveness;
pub mod pack;
pub mod quality;
mod read;
mod simd;
pub mod track;

pub use compare::{Match, OperatingPoint};
pub use detect::{DetectParams, Face};
pub use embed::Embedding;
pub use engine::{Capture, Engine, Mode, Options, ThresholdRule};
pub use error::{Error, Result};
pub use image::{Image, ImageView, PixelFormat, Rotation};
pub use liveness::{LivenessPoint, LivenessReport, LivenessStatus};
pub use quality::{QualityPolicy, QualityReport};
pub use track::{Tracker, TrackerOptions};

/// The model pack compiled in by the `bundled` feature (made by build.rs).
#[cfg(feature = "bundled")]
pub(crate) static BUNDLED_PACK: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bundled.fkpack"));

/// Crate version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests {
    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Engine>();
    }
}
