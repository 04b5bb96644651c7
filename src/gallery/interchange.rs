//! The interchange file: a gallery's templates as a NumPy `.npz`, so that a gallery moves between a device, a
//! central gallery (Milvus, `facekit.milvus`) and any tool that reads NumPy, with or without Python
//! (`facekit gallery export` / `facekit gallery import`).
//!
//! # Format
//! An uncompressed ZIP archive (what `numpy.savez` writes; `numpy.savez_compressed` is refused) of three
//! `.npy` arrays, little-endian, C order:
//!
//! | member | dtype | shape | contents |
//! | --- | --- | --- | --- |
//! | `identities.npy` | `<U` (text) | `(n,)` | the identity key of each template (UTF-8 1..=255 bytes, no NUL) |
//! | `templates.npy` | `<f4` | `(n, dim)` | the templates: unit-norm, exactly the `f32` values the gallery stores and scores with |
//! | `model_id.npy` | `<U` (text) | `()` | the embedder's model id (a gallery of another model is refused) |
//!
//! One row per template; an identity with several templates appears on several rows. The templates are the
//! gallery's own `f32` rows (the int8 copy is only a search accelerator and is rebuilt on import), so a
//! gallery exported, carried anywhere as `float32` and imported again answers every search bit for bit as
//! the original did. In Python: `np.load(f)["templates"]`, and `np.savez(f, identities=…, templates=…,
//! model_id=…)` writes a file `import` reads.
//!
//! # Reading untrusted bytes
//! Every offset and length of the ZIP structure and every `.npy` header is checked against the bytes that
//! exist before use, each member's CRC-32 is verified, and the arrays must agree (as many identities as
//! templates, `dim` columns): any failure is [`Error::Corrupt`] and nothing is imported. ZIP64 records (which
//! `numpy.savez` writes in local headers) are understood.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Gallery, MAX_FILE_BYTES};
use crate::error::{Error, Result};

const IDENTITIES: &str = "identities.npy";
const TEMPLATES: &str = "templates.npy";
const MODEL_ID: &str = "model_id.npy";
/// Largest interchange file read: the values of the largest gallery plus its keys as UTF-32 (`<U`).
const MAX_NPZ_BYTES: u64 = 3 * MAX_FILE_BYTES;

impl Gallery {
    /// Writes the gallery's templates to `path` as an interchange file (module docs), atomically: a temporary
    /// file in the same folder, flushed, then renamed over `path`.
    pub fn export_npz(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        write_atomic(path, &self.to_npz_bytes()?)
    }

    /// The interchange file as bytes.
    pub fn to_npz_bytes(&self) -> Result<Vec<u8>> {
        let (ids, rows) = self.templates()?;
        let n = ids.len();
        let members = [
            (IDENTITIES, text_npy(&ids, &format!("({n},)"))),
            (TEMPLATES, npy("<f4", &format!("({n}, {})", self.dim()), &rows.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())),
            (MODEL_ID, text_npy(&[self.model_id().to_owned()], "()")),
        ];
        zip_stored(&members)
    }

