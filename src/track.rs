//! Live camera mode: a [`Tracker`] follows each face across the frames of one camera stream and decides once
//! per person, from evidence gathered over several frames.
//!
//! Per frame, at a fraction of the cost of treating every frame as a photo:
//! - **Detection.** The whole frame is searched every `detect_every` frames, when there are no tracks, and
//!   after a track was lost; in between, each track is re-detected only inside a square region around its
//!   predicted box (`roi_scale` × its size), scaled to a small square (`roi_input`) — the squares of all
//!   tracks in one detector run — and detections are associated with tracks by IoU. A scene cut (the frame changes wholesale, see [`SceneCut`]) ends every
//!   track at once, so an identity is never carried across a cut to another face.
//! - **Evidence.** A face is aligned, quality-checked, liveness-checked and embedded only when its capture is
//!   worth it: until a track has `min_captures` good captures, one every `capture_gap` frames; after that,
//!   only a capture clearly (25 %) better than its best (a cheap score from detector confidence, face size and
//!   head pose decides, before any model runs) — or, while its liveness is under the threshold, until it has
//!   `liveness_captures` scores. The captures' unit embeddings are averaged with their quality scores as
//!   weights (the mean picks the candidate); liveness is the median of the captures' scores, each on a box
//!   re-detected alone.
//! - **Decision.** Once a track has `min_captures` good captures (or `decide_within` frames have passed),
//!   it is decided once: poor quality (no good capture), not live (when the engine's policy requires liveness,
//!   the captures' median liveness score under the calibrated threshold), or compared with the reference (a
//!   gallery: who is it; a template: is it them) at the engine's operating point — each capture's similarity
//!   to the candidate, averaged ([`Aggregate::Scores`]), at the threshold for the captures' resolution and,
//!   for a gallery, its size and camera ([`Engine::gallery_decision_threshold`]). Only an acceptance names
//!   someone. A decision is final while the track lives: no flicker.
//!
//! A tracker belongs to one stream and is used from one thread at a time; many trackers share one engine
//! (which stays immutable). Its state is plain data owned by the tracker.

use crate::compare::{cosine, OperatingPoint};
use crate::detect::{DetectParams, Face, Region};
use crate::embed::Embedding;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::gallery::Gallery;
use crate::image::Image;
use crate::liveness::LivenessStatus;
use crate::quality::head_pose;
use std::time::Instant;

/// Tracker settings. Start from `TrackerOptions::default()`.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerOptions {
    /// Full-frame detection every this many frames (1 = every frame); also when there are no tracks and
    /// after a track went unseen.
    pub detect_every: u32,
    /// Side of the square (pixels: 32, 64, 96 or 128) each track's region is scaled to for its re-detection;
    /// the squares of all tracks go through the detector together.
    pub roi_input: u32,
    /// A track's search region is a square of this many times its box's longer side, around the predicted box.
    pub roi_scale: f32,
    /// Detector score threshold inside a track's region (lower than the full frame's: a face is expected there).
    pub roi_min_score: f32,
    /// Smallest IoU between a detection and a track's predicted box for the detection to continue the track.
    pub min_iou: f32,
    /// A track unseen for more than this many consecutive frames is lost.
    pub max_missed: u32,
    /// Good captures (quality-gated embeddings) gathered before deciding.
    pub min_captures: u32,
    /// Frames between two captures while a track gathers its first `min_captures`.
    pub capture_gap: u32,
    /// A track still undecided after this many frames is decided with what it has (refused for poor quality
    /// if it has no good capture).
    pub decide_within: u32,
    /// At most this many tracks at once (new faces beyond it are ignored until a track ends).
    pub max_tracks: usize,
    /// What a track is decided on: the quality-weighted mean of its captures' embeddings, or its best capture's.
    pub aggregate: Aggregate,
    /// How a track's liveness is decided from its captures' scores.
    pub liveness_aggregate: LivenessAggregate,
    /// A track whose captures are not live (yet) is not refused at `min_captures`: it keeps taking a capture
    /// every `capture_gap` frames until it has this many liveness scores (or `decide_within` frames pass),
    /// and is decided on all of them. A live person turning to the camera is let in; a photo stays out.
    pub liveness_captures: u32,
    /// Before a capture's liveness is checked, detect the face again alone in a square of twice its box at
    /// 320 px: the liveness crops (2.7x and 4x the box) are cut from a finer box than the region search's.
    pub liveness_redetect: bool,
}

/// How the liveness scores of a track's captures are combined before the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LivenessAggregate {
    /// The mean score.
    Mean,
    /// The median score: one odd frame (a blink, motion blur, a glare) neither refuses a live person nor
    /// admits a photo.
    #[default]
    Median,
}

