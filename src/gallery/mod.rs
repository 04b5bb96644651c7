//! The 1:N gallery: enrolled identities, fast search, durable file.
//!
//! A [`Gallery`] maps identity keys (`String`, 1..=255 bytes of UTF-8 without NUL; a numeric id is just its
//! decimal string) to one or more *templates*: embeddings made by one embedder (`model_id`) with one dimension
//! (`dim`). [`Gallery::search`] answers "who is this?" for a query embedding: the best `k` identities by cosine
//! similarity, optionally only those at or above a threshold, so an empty answer means "nobody enrolled matches"
//! (the open-set answer).
//!
//! # Layout
//! All templates live in two contiguous row-major matrices, one row per template:
//! * an `f32` matrix (`dim` values per row), L2-normalised on enrolment, so a dot product is a cosine similarity;
//! * an `i8` copy of it (row stride `dim` rounded up to 64, zero-padded) with one `f32` scale per row.
//!
//! Each row records its owning identity and each identity lists its rows. Removing an identity `swap_remove`s its
//! rows (the last row moves into the hole and the two indexes are patched), so the matrices never have gaps and a
//! scan is always one linear pass over memory. For 1,000,000 templates of 128 dimensions that is 512 MB of `f32`
//! plus 128 MB of `i8`, 8 bytes per row of scale and owner, and about 200 bytes per identity for its key, its
//! row list and the key index (0.85 GB resident for a million one-template identities); nothing is copied twice.
//!
//! # Search: int8 scan, then exact re-rank
//! [`Gallery::search`] first scans the `i8` matrix (a quarter of the memory traffic of the `f32` one). Each row is
//! quantised symmetrically with its own scale, `q = round(x * 127 / max|x|)`, and so is the query (widened to
//! `i16` once per search). Why a per-row scale rather than the fixed 127 that unit vectors would allow: the
//! components of a unit vector are about `1/sqrt(dim)` (max around 0.3 at 128 dims), so a fixed scale would use
//! only about 6 of the 8 bits; per-row scaling costs one multiply per row. Rounding moves each component by at
//! most half a step (`max|x| / 254`); for unit vectors that gives a dot-product error with a standard deviation
//! of about `sqrt(max|t|² + max|q|²) / (127 * sqrt(12))`, 0.0008 at 128 dims (the tests measure it on random
//! pairs: rms 0.0008, worst 0.004) and a quarter of what the fixed scale would give, against a typical gap of
//! 0.1 or more between a genuine match and the rest. The integer dot products are exact (|sum| < 2^26), so the
//! only error is the rounding above, whatever CPU runs the scan.
//!
//! The scan is memory-bound by design: one pass over the `i8` matrix, 256 rows at a time. The kernel
//! (`scan.rs`) multiplies `i8` by `i16` into 32 independent `i32` lanes, plain safe array code that LLVM turns
//! into sign-extending loads and `pmaddwd` (512 bits wide on AVX-512), fully unrolled over the row for
//! strides of 128, 256 and 512 and in 64-byte column blocks otherwise. It is compiled for AVX-512 (Ice Lake
//! and later), AVX2 and SSE4.1 beside the baseline (SSE2 on x86_64, NEON on aarch64), and the `multiversion`
//! crate picks the best one the CPU has at run time, so one portable build runs at the speed of the machine.
//! A block's scores are offered to the top-k only if the block's best beats the current `k`-th best, which
//! after the first few blocks it almost never does. At 1 M × 128 one search takes 1.1–1.2 times as long as
//! one plain read of the 128 MB matrix (BENCHMARKS.md, "1:N scan").
//!
//! The best `max(4k, 32)` *templates* of the scan are then re-ranked with exact `f32` dot products, so every
//! returned similarity is exact, and the int8 scan only decides which candidates are looked at. If those
//! candidates cover fewer than `k` identities (identities with many similar templates) the candidate set grows
//! and the scan is repeated. [`Gallery::search_f32_exact`] is the plain `f32` brute force, the reference. The
//! `f32` dot product sums 16 lanes in a fixed order without FMA, so a similarity is bit-identical on every CPU.
//! [`Gallery::search_with_threads`] splits the int8 scan over row ranges with `std::thread::scope`.
//!
//! # Several templates per identity
//! An identity's score is the **maximum** over its templates. Enrolment photos differ in pose, lighting,
//! glasses, age; a query resembles whichever of them was taken in similar conditions, and the max keeps that
//! closest match. The mean of the templates (or a mean template) would blur distinct appearances into a point
//! that matches none of them well, and would let one poor enrolment photo drag down a good match.
//! One hit per identity is returned.
//!
//! # Thread safety
//! `Gallery` is `Send + Sync`. The templates sit behind one `RwLock`: searches take it shared and run
//! concurrently with each other; `enroll` and `remove` validate, normalise and quantise outside the lock and hold
//! it exclusively only to append or swap rows (microseconds), waiting for running searches to finish. A search
//! sees the gallery either before or after any enroll/remove, never half of one. `save` and `to_bytes` hold it
//! shared while they encode (about a second for a million templates): searches go on, while enroll/remove wait,
//! and so do searches that arrive after a waiting enroll/remove on platforms whose `RwLock` prefers writers.
//!
//! # Templates out and in
//! [`Gallery::template`] / [`Gallery::templates`] give the stored `f32` rows with their identities and
//! [`Gallery::add_template`] stores such a row bit for bit (it must already be unit-norm; it is not normalised
//! again). Since the int8 copy is rebuilt from the `f32` rows and every returned similarity is computed from
//! them, a gallery rebuilt from another's templates answers every search exactly as the original (the order
//! of the rows may differ; ties are broken by identity). This is how a gallery moves through the interchange
//! file ([`Gallery::export_npz`], `interchange.rs`) and through a central gallery (`facekit.milvus`).
//!
//! # File format and durability
//! [`Gallery::save`] writes the little-endian format specified in `file.rs` (magic, version, model id, dim,
//! counts, records, trailing SHA-256). It writes a temporary file in the target's folder, `fsync`s it, renames
//! it over the target and `fsync`s the folder. Hence: whenever the process dies (crash, kill, power loss), the
//! target path holds either the complete previous file or the complete new one, and once `save` has returned
//! `Ok` the new one survives a power loss. Limits: this relies on the file system's atomic rename and on the
//! storage honouring flushes (network file systems and some consumer disks do not); on non-Unix systems the
//! folder is not `fsync`ed, so a power loss right after `save` may bring back the previous file; a process
//! killed while saving leaves its temporary file (`.NAME.tmp-PID-N`) behind; two processes saving to one path
//! at once each write a complete file and the last rename wins. [`Gallery::load`] verifies the checksum and every
//! length before use, so a damaged or truncated file gives [`Error::Corrupt`], never a panic, and a file from
//! another embedder or dimension gives [`Error::Incompatible`].

