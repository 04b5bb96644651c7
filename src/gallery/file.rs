//! The gallery file: format, atomic save, verified load.
//!
//! # Format, version 1
//! All integers and floats little-endian; no padding or alignment.
//!
//! | field | type | notes |
//! | --- | --- | --- |
//! | magic | 8 bytes | `b"FKGALRY\0"` |
//! | version | u32 | 1 |
//! | model id length | u16 | 1..=1024 |
//! | model id | bytes | UTF-8, no NUL |
//! | dim | u32 | 1..=4096 |
//! | identity count | u64 | at most [`MAX_IDENTITIES`] |
//! | template count | u64 | sum of the records' template counts, at least the identity count, at most [`MAX_TEMPLATES`] |
//! | records | | identity count times, in the gallery's internal order: |
//! | - id length | u16 | 1..=255 |
//! | - id | bytes | UTF-8, no NUL, unique in the file |
//! | - templates | u32 | at least 1 |
//! | - values | f32 × templates × dim | each template L2-normalised (norm² within 1e-3 of 1), finite |
//! | checksum | 32 bytes | SHA-256 of every byte before it |
//!
//! The whole file is at most [`MAX_FILE_BYTES`].
//!
//! The int8 copy is not stored; it is rebuilt on load. The trailing SHA-256 is part of every future version too,
//! so a reader checks it before trusting the version field: a damaged version field reads as
//! [`Error::Corrupt`], a genuine newer file as [`Error::Incompatible`].
//!
//! # Reading untrusted bytes
//! A valid checksum proves the file is intact, not that its writer was honest, so parsing trusts nothing:
//! every length and count is checked against the bytes that remain before anything is read or allocated, and
//! every value against its range. Any failure is [`Error::Corrupt`]; nothing panics.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::{check_id, check_model_id, Gallery, Store, MAX_DIM, MAX_FILE_BYTES, MAX_IDENTITIES, MAX_TEMPLATES};
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"FKGALRY\0";
const VERSION: u32 = 1;
const CHECKSUM_LEN: u64 = 32;
/// Magic, version, model id length, dim, two counts: the fixed part of the header.
const FIXED_HEADER_LEN: u64 = 8 + 4 + 2 + 4 + 8 + 8;
/// How far a stored template's squared norm may be from 1 (f32 rounding of a normalised vector is ~1e-7).
const NORM_TOLERANCE: f64 = 1e-3;
const IO_BUFFER: usize = 1 << 20;

/// Size of the file of a gallery with these counts (`key_bytes`: the identity keys' total length).
pub(super) fn file_len(model_id_len: usize, dim: usize, idents: usize, key_bytes: usize, templates: usize) -> u64 {
    let (idents, templates) = (idents as u64, templates as u64);
    FIXED_HEADER_LEN + model_id_len as u64 + idents * (2 + 4) + key_bytes as u64 + templates * 4 * dim as u64 + CHECKSUM_LEN
}

/// Checks counts against [`MAX_IDENTITIES`], [`MAX_TEMPLATES`] and [`MAX_FILE_BYTES`]; the message says which
/// limit is exceeded.
pub(super) fn check_size(
    model_id_len: usize,
    dim: usize,
    idents: usize,
    key_bytes: usize,
    templates: usize,
) -> std::result::Result<(), String> {
    if idents > MAX_IDENTITIES {
        return Err(format!("{idents} identities is more than the limit of {MAX_IDENTITIES}"));
    }
    if templates > MAX_TEMPLATES {
        return Err(format!("{templates} templates is more than the limit of {MAX_TEMPLATES}"));
    }
    let len = file_len(model_id_len, dim, idents, key_bytes, templates);
    if len > MAX_FILE_BYTES {
        return Err(format!("its file would be {len} bytes, more than the limit of {MAX_FILE_BYTES}"));
    }
    Ok(())
}

/// A file length over [`MAX_FILE_BYTES`] as an error, before anything is read.
fn check_file_len(len: u64) -> Result<()> {
    if len > MAX_FILE_BYTES {
        return Err(corrupt(format!("{len} bytes is more than the {MAX_FILE_BYTES}-byte limit of a gallery file")));
    }
    Ok(())
}

