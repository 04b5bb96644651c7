//! The tracker on the shared clips: right decisions on the ASL webcam clips (5 people), one track per person on
//! the walking clips, no track across a shot cut, no flicker, and the frame-size reset.

mod common;
use facekit::gallery::Gallery;
use facekit::track::{EventKind, Reference, TrackState, Verdict};
use facekit::{Image, Tracker, TrackerOptions};
use std::collections::{BTreeMap, BTreeSet};

/// ASL clips and who signs them (../shared/data/README.md); the first clip of each person is enrolled.
const ASL: [(&str, &str); 20] = [
    ("again", "A"), ("bird", "B"), ("book", "C"), ("eat", "D"), ("hungry", "E"),
    ("brother", "A"), ("help", "A"), ("no", "A"), ("student", "A"), ("yes", "A"),
    ("milk", "B"), ("please", "B"), ("sorry", "B"), ("thanks", "B"),
    ("learn", "C"), ("school", "C"), ("walk", "C"),
    ("night", "D"), ("sister", "D"), ("want", "E"),
];

/// Runs a tracker over `frames`; returns every frame's update.
fn run(tracker: &mut Tracker, frames: &[Image]) -> Vec<facekit::track::Update> {
    frames.iter().map(|f| tracker.update(f).expect("update")).collect()
}

#[test]
fn asl_people_are_recognised_once_per_clip_without_switches_or_flicker() {
    // Recognition and tracking only: the liveness requirement is measured on its own (below, and in
    // BENCHMARKS.md: at apcer_5e-2 it refuses some of these webcam clips' live people), and so is the camera
    // rule (the default): these five people look alike on this camera (0.15-0.40 against each other), which
    // raises a camera-adapted threshold to ~0.6 and refuses two of these clips (BENCHMARKS.md, "Decisions on a
    // camera facekit was not calibrated on"). Here, at the thresholds for the captures' resolution.
    let mut o = facekit::Options::default();
    o.quality.require_liveness = false;
    o.thresholds = facekit::ThresholdRule::Resolution;
    let e = &facekit::Engine::from_dir(common::models(), o).expect("engine loads");
    let gallery = Gallery::new(e.model_id(), e.dim()).unwrap();
    // Enrol: the best capture of each person's first clip, as an enrolment station would take it.
    for (clip, who) in &ASL[..5] {
        let mut t = Tracker::new(e, TrackerOptions::default()).unwrap();
        let mut best: Option<(f32, facekit::Embedding)> = None;
        for f in common::video(&format!("intel_asl_{clip}.mkv")) {
            for tr in t.update(&f).unwrap().tracks {
                if let Some(emb) = t.best_embedding(tr.id) {
                    if best.as_ref().is_none_or(|b| tr.best_quality > b.0) {
                        best = Some((tr.best_quality, emb.clone()));
                    }
                }
            }
        }
        let (_, emb) = best.unwrap_or_else(|| panic!("no good capture of {who} in {clip}"));
        gallery.enroll(who, &[emb.as_slice()]).unwrap();
    }
    let (mut right, mut report) = (0, Vec::new());
    for (clip, who) in &ASL[5..] {
        let mut t = Tracker::new(e, TrackerOptions::default()).unwrap();
        t.set_reference(Reference::Gallery(&gallery)).unwrap();
        let ups = run(&mut t, &common::video(&format!("intel_asl_{clip}.mkv")));
        let mut decided: BTreeMap<u64, facekit::track::Decision> = BTreeMap::new();
        for up in &ups {
            for ev in &up.events {
                if let EventKind::Decided(d) = &ev.kind {
                    assert!(decided.insert(ev.track, d.clone()).is_none(), "{clip}: track {} decided twice", ev.track);
                }
            }
            // No flicker: a decided track carries its decision, unchanged, in every later frame.
            for tr in &up.tracks {
                if let Some(d) = decided.get(&tr.id) {
                    // (Compared as text: an unassessed liveness is NaN, which is not equal to itself.)
                    assert_eq!(format!("{:?}", tr.decision.as_ref()), format!("{:?}", Some(d)), "{clip}: track {} changed its decision", tr.id);
                }
            }
        }
        let ok = !decided.is_empty()
            && decided.values().all(|d| d.verdict == Verdict::Accepted && d.identity.as_deref() == Some(who));
        right += usize::from(ok);
        report.push(format!(
            "{clip} ({who}): {:?}",
            decided.values().map(|d| (d.verdict, d.identity.clone(), d.similarity, d.after_frames)).collect::<Vec<_>>()
        ));
    }
    eprintln!("{}", report.join("\n"));
    assert_eq!(right, 15, "every other clip decided as its person, and only as them:\n{}", report.join("\n"));
}