#[cfg(feature = "bench")]
pub mod bench;
mod file;
mod interchange;

pub use interchange::write_npz;
mod scan;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::error::{Error, Result};
use scan::TopK;

#[cfg(feature = "bench")]
pub use bench::{bench, BenchReport};

// Limits (README "Limits"). A file over one of them is refused by `load` with [`Error::Corrupt`] before the
// counts size any allocation; `enroll` refuses to grow a gallery past them with [`Error::InvalidArgument`],
// so `save` never writes a file that `load` would refuse.
/// Largest embedding dimension a gallery accepts.
pub const MAX_DIM: usize = 4096;
/// Longest identity key, in bytes of UTF-8.
pub const MAX_ID_LEN: usize = 255;
/// Longest model id, in bytes of UTF-8.
pub const MAX_MODEL_ID_LEN: usize = 1024;
/// Identities whose templates [`Gallery::cross_identity_scores`] compares when deciding (the first ones
/// enrolled): 256 give 32,640 scores, a fraction of a millisecond.
pub const CAMERA_COHORT: usize = 256;
/// Most identities in one gallery (about 0.85 GB resident at one 128-d template each).
pub const MAX_IDENTITIES: usize = 1 << 20;
/// Most templates in one gallery.
pub const MAX_TEMPLATES: usize = 1 << 21;
/// Largest gallery file, in bytes (2 Mi templates of 128 dimensions take 1 GiB of values; fewer of larger).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Fewest templates re-ranked exactly after the int8 scan (more when `4 * k` is larger).
const MIN_RERANK: usize = 32;
/// Fewest rows per thread before [`Gallery::search_with_threads`] spawns another thread.
const MIN_ROWS_PER_THREAD: usize = 32 * 1024;

