//! Reading a whole file whose size facekit bounds: the size is checked before anything is allocated, and
//! the read stops one byte past the limit, so neither a huge file nor an endless one (a device, a file that
//! grows while it is read) can make facekit allocate more than the limit.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Why a bounded read failed.
pub(crate) enum ReadError {
    Io(io::Error),
    /// The file holds more than the limit (at least this many bytes).
    TooLarge(u64),
}

/// The bytes of `path`, if it holds at most `limit` bytes.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    let len = file.metadata().map_err(ReadError::Io)?.len();
    if len > limit {
        return Err(ReadError::TooLarge(len));
    }
    // `len` is 0 for devices and some special files: the read below is what bounds them.
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}
