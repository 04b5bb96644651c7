//! `track` (the tracker on a video, a folder of frames or raw frames on stdin) and `bench track` (its cost
//! per frame against detecting and embedding every face of every frame, facekit's and onnxruntime's).

use crate::args::{DecisionArgs, ModelArgs, PipelineArgs, QualityArgs};
use crate::draw::Canvas;
use crate::exit::Code;
use crate::video::{decode_all, parse_size, Frames, RawFormat};
use clap::builder::TypedValueParser;
use clap::Args;
use facekit::gallery::Gallery;
use facekit::quality::QualityPolicy;
use facekit::track::{Aggregate, EventKind, LivenessAggregate, Reference, Track, Verdict};
use facekit::{Embedding, Error, Image, Tracker, TrackerOptions};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Tracker settings on the command line.
#[derive(Args, Debug, Clone)]
pub struct TrackerArgs {
    /// Full-frame detection every N frames (in between, each face is re-detected in its own region).
    #[arg(long, value_name = "N", default_value_t = TrackerOptions::default().detect_every, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub detect_every: u32,
    /// Side of the square each face's region is scaled to for its re-detection, pixels.
    #[arg(long, value_name = "PX", default_value_t = TrackerOptions::default().roi_input, value_parser = clap::builder::PossibleValuesParser::new(["32", "64", "96", "128"]).map(|s| s.parse::<u32>().expect("listed values are numbers")))]
    pub roi_input: u32,
    /// Good captures a track gathers before it is decided.
    #[arg(long, value_name = "N", default_value_t = TrackerOptions::default().min_captures, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub min_captures: u32,
    /// Decide on the quality-weighted mean of a track's captures (mean), on its best capture alone (best),
    /// or on the mean of each capture's similarity to the candidate the mean picks (scores).
    #[arg(long, value_name = "HOW", default_value = aggregate_name(TrackerOptions::default().aggregate), value_parser = clap::builder::PossibleValuesParser::new(["mean", "best", "scores"]).map(|s| parse_aggregate(&s)))]
    pub aggregate: Aggregate,
    /// A track's liveness: the mean or the median of its captures' scores.
    #[arg(long, value_name = "HOW", default_value = live_name(TrackerOptions::default().liveness_aggregate), value_parser = clap::builder::PossibleValuesParser::new(["mean", "median"]).map(|s| if s == "median" { LivenessAggregate::Median } else { LivenessAggregate::Mean }))]
    pub liveness_aggregate: LivenessAggregate,
    /// A track not live on its first captures keeps gathering until it has N liveness scores before it is
    /// refused.
    #[arg(long, value_name = "N", default_value_t = TrackerOptions::default().liveness_captures, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub liveness_captures: u32,
    /// Re-detect each capture's face alone (2x its box at 160 px) before the liveness check: on|off.
    #[arg(long, value_name = "ON", action = clap::ArgAction::Set, default_value = if TrackerOptions::default().liveness_redetect { "on" } else { "off" }, value_parser = clap::builder::PossibleValuesParser::new(["on", "off"]).map(|s| s == "on"))]
    pub liveness_redetect: bool,
}

pub const fn aggregate_name(a: Aggregate) -> &'static str {
    match a {
        Aggregate::Mean => "mean",
        Aggregate::Best => "best",
        Aggregate::Scores => "scores",
    }
}

fn parse_aggregate(s: &str) -> Aggregate {
    match s {
        "best" => Aggregate::Best,
        "scores" => Aggregate::Scores,
        _ => Aggregate::Mean,
    }
}

const fn live_name(a: LivenessAggregate) -> &'static str {
    match a {
        LivenessAggregate::Mean => "mean",
        LivenessAggregate::Median => "median",
    }
}

impl TrackerArgs {
    pub fn options(&self) -> TrackerOptions {
        TrackerOptions {
            detect_every: self.detect_every,
            roi_input: self.roi_input,
            min_captures: self.min_captures,
            aggregate: self.aggregate,
            liveness_aggregate: self.liveness_aggregate,
            liveness_redetect: self.liveness_redetect,
            liveness_captures: self.liveness_captures,
            ..Default::default()
        }
    }
}