/// One search result: an enrolled identity and its cosine similarity to the query (max over its templates).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub similarity: f32,
}

/// Enrolled identities and their templates for one embedder; see the [module docs](self).
pub struct Gallery {
    model_id: String,
    dim: usize,
    store: RwLock<Store>,
}

/// The mutable part of a gallery, behind the lock. Rows are template indexes, slots are identity indexes.
struct Store {
    dim: usize,
    /// Row stride of `i8_rows`: `dim` rounded up to [`scan::I8_LANES`], zero-padded.
    stride: usize,
    /// Unit-norm templates, `dim` values per row.
    f32_rows: Vec<f32>,
    /// Quantised templates, `stride` values per row.
    i8_rows: Vec<i8>,
    /// Per-row scale: template ≈ `i8 row * scale`.
    scales: Vec<f32>,
    /// Identity slot of each row.
    owner: Vec<u32>,
    /// Identities in slot order (also the order they are saved in).
    idents: Vec<Identity>,
    /// Identity key → slot.
    index: HashMap<String, u32>,
    /// Sum of the identity keys' lengths (for the file size, checked on enroll).
    key_bytes: usize,
}

struct Identity {
    id: String,
    rows: Vec<u32>,
}

impl Gallery {
    /// An empty gallery for embeddings of `dim` values (1..=[`MAX_DIM`]) made by the embedder `model_id`
    /// (e.g. its sha256; 1..=[`MAX_MODEL_ID_LEN`] bytes, no NUL).
    pub fn new(model_id: &str, dim: usize) -> Result<Gallery> {
        check_model_id(model_id).map_err(Error::invalid)?;
        if dim == 0 || dim > MAX_DIM {
            return Err(Error::invalid(format!("gallery dimension {dim} is outside 1..={MAX_DIM}")));
        }
        Ok(Gallery { model_id: model_id.to_owned(), dim, store: RwLock::new(Store::new(dim)) })
    }

    /// The embedder identity this gallery was made for.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Number of values per embedding.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Adds one or more templates to identity `id`, creating it if needed. Each embedding must have `dim` finite
    /// values and a non-zero norm; it is stored L2-normalised. Nothing is added unless all are valid.
    pub fn enroll(&self, id: &str, embeddings: &[&[f32]]) -> Result<()> {
        check_id(id).map_err(Error::invalid)?;
        if embeddings.is_empty() {
            return Err(Error::invalid(format!("no embeddings given to enroll for {id:?}")));
        }
        let mut rows = Vec::with_capacity(embeddings.len() * self.dim);
        for (i, e) in embeddings.iter().enumerate() {
            let row = normalized(e, self.dim).map_err(|m| Error::invalid(format!("embedding {i} for {id:?} {m}")))?;
            rows.extend(row);
        }
        self.append(id, &rows, embeddings.len())
    }

    /// Adds one template to identity `id` exactly as given, bit for bit: a template read out of a gallery
    /// ([`template`](Self::template), the interchange file, a central gallery). It must have `dim` finite
    /// values and unit norm (squared norm within 1e-3 of 1, as in a gallery file); it is not normalised again,
    /// so a gallery rebuilt from exported templates scores every query exactly as the original did.
    pub fn add_template(&self, id: &str, template: &[f32]) -> Result<()> {
        check_id(id).map_err(Error::invalid)?;
        if template.len() != self.dim {
            return Err(Error::invalid(format!("template for {id:?} has {} values, the gallery expects {}", template.len(), self.dim)));
        }
        file::check_template(template).map_err(|m| Error::invalid(format!("{m} (for {id:?}; enroll raw embeddings with enroll)")))?;
        self.append(id, template, 1)
    }

