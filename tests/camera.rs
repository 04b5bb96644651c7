//! The on-device camera calibration (`facekit::camera`): the streaming calibrator gives exactly what the batch
//! `calibrate camera` gives on the same clips, its result lands in the manifest the engine then loads, and it
//! refuses thin footage (no face, one person, one still frame) the same way, keeping its evidence.

mod common;
use facekit::camera::{manifest_with_camera, CameraCalibrator, MIN_PAIRS};
use facekit::pack::{Manifest, ModelPack};
use facekit::{Engine, Error, Image};

/// The crowd clip (13 pairs of faces in view together) then the TV clip (one person), as two streams.
const CLIPS: [&str; 2] = ["facenetpt_opera_crowd.mp4", "fr_short_hamilton_clip.mp4"];

#[test]
fn streaming_equals_batch_and_lands_in_the_manifest() {
    let e = common::engine();
    let clips: Vec<Vec<Image>> = CLIPS.iter().map(|c| common::video(c)).collect();
    let mut c = CameraCalibrator::new(e).unwrap();
    for (i, clip) in clips.iter().enumerate() {
        if i > 0 {
            c.new_stream().unwrap();
        }
        for f in clip {
            c.add_frame(f).unwrap();
        }
    }
    assert_eq!(c.frames(), clips.iter().map(|c| c.len() as u64).sum::<u64>());
    let streamed = c.finish(25.0, "crowd + tv").unwrap();
    assert_eq!(c.finish(25.0, "crowd + tv").unwrap(), streamed, "finish measures again, the same");
    assert!(streamed.impostor_pairs >= MIN_PAIRS && streamed.tracks >= 2, "{streamed:?}");
    assert!(streamed.impostor_mean > -0.2 && streamed.impostor_mean < 0.5 && streamed.impostor_max <= 1.0, "{streamed:?}");
    #[cfg(feature = "eval")]
    {
        let batch = facekit::eval::camera::calibrate(e, clips, 25.0, "crowd + tv").unwrap();
        assert_eq!(batch, streamed, "one implementation: batch and streaming agree exactly");
    }

    // Applied: the engine's manifest with the section, saved atomically, loaded by the next engine.
    let dir = std::env::temp_dir().join(format!("fk-camera-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("manifest.json");
    let m = manifest_with_camera(e, streamed.clone()).unwrap();
    m.save(&file).unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|d| d.unwrap().file_name()).collect();
    assert_eq!(names, ["manifest.json"], "no temporary file left");
    let back = Manifest::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let pack = ModelPack::from_dir_with_manifest(common::models(), back).unwrap();
    let again = Engine::from_pack(&pack, facekit::Options::default()).unwrap();
    assert_eq!(again.calibration().unwrap().camera.as_ref(), Some(&streamed));
    // Everything else in the manifest is the engine's own.
    let mut without = again.manifest().clone();
    without.set_camera_calibration(again.embedder().name(), false, facekit::pack::CameraCalibration::default()).unwrap();
    let mut orig = e.manifest().clone();
    orig.set_camera_calibration(e.embedder().name(), false, facekit::pack::CameraCalibration::default()).unwrap();
    assert_eq!(without, orig);
    assert!(Manifest::default_manifest().save(dir.join("no/such/dir/manifest.json")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Feeds `frames` as one stream; returns the refusal.
fn refused(frames: &[Image]) -> (Error, CameraCalibrator<'static>) {
    let mut c = CameraCalibrator::new(common::engine()).unwrap();
    for f in frames {
        c.add_frame(f).unwrap();
    }
    let err = c.finish(30.0, "test footage").expect_err("thin footage must be refused");
    (err, c)
}

#[test]
fn refuses_footage_without_a_face() {
    let blank: Vec<Image> = (0..5).map(|_| Image::from_rgb(320, 240, vec![128; 320 * 240 * 3]).unwrap()).collect();
    let (err, c) = refused(&blank);
    assert!(matches!(err, Error::NoFace(_)), "{err}");
    assert!(err.to_string().contains("no face") && err.to_string().contains("5 frames"), "{err}");
    assert_eq!(c.frames(), 5);
    let none = CameraCalibrator::new(common::engine()).unwrap().finish(30.0, "nothing").unwrap_err();
    assert!(matches!(none, Error::NoFace(_)), "{none}");
}

#[test]
fn refuses_one_person_and_one_still_frame_saying_what_is_missing() {
    let one_person = common::video("intel_asl_again.mkv");
    let photo = Image::open(common::lfw("Aaron_Eckhart", 1)).unwrap();
    let still: Vec<Image> = (0..6).map(|_| photo.clone()).collect();
    for (name, frames) in [("one person", &one_person), ("one still frame", &still)] {
        let (err, c) = refused(frames);
        let t = err.to_string();
        assert!(matches!(err, Error::InvalidArgument(_)), "{name}: {t}");
        assert!(t.contains("in view together") && t.contains(&format!("at least {MIN_PAIRS}")) && t.contains("more such pairs"), "{name}: {t}");
        // The evidence stays: the same refusal again, and more frames may follow.
        assert_eq!(c.finish(30.0, "test footage").unwrap_err().to_string(), t, "{name}");
    }
    let (_, c) = refused(&still);
    for fps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(c.finish(fps, "x"), Err(Error::InvalidArgument(_))), "fps {fps}");
    }
}