    /// Reads an interchange file into a new gallery, which must be of `expected_model_id` and `expected_dim`
    /// ([`Error::Incompatible`] naming both ids otherwise). Truncated or damaged file, arrays that disagree, a
    /// template that is not unit-norm: [`Error::Corrupt`]. Nothing is returned unless all of it is valid.
    pub fn import_npz(path: impl AsRef<Path>, expected_model_id: &str, expected_dim: usize) -> Result<Gallery> {
        let path = path.as_ref();
        let len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
        if len > MAX_NPZ_BYTES {
            return Err(Error::Corrupt(format!("{}: {len} bytes is more than the {MAX_NPZ_BYTES}-byte limit of an interchange file", path.display())));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Gallery::from_npz_bytes(&bytes, expected_model_id, expected_dim).map_err(|e| match e {
            Error::Corrupt(m) => Error::Corrupt(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// [`import_npz`](Self::import_npz) from memory.
    pub fn from_npz_bytes(bytes: &[u8], expected_model_id: &str, expected_dim: usize) -> Result<Gallery> {
        let members = zip_members(bytes)?;
        let member = |name: &str| {
            members.iter().find(|(n, _)| n == name).map(|(_, d)| *d).ok_or_else(|| corrupt(format!("no {name} in the archive")))
        };
        let model = read_npy(member(MODEL_ID)?, MODEL_ID)?;
        if !model.shape.is_empty() && model.shape != [1] {
            return Err(corrupt(format!("{MODEL_ID} has shape {:?}, expected one text", model.shape)));
        }
        let model_id = model.texts(MODEL_ID)?.pop().unwrap_or_default();
        if model_id != expected_model_id {
            return Err(Error::Incompatible(format!(
                "interchange file was made by model {model_id:?}, expected {expected_model_id:?}"
            )));
        }
        let ids_npy = read_npy(member(IDENTITIES)?, IDENTITIES)?;
        let tpl = read_npy(member(TEMPLATES)?, TEMPLATES)?;
        let [rows, dim] = tpl.shape[..] else {
            return Err(corrupt(format!("{TEMPLATES} has shape {:?}, expected (templates, dim)", tpl.shape)));
        };
        if dim != expected_dim {
            return Err(Error::Incompatible(format!("interchange file has dimension {dim}, expected {expected_dim}")));
        }
        if tpl.descr != "<f4" {
            return Err(corrupt(format!("{TEMPLATES} has dtype {}, expected <f4 (float32)", tpl.descr)));
        }
        if ids_npy.shape.len() != 1 {
            return Err(corrupt(format!("{IDENTITIES} has shape {:?}, expected (templates,)", ids_npy.shape)));
        }
        let ids = ids_npy.texts(IDENTITIES)?;
        if ids.len() != rows {
            return Err(corrupt(format!("{} identities for {rows} templates: the arrays must have one row each", ids.len())));
        }
        let g = Gallery::new(&model_id, dim)?;
        let mut row = vec![0f32; dim];
        for (i, (id, raw)) in ids.iter().zip(tpl.data.chunks_exact(4 * dim.max(1))).enumerate() {
            for (x, b) in row.iter_mut().zip(raw.chunks_exact(4)) {
                *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            g.add_template(id, &row).map_err(|e| match e {
                Error::InvalidArgument(m) => corrupt(format!("template {i}: {m}")),
                other => other,
            })?;
        }
        Ok(g)
    }
}

/// Writes a NumPy archive of text arrays and float32 matrices (`(name, values, columns)`, row-major),
/// uncompressed like `numpy.savez`, atomically: for tools that hand embeddings to Python (the open-set
/// protocol's probes). `numpy.load(path)[name]` reads each array back.
pub fn write_npz(path: &Path, texts: &[(&str, &[String])], matrices: &[(&str, &[f32], usize)]) -> Result<()> {
    let mut members: Vec<(String, Vec<u8>)> = texts.iter().map(|(n, t)| (format!("{n}.npy"), text_npy(t, &format!("({},)", t.len())))).collect();
    for (n, values, cols) in matrices {
        let cols = (*cols).max(1);
        let data: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        members.push((format!("{n}.npy"), npy("<f4", &format!("({}, {cols})", values.len() / cols), &data)));
    }
    write_atomic(path, &zip_stored(&members)?)
}

fn corrupt(msg: impl Into<String>) -> Error {
    Error::Corrupt(format!("interchange file: {}", msg.into()))
}

// ---------------------------------------------------------------------------------------------------------
// .npy

/// One parsed `.npy` array: dtype string, shape, and exactly its data bytes.
struct Npy<'a> {
    descr: String,
    shape: Vec<usize>,
    data: &'a [u8],
}

impl Npy<'_> {
    /// The elements of a `<U{n}` array as strings (UTF-32 code points, trailing NULs dropped as NumPy does).
    fn texts(&self, name: &str) -> Result<Vec<String>> {
        let width: usize = self
            .descr
            .strip_prefix("<U")
            .and_then(|w| w.parse().ok())
            .ok_or_else(|| corrupt(format!("{name} has dtype {}, expected text (<U)", self.descr)))?;
        if width == 0 {
            return Err(corrupt(format!("{name} has text width 0")));
        }
        self.data
            .chunks_exact(4 * width)
            .map(|item| {
                let mut units: Vec<u32> = item.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                while units.last() == Some(&0) {
                    units.pop();
                }
                units
                    .into_iter()
                    .map(|c| char::from_u32(c).ok_or_else(|| corrupt(format!("{name} holds an invalid character U+{c:X}"))))
                    .collect()
            })
            .collect()
    }
}

/// Parses `bytes` as a `.npy` file (versions 1 to 3) and checks that its data has exactly the size its
/// header announces.
fn read_npy<'a>(bytes: &'a [u8], name: &str) -> Result<Npy<'a>> {
    let bad = |m: &str| corrupt(format!("{name}: {m}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy array (bad magic or truncated)"));
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10usize),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(bad(&format!(".npy version {v} is not supported"))),
    };
    let header = bytes.get(start..start.saturating_add(header_len)).ok_or_else(|| bad("truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text"))?;
    let field = |key: &str| header.split_once(&format!("'{key}':")).map(|(_, rest)| rest.trim_start());
    let descr = field("descr")
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.split_once('\''))
        .map(|(d, _)| d.to_owned())
        .ok_or_else(|| bad("header has no descr"))?;
    if field("fortran_order").is_none_or(|r| !r.starts_with("False")) {
        return Err(bad("Fortran-ordered or unspecified order; save a C-ordered array"));
    }
    let dims = field("shape").and_then(|r| r.strip_prefix('(')).and_then(|r| r.split_once(')')).ok_or_else(|| bad("header has no shape"))?.0;
    let shape = dims
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>().map_err(|_| bad(&format!("shape value {d:?} is not a count"))))
        .collect::<Result<Vec<_>>>()?;
    let item = match descr.as_str() {
        "<f4" => 4,
        d => match d.strip_prefix("<U").and_then(|w| w.parse::<usize>().ok()) {
            Some(w) => w.checked_mul(4).ok_or_else(|| bad("text width is too large"))?,
            None => return Err(bad(&format!("dtype {d} is not supported (float32 <f4 or text <U)"))),
        },
    };
    let size = shape.iter().try_fold(item, |acc, &d| acc.checked_mul(d)).ok_or_else(|| bad("shape is too large"))?;
    let data = &bytes[start + header_len..];
    if data.len() != size {
        return Err(bad(&format!("holds {} bytes of data, its header announces {size} (truncated or damaged)", data.len())));
    }
    Ok(Npy { descr, shape, data })
}