    /// Appends `n` validated unit-norm rows (`n * dim` values) to identity `id` under the write lock.
    fn append(&self, id: &str, rows: &[f32], n: usize) -> Result<()> {
        let mut store = self.write()?;
        let new_id = !store.index.contains_key(id);
        let (idents, keys) = (store.idents.len() + usize::from(new_id), store.key_bytes + if new_id { id.len() } else { 0 });
        file::check_size(self.model_id.len(), self.dim, idents, keys, store.owner.len() + n)
            .map_err(|m| Error::invalid(format!("gallery is full: {m}")))?;
        let slot = store.slot_or_insert(id);
        for row in rows.chunks_exact(self.dim) {
            store.push_row(slot, row);
        }
        Ok(())
    }

    /// Template number `index` (0..[`template_count`](Self::template_count)) and its identity: the unit-norm
    /// `f32` values the gallery stores and scores with (the int8 copy only preselects candidates; every
    /// similarity a search returns is computed from these). Indexes follow the internal row order, which is
    /// stable until the next enroll or remove (a remove moves the last row into the hole). An index out of
    /// range is [`Error::InvalidArgument`].
    pub fn template(&self, index: usize) -> Result<(String, Vec<f32>)> {
        let store = self.read()?;
        let n = store.owner.len();
        if index >= n {
            return Err(Error::invalid(format!("template index {index} is out of range: the gallery holds {n} templates")));
        }
        Ok((store.idents[store.owner[index] as usize].id.clone(), store.f32_row(index).to_vec()))
    }

    /// Every template at once, from one consistent snapshot: the owning identity of each row and the rows
    /// (`dim` values each, row-major), in the order of [`template`](Self::template).
    pub fn templates(&self) -> Result<(Vec<String>, Vec<f32>)> {
        let store = self.read()?;
        let ids = store.owner.iter().map(|&s| store.idents[s as usize].id.clone()).collect();
        Ok((ids, store.f32_rows.clone()))
    }

    /// Removes identity `id` and all its templates; returns how many templates were removed.
    pub fn remove(&self, id: &str) -> Result<usize> {
        self.write()?.remove(id).ok_or_else(|| Error::NotFound(format!("identity {id:?} is not in the gallery")))
    }

    /// Number of enrolled identities.
    pub fn count(&self) -> usize {
        self.read_lenient().idents.len()
    }

    /// Number of templates over all identities.
    pub fn template_count(&self) -> usize {
        self.read_lenient().owner.len()
    }

    /// Whether identity `id` is enrolled.
    pub fn contains(&self, id: &str) -> bool {
        self.read_lenient().index.contains_key(id)
    }

    /// All enrolled identity keys, sorted.
    pub fn identities(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.read_lenient().idents.iter().map(|i| i.id.clone()).collect();
        ids.sort_unstable();
        ids
    }

    /// The `k` identities most similar to `query` (any norm, `dim` finite values), best first, one hit per
    /// identity, similarity = exact cosine (max over the identity's templates). With `threshold`, hits below it
    /// are dropped, so an empty result means nobody matches. Single-threaded int8 scan + exact re-rank.
    pub fn search(&self, query: &[f32], k: usize, threshold: Option<f32>) -> Result<Vec<Hit>> {
        self.search_with_threads(query, k, threshold, 1)
    }