#[derive(Args, Debug)]
pub struct TrackArgs {
    /// A video file (decoded by ffmpeg), a folder of frames, or `-` for raw frames on stdin (with --raw).
    input: PathBuf,
    /// Decide who each person is against this gallery (`facekit enroll` makes one).
    #[arg(long, value_name = "FILE")]
    gallery: Option<PathBuf>,
    /// Instead of deciding: enroll under ID into --gallery (made if missing) the best capture of the track with
    /// the most good captures, as an enrolment station does.
    #[arg(long, value_name = "ID", requires = "gallery")]
    enroll: Option<String>,
    /// One JSON line per event: {"frame", "event": appeared|decided|lost, "track", "identity", "similarity", "reason"}.
    #[arg(long)]
    json: bool,
    /// Write every frame, annotated (boxes, track ids, decisions), as DIR/frame_NNNNNN.png.
    #[arg(long, value_name = "DIR")]
    draw: Option<PathBuf>,
    /// Raw frames on stdin are WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", value_parser = parse_size, requires = "format")]
    raw: Option<(u32, u32)>,
    /// Pixel layout of raw frames on stdin.
    #[arg(long, value_enum, requires = "raw")]
    format: Option<RawFormat>,
    /// Stop after N frames.
    #[arg(long, value_name = "N")]
    max_frames: Option<u64>,
    #[command(flatten)]
    tracker: TrackerArgs,
    #[command(flatten)]
    decision: DecisionArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Accepted => "accepted",
        Verdict::NoMatch => "no_match",
        Verdict::NotLive => "not_live",
        Verdict::PoorQuality => "poor_quality",
    }
}

pub fn finite(v: f32) -> Option<f32> {
    v.is_finite().then_some(v)
}