/// The embedding a track's decision compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Aggregate {
    /// Quality-weighted mean of the good captures' unit embeddings (noise of single frames averages out).
    Mean,
    /// The best capture's embedding alone (by the cheap capture score).
    Best,
    /// The mean embedding picks the candidate; the decision takes the mean of each capture's own similarity
    /// to it. The calibrated thresholds are for one capture against one template; the similarity of a mean
    /// embedding is higher for everybody, strangers included, so it would be decided too loosely.
    #[default]
    Scores,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        TrackerOptions {
            detect_every: 10,
            roi_input: 64,
            roi_scale: 2.0,
            roi_min_score: 0.3,
            min_iou: 0.3,
            max_missed: 10,
            min_captures: 3,
            capture_gap: 3,
            decide_within: 45,
            max_tracks: 16,
            aggregate: Aggregate::Scores,
            liveness_aggregate: LivenessAggregate::Median,
            liveness_captures: 6,
            liveness_redetect: true,
        }
    }
}

impl TrackerOptions {
    fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::invalid(format!("tracker option {what}")));
        if self.detect_every == 0 {
            return bad("detect_every must be at least 1");
        }
        if !(32..=128).contains(&self.roi_input) || self.roi_input % 32 != 0 {
            return bad("roi_input must be 32, 64, 96 or 128");
        }
        if !(self.roi_scale >= 1.0 && self.roi_scale <= 8.0) {
            return bad("roi_scale must be in 1..=8");
        }
        if !(0.0..=1.0).contains(&self.roi_min_score) || !(0.0..=1.0).contains(&self.min_iou) {
            return bad("roi_min_score and min_iou must be in 0..=1");
        }
        if !(1..=100).contains(&self.liveness_captures) {
            return bad("liveness_captures must be in 1..=100");
        }
        if self.min_captures == 0 || self.max_tracks == 0 || self.max_tracks > 1024 {
            return bad("min_captures must be at least 1 and max_tracks in 1..=1024");
        }
        Ok(())
    }
}

/// Where a track is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackState {
    /// First frame of the track.
    New = 1,
    /// Seen before (and possibly not in this frame: see `missed`).
    Tracked = 2,
    /// Ended in this frame (unseen too long, scene cut, frame size change): reported once, then dropped.
    Lost = 3,
}

/// The outcome of a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The reference matched: the gallery identity in `identity`, or the template.
    Accepted = 1,
    /// Compared, and below the threshold: nobody enrolled / not the template's person.
    NoMatch = 2,
    /// The liveness check says this is not a live face (photo, screen).
    NotLive = 3,
    /// No capture good enough to decide on within `decide_within` frames.
    PoorQuality = 4,
}

/// A track's decision, taken once.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub verdict: Verdict,
    /// The gallery identity when accepted; `None` for every refusal (a refusal names nobody), with a template
    /// and when nothing was compared.
    pub identity: Option<String>,
    /// The closest gallery identity, whatever the verdict, and its similarity: for logs and review, **not a
    /// decision** (a stranger has a nearest identity too).
    pub nearest: Option<String>,
    pub nearest_similarity: f32,
    /// Mean inter-eye distance (pixels) of the captures decided on: the resolution band of the threshold.
    pub eye_distance: f32,
    /// Cosine similarity of the aggregated embedding to the reference; NaN when nothing was compared.
    pub similarity: f32,
    /// Threshold the similarity was decided at: `operating_point`'s, or for a gallery the one for its size
    /// ([`Engine::gallery_threshold`]); NaN when nothing was compared.
    pub threshold: f32,
    pub operating_point: OperatingPoint,
    /// Mean liveness score of the captures (NaN when the engine has no liveness stage).
    pub liveness: f32,
    /// Frames from the track's first appearance to the decision.
    pub after_frames: u32,
}

/// One tracked face as of the latest frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    /// Stable for the track's life; never reused by this tracker.
    pub id: u64,
    pub state: TrackState,
    /// This frame's box, score and landmarks (the predicted box, score 0, when unseen in this frame).
    pub face: Face,
    /// Frames since the track appeared (0 on its first).
    pub age: u32,
    /// Consecutive frames it has gone unseen.
    pub missed: u32,
    /// Good captures embedded so far.
    pub captures: u32,
    /// Overall quality (0–100) of its best capture; NaN before the first.
    pub best_quality: f32,
    /// Mean liveness score of its captures; NaN when not assessed.
    pub liveness: f32,
    pub decision: Option<Decision>,
}

/// What happened in a frame, for a firmware loop to act on.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    Appeared,
    Decided(Decision),
    Lost,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Frame index (0-based, counted by this tracker).
    pub frame: u64,
    pub track: u64,
    pub kind: EventKind,
}

/// The tracks of the latest frame (lost ones included once) and what happened in it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    pub frame: u64,
    pub tracks: Vec<Track>,
    pub events: Vec<Event>,
}

/// What a tracker has done so far, and the time it took (for benchmarks and logs).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TrackerStats {
    pub frames: u64,
    pub full_detections: u64,
    pub region_detections: u64,
    /// Captures aligned and quality-checked; the good ones were embedded.
    pub captures: u64,
    pub embeddings: u64,
    pub tracks: u64,
    /// Seconds spent in full-frame detection, region re-detection, and captures (align, quality, embed).
    pub full_detect_seconds: f64,
    pub region_detect_seconds: f64,
    pub capture_seconds: f64,
}