    /// [`search`](Self::search) with the int8 scan split over up to `threads` threads (0 = the number of CPUs);
    /// fewer are used for small galleries, where spawning costs more than it saves.
    pub fn search_with_threads(
        &self,
        query: &[f32],
        k: usize,
        threshold: Option<f32>,
        threads: usize,
    ) -> Result<Vec<Hit>> {
        let q = self.check_query(query, k, threshold)?;
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let store = self.read()?;
        let k = k.min(store.idents.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        let q8 = scan::quantize_query(&q, store.stride);
        let rows = store.owner.len();
        let mut want = (4 * k).max(MIN_RERANK);
        loop {
            let candidates: Vec<u32> = if want >= rows {
                (0..rows as u32).collect()
            } else {
                store.scan_i8(&q8, want, threads).into_iter().map(|(_, row)| row).collect()
            };
            let scored = store.best_per_identity(&q, &candidates);
            // Candidates are templates; if they cover too few identities, look at more of them.
            if scored.len() >= k || want >= rows {
                return Ok(store.hits(scored, k, threshold));
            }
            want = want.saturating_mul(4);
        }
    }

    /// Cosines between the first templates of every two different identities among the first `max` enrolled
    /// (at most max·(max−1)/2 scores): what strangers score against each other on the camera they were
    /// enrolled with ([`crate::Engine::camera_threshold`]).
    pub fn cross_identity_scores(&self, max: usize) -> Vec<f32> {
        let store = self.read_lenient();
        let d = self.dim;
        let firsts: Vec<&[f32]> = store.idents.iter().take(max).filter_map(|i| i.rows.first()).map(|&r| &store.f32_rows[r as usize * d..(r as usize + 1) * d]).collect();
        let mut out = Vec::with_capacity(firsts.len() * firsts.len().saturating_sub(1) / 2);
        for (i, a) in firsts.iter().enumerate() {
            for b in &firsts[i + 1..] {
                out.push(a.iter().zip(b.iter()).map(|(x, y)| x * y).sum::<f32>().clamp(-1.0, 1.0));
            }
        }
        out
    }

    /// The exact cosine of `query` with identity `id`'s best template; `None` when `id` is not enrolled.
    pub fn similarity_to(&self, id: &str, query: &[f32]) -> Result<Option<f32>> {
        let q = normalized(query, self.dim).map_err(|m| Error::invalid(format!("query {m}")))?;
        let store = self.read()?;
        let Some(&slot) = store.index.get(id) else { return Ok(None) };
        let best = store.idents[slot as usize]
            .rows
            .iter()
            .map(|&r| store.f32_rows[r as usize * self.dim..(r as usize + 1) * self.dim].iter().zip(&q).map(|(a, b)| a * b).sum::<f32>())
            .fold(f32::NEG_INFINITY, f32::max);
        Ok(Some(best.clamp(-1.0, 1.0)))
    }

    /// Reference search: the same answer as [`search`](Self::search) computed by an exact `f32` scan of every
    /// template (about 4x the memory traffic).
    pub fn search_f32_exact(&self, query: &[f32], k: usize, threshold: Option<f32>) -> Result<Vec<Hit>> {
        let q = self.check_query(query, k, threshold)?;
        let store = self.read()?;
        let mut best = vec![f32::NEG_INFINITY; store.idents.len()];
        let mut scores = [0.0f32; scan::BLOCK_ROWS];
        for (rows, owners) in store.f32_rows.chunks(scan::BLOCK_ROWS * self.dim).zip(store.owner.chunks(scan::BLOCK_ROWS)) {
            let scores = &mut scores[..owners.len()];
            scan::dots_f32(rows, &q, scores);
            for (&s, &slot) in scores.iter().zip(owners) {
                let b = &mut best[slot as usize];
                *b = b.max(s);
            }
        }
        let mut top = TopK::new(k.min(best.len()));
        for (slot, &s) in best.iter().enumerate() {
            top.push(s, slot as u32);
        }
        Ok(store.hits(top.into_sorted(), k, threshold))
    }

    /// Validates search arguments and returns the normalised query.
    fn check_query(&self, query: &[f32], k: usize, threshold: Option<f32>) -> Result<Vec<f32>> {
        if k == 0 {
            return Err(Error::invalid("search k must be at least 1"));
        }
        if let Some(t) = threshold {
            if !t.is_finite() {
                return Err(Error::invalid(format!("search threshold {t} is not finite")));
            }
        }
        normalized(query, self.dim).map_err(|m| Error::invalid(format!("query {m}")))
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, Store>> {
        self.store.read().map_err(|_| poisoned())
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, Store>> {
        self.store.write().map_err(|_| poisoned())
    }

    /// For the infallible counters: lengths stay readable even if a panicking thread poisoned the lock.
    fn read_lenient(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sizes only: the templates would be megabytes of numbers.
impl std::fmt::Debug for Gallery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gallery")
            .field("model_id", &self.model_id)
            .field("dim", &self.dim)
            .field("identities", &self.count())
            .field("templates", &self.template_count())
            .finish()
    }
}

fn poisoned() -> Error {
    Error::Internal("gallery lock poisoned by a panic in another thread".into())
}

impl Store {
    fn new(dim: usize) -> Store {
        Store {
            dim,
            stride: dim.next_multiple_of(scan::I8_LANES),
            f32_rows: Vec::new(),
            i8_rows: Vec::new(),
            scales: Vec::new(),
            owner: Vec::new(),
            idents: Vec::new(),
            index: HashMap::new(),
            key_bytes: 0,
        }
    }

    /// Preallocates for `idents` identities and `rows` templates (used by the loader, which knows both).
    fn reserve(&mut self, idents: usize, rows: usize) {
        self.f32_rows.reserve_exact(rows * self.dim);
        self.i8_rows.reserve_exact(rows * self.stride);
        self.scales.reserve_exact(rows);
        self.owner.reserve_exact(rows);
        self.idents.reserve_exact(idents);
        self.index.reserve(idents);
    }

    fn slot_or_insert(&mut self, id: &str) -> u32 {
        if let Some(&slot) = self.index.get(id) {
            return slot;
        }
        let slot = self.idents.len() as u32;
        self.idents.push(Identity { id: id.to_owned(), rows: Vec::new() });
        self.index.insert(id.to_owned(), slot);
        self.key_bytes += id.len();
        slot
    }

    /// Appends a unit-norm template row to identity `slot`.
    fn push_row(&mut self, slot: u32, row: &[f32]) {
        let r = self.owner.len() as u32;
        self.f32_rows.extend_from_slice(row);
        let start = self.i8_rows.len();
        self.i8_rows.resize(start + self.stride, 0);
        self.scales.push(scan::quantize_row(row, &mut self.i8_rows[start..start + self.dim]));
        self.owner.push(slot);
        self.idents[slot as usize].rows.push(r);
    }

    /// Removes an identity and its rows, keeping every array contiguous; `None` if absent.
    fn remove(&mut self, id: &str) -> Option<usize> {
        let slot = self.index.remove(id)?;
        self.key_bytes -= id.len();
        let mut rows = std::mem::take(&mut self.idents[slot as usize].rows);
        // Highest first: the row moved into each hole is then never one of ours still waiting to be removed.
        rows.sort_unstable_by(|a, b| b.cmp(a));
        for &r in &rows {
            self.swap_remove_row(r as usize);
        }
        self.idents.swap_remove(slot as usize);
        if let Some(moved) = self.idents.get(slot as usize) {
            // The former last identity now lives in `slot`.
            if let Some(s) = self.index.get_mut(&moved.id) {
                *s = slot;
            }
            for &r in &moved.rows {
                self.owner[r as usize] = slot;
            }
        }
        Some(rows.len())
    }

    /// Moves the last row into row `r` (dropping row `r`) and patches the moved row's owner.
    fn swap_remove_row(&mut self, r: usize) {
        let last = self.owner.len() - 1;
        if r != last {
            let (d, s) = (self.dim, self.stride);
            self.f32_rows.copy_within(last * d..(last + 1) * d, r * d);
            self.i8_rows.copy_within(last * s..(last + 1) * s, r * s);
            self.scales[r] = self.scales[last];
            let moved_owner = self.owner[last];
            self.owner[r] = moved_owner;
            let list = &mut self.idents[moved_owner as usize].rows;
            if let Some(entry) = list.iter_mut().find(|x| **x as usize == last) {
                *entry = r as u32;
            }
        }
        self.f32_rows.truncate(last * self.dim);
        self.i8_rows.truncate(last * self.stride);
        self.scales.truncate(last);
        self.owner.truncate(last);
    }

    fn f32_row(&self, r: usize) -> &[f32] {
        &self.f32_rows[r * self.dim..(r + 1) * self.dim]
    }

    /// The `want` rows with the highest int8 scores, scanning on up to `threads` threads.
    fn scan_i8(&self, q8: &[i16], want: usize, threads: usize) -> Vec<(f32, u32)> {
        let rows = self.owner.len();
        let threads = threads.min(rows / MIN_ROWS_PER_THREAD).max(1);
        let scan_range = |start: usize, end: usize| {
            let mut top = TopK::new(want);
            scan::scan_i8(
                &self.i8_rows[start * self.stride..end * self.stride],
                &self.scales[start..end],
                self.stride,
                q8,
                start as u32,
                &mut top,
            );
            top
        };
        if threads == 1 {
            return scan_range(0, rows).into_sorted();
        }
        let per = rows.div_ceil(threads);
        let parts: Vec<TopK> = std::thread::scope(|s| {
            let scan_range = &scan_range;
            let handles: Vec<_> = (1..threads)
                .map(|t| s.spawn(move || scan_range((t * per).min(rows), ((t + 1) * per).min(rows))))
                .collect();
            let mut parts = vec![scan_range(0, per)];
            // A scan thread cannot panic short of a bug; if one did, propagate it like a panic on this thread.
            parts.extend(handles.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))));
            parts
        });
        let mut merged = TopK::new(want);
        for part in parts {
            for (score, row) in part.into_sorted() {
                merged.push(score, row);
            }
        }
        merged.into_sorted()
    }