/// A version 1.0 `.npy` file: header padded with spaces so the data starts at a multiple of 64, as NumPy does.
pub(super) fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    // The header is short (descr and shape), far below u16::MAX.
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A `<U{width}` array of `texts` (UTF-32, NUL-padded to the longest).
pub(super) fn text_npy(texts: &[String], shape: &str) -> Vec<u8> {
    let width = texts.iter().map(|t| t.chars().count()).max().unwrap_or(0).max(1);
    let mut data = Vec::with_capacity(texts.len() * width * 4);
    for t in texts {
        let n = t.chars().count();
        data.extend(t.chars().flat_map(|c| u32::from(c).to_le_bytes()));
        data.resize(data.len() + 4 * (width - n), 0);
    }
    npy(&format!("<U{width}"), shape, &data)
}

// ---------------------------------------------------------------------------------------------------------
// ZIP (stored members only)

fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    at.checked_add(2).and_then(|end| b.get(at..end)).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or_else(|| corrupt("truncated ZIP structure"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    at.checked_add(4).and_then(|end| b.get(at..end)).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok_or_else(|| corrupt("truncated ZIP structure"))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    let hi = at.checked_add(4).ok_or_else(|| corrupt("ZIP offset out of range"))?;
    Ok(u64::from(u32_at(b, at)?) | (u64::from(u32_at(b, hi)?) << 32))
}

fn usize_of(v: u64) -> Result<usize> {
    usize::try_from(v).map_err(|_| corrupt("ZIP offset out of range"))
}

/// The members of a ZIP archive whose entries are all stored (uncompressed): `(name, data)`, CRC-checked.
fn zip_members(zip: &[u8]) -> Result<Vec<(String, &[u8])>> {
    // End of central directory: 22 bytes plus a comment of up to 65,535, at the very end.
    let lowest = zip.len().saturating_sub(22 + 0xFFFF);
    let eocd = (lowest..=zip.len().saturating_sub(22))
        .rev()
        .find(|&i| zip.len() >= 22 && zip[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or_else(|| corrupt("not a ZIP archive, or truncated (no end of central directory)"))?;
    let mut count = u64::from(u16_at(zip, eocd + 10)?);
    let mut cd_offset = u64::from(u32_at(zip, eocd + 16)?);
    if count == 0xFFFF || cd_offset == 0xFFFF_FFFF {
        // ZIP64: a locator just before the end record points to the ZIP64 end record.
        let loc = eocd.checked_sub(20).ok_or_else(|| corrupt("truncated ZIP64 locator"))?;
        if u32_at(zip, loc)? != 0x0706_4b50 {
            return Err(corrupt("ZIP64 locator missing"));
        }
        let rec = usize_of(u64_at(zip, loc + 8)?)?;
        if u32_at(zip, rec)? != 0x0606_4b50 {
            return Err(corrupt("ZIP64 end record missing"));
        }
        count = u64_at(zip, rec + 32)?;
        cd_offset = u64_at(zip, rec + 48)?;
    }
    if count > 64 {
        return Err(corrupt(format!("{count} members; an interchange file has 3")));
    }
    let mut at = usize_of(cd_offset)?;
    let mut out = Vec::new();
    for _ in 0..count {
        if u32_at(zip, at)? != 0x0201_4b50 {
            return Err(corrupt("damaged central directory"));
        }
        let flags = u16_at(zip, at + 8)?;
        let method = u16_at(zip, at + 10)?;
        let crc = u32_at(zip, at + 16)?;
        let mut csize = u64::from(u32_at(zip, at + 20)?);
        let mut size = u64::from(u32_at(zip, at + 24)?);
        let name_len = usize::from(u16_at(zip, at + 28)?);
        let extra_len = usize::from(u16_at(zip, at + 30)?);
        let comment_len = usize::from(u16_at(zip, at + 32)?);
        let mut local = u64::from(u32_at(zip, at + 42)?);
        let name = zip.get(at + 46..at + 46 + name_len).ok_or_else(|| corrupt("truncated member name"))?;
        let name = String::from_utf8_lossy(name).into_owned();
        // ZIP64 extra field: 64-bit values for those of size, compressed size, offset that are 0xFFFFFFFF.
        let extra = zip.get(at + 46 + name_len..at + 46 + name_len + extra_len).ok_or_else(|| corrupt("truncated extra field"))?;
        let mut e = 0;
        while e + 4 <= extra.len() {
            let (id, len) = (u16_at(extra, e)?, usize::from(u16_at(extra, e + 2)?));
            if id == 1 {
                let mut p = e + 4;
                for v in [&mut size, &mut csize, &mut local] {
                    if *v == 0xFFFF_FFFF {
                        *v = u64_at(extra, p)?;
                        p += 8;
                    }
                }
            }
            e += 4 + len;
        }
        at += 46 + name_len + extra_len + comment_len;
        if flags & 1 != 0 {
            return Err(corrupt(format!("{name} is encrypted")));
        }
        if method != 0 {
            return Err(corrupt(format!("{name} is compressed (method {method}); write the file with numpy.savez, not savez_compressed")));
        }
        if csize != size {
            return Err(corrupt(format!("{name}: stored size {csize} differs from its size {size}")));
        }
        let local = usize_of(local)?;
        if u32_at(zip, local)? != 0x0403_4b50 {
            return Err(corrupt(format!("{name}: damaged local header")));
        }
        let start = local + 30 + usize::from(u16_at(zip, local + 26)?) + usize::from(u16_at(zip, local + 28)?);
        let data = start
            .checked_add(usize_of(size)?)
            .and_then(|end| zip.get(start..end))
            .ok_or_else(|| corrupt(format!("{name}: truncated ({size} bytes announced)")))?;
        if crc32fast::hash(data) != crc {
            return Err(corrupt(format!("{name}: CRC-32 mismatch (damaged)")));
        }
        out.push((name, data));
    }
    Ok(out)
}

/// A ZIP archive of stored members (no compression, no ZIP64: an interchange file stays far below 4 GiB).
pub(super) fn zip_stored<S: AsRef<str>>(members: &[(S, Vec<u8>)]) -> Result<Vec<u8>> {
    let total: usize = members.iter().map(|(n, d)| 2 * (46 + n.as_ref().len()) + d.len()).sum::<usize>() + 22;
    if total as u64 > u64::from(u32::MAX) {
        return Err(Error::invalid(format!("the interchange file would be {total} bytes, more than 4 GiB")));
    }
    let mut out = Vec::with_capacity(total);
    let mut central = Vec::new();
    // Fixed date (1980-01-01 00:00): the same gallery always gives the same bytes.
    let (time, date) = (0u16, 0x21u16);
    for (name, data) in members {
        let name = name.as_ref();
        let (crc, len, offset) = (crc32fast::hash(data), data.len() as u32, out.len() as u32);
        let common = |v: &mut Vec<u8>| {
            for x in [20u16, 0, 0, time, date] {
                v.extend_from_slice(&x.to_le_bytes());
            }
            for x in [crc, len, len] {
                v.extend_from_slice(&x.to_le_bytes());
            }
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        common(&mut central);
        for x in [0u16, 0, 0] {
            central.extend_from_slice(&x.to_le_bytes()); // comment length, disk, internal attributes
        }
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for x in [0u16, 0, members.len() as u16, members.len() as u16] {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    Ok(out)
}

static WRITE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to a temporary file beside `path`, flushes it and renames it over `path`: `path` holds the
/// old file or the new one, never a part.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().ok_or_else(|| Error::invalid(format!("path {} has no file name", path.display())))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let n = WRITE_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{}.tmp-{}-{n}", name.to_string_lossy(), std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}
