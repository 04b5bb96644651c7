//! Exit codes a script can branch on (listed in `facekit --help` and the README).

use facekit::Error;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Success; for verify: the faces match; for identify: someone enrolled matched.
    Ok = 0,
    /// verify: no match; identify: nobody enrolled matched.
    NoMatch = 1,
    /// Unknown option, missing or bad value (clap uses 2 as well).
    Usage = 2,
    NoFace = 3,
    /// A decision refused the capture: not a live face (print, photo, screen).
    NotLive = 4,
    /// A decision refused the capture: quality too poor (or the face too small / cut off for liveness).
    PoorQuality = 5,
    Model = 6,
    Input = 7,
    Data = 8,
    Unsupported = 9,
    Internal = 10,
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> Self {
        ExitCode::from(c as u8)
    }
}

/// The exit code of a failure.
pub fn of_error(e: &Error) -> Code {
    match e {
        Error::NullArgument(_) | Error::InvalidArgument(_) | Error::BufferTooSmall { .. } => Code::Usage,
        Error::NoFace(_) => Code::NoFace,
        Error::NotLive(_) => Code::NotLive,
        Error::PoorQuality(_) => Code::PoorQuality,
        Error::ModelLoad(_) | Error::ModelFormat(_) | Error::ModelChecksum { .. } => Code::Model,
        Error::InvalidImage(_) | Error::Decode { .. } | Error::Io { .. } => Code::Input,
        Error::Corrupt(_) | Error::Incompatible(_) | Error::NotFound(_) => Code::Data,
        Error::Unsupported(_) => Code::Unsupported,
        Error::Internal(_) => Code::Internal,
    }
}

/// A percentage for text output, or why it cannot be given: a figure that cannot be measured is never
/// printed as a number (JSON carries `null` for it).
pub fn pct(v: f64, why: &str) -> String {
    if v.is_finite() { format!("{v:.2}%") } else { format!("n/a ({why})") }
}
