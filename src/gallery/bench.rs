//! Synthetic benchmarks of the 1:N search: the int8 search against the exact `f32` scan ([`bench()`]), and
//! both against FAISS in alternating rounds of one run ([`bench_with_faiss`]).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{scan, Gallery, MAX_DIM};
use crate::error::{Error, Result};

/// Results of [`bench()`]. Times are medians over the queries, in milliseconds, single-threaded.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Templates (= identities) in the gallery.
    pub size: usize,
    pub dim: usize,
    /// [`Gallery::search_f32_exact`].
    pub ms_per_search_f32: f64,
    /// [`Gallery::search`] (int8 scan + exact re-rank).
    pub ms_per_search_int8: f64,
    /// Fraction of queries whose int8 top-1 identity equals the exact top-1.
    pub recall_at_1_int8_vs_f32: f64,
    /// Time spent in [`Gallery::enroll`] building the gallery (data generation excluded).
    pub build_seconds: f64,
}

/// Hits asked for per search.
const BENCH_K: usize = 1;
/// Every `RANDOM_EVERY`-th query is a random vector (nobody's face: the top-1 is a near tie); the others are
/// a random enrolled template plus noise.
const RANDOM_EVERY: usize = 5;
/// Templates generated and then enrolled per batch, so that generation is not timed as enrolment.
const BATCH: usize = 4096;

/// Builds a gallery of `size` random unit templates of `dim` values (one per identity) and runs `queries`
/// searches with both the int8 and the exact scan, all from `seed`. Most queries are an enrolled template plus
/// Gaussian noise of norm 0.6–0.8 (cosine about 0.8 to the original: a genuine but imperfect match); every fifth
/// is a pure random vector.
///
/// # Panics
/// If `dim` is 0 or above [`MAX_DIM`].
pub fn bench(size: usize, dim: usize, queries: usize, seed: u64) -> BenchReport {
    let mut rng = SplitMix64::new(seed);
    let (gallery, build) = random_gallery(size, dim, &mut rng);
    let queries = random_queries(&gallery, queries, &mut rng);
    // Each int8 search right after an exact one, which has pushed the int8 matrix out of the cache.
    let (mut f32_ms, mut int8_ms, mut exact, mut fast) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for q in &queries {
        let (ms, top) = time_search(|| gallery.search_f32_exact(q, BENCH_K, None));
        f32_ms.push(ms);
        exact.push(top);
        let (ms, top) = time_search(|| gallery.search(q, BENCH_K, None));
        int8_ms.push(ms);
        fast.push(top);
    }
    BenchReport {
        size,
        dim,
        ms_per_search_f32: median(f32_ms),
        ms_per_search_int8: median(int8_ms),
        recall_at_1_int8_vs_f32: recall_at_1(&fast, &exact),
        build_seconds: build.as_secs_f64(),
    }
}

/// What [`bench_with_faiss`] runs.
#[derive(Debug, Clone)]
pub struct FaissBenchConfig {
    /// Templates (= identities) in the gallery.
    pub size: usize,
    pub dim: usize,
    /// Queries, each searched once per round on every side.
    pub queries: usize,
    /// Alternating rounds (facekit, then FAISS).
    pub rounds: usize,
    /// Threads for the extra multi-threaded int8 figure ([`Gallery::search_with_threads`]).
    pub threads: usize,
    pub seed: u64,
    /// The Python interpreter (e.g. `python3`).
    pub python: PathBuf,
    /// `bench/faiss_gallery.py` of this repository.
    pub script: PathBuf,
}

/// Results of [`bench_with_faiss`]. Serialised flat: `median`'s fields appear at the top level.
#[derive(Debug, Clone, Serialize)]
pub struct FaissBenchReport {
    pub size: usize,
    pub dim: usize,
    pub queries: usize,
    pub rounds: usize,
    pub threads: usize,
    /// The median over the rounds of each figure (for a ratio: of the per-round ratios).
    #[serde(flatten)]
    pub median: RoundFigures,
    pub recall_at_1_int8_vs_f32: f64,
    pub faiss_sq8_recall_at_1_vs_flat: f64,
    pub faiss_version: String,
    pub faiss_compile_options: String,
    pub per_round: Vec<RoundFigures>,
}