/// Distinguishes the temporary files of concurrent saves within one process.
static SAVE_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Gallery {
    /// Writes the gallery to `path` atomically and durably (see the module docs): temporary file in the same
    /// folder, `fsync`, rename over `path`, `fsync` of the folder. Searches may run meanwhile; enroll/remove wait.
    /// If anything fails (disk full, I/O error) the error is returned, the temporary file is removed and the
    /// file at `path` is untouched.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_through(path.as_ref(), |file| Box::new(file))
    }

    /// [`save`](Self::save) with the temporary file's writes passing through `wrap` (tests inject faults
    /// there: a writer that fails after N bytes).
    pub(super) fn save_through(&self, path: &Path, wrap: impl for<'f> FnOnce(&'f File) -> Box<dyn Write + 'f>) -> Result<()> {
        let name = path
            .file_name()
            .ok_or_else(|| Error::invalid(format!("gallery path {} has no file name", path.display())))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let store = self.read()?;
        let n = SAVE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{}.tmp-{}-{n}", name.to_string_lossy(), std::process::id()));
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let written = (|| {
            let mut w = BufWriter::with_capacity(IO_BUFFER, wrap(&file));
            self.encode(&store, &mut w)?;
            w.flush()
        })();
        // The snapshot is on its way to disk: let enroll/remove proceed during the fsync.
        drop(store);
        let written = written.and_then(|()| file.sync_all());
        drop(file);
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(tmp, e));
        }
        if let Err(e) = std::fs::rename(&tmp, path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(path, e));
        }
        sync_dir(dir).map_err(|e| Error::io(dir, e))
    }

    /// Reads a gallery saved by [`save`](Self::save), checking that it was made for `expected_model_id` and
    /// `expected_dim`. Damaged or truncated file: [`Error::Corrupt`]; other embedder or dimension or a newer
    /// format: [`Error::Incompatible`]. Streams the file twice (checksum, then parse) instead of holding a copy
    /// in memory, both times through one open handle: a concurrent `save` replaces the file by rename, which the
    /// open handle does not see, so the two passes read the same bytes.
    pub fn load(path: impl AsRef<Path>, expected_model_id: &str, expected_dim: usize) -> Result<Gallery> {
        Self::load_checked(path.as_ref(), Some((expected_model_id, expected_dim)))
    }

    /// [`load`](Self::load) for whichever embedder the file names (its [`model_id`](Self::model_id) and
    /// [`dim`](Self::dim) say which): for tools that move a gallery without deciding with it (`facekit gallery
    /// export`). Every other check is the same.
    pub fn load_any(path: impl AsRef<Path>) -> Result<Gallery> {
        Self::load_checked(path.as_ref(), None)
    }

    /// The two passes of [`load`](Self::load); `expected`: the embedder the file must be for, if any.
    fn load_checked(path: &Path, expected: Option<(&str, usize)>) -> Result<Gallery> {
        let io_err = |e| Error::io(path, e);
        let mut file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        check_file_len(len)?;
        verify(Source::new(BufReader::with_capacity(IO_BUFFER, &file), len, Some(path)))?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        parse(Source::new(BufReader::with_capacity(IO_BUFFER, &file), len - CHECKSUM_LEN, Some(path)), expected)
    }

    /// The file format as bytes (what [`save`](Self::save) writes).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let store = self.read()?;
        let mut out = Vec::new();
        self.encode(&store, &mut out).map_err(|e| Error::Internal(format!("encoding to memory: {e}")))?;
        Ok(out)
    }

    /// Reads the file format from memory; errors as [`load`](Self::load).
    pub fn from_bytes(bytes: &[u8], expected_model_id: &str, expected_dim: usize) -> Result<Gallery> {
        let len = bytes.len() as u64;
        check_file_len(len)?;
        verify(Source::new(bytes, len, None))?;
        parse(Source::new(bytes, len - CHECKSUM_LEN, None), Some((expected_model_id, expected_dim)))
    }

    /// Writes the whole file format to `w`; the caller holds the read lock for one consistent snapshot.
    fn encode(&self, store: &Store, w: impl Write) -> io::Result<()> {
        let mut w = HashingWriter { inner: w, hasher: Sha256::new() };
        w.write_all(MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        // Lengths and counts were range-checked when they entered the gallery; the casts cannot truncate.
        w.write_all(&(self.model_id.len() as u16).to_le_bytes())?;
        w.write_all(self.model_id.as_bytes())?;
        w.write_all(&(self.dim as u32).to_le_bytes())?;
        w.write_all(&(store.idents.len() as u64).to_le_bytes())?;
        w.write_all(&(store.owner.len() as u64).to_le_bytes())?;
        let mut values = Vec::with_capacity(4 * self.dim);
        for ident in &store.idents {
            w.write_all(&(ident.id.len() as u16).to_le_bytes())?;
            w.write_all(ident.id.as_bytes())?;
            w.write_all(&(ident.rows.len() as u32).to_le_bytes())?;
            for &r in &ident.rows {
                values.clear();
                values.extend(store.f32_row(r as usize).iter().flat_map(|x| x.to_le_bytes()));
                w.write_all(&values)?;
            }
        }
        let digest = w.hasher.finalize();
        w.inner.write_all(&digest)
    }
}