/// What a track is decided against.
#[derive(Clone, Debug)]
pub enum Reference<'a> {
    /// Track only: no decisions.
    None,
    /// 1:N: who among the enrolled is this.
    Gallery(&'a Gallery),
    /// 1:1: is this the person of this template.
    Template(Embedding),
}

/// A tracked face and its evidence.
struct Slot {
    track: Track,
    /// Per-frame motion of the box centre and size (smoothed).
    velocity: [f32; 4],
    /// Cheap capture score of the best capture so far.
    best_score: f32,
    last_capture: Option<u64>,
    /// Quality-weighted sum of the captures' unit embeddings, and the sum of weights.
    embedding_sum: Vec<f32>,
    weight: f32,
    /// The good captures' embeddings, liveness scores (those the check could assess) and the weighted sum of
    /// their inter-eye distances.
    embeddings: Vec<Embedding>,
    liveness_scores: Vec<f32>,
    eye_sum: f32,
    /// Per good capture (parallel to `embeddings`): inter-eye distance and liveness score (NaN unassessed).
    capture_log: Vec<(f32, f32)>,
    best_crop: Option<Image>,
    best_embedding: Option<Embedding>,
}

/// One camera stream's tracker. See the [module docs](self).
pub struct Tracker<'a> {
    engine: &'a Engine,
    options: TrackerOptions,
    reference: Reference<'a>,
    slots: Vec<Slot>,
    next_id: u64,
    frame: u64,
    since_full: u32,
    size: Option<(u32, u32)>,
    cut: SceneCut,
    stats: TrackerStats,
    /// A track was lost in the previous frame: search the whole frame again (it may have moved out of its
    /// region).
    lost_last_frame: bool,
}

impl<'a> Tracker<'a> {
    pub fn new(engine: &'a Engine, options: TrackerOptions) -> Result<Self> {
        options.validate()?;
        Ok(Tracker {
            engine,
            options,
            reference: Reference::None,
            slots: Vec::new(),
            next_id: 1,
            frame: 0,
            since_full: 0,
            size: None,
            cut: SceneCut::default(),
            stats: TrackerStats::default(),
            lost_last_frame: false,
        })
    }

    /// Counts of the work done since the tracker was made.
    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    /// What tracks are decided against from now on (undecided tracks only; decisions stay).
    pub fn set_reference(&mut self, reference: Reference<'a>) -> Result<()> {
        let dim = match &reference {
            Reference::None => None,
            Reference::Gallery(g) => {
                if g.model_id() != self.engine.model_id() {
                    return Err(Error::Incompatible("the gallery was made by another embedder than the engine's".into()));
                }
                Some(g.dim())
            }
            Reference::Template(t) => Some(t.dim()),
        };
        if dim.is_some_and(|d| d != self.engine.dim()) {
            return Err(Error::invalid(format!("reference has dimension {dim:?}, the engine embeds {}", self.engine.dim())));
        }
        self.reference = reference;
        Ok(())
    }

    pub fn options(&self) -> &TrackerOptions {
        &self.options
    }

    /// New settings, from the next frame on.
    pub fn set_options(&mut self, options: TrackerOptions) -> Result<()> {
        options.validate()?;
        self.options = options;
        Ok(())
    }

    /// Forgets every track (no events): for a new stream on the same tracker.
    pub fn reset(&mut self) {
        self.slots.clear();
        self.since_full = 0;
        self.lost_last_frame = false;
        self.size = None;
        self.cut = SceneCut::default();
    }

    /// The aggregated (quality-weighted mean) embedding of a live track, once it has a capture.
    pub fn embedding(&self, track: u64) -> Option<Embedding> {
        self.slot(track).and_then(|s| Embedding::from_vec(s.embedding_sum.clone()))
    }

    /// The embedding of a live track's best capture so far (what an enrolment from video stores).
    pub fn best_embedding(&self, track: u64) -> Option<&Embedding> {
        self.slot(track).and_then(|s| s.best_embedding.as_ref())
    }

    /// A live track's latest good capture: its embedding, inter-eye distance and liveness score (NaN when not
    /// assessed).
    pub fn last_capture(&self, track: u64) -> Option<(&Embedding, f32, f32)> {
        let s = self.slot(track)?;
        let (eye, live) = *s.capture_log.last()?;
        Some((s.embeddings.last()?, eye, live))
    }

    /// The embedder's aligned crop of a live track's best capture so far.
    pub fn best_capture(&self, track: u64) -> Option<&Image> {
        self.slot(track).and_then(|s| s.best_crop.as_ref())
    }

    fn slot(&self, id: u64) -> Option<&Slot> {
        self.slots.iter().find(|s| s.track.id == id)
    }

