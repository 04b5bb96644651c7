//! A file of the embeddings one pipeline made of a data set's images, so that the evaluations and the
//! calibration of one configuration embed each image once (LFW's 13,233 images take minutes per
//! configuration on a small machine). The file names the pipeline (embedder, flip, detector settings, landmark
//! refinement, facekit version); a file made by another pipeline is not used, and is replaced when saved.
//!
//! Format (little-endian): `FKEMBC01`, u32 length + the pipeline string, u64 record count, then per record:
//! u32 length + the image path (UTF-8), u8 detected, f32 quality (NaN: none), u32 dimension, the values.

use super::Sample;
use crate::embed::Embedding;
use crate::engine::{Engine, REFINE_INPUT, REFINE_REGION};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"FKEMBC01";

/// What makes an embedding: two engines with the same pipeline string embed an image identically.
pub fn pipeline(engine: &Engine) -> String {
    let o = engine.options();
    let d = &o.detect;
    let refine = if o.refine_landmarks { format!("refine {REFINE_REGION}x@{REFINE_INPUT}") } else { "no refine".into() };
    format!(
        "facekit {} | embedder {} ({}) | flip {} | detector {} input {} score {} nms {} min {} max {} | {refine}",
        crate::VERSION,
        engine.embedder().name(),
        engine.model_id(),
        o.flip,
        engine.detector_name(),
        d.input_size,
        d.score_threshold,
        d.nms_iou,
        d.min_face_size,
        d.max_faces
    )
}

/// The cached samples of `file` for `pipeline`: empty when the file does not exist or was made by another
/// pipeline; [`Error::Corrupt`] when it cannot be read as a cache.
pub fn load(file: &Path, pipeline: &str) -> Result<HashMap<PathBuf, Sample>> {
    if !file.exists() {
        return Ok(HashMap::new());
    }
    let bytes = std::fs::read(file).map_err(|e| Error::io(file, e))?;
    let corrupt = || Error::Corrupt(format!("embedding cache {} is damaged: delete it", file.display()));
    let mut r = Reader(&bytes);
    if r.take(8).ok_or_else(corrupt)? != MAGIC {
        return Err(corrupt());
    }
    let n = r.u32().ok_or_else(corrupt)? as usize;
    if r.take(n).ok_or_else(corrupt)? != pipeline.as_bytes() {
        return Ok(HashMap::new());
    }
    let count = r.u64().ok_or_else(corrupt)?;
    let mut out = HashMap::new();
    for _ in 0..count {
        let n = r.u32().ok_or_else(corrupt)? as usize;
        let path = std::str::from_utf8(r.take(n).ok_or_else(corrupt)?).map_err(|_| corrupt())?;
        let detected = r.take(1).ok_or_else(corrupt)?[0] != 0;
        let q = r.f32().ok_or_else(corrupt)?;
        let dim = r.u32().ok_or_else(corrupt)? as usize;
        let raw = r.take(dim.checked_mul(4).ok_or_else(corrupt)?).ok_or_else(corrupt)?;
        let v = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let embedding = Embedding::from_vec(v).ok_or_else(corrupt)?;
        out.insert(PathBuf::from(path), Sample { embedding, detected, quality: (!q.is_nan()).then_some(q) });
    }
    Ok(out)
}

/// Writes `samples` for `pipeline` to `file` (through a temporary file and a rename). Paths that are not
/// UTF-8 are left out.
pub fn save(file: &Path, pipeline: &str, samples: &HashMap<PathBuf, Sample>) -> Result<()> {
    let mut b = Vec::from(&MAGIC[..]);
    b.extend((pipeline.len() as u32).to_le_bytes());
    b.extend(pipeline.as_bytes());
    let items: Vec<(&str, &Sample)> = samples.iter().filter_map(|(p, s)| Some((p.to_str()?, s))).collect();
    b.extend((items.len() as u64).to_le_bytes());
    for (p, s) in items {
        b.extend((p.len() as u32).to_le_bytes());
        b.extend(p.as_bytes());
        b.push(s.detected as u8);
        b.extend(s.quality.unwrap_or(f32::NAN).to_le_bytes());
        b.extend((s.embedding.dim() as u32).to_le_bytes());
        s.embedding.as_slice().iter().for_each(|x| b.extend(x.to_le_bytes()));
    }
    let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, &b).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, file).map_err(|e| Error::io(file, e))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn f32(&mut self) -> Option<f32> {
        self.u32().map(f32::from_bits)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_round_trips_and_knows_its_pipeline() {
        let dir = std::env::temp_dir().join(format!("fk-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.bin");
        let mut m = HashMap::new();
        m.insert(PathBuf::from("/a/b.jpg"), Sample { embedding: Embedding::from_vec(vec![3.0, 4.0]).unwrap(), detected: true, quality: None });
        m.insert(PathBuf::from("c.jpg"), Sample { embedding: Embedding::from_vec(vec![1.0, 0.0]).unwrap(), detected: false, quality: Some(42.5) });
        save(&f, "p1", &m).unwrap();
        let back = load(&f, "p1").unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[Path::new("/a/b.jpg")].embedding.as_slice(), &[0.6, 0.8]);
        assert_eq!((back[Path::new("c.jpg")].detected, back[Path::new("c.jpg")].quality), (false, Some(42.5)));
        assert!(load(&f, "another pipeline").unwrap().is_empty());
        assert!(load(&dir.join("none.bin"), "p1").unwrap().is_empty());
        let bytes = std::fs::read(&f).unwrap();
        for cut in [3, 12, bytes.len() - 1] {
            std::fs::write(&f, &bytes[..cut]).unwrap();
            assert!(matches!(load(&f, "p1"), Err(Error::Corrupt(_))), "cut at {cut}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