/// One round of [`bench_with_faiss`]: facekit, then FAISS, back to back. Times are milliseconds per search,
/// the median over the round's queries; each ratio is taken within the round.
#[derive(Debug, Clone, Serialize)]
pub struct RoundFigures {
    /// [`Gallery::search`] single thread (int8 scan + exact re-rank of 32 candidates).
    pub ms_per_search_int8: f64,
    /// [`Gallery::search_with_threads`] with `threads` threads.
    pub ms_per_search_int8_threads: f64,
    /// [`Gallery::search_f32_exact`] single thread.
    pub ms_per_search_f32: f64,
    /// One plain read of the gallery's int8 matrix (the bytes the int8 scan reads), as fast as the core reads.
    pub read_ms: f64,
    /// FAISS `IndexScalarQuantizer(QT_8bit, inner product)`, one query per call, one thread.
    pub faiss_sq8_ms: f64,
    /// FAISS `IndexFlatIP`, one query per call, one thread.
    pub faiss_flat_ms: f64,
    /// `ms_per_search_int8 / faiss_sq8_ms`.
    pub ratio_to_faiss_sq8: f64,
    /// `ms_per_search_f32 / faiss_flat_ms`.
    pub ratio_f32_to_faiss_flat: f64,
    /// `ms_per_search_int8 / read_ms`: 1 is memory speed.
    pub ratio_to_read: f64,
}

/// The gallery of [`bench()`] (same seed, same templates and queries) searched by facekit and by FAISS
/// (`config.script`, run with `config.python`; it installs `faiss-cpu` with pip if missing) in alternating
/// rounds. The templates and queries reach the script as `.npy` files in a temporary folder, removed
/// afterwards. Needs memory for the gallery twice over (facekit's and FAISS's copies): about 2 GB at 1 M × 128.
pub fn bench_with_faiss(config: &FaissBenchConfig) -> Result<FaissBenchReport> {
    let &FaissBenchConfig { size, dim, queries, rounds, threads, seed, .. } = config;
    if size == 0 || !(1..=MAX_DIM).contains(&dim) || queries == 0 || rounds == 0 || threads == 0 {
        return Err(Error::invalid(format!(
            "FAISS bench needs size, queries, rounds and threads > 0 and dim in 1..={MAX_DIM}"
        )));
    }
    let mut rng = SplitMix64::new(seed);
    let (gallery, _) = random_gallery(size, dim, &mut rng);
    let queries = random_queries(&gallery, queries, &mut rng);

    let dir = ScratchDir::new()?;
    let (templates_npy, queries_npy) = (dir.0.join("templates.npy"), dir.0.join("queries.npy"));
    write_npy(&templates_npy, &gallery.read()?.f32_rows, dim)?;
    write_npy(&queries_npy, &queries.concat(), dim)?;
    let mut faiss = FaissProcess::start(config, &templates_npy, &queries_npy)?;
    drop(dir); // the script has read both files

    let (_, exact) = time_searches(&queries, |q| gallery.search_f32_exact(q, BENCH_K, None));
    let (_, fast) = time_searches(&queries, |q| gallery.search(q, BENCH_K, None));
    let mut per_round = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let (int8, _) = time_searches(&queries, |q| gallery.search(q, BENCH_K, None));
        let read_ms = median(time_reads(&gallery, queries.len())?);
        let (int8_threads, _) = time_searches(&queries, |q| gallery.search_with_threads(q, BENCH_K, None, threads));
        let (f32s, _) = time_searches(&queries, |q| gallery.search_f32_exact(q, BENCH_K, None));
        let (int8_ms, f32_ms) = (median(int8), median(f32s));
        let (faiss_sq8_ms, faiss_flat_ms) = faiss.round()?;
        per_round.push(RoundFigures {
            ms_per_search_int8: int8_ms,
            ms_per_search_int8_threads: median(int8_threads),
            ms_per_search_f32: f32_ms,
            read_ms,
            faiss_sq8_ms,
            faiss_flat_ms,
            ratio_to_faiss_sq8: int8_ms / faiss_sq8_ms,
            ratio_f32_to_faiss_flat: f32_ms / faiss_flat_ms,
            ratio_to_read: int8_ms / read_ms,
        });
    }
    faiss.finish()?;

    let over_rounds = |f: fn(&RoundFigures) -> f64| median(per_round.iter().map(f).collect());
    let median = RoundFigures {
        ms_per_search_int8: over_rounds(|r| r.ms_per_search_int8),
        ms_per_search_int8_threads: over_rounds(|r| r.ms_per_search_int8_threads),
        ms_per_search_f32: over_rounds(|r| r.ms_per_search_f32),
        read_ms: over_rounds(|r| r.read_ms),
        faiss_sq8_ms: over_rounds(|r| r.faiss_sq8_ms),
        faiss_flat_ms: over_rounds(|r| r.faiss_flat_ms),
        ratio_to_faiss_sq8: over_rounds(|r| r.ratio_to_faiss_sq8),
        ratio_f32_to_faiss_flat: over_rounds(|r| r.ratio_f32_to_faiss_flat),
        ratio_to_read: over_rounds(|r| r.ratio_to_read),
    };
    Ok(FaissBenchReport {
        size,
        dim,
        queries: queries.len(),
        rounds,
        threads,
        median,
        recall_at_1_int8_vs_f32: recall_at_1(&fast, &exact),
        faiss_sq8_recall_at_1_vs_flat: faiss.sq8_recall,
        faiss_version: faiss.version.clone(),
        faiss_compile_options: faiss.compile_options.clone(),
        per_round,
    })
}

