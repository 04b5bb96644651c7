//! C ABI of the live-camera tracker. Same rules as the rest of `ffi`: NULL checks, magic tags, panic boundary,
//! outputs written only on success.

use super::*;
use crate::gallery::Gallery;
use crate::track::{Aggregate, Decision, EventKind, LivenessAggregate, Reference, Track, TrackState, Tracker, TrackerOptions, Verdict};
use std::collections::VecDeque;

/// One camera stream's tracker: follows faces across frames and decides once per person (see
/// `fk_tracker_update`). **Not thread-safe**: a tracker belongs to one stream and is used by one thread at a
/// time; many trackers (one per camera) may share one engine and one gallery. The engine (and a gallery given
/// with `fk_tracker_set_gallery`) must outlive the tracker. Free with `fk_tracker_free`.
pub struct fk_tracker {
    magic: u64,
    inner: Tracker<'static>,
    events: VecDeque<fk_event>,
}
const TRACKER_MAGIC: u64 = 0x666b_7472_6163_0001;
/// Events kept for `fk_tracker_poll_events`; beyond it the oldest are dropped.
const MAX_QUEUED_EVENTS: usize = 4096;

/// Track states (`fk_track.state`).
#[repr(C)]
pub enum fk_track_state {
    /// First frame of the track.
    FK_TRACK_NEW = 1,
    /// Seen before (`missed` says whether it was seen in this frame).
    FK_TRACK_TRACKED = 2,
    /// Ended in this frame (unseen too long, scene cut, frame size change); reported once.
    FK_TRACK_LOST = 3,
}

/// Decisions (`fk_decision.verdict`).
#[repr(C)]
pub enum fk_verdict {
    /// Not decided yet.
    FK_VERDICT_NONE = 0,
    /// Matched: the gallery identity in `identity`, or the template. Open the door.
    FK_VERDICT_ACCEPTED = 1,
    /// Compared and below the threshold: nobody enrolled / not the template's person.
    FK_VERDICT_NO_MATCH = 2,
    /// Not a live face (photo, screen): show "show your real face".
    FK_VERDICT_NOT_LIVE = 3,
    /// No capture good enough within the decision window: "look at the camera".
    FK_VERDICT_POOR_QUALITY = 4,
}

/// Event kinds (`fk_event.kind`).
#[repr(C)]
pub enum fk_event_kind {
    FK_EVENT_APPEARED = 1,
    FK_EVENT_DECIDED = 2,
    FK_EVENT_LOST = 3,
}

/// A track's decision (`verdict` FK_VERDICT_NONE while undecided; then the rest is meaningful).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fk_decision {
    /// An `fk_verdict` value.
    pub verdict: i32,
    /// Cosine similarity of the track's aggregated embedding to the reference; NaN when nothing was compared.
    pub similarity: f32,
    /// Threshold of `operating_point` it was decided at; NaN when nothing was compared.
    pub threshold: f32,
    /// An `fk_operating_point` value.
    pub operating_point: i32,
    /// Mean liveness score of the captures; NaN when not assessed.
    pub liveness: f32,
    /// Frames from the track's first appearance to the decision.
    pub after_frames: u32,
    /// NUL-terminated gallery identity when accepted; "" for every refusal (a refusal names nobody: the
    /// closest identity is not a decision, and is left out here), with a template, or while undecided.
    pub identity: [c_char; 256],
}

/// One tracked face in the latest frame.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fk_track {
    /// Stable for the track's life, never reused by this tracker.
    pub id: u64,
    /// An `fk_track_state` value.
    pub state: i32,
    /// Frames since it appeared (0 on its first).
    pub age: u32,
    /// Consecutive frames unseen (its box is then the prediction and its score 0).
    pub missed: u32,
    /// Good captures embedded so far.
    pub captures: u32,
    pub face: Face,
    /// Overall quality (0–100) of its best capture; NaN before the first.
    pub best_quality: f32,
    /// Mean liveness score of its captures; NaN when not assessed.
    pub liveness: f32,
    pub decision: fk_decision,
}