    /// Exact similarity of each candidate row, reduced to the best per identity: `(similarity, slot)`.
    fn best_per_identity(&self, q: &[f32], rows: &[u32]) -> Vec<(f32, u32)> {
        let mut scored: Vec<(f32, u32)> =
            rows.iter().map(|&r| (scan::dot_f32(self.f32_row(r as usize), q), self.owner[r as usize])).collect();
        scored.sort_unstable_by(|a, b| a.1.cmp(&b.1).then(b.0.total_cmp(&a.0)));
        scored.dedup_by_key(|s| s.1);
        scored
    }

    /// Turns `(similarity, slot)` pairs into the final answer: best first (ties by id), at most `k`, threshold.
    fn hits(&self, scored: Vec<(f32, u32)>, k: usize, threshold: Option<f32>) -> Vec<Hit> {
        let mut hits: Vec<Hit> = scored
            .into_iter()
            .filter(|&(s, _)| threshold.is_none_or(|t| s >= t))
            .map(|(similarity, slot)| Hit { id: self.idents[slot as usize].id.clone(), similarity })
            .collect();
        hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(k);
        hits
    }
}

/// Checks an identity key; the message says what is wrong.
fn check_id(id: &str) -> std::result::Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(format!("identity key must be 1..={MAX_ID_LEN} bytes, got {}", id.len()));
    }
    if id.contains('\0') {
        return Err(format!("identity key {id:?} contains NUL"));
    }
    Ok(())
}

fn check_model_id(model_id: &str) -> std::result::Result<(), String> {
    if model_id.is_empty() || model_id.len() > MAX_MODEL_ID_LEN {
        return Err(format!("model id must be 1..={MAX_MODEL_ID_LEN} bytes, got {}", model_id.len()));
    }
    if model_id.contains('\0') {
        return Err(format!("model id {model_id:?} contains NUL"));
    }
    Ok(())
}

/// `v / |v|` after checking that it has `dim` finite values and a non-zero norm. The error message completes
/// a sentence whose subject is the vector ("has 3 values, ...").
fn normalized(v: &[f32], dim: usize) -> std::result::Result<Vec<f32>, String> {
    if v.len() != dim {
        return Err(format!("has {} values, the gallery expects {dim}", v.len()));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!("has a non-finite value {} at index {i}", v[i]));
    }
    // In f64 so that neither huge values (overflow) nor tiny ones (underflow) spoil the norm.
    let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    if norm == 0.0 {
        return Err("is the zero vector".into());
    }
    Ok(v.iter().map(|&x| (f64::from(x) / norm) as f32).collect())
}