/// `size` random unit templates of `dim` values, identity `i` owning template `i`; returns the enrolment time.
///
/// # Panics
/// If `dim` is 0 or above [`MAX_DIM`].
fn random_gallery(size: usize, dim: usize, rng: &mut SplitMix64) -> (Gallery, Duration) {
    assert!((1..=MAX_DIM).contains(&dim), "bench dimension {dim} is outside 1..={MAX_DIM}");
    let gallery = Gallery::new("bench", dim).expect("valid model id and dimension");
    let mut build = Duration::ZERO;
    let mut batch = Vec::with_capacity(BATCH * dim);
    for start in (0..size).step_by(BATCH) {
        let end = (start + BATCH).min(size);
        batch.clear();
        for _ in start..end {
            batch.extend(rng.unit_vector(dim));
        }
        let t = Instant::now();
        for (i, v) in (start..end).zip(batch.chunks_exact(dim)) {
            gallery.enroll(&i.to_string(), &[v]).expect("random unit vectors are valid templates");
        }
        build += t.elapsed();
    }
    (gallery, build)
}

/// Queries for [`bench()`]: see there.
fn random_queries(gallery: &Gallery, n: usize, rng: &mut SplitMix64) -> Vec<Vec<f32>> {
    let (size, dim) = (gallery.template_count(), gallery.dim());
    (0..n)
        .map(|i| {
            if size == 0 || i % RANDOM_EVERY == RANDOM_EVERY - 1 {
                rng.unit_vector(dim)
            } else {
                let row = rng.below(size);
                let template = gallery.read().expect("no panics while benchmarking").f32_row(row).to_vec();
                let noise = rng.unit_vector(dim);
                let scale = (0.6 + 0.2 * rng.uniform()) as f32;
                template.iter().zip(&noise).map(|(t, e)| t + scale * e).collect()
            }
        })
        .collect()
}

/// Runs `search` on every query: milliseconds per query and the top-1 identity of each.
fn time_searches(
    queries: &[Vec<f32>],
    search: impl Fn(&[f32]) -> Result<Vec<super::Hit>>,
) -> (Vec<f64>, Vec<Option<String>>) {
    queries.iter().map(|q| time_search(|| search(q))).unzip()
}

/// Milliseconds taken by one `search` and its top-1 identity.
fn time_search(search: impl FnOnce() -> Result<Vec<super::Hit>>) -> (f64, Option<String>) {
    let t = Instant::now();
    let hits = search().expect("bench queries are valid");
    (t.elapsed().as_secs_f64() * 1e3, hits.into_iter().next().map(|h| h.id))
}

/// Fraction of queries with an exact top-1 whose fast top-1 is the same identity (1 when none has one).
fn recall_at_1(fast: &[Option<String>], exact: &[Option<String>]) -> f64 {
    let (mut compared, mut agreed) = (0usize, 0usize);
    for (f, e) in fast.iter().zip(exact) {
        if let Some(e) = e {
            compared += 1;
            agreed += usize::from(f.as_ref() == Some(e));
        }
    }
    if compared == 0 {
        1.0
    } else {
        agreed as f64 / compared as f64
    }
}

/// Milliseconds of `passes` plain reads of the gallery's int8 matrix, back to back like the searches they are
/// compared with (so that both find the same share of the matrix in the last-level cache).
fn time_reads(gallery: &Gallery, passes: usize) -> Result<Vec<f64>> {
    let store = gallery.read()?;
    Ok((0..passes)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(scan::read_all(std::hint::black_box(&store.i8_rows)));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect())
}

