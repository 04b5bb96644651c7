//! `bench`: median milliseconds per stage on one photo (single thread), and `bench gallery`.

use crate::args::{ModelArgs, PipelineArgs, QualityArgs};
use crate::exit::Code;
use clap::builder::TypedValueParser;
use clap::{Args, Subcommand};
use facekit::{Error, Image};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: Option<BenchWhat>,
    /// Photo to time [default: ../shared/data/faces/face_recognition/examples/obama.jpg].
    #[arg(long, value_name = "IMG")]
    image: Option<PathBuf>,
    /// Timed runs (after two warm-up runs).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    runs: u32,
    #[arg(long)]
    json: bool,
    /// Learned quality model timed in the quality stage [default: the manifest's].
    #[arg(long, value_name = "NAME")]
    quality_model: Option<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(Subcommand, Debug)]
enum BenchWhat {
    /// 1:N search speed on synthetic templates: int8 scan + exact re-rank against the exact f32 scan; with
    /// --faiss, against FAISS (IndexScalarQuantizer QT_8bit and IndexFlatIP) on the same data in alternating
    /// rounds, single thread, and against one plain read of the int8 matrix.
    Gallery {
        /// Templates (one identity each).
        #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=50_000_000).map(|v| v as usize))]
        size: usize,
        #[arg(long, value_name = "D", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..=facekit::gallery::MAX_DIM as i64).map(|v| v as usize))]
        dim: usize,
        #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1_000_000).map(|v| v as usize))]
        queries: usize,
        /// Compare with FAISS (faiss-cpu from PyPI, installed by the script if missing).
        #[arg(long)]
        faiss: bool,
        /// Alternating rounds with --faiss.
        #[arg(long, value_name = "N", default_value_t = 7, requires = "faiss", value_parser = clap::value_parser!(u32).range(1..=100).map(|v| v as usize))]
        rounds: usize,
        /// Threads of the extra multi-threaded figure with --faiss.
        #[arg(long, value_name = "N", default_value_t = 2, requires = "faiss", value_parser = clap::value_parser!(u32).range(1..=256).map(|v| v as usize))]
        threads: usize,
        /// The FAISS side (run with python3).
        #[arg(long, value_name = "FILE", default_value = "bench/faiss_gallery.py", requires = "faiss")]
        faiss_script: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Tracker cost per frame on a video against detecting and embedding every face of every frame (facekit's
    /// and onnxruntime's, in alternating rounds).
    Track(crate::track::BenchTrackArgs),
}

pub fn bench(m: &ModelArgs, b: BenchArgs) -> Result<Code, Error> {
    match b.what {
        Some(BenchWhat::Gallery { size, dim, queries, faiss: false, json, .. }) => gallery(size, dim, queries, json),
        Some(BenchWhat::Gallery { size, dim, queries, faiss: true, rounds, threads, faiss_script, json }) => {
            let config = facekit::gallery::bench::FaissBenchConfig {
                size,
                dim,
                queries,
                rounds,
                threads,
                seed: 42,
                python: "python3".into(),
                script: faiss_script,
            };
            print(serde_json::to_value(facekit::gallery::bench::bench_with_faiss(&config)?).expect("report serialises"), json);
            Ok(Code::Ok)
        }
        Some(BenchWhat::Track(a)) => crate::track::bench(m, a),
        None => stages(m, &b),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn print(v: serde_json::Value, json: bool) {
    println!("{}", if json { v.to_string() } else { serde_json::to_string_pretty(&v).expect("json") });
}

fn stages(m: &ModelArgs, b: &BenchArgs) -> Result<Code, Error> {
    let path = b.image.clone().unwrap_or_else(|| PathBuf::from("../shared/data/faces/face_recognition/examples/obama.jpg"));
    let t = Instant::now();
    let q = QualityArgs { quality_model: b.quality_model.clone(), policy: Default::default() };
    let mut o = b.pipeline.options(Some(&q));
    o.load_liveness = true;
    let e = crate::args::load(m, o)?;
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let bytes = std::fs::read(&path).map_err(|err| Error::Io { path: path.clone(), source: err })?;
    let (mut dec, mut det, mut ali, mut emb, mut qual, mut tot, mut learned) = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut live, mut refine) = (vec![], vec![]);
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    for i in 0..b.runs + 2 {
        let t0 = Instant::now();
        let img = Image::decode(&bytes)?;
        let t1 = Instant::now();
        let face = e.largest_face(&img)?;
        let tr = Instant::now();
        // Landmark refinement (when on): the second detector pass on the face's region.
        let face = e.refine(&img, &face)?;
        let t2 = Instant::now();
        let crop = e.align(&img, &face)?;
        let t3 = Instant::now();
        e.embed_with_crop(&img, &face, &crop)?;
        let t4 = Instant::now();
        e.quality(&img, &face)?;
        let t5 = Instant::now();
        // The learned part alone (LightQNet's alignment + inference), comparable with onnxruntime's.
        if let Some(q) = e.quality_model() {
            q.score(&img, &face)?;
        }
        let t6 = Instant::now();
        // Liveness: both models' crops, resizes, inference and softmax (as the onnxruntime reference times it).
        if let Some(l) = e.liveness_model() {
            l.score(&img, &face)?;
        }
        let t7 = Instant::now();
        // The first two runs warm caches and plans.
        if i >= 2 {
            dec.push(ms(t0, t1));
            det.push(ms(t1, tr));
            refine.push(ms(tr, t2));
            ali.push(ms(t2, t3));
            emb.push(ms(t3, t4));
            qual.push(ms(t4, t5));
            learned.push(ms(t5, t6));
            live.push(ms(t6, t7));
            tot.push(ms(t0, t4));
        }
    }
    let img = Image::decode(&bytes)?;
    print(
        json!({
            "image": path, "width": img.width(), "height": img.height(), "runs": b.runs,
            "detector": e.detector_name(), "detector_input": e.options().detect.input_size, "flip": e.options().flip,
            "embedder": e.embedder().name(), "refine_landmarks": e.options().refine_landmarks, "refine_ms": median(&mut refine),
            "model_load_ms": load_ms,
            "decode_ms": median(&mut dec), "detect_ms": median(&mut det), "align_ms": median(&mut ali),
            "embed_ms": median(&mut emb), "quality_ms": median(&mut qual), "total_ms": median(&mut tot),
            "quality_model": e.quality_model().map(|q| q.name()),
            "learned_quality_ms": e.quality_model().map(|_| median(&mut learned)),
            "liveness_ms": e.liveness_model().map(|_| median(&mut live)),
            "liveness_score": e.liveness_model().map(|l| l.score(&img, &e.largest_face(&img)?).map(|s| s.score)).transpose()?,
        }),
        b.json,
    );
    Ok(Code::Ok)
}

fn gallery(size: usize, dim: usize, queries: usize, json: bool) -> Result<Code, Error> {
    let r = facekit::gallery::bench::bench(size, dim, queries, 42);
    print(
        json!({
            "size": r.size, "dim": r.dim, "queries": queries,
            "ms_per_search_f32": r.ms_per_search_f32, "ms_per_search_int8": r.ms_per_search_int8,
            "recall_at_1_int8_vs_f32": r.recall_at_1_int8_vs_f32, "build_seconds": r.build_seconds,
        }),
        json,
    );
    Ok(Code::Ok)
}