    /// Processes the next frame of the stream. A frame of another size than the previous one ends every
    /// track (a new stream) and starts afresh.
    pub fn update(&mut self, frame: &Image) -> Result<Update> {
        let f = self.frame;
        let mut up = Update { frame: f, ..Default::default() };
        let size = (frame.width(), frame.height());
        let cut = self.cut.is_cut(frame);
        if self.size.is_some_and(|s| s != size) || cut {
            self.end_all(f, &mut up);
        }
        self.size = Some(size);
        self.frame += 1;
        self.stats.frames += 1;

        for s in &mut self.slots {
            s.track.face = predicted(&s.track.face, &s.velocity);
            s.track.age += 1;
        }
        let full = self.slots.is_empty() || self.since_full + 1 >= self.options.detect_every || self.lost_last_frame;
        let mut seen = vec![None; self.slots.len()];
        if full {
            self.since_full = 0;
            self.stats.full_detections += 1;
            let t0 = Instant::now();
            let mut dets = self.engine.detect(frame)?;
            self.stats.full_detect_seconds += t0.elapsed().as_secs_f64();
            for (t, d) in associate(&self.slots, &dets, self.options.min_iou) {
                seen[t] = Some(dets[d]);
                dets[d].score = -1.0;
            }
            // Faces the full frame missed (too small at its scale) may still show up in their own region.
            let unmatched: Vec<usize> = (0..self.slots.len()).filter(|&t| seen[t].is_none()).collect();
            for (t, f) in unmatched.iter().zip(self.redetect(frame, &unmatched)?) {
                seen[*t] = f;
            }
            for d in dets.into_iter().filter(|d| d.score >= 0.0) {
                let overlaps = seen.iter().flatten().any(|s| s.iou(&d) > 0.5);
                if !overlaps && self.slots.len() < self.options.max_tracks {
                    let slot = self.new_slot(d);
                    self.slots.push(slot);
                    seen.push(Some(d));
                    up.events.push(Event { frame: f, track: self.next_id - 1, kind: EventKind::Appeared });
                }
            }
        } else {
            self.since_full += 1;
            let all: Vec<usize> = (0..self.slots.len()).collect();
            seen = self.redetect(frame, &all)?;
        }

        for (s, d) in self.slots.iter_mut().zip(&seen) {
            match d {
                Some(d) => {
                    s.velocity = smoothed_velocity(&s.velocity, &s.track.face, d);
                    s.track.face = *d;
                    s.track.missed = 0;
                }
                None => {
                    s.track.missed += 1;
                    s.track.face.score = 0.0;
                    // Unseen: trust the motion less every frame, so the prediction does not run away.
                    s.velocity.iter_mut().for_each(|v| *v *= 0.5);
                }
            }
        }
        self.drop_duplicates(f, &mut up);

        for i in 0..self.slots.len() {
            if self.slots[i].track.missed == 0 {
                self.gather(frame, i, f)?;
            }
            self.decide(i, f, &mut up)?;
        }

        // Report every track (the lost ones once, then drop them).
        self.lost_last_frame = false;
        for s in &mut self.slots {
            if s.track.missed > self.options.max_missed {
                self.lost_last_frame = true;
                s.track.state = TrackState::Lost;
                up.events.push(Event { frame: f, track: s.track.id, kind: EventKind::Lost });
            }
        }
        up.tracks.extend(self.slots.iter().map(|s| s.track.clone()));
        self.slots.retain(|s| s.track.state != TrackState::Lost);
        for s in &mut self.slots {
            s.track.state = TrackState::Tracked;
        }
        Ok(up)
    }

    fn new_slot(&mut self, face: Face) -> Slot {
        let id = self.next_id;
        self.next_id += 1;
        self.stats.tracks += 1;
        Slot {
            track: Track {
                id,
                state: TrackState::New,
                face,
                age: 0,
                missed: 0,
                captures: 0,
                best_quality: f32::NAN,
                liveness: f32::NAN,
                decision: None,
            },
            velocity: [0.0; 4],
            best_score: 0.0,
            last_capture: None,
            embedding_sum: Vec::new(),
            weight: 0.0,
            embeddings: Vec::new(),
            liveness_scores: Vec::new(),
            eye_sum: 0.0,
            capture_log: Vec::new(),
            best_crop: None,
            best_embedding: None,
        }
    }

    /// Ends every track (scene cut, new frame size).
    fn end_all(&mut self, f: u64, up: &mut Update) {
        for mut s in self.slots.drain(..) {
            s.track.state = TrackState::Lost;
            up.events.push(Event { frame: f, track: s.track.id, kind: EventKind::Lost });
            up.tracks.push(s.track);
        }
        self.since_full = 0;
    }