/// Writes `values` (rows of `dim`) as a little-endian float32 `.npy` file (format version 1.0).
fn write_npy(path: &Path, values: &[f32], dim: usize) -> Result<()> {
    let io = |e| Error::io(path, e);
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {dim}), }}", values.len() / dim);
    // Magic (6) + version (2) + header length (2) + dict, padded with spaces and a newline to a multiple of 64.
    let header_len = (10 + dict.len() + 1).next_multiple_of(64) - 10;
    let mut out = BufWriter::new(std::fs::File::create(path).map_err(io)?);
    out.write_all(b"\x93NUMPY\x01\x00").map_err(io)?;
    out.write_all(&(header_len as u16).to_le_bytes()).map_err(io)?;
    out.write_all(format!("{dict:<width$}\n", width = header_len - 1).as_bytes()).map_err(io)?;
    for v in values {
        out.write_all(&v.to_le_bytes()).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// A fresh folder under the system temp dir, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<ScratchDir> {
        let path = std::env::temp_dir().join(format!("facekit-faiss-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The running FAISS script (protocol in its docstring).
struct FaissProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    version: String,
    compile_options: String,
    sq8_recall: f64,
}

impl FaissProcess {
    /// Starts the script and waits until it has built its indexes.
    fn start(config: &FaissBenchConfig, templates: &Path, queries: &Path) -> Result<FaissProcess> {
        let mut child = Command::new(&config.python)
            .arg(&config.script)
            .arg("--templates")
            .arg(templates)
            .arg("--queries")
            .arg(queries)
            .arg("--k")
            .arg(BENCH_K.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io(&config.python, e))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let stdout = BufReader::new(stdout.expect("stdout was piped"));
        let mut faiss =
            FaissProcess { child, stdin, stdout, version: String::new(), compile_options: String::new(), sq8_recall: 0.0 };
        let ready = faiss.reply()?;
        let text = |key: &str| ready.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        match (text("faiss_version"), text("faiss_compile_options"), number(&ready, "sq8_recall_at_1_vs_flat")) {
            (Some(v), Some(o), Ok(r)) => (faiss.version, faiss.compile_options, faiss.sq8_recall) = (v, o, r),
            _ => return Err(protocol(format!("unexpected first line {ready}"))),
        }
        Ok(faiss)
    }

    /// Times one FAISS round: `(sq8_ms, flat_ms)`.
    fn round(&mut self) -> Result<(f64, f64)> {
        let stdin = self.stdin.as_mut().expect("stdin is open until finish");
        stdin.write_all(b"round\n").and_then(|_| stdin.flush()).map_err(|e| protocol(e.to_string()))?;
        let reply = self.reply()?;
        Ok((number(&reply, "sq8_ms")?, number(&reply, "flat_ms")?))
    }

    /// Closes the script's input and waits for it to exit cleanly.
    fn finish(&mut self) -> Result<()> {
        self.stdin = None;
        let status = self.child.wait().map_err(|e| protocol(e.to_string()))?;
        if status.success() {
            Ok(())
        } else {
            Err(protocol(format!("exited with {status}")))
        }
    }

    fn reply(&mut self) -> Result<serde_json::Value> {
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err(protocol("ended without an answer (its error is on stderr)".into())),
            Ok(_) => serde_json::from_str(&line).map_err(|e| protocol(format!("sent {line:?}: {e}"))),
            Err(e) => Err(protocol(e.to_string())),
        }
    }
}

impl Drop for FaissProcess {
    /// On an early error the script is still running: end it rather than leave it behind.
    fn drop(&mut self) {
        if self.stdin.take().is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn number(v: &serde_json::Value, key: &str) -> Result<f64> {
    v.get(key).and_then(|x| x.as_f64()).ok_or_else(|| protocol(format!("no number {key:?} in {v}")))
}

fn protocol(msg: String) -> Error {
    Error::Internal(format!("FAISS bench script: {msg}"))
}

/// Median, 0 for no samples (so the report always serialises to finite numbers).
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// SplitMix64: tiny, fast, well-mixed; plenty for synthetic data.
pub(super) struct SplitMix64(u64);

impl SplitMix64 {
    pub(super) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(super) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0); the modulo bias is negligible for the sizes used here.
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Standard normal (Box–Muller).
    pub(super) fn gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln stays finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A direction drawn uniformly on the unit sphere (normalised Gaussian vector).
    pub(super) fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
        let v: Vec<f64> = (0..dim).map(|_| self.gaussian()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        v.iter().map(|x| (x / norm) as f32).collect()
    }
}

