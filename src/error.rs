//! The one error type of facekit. Every variant maps one-to-one to a C status code (`src/ffi`).

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with a message a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required pointer/argument was missing (only produced by the C layer).
    #[error("null argument: {0}")]
    NullArgument(&'static str),
    /// An argument had a value outside its documented range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A caller-provided output buffer is too small; `needed` is the element count required.
    #[error("buffer too small: {needed} elements needed, {given} given")]
    BufferTooSmall { needed: usize, given: usize },
    /// The pixel buffer does not match its declared width/height/stride/format.
    #[error("invalid image: {0}")]
    InvalidImage(String),
    /// An encoded image file (JPEG/PNG) could not be decoded.
    #[error("cannot decode image {path}: {msg}")]
    Decode { path: String, msg: String },
    /// A model file or manifest could not be read.
    #[error("cannot load model: {0}")]
    ModelLoad(String),
    /// A model or manifest was read but is not what the manifest promises (bad ONNX, wrong shapes, bad fields).
    #[error("model format error: {0}")]
    ModelFormat(String),
    /// A model file's sha256 does not match the manifest.
    #[error("model checksum mismatch for {file}: manifest says {expected}, file has {actual}")]
    ModelChecksum { file: String, expected: String, actual: String },
    /// No face was found where one was required.
    #[error("no face found{0}")]
    NoFace(String),
    /// A file could not be read or written.
    #[error("i/o error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A stored file (gallery) failed verification: bad magic, version, checksum, truncation.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// Data made by another model or with another dimension (e.g. a gallery from a different embedder).
    #[error("incompatible data: {0}")]
    Incompatible(String),
    /// A looked-up item (gallery identity) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A feature this build does not include (e.g. the bundled model pack).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A capture refused because it fails the quality policy (dark, blurred, turned away, too small or cut off
    /// for the liveness check): the message says what to change. A decision was not taken.
    #[error("poor capture quality: {0}")]
    PoorQuality(String),
    /// A capture refused because the liveness check judged it a presentation attack (a print, a photo or a
    /// video on a screen) under the quality policy. Tell the user: "show your real face".
    #[error("not a live face: {0}")]
    NotLive(String),
    /// A bug or an inference-engine failure that the caller could not have prevented.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}