/// Something that happened in a frame: a track appeared, was decided (see `decision`) or was lost.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fk_event {
    /// Frame index (0-based, counted by the tracker).
    pub frame: u64,
    pub track: u64,
    /// An `fk_event_kind` value.
    pub kind: i32,
    /// For FK_EVENT_DECIDED; verdict FK_VERDICT_NONE otherwise.
    pub decision: fk_decision,
}

fn id_buf(id: Option<&str>) -> [c_char; 256] {
    let mut out = [0 as c_char; 256];
    for (d, s) in out.iter_mut().zip(id.unwrap_or("").bytes().take(FK_ID_MAX)) {
        *d = s as c_char;
    }
    out
}

fn to_c_decision(d: Option<&Decision>) -> fk_decision {
    match d {
        None => fk_decision {
            verdict: fk_verdict::FK_VERDICT_NONE as i32,
            similarity: f32::NAN,
            threshold: f32::NAN,
            operating_point: 0,
            liveness: f32::NAN,
            after_frames: 0,
            identity: id_buf(None),
        },
        Some(d) => fk_decision {
            verdict: match d.verdict {
                Verdict::Accepted => fk_verdict::FK_VERDICT_ACCEPTED,
                Verdict::NoMatch => fk_verdict::FK_VERDICT_NO_MATCH,
                Verdict::NotLive => fk_verdict::FK_VERDICT_NOT_LIVE,
                Verdict::PoorQuality => fk_verdict::FK_VERDICT_POOR_QUALITY,
            } as i32,
            similarity: d.similarity,
            threshold: d.threshold,
            operating_point: d.operating_point as i32,
            liveness: d.liveness,
            after_frames: d.after_frames,
            identity: id_buf(d.identity.as_deref()),
        },
    }
}

fn to_c_track(t: &Track) -> fk_track {
    fk_track {
        id: t.id,
        state: match t.state {
            TrackState::New => fk_track_state::FK_TRACK_NEW,
            TrackState::Tracked => fk_track_state::FK_TRACK_TRACKED,
            TrackState::Lost => fk_track_state::FK_TRACK_LOST,
        } as i32,
        age: t.age,
        missed: t.missed,
        captures: t.captures,
        face: t.face,
        best_quality: t.best_quality,
        liveness: t.liveness,
        decision: to_c_decision(t.decision.as_ref()),
    }
}

unsafe fn tracker_mut<'a>(p: *mut fk_tracker) -> Result<&'a mut fk_tracker, Error> {
    let t = nn_mut(p, "tracker")?;
    if t.magic != TRACKER_MAGIC {
        return Err(Error::invalid("tracker: not an fk_tracker handle (freed or wrong pointer)"));
    }
    Ok(t)
}