/// Passes writes through while hashing them.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Elsewhere (Windows) std cannot open a folder to flush it; the rename is still atomic.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// A reader that knows how many bytes it may still give and refuses to read past them, so a length field
/// can never make it read (or the caller allocate) more than the file holds.
struct Source<'a, R> {
    reader: R,
    remaining: u64,
    path: Option<&'a Path>,
}

impl<'a, R: Read> Source<'a, R> {
    fn new(reader: R, len: u64, path: Option<&'a Path>) -> Self {
        Source { reader, remaining: len, path }
    }

    /// Fills `buf`, or fails with [`Error::Corrupt`] if fewer bytes remain; `what` names the field.
    fn read(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        if buf.len() as u64 > self.remaining {
            return Err(corrupt(format!("truncated: {what} needs {} bytes, {} remain", buf.len(), self.remaining)));
        }
        self.reader.read_exact(buf).map_err(|e| match e.kind() {
            // The file shrank after its length was taken.
            io::ErrorKind::UnexpectedEof => corrupt(format!("truncated while reading {what}")),
            _ => Error::io(self.path.map_or_else(PathBuf::new, Path::to_path_buf), e),
        })?;
        self.remaining -= buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.read(&mut b, what)?;
        Ok(b)
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        self.array(what).map(u16::from_le_bytes)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        self.array(what).map(u64::from_le_bytes)
    }

    /// A UTF-8 string of `len` bytes (checked against what remains before allocating).
    fn string(&mut self, len: usize, what: &str) -> Result<String> {
        if len as u64 > self.remaining {
            return Err(corrupt(format!("truncated: {what} needs {len} bytes, {} remain", self.remaining)));
        }
        let mut b = vec![0u8; len];
        self.read(&mut b, what)?;
        String::from_utf8(b).map_err(|_| corrupt(format!("{what} is not UTF-8")))
    }
}

fn corrupt(msg: impl Into<String>) -> Error {
    Error::Corrupt(msg.into())
}

