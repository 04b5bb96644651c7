//! `eval camera`: decisions on a camera facekit was not calibrated on, leave-one-person-out. For each
//! person, the others are enrolled (the best capture of each one's first clip, as an enrolment station takes
//! it) and every clip is run through the tracker at the given settings: a clip of the person left out, or
//! accepted as anyone but its person, is a false open; a clip of an enrolled person (other than their
//! enrolment clip) is a genuine run. Clips with nobody enrolled in them (`--stranger-clip`) are run against
//! every fold's gallery: any acceptance there is a false open too.

use crate::args::{DecisionArgs, ModelArgs, PipelineArgs};
use crate::exit::Code;
use crate::track::{finite, verdict_name, TrackerArgs};
use crate::video::decode_all;
use clap::Args;
use facekit::eval::par_map;
use facekit::gallery::Gallery;
use facekit::quality::QualityPolicy;
use facekit::track::{Decision, EventKind, Reference, Verdict};
use facekit::{Embedding, Engine, Error, Image, Tracker};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CameraEvalArgs {
    /// A labelled clip, PERSON=FILE (repeat); each person's first clip is their enrolment clip.
    #[arg(long = "clip", value_name = "PERSON=FILE", required = true)]
    clips: Vec<String>,
    /// A clip in which nobody is enrolled (repeat): every acceptance in it is a false open.
    #[arg(long = "stranger-clip", value_name = "FILE")]
    strangers: Vec<PathBuf>,
    /// Write one JSON line per clip run (fold, clip, outcome, every decision) to FILE.
    #[arg(long, value_name = "FILE")]
    runs: Option<PathBuf>,
    /// Worker threads (clip runs in parallel).
    #[arg(long, value_name = "N", default_value_t = 2)]
    threads: usize,
    #[command(flatten)]
    tracker: TrackerArgs,
    #[command(flatten)]
    decision: DecisionArgs,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

/// What one clip run came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    FalseOpen,
    Accepted,
    NotLive,
    PoorQuality,
    NoMatch,
    NoDecision,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::FalseOpen => "false_open",
            Outcome::Accepted => "accepted",
            Outcome::NotLive => "not_live",
            Outcome::PoorQuality => "poor_quality",
            Outcome::NoMatch => "no_match",
            Outcome::NoDecision => "no_decision",
        }
    }
}

struct Clip {
    person: Option<String>,
    path: PathBuf,
    frames: Vec<Image>,
}

