//! The single-blob model pack: how a model directory travels as one byte buffer (firmware without a file
//! system, or the `bundled` feature). std-only so `build.rs` can include this file too.
//!
//! Layout (little-endian):
//! ```text
//! magic   8 bytes  b"FKPACK\0\x01"   (the last byte is the container version)
//! count   u32      number of entries
//! entry*  u16 name length, name (UTF-8), u64 data length, data
//! ```
//! Contents are verified by the manifest's per-model sha256, so the container itself only checks structure.

pub const MAGIC: &[u8; 8] = b"FKPACK\0\x01";

/// Serialises `(name, bytes)` entries into a pack.
pub fn write(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.iter().map(|(n, d)| n.len() + d.len() + 10).sum::<usize>() + 12);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (name, data) in entries {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// Splits a pack into `(name, byte range)` entries, checking every length against what is left.
pub fn parse(bytes: &[u8]) -> Result<Vec<(String, std::ops::Range<usize>)>, String> {
    fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], String> {
        let end = pos.checked_add(n).filter(|&e| e <= b.len()).ok_or("model pack is truncated")?;
        let s = &b[*pos..end];
        *pos = end;
        Ok(s)
    }
    let mut pos = 0;
    if take(bytes, &mut pos, 8).map_err(|_| "not a facekit model pack (too short)")? != MAGIC {
        return Err("not a facekit model pack (bad magic or container version)".into());
    }
    let count = u32::from_le_bytes(take(bytes, &mut pos, 4)?.try_into().unwrap());
    let mut entries = Vec::new();
    for _ in 0..count {
        let n = u16::from_le_bytes(take(bytes, &mut pos, 2)?.try_into().unwrap()) as usize;
        let name = std::str::from_utf8(take(bytes, &mut pos, n)?).map_err(|_| "model pack entry name is not UTF-8")?;
        let len = u64::from_le_bytes(take(bytes, &mut pos, 8)?.try_into().unwrap());
        let len = usize::try_from(len).map_err(|_| "model pack entry too large")?;
        let start = pos;
        take(bytes, &mut pos, len)?;
        entries.push((name.to_string(), start..pos));
    }
    if pos != bytes.len() {
        return Err("model pack has trailing bytes".into());
    }
    Ok(entries)
}