/// Checks length, magic and the trailing SHA-256 of the whole input (`src` covers all of it).
fn verify<R: Read>(mut src: Source<'_, R>) -> Result<()> {
    if src.remaining < FIXED_HEADER_LEN + CHECKSUM_LEN {
        return Err(corrupt(format!("truncated: {} bytes is shorter than any gallery file", src.remaining)));
    }
    let magic: [u8; 8] = src.array("magic")?;
    if &magic != MAGIC {
        return Err(corrupt("not a facekit gallery file (bad magic)"));
    }
    let mut hasher = Sha256::new();
    hasher.update(magic);
    let mut buf = vec![0u8; IO_BUFFER];
    while src.remaining > CHECKSUM_LEN {
        let n = (src.remaining - CHECKSUM_LEN).min(IO_BUFFER as u64) as usize;
        src.read(&mut buf[..n], "body")?;
        hasher.update(&buf[..n]);
    }
    let stored: [u8; 32] = src.array("checksum")?;
    if hasher.finalize().as_slice() != stored {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(())
}

/// Parses a verified body (`src` covers everything before the checksum) into a gallery; `expected`: the model
/// id and dimension it must have been made for (`None`: any).
fn parse<R: Read>(mut src: Source<'_, R>, expected: Option<(&str, usize)>) -> Result<Gallery> {
    let magic: [u8; 8] = src.array("magic")?;
    if &magic != MAGIC {
        return Err(corrupt("not a facekit gallery file (bad magic)"));
    }
    let version = src.u32("version")?;
    if version != VERSION {
        return Err(Error::Incompatible(format!(
            "gallery file format version {version}; this build reads version {VERSION}"
        )));
    }
    let model_len = src.u16("model id length")?;
    let model_id = src.string(model_len.into(), "model id")?;
    check_model_id(&model_id).map_err(corrupt)?;
    let dim = src.u32("dim")? as usize;
    if dim == 0 || dim > MAX_DIM {
        return Err(corrupt(format!("dimension {dim} is outside 1..={MAX_DIM}")));
    }
    let (expected_model_id, expected_dim) = expected.unwrap_or((model_id.as_str(), dim));
    if model_id != expected_model_id {
        return Err(Error::Incompatible(format!(
            "gallery was made for model {model_id:?}, expected {expected_model_id:?}"
        )));
    }
    if dim != expected_dim {
        return Err(Error::Incompatible(format!("gallery has dimension {dim}, expected {expected_dim}")));
    }
    let ident_count = src.u64("identity count")?;
    let row_count = src.u64("template count")?;
    if ident_count > MAX_IDENTITIES as u64 || row_count > MAX_TEMPLATES as u64 {
        return Err(corrupt(format!(
            "{ident_count} identities, {row_count} templates: more than the limits of {MAX_IDENTITIES}, {MAX_TEMPLATES}"
        )));
    }
    let row_bytes = 4 * dim as u64;
    // Bound both counts by the bytes left (a record needs at least 2 + 1 + 4 bytes and one template) before
    // they size any allocation.
    if ident_count.saturating_mul(7 + row_bytes) > src.remaining {
        return Err(corrupt(format!("identity count {ident_count} does not fit in the file")));
    }
    if row_count.saturating_mul(row_bytes) > src.remaining {
        return Err(corrupt(format!("template count {row_count} does not fit in the file")));
    }
    if row_count < ident_count {
        return Err(corrupt(format!("template count {row_count} is impossible for {ident_count} identities")));
    }
    let gallery = Gallery::new(&model_id, dim)?;
    {
        let mut store = gallery.write()?;
        store.reserve(ident_count as usize, row_count as usize);
        let mut rows_left = row_count;
        let mut buf = vec![0u8; 4 * dim];
        let mut row = vec![0f32; dim];
        for i in 0..ident_count {
            let id_len = src.u16("identity key length")?;
            let id = src.string(id_len.into(), "identity key")?;
            check_id(&id).map_err(|m| corrupt(format!("record {i}: {m}")))?;
            if store.index.contains_key(&id) {
                return Err(corrupt(format!("identity {id:?} appears twice")));
            }
            let templates = src.u32("template count")?;
            if templates == 0 || u64::from(templates) > rows_left {
                return Err(corrupt(format!("identity {id:?} has {templates} templates, {rows_left} left")));
            }
            rows_left -= u64::from(templates);
            let slot = store.slot_or_insert(&id);
            for _ in 0..templates {
                src.read(&mut buf, "template")?;
                for (x, b) in row.iter_mut().zip(buf.as_chunks::<4>().0) {
                    *x = f32::from_le_bytes(*b);
                }
                check_template(&row).map_err(|m| corrupt(format!("identity {id:?}: {m}")))?;
                store.push_row(slot, &row);
            }
        }
        if rows_left != 0 {
            return Err(corrupt(format!("{rows_left} templates announced but not stored")));
        }
        if src.remaining != 0 {
            return Err(corrupt(format!("{} unexpected bytes after the last record", src.remaining)));
        }
    }
    Ok(gallery)
}

/// A stored template must be what enrolment produces: finite and unit-norm.
pub(super) fn check_template(row: &[f32]) -> std::result::Result<(), String> {
    if row.iter().any(|x| !x.is_finite()) {
        return Err("template has a non-finite value".into());
    }
    let norm2: f64 = row.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if (norm2 - 1.0).abs() > NORM_TOLERANCE {
        return Err(format!("template has squared norm {norm2}, expected 1"));
    }
    Ok(())
}