/// Every decision a tracker takes on `frames` against `reference`.
fn decisions(engine: &Engine, args: &TrackerArgs, frames: &[Image], reference: Reference) -> Result<Vec<Decision>, Error> {
    let mut t = Tracker::new(engine, args.options())?;
    t.set_reference(reference)?;
    let mut out = Vec::new();
    for f in frames {
        for ev in t.update(f)?.events {
            if let EventKind::Decided(d) = ev.kind {
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// The best capture of the track with the most good captures (then the best quality), as `track --enroll`.
fn enrolment(engine: &Engine, args: &TrackerArgs, clip: &Clip) -> Result<Embedding, Error> {
    let mut t = Tracker::new(engine, args.options())?;
    let mut best: Option<((u32, f32), Embedding)> = None;
    for f in &clip.frames {
        for tr in t.update(f)?.tracks {
            let key = (tr.captures, tr.best_quality);
            if best.as_ref().is_none_or(|b| key.0 > b.0 .0 || (key.0 == b.0 .0 && key.1 > b.0 .1)) {
                if let Some(e) = t.best_embedding(tr.id) {
                    best = Some((key, e.clone()));
                }
            }
        }
    }
    best.map(|b| b.1).ok_or_else(|| Error::NoFace(format!(" good enough to enrol in {}", clip.path.display())))
}

/// A clip run's outcome: any acceptance of someone else (or of anyone, when `own` is not enrolled) is a
/// false open; else an acceptance of its own person; else the first refusal; else no decision.
fn outcome(ds: &[Decision], own: Option<&str>) -> Outcome {
    let accepted = |d: &&Decision| d.verdict == Verdict::Accepted;
    if ds.iter().filter(accepted).any(|d| own.is_none() || d.identity.as_deref() != own) {
        return Outcome::FalseOpen;
    }
    if ds.iter().any(|d| accepted(&d)) {
        return Outcome::Accepted;
    }
    match ds.first().map(|d| d.verdict) {
        Some(Verdict::NotLive) => Outcome::NotLive,
        Some(Verdict::PoorQuality) => Outcome::PoorQuality,
        Some(_) => Outcome::NoMatch,
        None => Outcome::NoDecision,
    }
}

pub fn eval_camera(m: &ModelArgs, a: CameraEvalArgs) -> Result<Code, Error> {
    let mut o = a.pipeline.options(None);
    a.decision.apply(&mut o, QualityPolicy::unlock());
    let engine = crate::args::load(m, o)?;
    let mut clips = Vec::new();
    for c in &a.clips {
        let (person, file) = c.split_once('=').ok_or_else(|| Error::invalid(format!("--clip {c:?} is not PERSON=FILE")))?;
        if person.is_empty() {
            return Err(Error::invalid(format!("--clip {c:?} names no person")));
        }
        clips.push(Clip { person: Some(person.to_string()), path: file.into(), frames: decode_all(file.as_ref(), None)? });
    }
    for s in &a.strangers {
        clips.push(Clip { person: None, path: s.clone(), frames: decode_all(s, None)? });
    }
    let mut people: Vec<String> = Vec::new();
    for c in &clips {
        if let Some(p) = c.person.as_ref().filter(|p| !people.contains(p)) {
            people.push(p.clone());
        }
    }
    if people.len() < 2 {
        return Err(Error::invalid("leave-one-person-out needs clips of at least 2 people"));
    }
    // Each person's enrolment: their first clip.
    let first: Vec<usize> = people.iter().map(|p| clips.iter().position(|c| c.person.as_ref() == Some(p)).expect("listed")).collect();
    let templates = par_map(&first, a.threads, None, |&i| enrolment(&engine, &a.tracker, &clips[i]))?;
    for i in 0..people.len() {
        for j in i + 1..people.len() {
            eprintln!("enrolled {} vs {}: {:.3}", people[i], people[j], facekit::compare::cosine(templates[i].as_slice(), templates[j].as_slice())?);
        }
    }
    let folds: Vec<Gallery> = (0..people.len())
        .map(|out| {
            let g = Gallery::new(engine.model_id(), engine.dim())?;
            for (k, p) in people.iter().enumerate().filter(|(k, _)| *k != out) {
                g.enroll(p, &[templates[k].as_slice()])?;
            }
            Ok(g)
        })
        .collect::<Result<_, Error>>()?;
    let jobs: Vec<(usize, usize)> = (0..people.len()).flat_map(|f| (0..clips.len()).map(move |c| (f, c))).collect();
    let results = par_map(&jobs, a.threads, Some("clip runs"), |&(f, c)| decisions(&engine, &a.tracker, &clips[c].frames, Reference::Gallery(&folds[f])))?;

    let (mut runs, mut false_opens, mut genuine_total, mut genuine_accepted, mut live_refused, mut quality_refused) = (0, 0, 0, 0, 0, 0);
    let (mut stranger_runs, mut stranger_false_opens, mut no_match, mut no_decision) = (0, 0, 0, 0);
    let mut log = match &a.runs {
        Some(p) => Some(std::fs::File::create(p).map_err(|e| Error::Io { path: p.clone(), source: e })?),
        None => None,
    };
    for (&(f, c), ds) in jobs.iter().zip(&results) {
        let clip = &clips[c];
        let enrolled = clip.person.as_ref().filter(|p| **p != people[f]);
        let genuine = enrolled.is_some() && !first.contains(&c);
        let out = outcome(ds, enrolled.map(|s| s.as_str()));
        if clip.person.is_none() {
            stranger_runs += 1;
            stranger_false_opens += usize::from(out == Outcome::FalseOpen);
        } else {
            runs += 1;
            false_opens += usize::from(out == Outcome::FalseOpen);
            genuine_total += usize::from(genuine);
            genuine_accepted += usize::from(genuine && out == Outcome::Accepted);
            live_refused += usize::from(out == Outcome::NotLive);
            quality_refused += usize::from(out == Outcome::PoorQuality);
            no_match += usize::from(out == Outcome::NoMatch);
            no_decision += usize::from(out == Outcome::NoDecision);
        }
        if let Some(w) = log.as_mut() {
            let line = json!({
                "left_out": people[f], "clip": clip.path.display().to_string(), "person": clip.person, "genuine": genuine,
                "outcome": out.name(),
                "decisions": ds.iter().map(|d| json!({
                    "reason": verdict_name(d.verdict), "identity": d.identity, "nearest": d.nearest,
                    "similarity": finite(d.similarity), "threshold": finite(d.threshold), "liveness": finite(d.liveness),
                    "eye_distance": finite(d.eye_distance), "after_frames": d.after_frames,
                })).collect::<Vec<_>>(),
            });
            writeln!(w, "{line}").map_err(|e| Error::Io { path: a.runs.clone().unwrap_or_default(), source: e })?;
        }
    }
    let r = json!({
        "runs": runs, "false_opens": false_opens, "genuine_accepted": genuine_accepted, "genuine_total": genuine_total,
        "live_refused": live_refused, "quality_refused": quality_refused, "no_match": no_match, "no_decision": no_decision,
        "stranger_runs": stranger_runs, "stranger_false_opens": stranger_false_opens,
    });
    println!("{r}");
    Ok(Code::Ok)
}