/// A tracker for one stream on `engine`, with default settings (full-frame detection every 10 frames, region
/// re-detection in between, 3 good captures before a decision), deciding nothing until a gallery or template
/// is set. The engine must outlive the tracker. On FK_OK `*out` owns it (free with `fk_tracker_free`).
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT, FK_ERR_PANIC. Thread-safe (the new tracker
/// itself is not).
#[no_mangle]
pub unsafe extern "C" fn fk_tracker_new(engine: *const fk_engine, out: *mut *mut fk_tracker) -> fk_status {
    guard(|| {
        // The caller keeps the engine alive for the tracker's life (documented above).
        let e: &'static Engine = &*(engine_ref(engine)? as *const Engine);
        let o = nn_mut(out, "out")?;
        let inner = Tracker::new(e, TrackerOptions::default())?;
        *o = Box::into_raw(Box::new(fk_tracker { magic: TRACKER_MAGIC, inner, events: VecDeque::new() }));
        Ok(())
    })
}

/// Frees a tracker. NULL is a no-op. Undefined after free: any further use of the handle (the bindings make
/// it impossible).
#[no_mangle]
pub unsafe extern "C" fn fk_tracker_free(tracker: *mut fk_tracker) {
    boundary((), || {
        if !tracker.is_null() && (*tracker).magic == TRACKER_MAGIC {
            (*tracker).magic = 0;
            drop(Box::from_raw(tracker));
        }
    });
}

/// Changes one setting (takes effect from the next frame). Keys (values): `detect_every` (1..1000, default 10),
/// `roi_input` (32, 64, 96 or 128; default 64), `roi_scale` (1..8, 2), `roi_min_score` (0..1, 0.3), `min_iou` (0..1, 0.3),
/// `max_missed` (frames, 10), `min_captures` (1.., 3), `capture_gap` (frames, 3), `decide_within` (frames, 45),
/// `max_tracks` (1..1024, 16), `aggregate` (`scores`: each capture's similarity to the candidate, averaged;
/// `mean`: the similarity of the captures' mean embedding; `best`: the best capture's; `scores`),
/// `liveness_aggregate` (`median` or `mean` of the captures' liveness scores; `median`), `liveness_captures`
/// (1..100, 6: a track not live on its first captures gathers this many before it is refused),
/// `liveness_redetect` (0 or 1, 1: each capture's face detected again alone for the liveness crop).
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (unknown key or
/// bad value; settings unchanged), FK_ERR_PANIC.
#[no_mangle]
pub unsafe extern "C" fn fk_tracker_set(tracker: *mut fk_tracker, key: *const c_char, value: *const c_char) -> fk_status {
    guard(|| {
        let t = tracker_mut(tracker)?;
        let (key, value) = (cstr(key, "key")?, cstr(value, "value")?);
        let mut o = t.inner.options().clone();
        let bad = || Error::invalid(format!("tracker option {key}: bad value '{value}'"));
        let num = || value.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(bad);
        let whole = || num().and_then(|v| if v >= 0.0 && v <= u32::MAX as f64 && v.fract() == 0.0 { Ok(v as u32) } else { Err(bad()) });
        match key {
            "detect_every" => o.detect_every = whole()?,
            "roi_input" => o.roi_input = whole()?,
            "roi_scale" => o.roi_scale = num()? as f32,
            "roi_min_score" => o.roi_min_score = num()? as f32,
            "min_iou" => o.min_iou = num()? as f32,
            "max_missed" => o.max_missed = whole()?,
            "min_captures" => o.min_captures = whole()?,
            "capture_gap" => o.capture_gap = whole()?,
            "decide_within" => o.decide_within = whole()?,
            "max_tracks" => o.max_tracks = whole()? as usize,
            "aggregate" => {
                o.aggregate = match value.trim() {
                    "mean" => Aggregate::Mean,
                    "best" => Aggregate::Best,
                    "scores" => Aggregate::Scores,
                    _ => return Err(bad()),
                }
            }
            "liveness_aggregate" => {
                o.liveness_aggregate = match value.trim() {
                    "mean" => LivenessAggregate::Mean,
                    "median" => LivenessAggregate::Median,
                    _ => return Err(bad()),
                }
            }
            "liveness_captures" => o.liveness_captures = whole()?,
            "liveness_redetect" => o.liveness_redetect = whole()? != 0,
            _ => return Err(Error::invalid(format!("unknown tracker option '{key}'"))),
        }
        t.inner.set_options(o)
    })
}

/// Decide tracks against `gallery` (1:N: who is it) from now on; NULL stops deciding. The gallery must outlive
/// the tracker (or be replaced first); enrolling into it meanwhile is fine. Returns FK_OK,
/// FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT, FK_ERR_INCOMPATIBLE (another embedder's gallery), FK_ERR_PANIC.
#[no_mangle]
pub unsafe extern "C" fn fk_tracker_set_gallery(tracker: *mut fk_tracker, gallery: *const fk_gallery) -> fk_status {
    guard(|| {
        let t = tracker_mut(tracker)?;
        let r = if gallery.is_null() {
            Reference::None
        } else {
            // The caller keeps the gallery alive while the tracker uses it (documented above).
            let g: &'static Gallery = &*(gallery_ref(gallery)? as *const Gallery);
            Reference::Gallery(g)
        };
        t.inner.set_reference(r)
    })
}

/// Decide tracks against one template (1:1: is it this person; `len` floats, the engine's dimension; copied).
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (length, zero or non-finite vector),
/// FK_ERR_PANIC.
#[no_mangle]
pub unsafe extern "C" fn fk_tracker_set_template(tracker: *mut fk_tracker, embedding: *const f32, len: usize) -> fk_status {
    guard(|| {
        let t = tracker_mut(tracker)?;
        let e = crate::embed::Embedding::from_vec(slice(embedding, len, "embedding")?.to_vec())
            .ok_or_else(|| Error::invalid("template is zero or not finite"))?;
        t.inner.set_reference(Reference::Template(e))
    })
}

/// Processes the next frame of the stream. `*count` receives the number of tracks of this frame (lost ones
/// included, once) and the first `min(*count, capacity)` are written to `tracks` (NULL only with capacity 0).
/// Events (appeared / decided / lost) are queued for `fk_tracker_poll_events`. A frame of another size than the
/// previous one ends every track and starts afresh (a new stream). On an error nothing is written and the
/// tracker is unchanged except that the frame counts as seen. Returns FK_OK, FK_ERR_NULL_ARGUMENT,
/// FK_ERR_INVALID_ARGUMENT, FK_ERR_INVALID_IMAGE, FK_ERR_INTERNAL, FK_ERR_PANIC. Not thread-safe (one thread
/// per tracker).
#[no_mangle]
pub unsafe extern "C" fn fk_tracker_update(tracker: *mut fk_tracker, frame: *const fk_image, tracks: *mut fk_track, capacity: usize, count: *mut usize) -> fk_status {
    guard(|| {
        let t = tracker_mut(tracker)?;
        nn(count, "count")?;
        if tracks.is_null() && capacity > 0 {
            return Err(Error::NullArgument("tracks"));
        }
        let up = t.inner.update(&image_from(frame)?)?;
        for ev in &up.events {
            if t.events.len() == MAX_QUEUED_EVENTS {
                t.events.pop_front();
            }
            let (kind, d) = match &ev.kind {
                EventKind::Appeared => (fk_event_kind::FK_EVENT_APPEARED, None),
                EventKind::Decided(d) => (fk_event_kind::FK_EVENT_DECIDED, Some(d)),
                EventKind::Lost => (fk_event_kind::FK_EVENT_LOST, None),
            };
            t.events.push_back(fk_event { frame: ev.frame, track: ev.track, kind: kind as i32, decision: to_c_decision(d) });
        }
        for (i, tr) in up.tracks.iter().take(capacity).enumerate() {
            *tracks.add(i) = to_c_track(tr);
        }
        *count = up.tracks.len();
        Ok(())
    })
}

/// Takes up to `capacity` queued events, oldest first, into `events`; `*count` receives how many were written
/// (0: none pending). The rest stay queued (at most 4096 are kept; beyond that the oldest are dropped).
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT, FK_ERR_PANIC.
#[no_mangle]
pub unsafe extern "C" fn fk_tracker_poll_events(tracker: *mut fk_tracker, events: *mut fk_event, capacity: usize, count: *mut usize) -> fk_status {
    guard(|| {
        let t = tracker_mut(tracker)?;
        nn(count, "count")?;
        if events.is_null() && capacity > 0 {
            return Err(Error::NullArgument("events"));
        }
        let n = capacity.min(t.events.len());
        for (i, ev) in t.events.drain(..n).enumerate() {
            *events.add(i) = ev;
        }
        *count = n;
        Ok(())
    })
}

/// The embedding of a live track's best capture (`fk_engine_embedding_dim` floats) — what an enrolment from
/// the camera stores with `fk_gallery_enroll`. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT,
/// FK_ERR_BUFFER_TOO_SMALL, FK_ERR_NOT_FOUND (no such live track, or no good capture yet), FK_ERR_PANIC.
#[no_mangle]
pub unsafe extern "C" fn fk_tracker_best_embedding(tracker: *mut fk_tracker, track: u64, out: *mut f32, len: usize) -> fk_status {
    guard(|| {
        let t = tracker_mut(tracker)?;
        let e = t.inner.best_embedding(track).ok_or_else(|| Error::NotFound(format!("track {track} has no good capture")))?;
        out_buf(out, len, e.dim(), "out")?.copy_from_slice(e.as_slice());
        Ok(())
    })
}

/// Forgets every track and queued event (a new stream on the same tracker); settings and reference stay.
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT, FK_ERR_PANIC.
#[no_mangle]
pub unsafe extern "C" fn fk_tracker_reset(tracker: *mut fk_tracker) -> fk_status {
    guard(|| {
        let t = tracker_mut(tracker)?;
        t.inner.reset();
        t.events.clear();
        Ok(())
    })
}