pub fn track(m: &ModelArgs, a: TrackArgs) -> Result<Code, Error> {
    let mut o = a.pipeline.options(None);
    // Per capture the looser unlock policy: a track decides on several captures, not one.
    a.decision.apply(&mut o, QualityPolicy::unlock());
    let engine = crate::args::load(m, o)?;
    let gallery = match (&a.gallery, &a.enroll) {
        (Some(g), Some(_)) if !g.exists() => Some(Gallery::new(engine.model_id(), engine.dim())?),
        (Some(g), _) => Some(Gallery::load(g, engine.model_id(), engine.dim())?),
        (None, _) => None,
    };
    let mut tracker = Tracker::new(&engine, a.tracker.options())?;
    if let (Some(g), None) = (&gallery, &a.enroll) {
        tracker.set_reference(Reference::Gallery(g))?;
    }
    let mut best: Option<((u32, f32), Embedding)> = None;
    if let Some(d) = &a.draw {
        std::fs::create_dir_all(d).map_err(|e| Error::Io { path: d.clone(), source: e })?;
    }
    let mut frames = Frames::open(&a.input, a.raw.zip(a.format))?;
    let (mut n, mut tracks, mut decided, mut accepted) = (0u64, 0u64, 0u64, 0u64);
    let t0 = Instant::now();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    while a.max_frames.is_none_or(|m| n < m) {
        let Some(frame) = frames.next_frame()? else { break };
        let up = tracker.update(&frame)?;
        if a.enroll.is_some() {
            // The person enrolled is the one the stream is about: the track with the most good captures (then
            // the best one), not the best single capture of anyone who crossed the picture.
            for t in &up.tracks {
                let key = (t.captures, t.best_quality);
                if best.as_ref().is_none_or(|b| key.0 > b.0 .0 || (key.0 == b.0 .0 && key.1 > b.0 .1)) {
                    if let Some(e) = tracker.best_embedding(t.id) {
                        best = Some((key, e.clone()));
                    }
                }
            }
        }
        for ev in &up.events {
            let (event, d) = match &ev.kind {
                EventKind::Appeared => {
                    tracks += 1;
                    ("appeared", None)
                }
                EventKind::Decided(d) => {
                    decided += 1;
                    accepted += u64::from(d.verdict == Verdict::Accepted);
                    ("decided", Some(d))
                }
                EventKind::Lost => ("lost", None),
            };
            let line = if a.json {
                json!({
                    "frame": ev.frame, "event": event, "track": ev.track,
                    "identity": d.and_then(|d| d.identity.clone()), "similarity": d.and_then(|d| finite(d.similarity)),
                    "threshold": d.and_then(|d| finite(d.threshold)),
                    "reason": d.map(|d| verdict_name(d.verdict)), "after_frames": d.map(|d| d.after_frames),
                    "liveness": d.and_then(|d| finite(d.liveness)), "eye_distance": d.and_then(|d| finite(d.eye_distance)),
                    "nearest": d.and_then(|d| d.nearest.clone()), "nearest_similarity": d.and_then(|d| finite(d.nearest_similarity)),
                })
                .to_string()
            } else {
                match d {
                    None => format!("frame {}: track {} {event}", ev.frame, ev.track),
                    Some(d) => format!(
                        "frame {}: track {} decided after {} frames: {} {}(similarity {}, threshold {} at {})",
                        ev.frame,
                        ev.track,
                        d.after_frames,
                        verdict_name(d.verdict),
                        d.identity.as_deref().map(|i| format!("{i} ")).unwrap_or_default(),
                        finite(d.similarity).map_or("n/a".into(), |s| format!("{s:.4}")),
                        finite(d.threshold).map_or("n/a".into(), |s| format!("{s:.4}")),
                        d.operating_point.key()
                    ),
                }
            };
            writeln!(out, "{line}").map_err(|e| Error::Io { path: "stdout".into(), source: e })?;
        }
        if let Some(dir) = &a.draw {
            annotate(&frame, &up.tracks).save(dir.join(format!("frame_{n:06}.png")))?;
        }
        n += 1;
    }
    if n == 0 {
        return Err(Error::Decode { path: a.input.display().to_string(), msg: "no frames".into() });
    }
    if let (Some(id), Some(g), Some(path)) = (&a.enroll, &gallery, &a.gallery) {
        let ((n, q), e) = best.ok_or_else(|| Error::NoFace(format!(" good enough to enroll in {}", a.input.display())))?;
        g.enroll(id, &[e.as_slice()])?;
        g.save(path)?;
        eprintln!(
            "{id}: enrolled the best of {n} good captures (quality {q:.0}/100); gallery {} holds {} identities",
            path.display(),
            g.count()
        );
    }
    let s = tracker.stats();
    eprintln!(
        "{n} frames, {tracks} tracks, {decided} decided ({accepted} accepted); {} full detections, {} region detections, {} captures; {:.1} ms/frame",
        s.full_detections,
        s.region_detections,
        s.captures,
        t0.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    Ok(Code::Ok)
}

/// The frame with each track's box (green: accepted, red: refused, yellow: undecided), id and decision.
fn annotate(frame: &Image, tracks: &[Track]) -> Image {
    let mut c = Canvas::new(frame);
    let scale = if frame.width() >= 1280 { 2 } else { 1 };
    for t in tracks {
        let f = &t.face;
        let (colour, label) = match &t.decision {
            Some(d) if d.verdict == Verdict::Accepted => ([0, 220, 0], format!("#{} {}", t.id, d.identity.as_deref().unwrap_or("match"))),
            Some(d) => ([230, 0, 0], format!("#{} {}", t.id, verdict_name(d.verdict))),
            None => ([240, 200, 0], format!("#{}", t.id)),
        };
        c.rect(f.x, f.y, f.width, f.height, colour);
        c.text(f.x, (f.y - 12.0 * scale as f32).max(0.0), &label, colour, scale);
    }
    c.into_image()
}

#[derive(Args, Debug)]
pub struct BenchTrackArgs {
    /// A video file or a folder of frames (decoded before timing).
    input: PathBuf,
    /// Alternating timing rounds (tracker, facekit every frame, onnxruntime every frame).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Use only the first N frames.
    #[arg(long, value_name = "N")]
    max_frames: Option<usize>,
    /// Skip the onnxruntime reference (no Python needed).
    #[arg(long)]
    no_reference: bool,
    /// The reference script (onnxruntime, ../shared/tools/refpipe.py's classes).
    #[arg(long, value_name = "FILE", default_value = "bench/track_reference.py")]
    reference_script: PathBuf,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    tracker: TrackerArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// The onnxruntime reference as a child process: it decodes the same frames once, then times one round of the
/// every-frame pipeline per request, so the two sides alternate within one run.
struct OrtReference {
    child: std::process::Child,
    reply: BufReader<std::process::ChildStdout>,
}

impl OrtReference {
    fn start(script: &Path, input: &Path, max_frames: Option<usize>, models: &Path) -> Result<Self, Error> {
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg(input).arg("--models").arg(models);
        if let Some(m) = max_frames {
            cmd.args(["--max-frames", &m.to_string()]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Unsupported(format!("cannot start python3 {}: {e}", script.display())))?;
        let reply = BufReader::new(child.stdout.take().expect("piped"));
        let mut r = OrtReference { child, reply };
        r.read()?; // "ready" once the frames are decoded and the models loaded
        Ok(r)
    }
    fn read(&mut self) -> Result<Value, Error> {
        let mut line = String::new();
        self.reply.read_line(&mut line).map_err(|e| Error::Io { path: "reference".into(), source: e })?;
        serde_json::from_str(&line).map_err(|_| Error::Internal(format!("the reference script said {line:?} (see its stderr)")))
    }
    fn round(&mut self) -> Result<Value, Error> {
        let stdin = self.child.stdin.as_mut().expect("piped");
        writeln!(stdin, "round").and_then(|_| stdin.flush()).map_err(|e| Error::Io { path: "reference".into(), source: e })?;
        self.read()
    }
}

impl Drop for OrtReference {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[s.len() / 2]
}

pub fn bench(m: &ModelArgs, a: BenchTrackArgs) -> Result<Code, Error> {
    let frames = decode_all(&a.input, a.max_frames)?;
    // The tracker as `facekit track` runs it: quality-gated captures (unlock policy) with liveness.
    let mut o = a.pipeline.options(Some(&QualityArgs { quality_model: None, policy: QualityPolicy::unlock() }));
    o.load_liveness = true;
    let engine = crate::args::load(m, o)?;
    let mut reference =
        if a.no_reference { None } else { Some(OrtReference::start(&a.reference_script, &a.input, Some(frames.len()), &m.dir()?)?) };
    let n = frames.len() as f64;
    let (mut tracked, mut every, mut refs, mut ratios) = (vec![], vec![], vec![], vec![]);
    let mut stats = None;
    let mut faces_per_frame = 0.0;
    for _ in 0..a.rounds {
        let t = Instant::now();
        let mut tracker = Tracker::new(&engine, a.tracker.options())?;
        for f in &frames {
            tracker.update(f)?;
        }
        tracked.push(t.elapsed().as_secs_f64() * 1e3 / n);
        stats = Some(tracker.stats());
        let t = Instant::now();
        let mut faces = 0usize;
        for f in &frames {
            for face in engine.detect(f)? {
                engine.embed(f, &face)?;
                faces += 1;
            }
        }
        every.push(t.elapsed().as_secs_f64() * 1e3 / n);
        faces_per_frame = faces as f64 / n;
        if let Some(r) = reference.as_mut() {
            let v = r.round()?;
            let ms = v["ms_per_frame"].as_f64().ok_or_else(|| Error::Internal(format!("reference reply {v}")))?;
            refs.push(ms);
            ratios.push(tracked.last().copied().unwrap_or(f64::NAN) / ms);
        }
    }
    let s = stats.expect("at least one round");
    let total_seconds = tracked.last().copied().unwrap_or(f64::NAN) * n / 1e3;
    let reference_ms = (!refs.is_empty()).then(|| median(&refs));
    let v = json!({
        "input": a.input, "frames": frames.len(), "width": frames[0].width(), "height": frames[0].height(),
        "rounds": a.rounds, "detect_every": a.tracker.detect_every, "roi_input": a.tracker.roi_input,
        "ms_per_frame": median(&tracked), "ms_per_frame_every_frame": median(&every),
        "ms_per_frame_reference": reference_ms,
        "ratio_to_reference": (!ratios.is_empty()).then(|| median(&ratios)),
        "ratio_every_frame_to_reference": reference_ms.map(|r| median(&every) / r),
        "per_round": {"tracker": tracked, "every_frame": every, "reference": refs, "ratio": ratios},
        "faces_per_frame": faces_per_frame,
        "tracker": {
            "full_detections": s.full_detections, "region_detections": s.region_detections, "captures": s.captures,
            "embeddings": s.embeddings, "tracks": s.tracks,
            "ms_per_full_detection": 1e3 * s.full_detect_seconds / s.full_detections.max(1) as f64,
            "ms_per_region_detection": 1e3 * s.region_detect_seconds / s.region_detections.max(1) as f64,
            "ms_per_capture": 1e3 * s.capture_seconds / s.captures.max(1) as f64,
            "share": {
                "full_detection": s.full_detect_seconds / total_seconds,
                "region_detection": s.region_detect_seconds / total_seconds,
                "captures": s.capture_seconds / total_seconds,
            },
        },
    });
    println!("{}", if a.json { v.to_string() } else { serde_json::to_string_pretty(&v).expect("json") });
    Ok(Code::Ok)
}