    /// Re-detects the tracks `which` in their regions (one detector run for all): for each, the detection that
    /// overlaps its predicted box most, if any overlaps enough.
    fn redetect(&mut self, frame: &Image, which: &[usize]) -> Result<Vec<Option<Face>>> {
        let mut found = vec![None; which.len()];
        let (mut regions, mut of) = (Vec::new(), Vec::new());
        for (k, &t) in which.iter().enumerate() {
            let p = &self.slots[t].track.face;
            let side = self.options.roi_scale * p.width.max(p.height);
            let centre = (p.x + p.width / 2.0, p.y + p.height / 2.0);
            if let Some(r) = Region::square_around(centre.0, centre.1, side, frame.width(), frame.height()) {
                regions.push(r);
                of.push(k);
            }
        }
        if regions.is_empty() {
            return Ok(found);
        }
        let params = DetectParams { score_threshold: self.options.roi_min_score, ..self.engine.options().detect.clone() };
        self.stats.region_detections += regions.len() as u64;
        let t0 = Instant::now();
        let per_region = self.engine.detect_regions(frame, &regions, self.options.roi_input, &params)?;
        self.stats.region_detect_seconds += t0.elapsed().as_secs_f64();
        for (k, faces) in of.into_iter().zip(per_region) {
            let predicted = &self.slots[which[k]].track.face;
            found[k] = faces
                .into_iter()
                .map(|d| (predicted.iou(&d), d))
                .filter(|(iou, d)| *iou >= self.options.min_iou || centre_inside(d, predicted))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, d)| d);
        }
        Ok(found)
    }

    /// Two tracks on one face (they converged): the younger one ends.
    fn drop_duplicates(&mut self, f: u64, up: &mut Update) {
        let n = self.slots.len();
        for i in 0..n {
            for j in i + 1..n {
                let (a, b) = (&self.slots[i].track, &self.slots[j].track);
                if a.state != TrackState::Lost && b.state != TrackState::Lost && a.face.iou(&b.face) > 0.7 {
                    // Slots are in creation order: j is younger.
                    self.slots[j].track.state = TrackState::Lost;
                    up.events.push(Event { frame: f, track: self.slots[j].track.id, kind: EventKind::Lost });
                }
            }
        }
        for s in self.slots.iter().filter(|s| s.track.state == TrackState::Lost) {
            up.tracks.push(s.track.clone());
        }
        self.slots.retain(|s| s.track.state != TrackState::Lost);
    }

    /// Takes a capture of track `i` when it is worth it (see the module docs).
    fn gather(&mut self, frame: &Image, i: usize, f: u64) -> Result<()> {
        let o = &self.options;
        let s = &self.slots[i];
        let score = capture_score(&s.track.face);
        // Spaced captures while gathering evidence; afterwards only a clearly better one — a quarter better
        // than the best, as a face walking towards the camera keeps improving — and never two attempts closer
        // than the gap, so a refused capture is not retried every frame.
        let due = s.last_capture.is_none_or(|l| f >= l + o.capture_gap as u64)
            && (s.track.captures < o.min_captures || score > 1.25 * s.best_score || self.wants_liveness_evidence(s));
        if !due || score <= 0.0 {
            return Ok(());
        }
        let face = s.track.face;
        self.slots[i].last_capture = Some(f);
        self.stats.captures += 1;
        let t0 = Instant::now();
        let r = self.capture(frame, i, face, score);
        self.stats.capture_seconds += t0.elapsed().as_secs_f64();
        r
    }

    /// Checks and (when good) embeds one capture of track `i` into its evidence: the quality gate (its classic
    /// measures first, cheap: most refusals end there, before the learned model), the embedding and liveness. (Re-detecting the face alone at 128 px before a capture, for finer landmarks,
    /// was measured on the ASL clips: +0.005 median similarity, one more refusal; not kept.)
    fn capture(&mut self, frame: &Image, i: usize, face: Face, score: f32) -> Result<()> {
        let e = self.engine;
        let policy = &e.options().quality;
        let crop = e.align(frame, &face)?;
        let q = e.quality_gate(frame, &face, &crop, policy)?;
        if !q.acceptable {
            return Ok(());
        }
        // With landmark refinement the accepted face is aligned again from its refined landmarks.
        let emb = if e.options().refine_landmarks { e.embed(frame, &face)? } else { e.embed_with_crop(frame, &face, &crop)? };
        self.stats.embeddings += 1;
        // Liveness is combined over the good captures: one frame can fool it, a stream of them less easily.
        let live = match e.liveness_model() {
            Some(_) if e.options().quality.require_liveness => {
                let lf = if self.options.liveness_redetect { self.finer_box(frame, &face)? } else { face };
                Some(e.liveness(frame, &lf)?)
            }
            _ => None,
        };
        let how = self.options.liveness_aggregate;
        let s = &mut self.slots[i];
        let assessed = live.filter(|l| l.status == LivenessStatus::Assessed);
        s.capture_log.push((face.eye_distance(), assessed.map_or(f32::NAN, |l| l.score)));
        if let Some(l) = assessed {
            s.liveness_scores.push(l.score);
            s.track.liveness = aggregate_liveness(&s.liveness_scores, how);
        }
        let w = (q.overall / 100.0).max(0.01);
        s.eye_sum += w * face.eye_distance();
        s.embeddings.push(emb.clone());
        if s.embedding_sum.is_empty() {
            s.embedding_sum = vec![0.0; emb.dim()];
        }
        s.embedding_sum.iter_mut().zip(emb.as_slice()).for_each(|(a, b)| *a += w * b);
        s.weight += w;
        s.track.captures += 1;
        if score > s.best_score {
            s.best_score = score;
            s.best_crop = Some(crop);
            s.best_embedding = Some(emb);
            s.track.best_quality = q.overall;
        }
        Ok(())
    }

    /// Whether an undecided track is still gathering liveness evidence: its captures' liveness is under the
    /// threshold and it has fewer than `liveness_captures` scores.
    fn wants_liveness_evidence(&self, s: &Slot) -> bool {
        let e = self.engine;
        let threshold = match e.liveness_model() {
            Some(l) if e.options().quality.require_liveness => l.threshold(e.options().liveness_point).ok(),
            _ => None,
        };
        threshold.is_some_and(|t| s.track.decision.is_none() && !(s.track.liveness >= t) && (s.liveness_scores.len() as u32) < self.options.liveness_captures)
    }

    /// `face` detected again alone in a square of twice its box scaled to 160 px (the detection overlapping it
    /// most, IoU >= 0.5), else `face`.
    fn finer_box(&mut self, frame: &Image, face: &Face) -> Result<Face> {
        let side = 2.0 * face.width.max(face.height);
        let Some(region) = Region::square_around(face.x + face.width / 2.0, face.y + face.height / 2.0, side, frame.width(), frame.height()) else {
            return Ok(*face);
        };
        let p = DetectParams { input_size: LIVENESS_REDETECT_INPUT, score_threshold: self.options.roi_min_score, min_face_size: 0.0, ..self.engine.options().detect.clone() };
        self.stats.region_detections += 1;
        let found = self.engine.detect_region(frame, region, &p)?;
        Ok(found.into_iter().map(|f| (f.iou(face), f)).filter(|(iou, _)| *iou >= 0.5).max_by(|a, b| a.0.total_cmp(&b.0)).map_or(*face, |(_, f)| f))
    }

    /// Decides track `i` once it has enough evidence.
    fn decide(&mut self, i: usize, f: u64, up: &mut Update) -> Result<()> {
        let o = &self.options;
        let t = &self.slots[i].track;
        if t.decision.is_some() || matches!(self.reference, Reference::None) {
            return Ok(());
        }
        let enough = t.captures >= o.min_captures || (t.age >= o.decide_within && t.captures > 0);
        let op = self.engine.options().operating_point;
        let mut d = Decision {
            verdict: Verdict::PoorQuality,
            identity: None,
            nearest: None,
            nearest_similarity: f32::NAN,
            eye_distance: f32::NAN,
            similarity: f32::NAN,
            threshold: f32::NAN,
            operating_point: op,
            liveness: t.liveness,
            after_frames: t.age,
        };
        let e = self.engine;
        let live_threshold = match e.liveness_model() {
            Some(l) if e.options().quality.require_liveness => Some(l.threshold(e.options().liveness_point)?),
            _ => None,
        };
        if !enough {
            if t.age < o.decide_within {
                return Ok(());
            }
        } else if live_threshold.is_some_and(|lt| !(t.liveness >= lt)) {
            // Not live (yet): more evidence first, while the track may still gather it.
            if self.wants_liveness_evidence(&self.slots[i]) && t.age < o.decide_within {
                return Ok(());
            }
            // Not live on its evidence, or never checkable (face too small / cut off in every capture).
            d.verdict = if t.liveness.is_nan() { Verdict::PoorQuality } else { Verdict::NotLive };
        } else {
            let s = &self.slots[i];
            let mean = Embedding::from_vec(s.embedding_sum.clone());
            let agg = match o.aggregate {
                Aggregate::Mean | Aggregate::Scores => mean,
                Aggregate::Best => s.best_embedding.clone(),
            }
            .ok_or_else(|| Error::Internal("track has no embedding to decide on".into()))?;
            let eye = s.eye_sum / s.weight;
            // Each capture's own similarity, averaged (Aggregate::Scores), or the aggregate's.
            let per_capture = |score: &dyn Fn(&[f32]) -> Result<f32>| -> Result<f32> {
                let v = s.embeddings.iter().map(|c| score(c.as_slice())).collect::<Result<Vec<f32>>>()?;
                Ok(v.iter().sum::<f32>() / v.len().max(1) as f32)
            };
            // A gallery decides at the threshold for its size and camera (Engine::gallery_decision_threshold),
            // a template at op's; both for the captures' resolution.
            let (similarity, nearest, threshold) = match &self.reference {
                Reference::None => return Ok(()),
                Reference::Template(t) => {
                    let sim = match o.aggregate {
                        Aggregate::Scores => per_capture(&|c| cosine(c, t.as_slice()))?,
                        _ => cosine(agg.as_slice(), t.as_slice())?,
                    };
                    // A camera section in the manifest (calibrate camera) raises it as for a gallery.
                    (sim, None, e.camera_threshold(e.threshold_for(op, Some(eye))?, &[], Some(eye))?)
                }
                Reference::Gallery(g) => {
                    let threshold = e.gallery_decision_threshold(g, op.far(), Some(eye))?.threshold;
                    match g.search(agg.as_slice(), 1, None)?.into_iter().next() {
                        Some(h) => {
                            let sim = match o.aggregate {
                                Aggregate::Scores => per_capture(&|c| Ok(g.similarity_to(&h.id, c)?.unwrap_or(f32::NAN)))?,
                                _ => h.similarity,
                            };
                            (sim, Some(h.id), threshold)
                        }
                        None => (f32::NAN, None, threshold),
                    }
                }
            };
            d.threshold = threshold;
            d.similarity = similarity;
            d.eye_distance = eye;
            d.nearest_similarity = if nearest.is_some() { similarity } else { f32::NAN };
            d.verdict = if similarity >= threshold { Verdict::Accepted } else { Verdict::NoMatch };
            // Only an acceptance names someone.
            if d.verdict == Verdict::Accepted {
                d.identity = nearest.clone();
            }
            d.nearest = nearest;
        }
        self.slots[i].track.decision = Some(d.clone());
        up.events.push(Event { frame: f, track: self.slots[i].track.id, kind: EventKind::Decided(d) });
        Ok(())
    }
}