/// A "stream" of one still frame repeated (a photo held still in front of the camera, or a live face that
/// does not move): the tracker decides on the captures' mean liveness, before any comparison.
#[test]
fn a_held_up_photo_is_refused_and_a_live_face_accepted() {
    let e = common::engine();
    let frame = |rel: &str| Image::open(common::data("liveness/replay-attack").join(rel)).unwrap();
    let live = frame("real/test/client009_session01_webcam_authenticate_controlled_1.jpg");
    let photo = frame("spoof/test/mobile_photo/fixed_attack_mobile_client009_session01_mobile_photo_controlled.jpg");
    let template = e.embed(&live, &e.largest_face(&live).unwrap()).unwrap();
    let decide = |img: &Image| {
        let mut t = Tracker::new(e, TrackerOptions { capture_gap: 1, ..Default::default() }).unwrap();
        t.set_reference(Reference::Template(template.clone())).unwrap();
        (0..6).find_map(|_| t.update(img).unwrap().tracks[0].decision.clone()).expect("decided within 6 frames")
    };
    let d = decide(&live);
    assert_eq!(d.verdict, Verdict::Accepted, "{d:?}");
    assert!(d.liveness > 0.92, "{d:?}");
    let d = decide(&photo);
    assert_eq!(d.verdict, Verdict::NotLive, "{d:?}");
    assert!(d.similarity.is_nan(), "a spoof is refused before any comparison: {d:?}");
}

/// Track ids alive in each frame (lost ones excluded).
fn ids_per_frame(ups: &[facekit::track::Update]) -> Vec<BTreeSet<u64>> {
    ups.iter().map(|u| u.tracks.iter().filter(|t| t.state != TrackState::Lost).map(|t| t.id).collect()).collect()
}

#[test]
fn walking_people_keep_one_track_each_to_the_last_frame() {
    let e = common::engine();
    for (clip, people) in [("intel_face-demographics-walking.gif", 2), ("intel_face-demographics-walking-and-pause.gif", 3)] {
        let frames = common::video(clip);
        let mut t = Tracker::new(e, TrackerOptions::default()).unwrap();
        let ups = run(&mut t, &frames);
        let ids = ids_per_frame(&ups);
        let all: BTreeSet<u64> = ids.iter().flatten().copied().collect();
        let lost: usize = ups.iter().flat_map(|u| &u.tracks).filter(|t| t.missed > 0).count();
        eprintln!("{clip}: {} frames, {} tracks, {lost} track-frames unseen", frames.len(), all.len());
        assert_eq!(all.len(), people, "{clip}: one track per person (no id switch)");
        assert_eq!(ids.last().unwrap(), &all, "{clip}: every track lasts to the last frame");
    }
}

/// The frames where ffmpeg's own scene detector sees the clip's 3 cuts (it has 4 shots): an independent
/// ground truth for the tracker's cut detection.
fn cuts(name: &str) -> Vec<usize> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(common::data("video").join(name))
        .args(["-fps_mode", "passthrough", "-vf", "select='gte(scene,0)',metadata=print:key=lavfi.scene_score", "-an", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let text = String::from_utf8_lossy(&out.stderr);
    let mut scores: Vec<(f32, usize)> = Vec::new();
    let mut frame = None;
    for tok in text.split_whitespace() {
        if let Some(n) = tok.strip_prefix("frame:") {
            frame = n.parse().ok();
        } else if let (Some(s), Some(n)) = (tok.strip_prefix("lavfi.scene_score="), frame) {
            scores.push((s.parse().unwrap(), n));
        }
    }
    scores.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut c: Vec<usize> = scores.iter().take(3).map(|s| s.1).collect();
    c.sort();
    c
}

#[test]
fn shot_cuts_end_tracks_instead_of_carrying_them_to_another_face() {
    let name = "fr_short_hamilton_clip.mp4";
    let cut_frames = cuts(name);
    assert_eq!(cut_frames.len(), 3);
    let mut t = Tracker::new(common::engine(), TrackerOptions::default()).unwrap();
    let ups = run(&mut t, &common::video(name));
    let ids = ids_per_frame(&ups);
    for &c in &cut_frames {
        let before: BTreeSet<u64> = ids[..c].iter().flatten().copied().collect();
        let after: BTreeSet<u64> = ids[c..].iter().flatten().copied().collect();
        assert!(before.is_disjoint(&after), "a track spans the cut at frame {c}: {:?}", before.intersection(&after).collect::<Vec<_>>());
        assert!(ups[c].events.iter().filter(|e| e.kind == EventKind::Lost).count() >= ids[c - 1].len(), "every track ends at the cut {c}");
    }
}

#[test]
fn a_frame_of_another_size_ends_every_track() {
    let mut frames = common::video("lp_d1.mp4");
    let mut t = Tracker::new(common::engine(), TrackerOptions::default()).unwrap();
    let first = run(&mut t, &frames[..4]);
    let id = first[3].tracks[0].id;
    // The same picture, cropped: a new stream for the tracker.
    let small = frames.remove(5);
    let small = small.crop(0, 0, small.width() - 32, small.height()).unwrap();
    let up = t.update(&small).unwrap();
    assert!(up.events.iter().any(|e| e.track == id && e.kind == EventKind::Lost));
    assert!(up.tracks.iter().all(|tr| tr.id != id || tr.state == TrackState::Lost));
    assert!(up.tracks.iter().any(|tr| tr.state == TrackState::New), "the face is found again as a new track");
}

#[test]
fn bad_options_and_references_are_errors() {
    let e = common::engine();
    for o in [
        TrackerOptions { detect_every: 0, ..Default::default() },
        TrackerOptions { roi_input: 8, ..Default::default() },
        TrackerOptions { roi_scale: f32::NAN, ..Default::default() },
        TrackerOptions { max_tracks: 0, ..Default::default() },
    ] {
        assert!(Tracker::new(e, o).is_err());
    }
    let mut t = Tracker::new(e, TrackerOptions::default()).unwrap();
    let other = Gallery::new("another-model", e.dim()).unwrap();
    assert!(matches!(t.set_reference(Reference::Gallery(&other)), Err(facekit::Error::Incompatible(_))));
    let short = facekit::Embedding::from_vec(vec![1.0; 7]).unwrap();
    assert!(t.set_reference(Reference::Template(short)).is_err());
}

/// A refusal names nobody: a stranger decided against a gallery gets `identity` None (a firmware that opens
/// for any named identity stays shut); the closest identity is in `nearest`, which is not a decision.
#[test]
fn a_stranger_is_refused_without_a_name() {
    let e = common::engine_for_press_photos();
    let gallery = Gallery::new(e.model_id(), e.dim()).unwrap();
    let mut t = Tracker::new(e, TrackerOptions::default()).unwrap();
    let mut best: Option<(f32, facekit::Embedding)> = None;
    for f in common::video("intel_asl_book.mkv") {
        for tr in t.update(&f).unwrap().tracks {
            if let Some(emb) = t.best_embedding(tr.id) {
                if best.as_ref().is_none_or(|b| tr.best_quality > b.0) {
                    best = Some((tr.best_quality, emb.clone()));
                }
            }
        }
    }
    gallery.enroll("C", &[best.expect("a good capture of C").1.as_slice()]).unwrap();
    let mut t = Tracker::new(e, TrackerOptions::default()).unwrap();
    t.set_reference(Reference::Gallery(&gallery)).unwrap();
    let decided: Vec<_> = run(&mut t, &common::video("intel_asl_again.mkv"))
        .into_iter()
        .flat_map(|u| u.events)
        .filter_map(|ev| match ev.kind {
            EventKind::Decided(d) => Some(d),
            _ => None,
        })
        .collect();
    assert!(!decided.is_empty(), "A's clip is decided");
    for d in &decided {
        assert_eq!(d.verdict, Verdict::NoMatch, "{d:?}");
        assert_eq!(d.identity, None, "a refusal names nobody: {d:?}");
        assert_eq!(d.nearest.as_deref(), Some("C"), "{d:?}");
        assert!(d.nearest_similarity < d.threshold && d.eye_distance > 10.0, "{d:?}");
    }
}