/// Detector input of the liveness re-detection ([`TrackerOptions::liveness_redetect`]).
const LIVENESS_REDETECT_INPUT: u32 = 320;

/// A track's liveness from its captures' scores (NaN without any).
fn aggregate_liveness(scores: &[f32], how: LivenessAggregate) -> f32 {
    if scores.is_empty() {
        return f32::NAN;
    }
    match how {
        LivenessAggregate::Mean => scores.iter().sum::<f32>() / scores.len() as f32,
        LivenessAggregate::Median => {
            let mut v = scores.to_vec();
            v.sort_by(|a, b| a.total_cmp(b));
            let n = v.len();
            if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
        }
    }
}

/// Greedy association of detections with tracks by IoU of the tracks' predicted boxes, best pairs first:
/// `(track index, detection index)`.
fn associate(slots: &[Slot], dets: &[Face], min_iou: f32) -> Vec<(usize, usize)> {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (t, s) in slots.iter().enumerate() {
        for (d, det) in dets.iter().enumerate() {
            let iou = s.track.face.iou(det);
            if iou >= min_iou {
                pairs.push((iou, t, d));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut used_t, mut used_d) = (vec![false; slots.len()], vec![false; dets.len()]);
    let mut out = Vec::new();
    for (_, t, d) in pairs {
        if !used_t[t] && !used_d[d] {
            used_t[t] = true;
            used_d[d] = true;
            out.push((t, d));
        }
    }
    out
}

/// Whether `d`'s centre lies inside `f`'s box: a face found at a finer scale inside a track's region can have
/// a tighter box than the coarse full-frame one it continues, and so a low IoU with it.
fn centre_inside(d: &Face, f: &Face) -> bool {
    let (cx, cy) = (d.x + d.width / 2.0, d.y + d.height / 2.0);
    cx >= f.x && cx <= f.x + f.width && cy >= f.y && cy <= f.y + f.height
}

/// The box (and landmarks) moved on by one frame of `velocity` (centre x, y, width, height per frame).
fn predicted(f: &Face, v: &[f32; 4]) -> Face {
    let (nw, nh) = ((f.width + v[2]).max(1.0), (f.height + v[3]).max(1.0));
    let (cx, cy) = (f.x + f.width / 2.0 + v[0], f.y + f.height / 2.0 + v[1]);
    let (sx, sy) = (nw / f.width.max(1.0), nh / f.height.max(1.0));
    let (ocx, ocy) = (f.x + f.width / 2.0, f.y + f.height / 2.0);
    let mut p = *f;
    p.x = cx - nw / 2.0;
    p.y = cy - nh / 2.0;
    p.width = nw;
    p.height = nh;
    for l in &mut p.landmarks {
        *l = [cx + (l[0] - ocx) * sx, cy + (l[1] - ocy) * sy];
    }
    p
}

/// Motion between the predicted box and the detection, blended into the previous motion (halves the jitter
/// of single detections).
fn smoothed_velocity(v: &[f32; 4], before: &Face, now: &Face) -> [f32; 4] {
    let c = |f: &Face| [f.x + f.width / 2.0, f.y + f.height / 2.0, f.width, f.height];
    let (a, b) = (c(before), c(now));
    // `before` is the prediction, so the observed motion is the old velocity plus the prediction's error.
    std::array::from_fn(|k| 0.5 * v[k] + 0.5 * (v[k] + b[k] - a[k]))
}

/// How good a capture of `face` promises to be, in [0, 1], from what is known without running a model:
/// detector confidence, face size (eye distance, full marks from 48 px) and head pose (yaw and pitch).
pub fn capture_score(face: &Face) -> f32 {
    let (yaw, pitch, _) = head_pose(face);
    let size = (face.eye_distance() / 48.0).clamp(0.0, 1.0);
    let pose = (1.0 - (yaw * yaw + pitch * pitch) / (45.0 * 45.0)).max(0.0);
    let s = face.score.clamp(0.0, 1.0) * size * pose;
    if s.is_finite() { s } else { 0.0 }
}

/// Scene-cut detector: the mean absolute luma difference of a fixed grid of samples between consecutive
/// frames. A cut when it exceeds both `MIN` and `RATIO` × its running mean: a cut changes the whole picture
/// at once (measured on the shared clips: 28–31 at the cuts of a TV clip; at most 14 elsewhere, a crowd walking
/// towards the camera included, whose running mean is itself 7).
#[derive(Default)]
pub struct SceneCut {
    previous: Vec<u8>,
    mean: Option<f32>,
}

impl SceneCut {
    const COLS: u32 = 48;
    const ROWS: u32 = 27;
    const MIN: f32 = 12.0;
    const RATIO: f32 = 4.0;

    /// Whether `frame` starts a new shot (false for the first frame and after a size change).
    pub fn is_cut(&mut self, frame: &Image) -> bool {
        let (w, h) = (frame.width(), frame.height());
        let px = frame.pixels();
        let samples: Vec<u8> = (0..Self::ROWS)
            .flat_map(|r| (0..Self::COLS).map(move |c| (c, r)))
            .map(|(c, r)| {
                let (x, y) = ((c * w + w / 2) / Self::COLS, (r * h + h / 2) / Self::ROWS);
                let i = (y as usize * w as usize + x as usize) * 3;
                ((77 * px[i] as u32 + 150 * px[i + 1] as u32 + 29 * px[i + 2] as u32) >> 8) as u8
            })
            .collect();
        let cut = if self.previous.len() == samples.len() {
            let mad = self.previous.iter().zip(&samples).map(|(a, b)| a.abs_diff(*b) as f32).sum::<f32>() / samples.len() as f32;
            let mean = *self.mean.get_or_insert(mad);
            let cut = mad > Self::MIN && mad > Self::RATIO * mean;
            if !cut {
                self.mean = Some(0.9 * mean + 0.1 * mad);
            }
            cut
        } else {
            self.mean = None;
            false
        };
        self.previous = samples;
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face_at(x: f32, y: f32, w: f32) -> Face {
        let mut f = Face { x, y, width: w, height: w, score: 0.9, ..Default::default() };
        let t = [[0.34, 0.46], [0.66, 0.46], [0.5, 0.64], [0.37, 0.82], [0.63, 0.82]];
        for (l, p) in f.landmarks.iter_mut().zip(t) {
            *l = [x + p[0] * w, y + p[1] * w];
        }
        f
    }

    #[test]
    fn association_takes_the_best_overlaps_first() {
        let slot = |f: Face| Slot {
            track: Track { id: 1, state: TrackState::Tracked, face: f, age: 1, missed: 0, captures: 0, best_quality: f32::NAN, liveness: f32::NAN, decision: None },
            velocity: [0.0; 4],
            best_score: 0.0,
            last_capture: None,
            embedding_sum: vec![],
            weight: 0.0,
            embeddings: vec![],
            liveness_scores: vec![],
            eye_sum: 0.0,
            capture_log: vec![],
            best_crop: None,
            best_embedding: None,
        };
        let slots = [slot(face_at(0.0, 0.0, 100.0)), slot(face_at(60.0, 0.0, 100.0))];
        // Detection 0 overlaps both tracks; track 0's best match (detection 1) is the better pair and goes first.
        let dets = [face_at(40.0, 0.0, 100.0), face_at(2.0, 0.0, 100.0), face_at(500.0, 0.0, 100.0)];
        assert_eq!(associate(&slots, &dets, 0.3), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn prediction_follows_the_velocity() {
        let f = face_at(10.0, 20.0, 50.0);
        let p = predicted(&f, &[5.0, -2.0, 10.0, 10.0]);
        assert_eq!((p.x, p.y, p.width), (10.0, 13.0, 60.0));
        assert!((p.landmarks[0][0] - (10.0 + 0.34 * 60.0)).abs() < 1e-3);
        let v = smoothed_velocity(&[2.0, 0.0, 0.0, 0.0], &f, &face_at(14.0, 20.0, 50.0));
        assert_eq!(v, [4.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn capture_score_prefers_big_frontal_confident_faces() {
        let big = face_at(0.0, 0.0, 200.0);
        let small = face_at(0.0, 0.0, 40.0);
        assert!(capture_score(&big) > capture_score(&small));
        let mut turned = big;
        turned.landmarks[2][0] += 40.0;
        assert!(capture_score(&turned) < capture_score(&big));
        let mut nan = big;
        nan.score = f32::NAN;
        assert_eq!(capture_score(&nan), 0.0);
    }

    #[test]
    fn scene_cut_fires_on_a_new_picture_not_on_noise() {
        let flat = |v: u8| Image::from_rgb(64, 36, vec![v; 64 * 36 * 3]).unwrap();
        let mut c = SceneCut::default();
        assert!(!c.is_cut(&flat(100)));
        for k in 0..20 {
            assert!(!c.is_cut(&flat(100 + (k % 3))), "small changes are not cuts");
        }
        assert!(c.is_cut(&flat(180)), "a wholesale change is a cut");
        assert!(!c.is_cut(&flat(181)));
    }
}
