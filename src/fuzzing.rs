//! The bodies of the fuzz targets. `fuzz/fuzz_targets/NAME.rs` is one line calling `NAME` here under
//! libFuzzer; `tests/fuzz_corpus.rs` replays every committed corpus file and every past finding through the
//! same functions in an ordinary `cargo test`, so a regression fails CI without building the fuzzers. Kept
//! in the library (hidden from the docs, not a stable API) rather than in the fuzz crate because the tests
//! cannot depend on that crate without building libFuzzer.
//!
//! Each function takes arbitrary bytes and must return without panicking, hanging or allocating without
//! bound. The `assert!`s inside are oracles: properties that hold for every input (a gallery that loads
//! re-encodes to the same bytes, a rejected option leaves the options as they were). Checksums (the
//! gallery's trailing SHA-256, a manifest's model sha256) prove integrity, not honesty, so a flag byte lets
//! the fuzzer reseal its input and reach the parsers behind them, as a hostile writer can.

use crate::detect::Face;
use crate::engine::{Engine, Options};
use crate::gallery::Gallery;
use crate::image::{Image, ImageView, PixelFormat, Rotation};
use crate::pack::{container, sha256_hex, Manifest, ModelPack, MANIFEST_FILE};
use crate::track::{Tracker, TrackerOptions};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::OnceLock;

pub use crate::ffi::fuzz_c_text as c_text;

/// Detector input side of the fuzzing engines: small, so an execution takes milliseconds.
pub const DETECTOR_INPUT: u32 = 64;
/// Model id and dimension of the galleries the gallery target loads (its seeds are made with them).
pub const GALLERY_MODEL: &str = "fuzz-model";
pub const GALLERY_DIM: usize = 8;

/// Options of every fuzzing engine: a small detector input, a low score threshold (so random pixels still
/// yield faces with odd boxes for align, quality and embed), few faces.
pub fn options() -> Options {
    let mut o = Options::default();
    o.detect.input_size = DETECTOR_INPUT;
    o.detect.score_threshold = 0.3;
    o.detect.max_faces = 2;
    o
}

/// The real models, loaded once per process from `$FACEKIT_MODELS`, `./models` or `../shared/models`.
pub fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::find(options()).expect("the fuzz targets need the models: set FACEKIT_MODELS"))
}

/// A folder of this process for the files the targets write (under `$TMPDIR`; `fuzz/run.sh` points it at
/// a tmpfs).
pub fn scratch_dir() -> &'static PathBuf {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("facekit-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("create the fuzz scratch folder");
        d
    })
}

/// Runs the rest of the pipeline on an upright image: detect, then align, quality and embed the best face.
fn pipeline(engine: &Engine, img: &Image) {
    let Ok(faces) = engine.detect(img) else { return };
    if let Some(face) = faces.first() {
        if let Ok(crop) = engine.align(img, face) {
            let t = engine.embedder().template();
            let [w, h] = t.resize_to.unwrap_or([t.width, t.height]);
            assert_eq!((crop.width(), crop.height()), (w, h), "the aligned crop has the template's size");
        }
        let _ = engine.quality(img, face);
        if let Ok(e) = engine.embed(img, face) {
            assert_eq!(e.dim(), engine.dim());
        }
    }
}

/// Image descriptor: `width u32, height u32, stride u64, format i8, rotation u8` (little-endian), then the
/// pixel bytes. Rotation byte `r` means `90·(r mod 8) − 180` degrees, so invalid rotations occur too.
pub fn image_descriptor(data: &[u8]) {
    let Some((head, pixels)) = data.split_first_chunk::<18>() else { return };
    let width = u32::from_le_bytes(head[0..4].try_into().unwrap());
    let height = u32::from_le_bytes(head[4..8].try_into().unwrap());
    let stride = u64::from_le_bytes(head[8..16].try_into().unwrap());
    let (Some(format), Some(rotation), Ok(stride)) = (
        PixelFormat::from_i32(i32::from(head[16] as i8)),
        Rotation::from_degrees(90 * i32::from(head[17] % 8) - 180),
        usize::try_from(stride),
    ) else {
        return;
    };
    let Ok(view) = ImageView::new(pixels, width, height, stride, format, rotation) else { return };
    let img = view.to_image();
    assert_eq!((img.width(), img.height()), view.upright_size());
    assert_eq!(img.pixels().len(), img.width() as usize * img.height() as usize * 3);
    pipeline(engine(), &img);
}

/// Planar camera frame (Android `YUV_420_888`, iOS bi-planar buffers): `width u32, height u32, y_stride u32,
/// uv_row_stride u32, uv_pixel_stride u8, rotation u8, u_offset u32, v_offset u32` (little-endian), then one
/// buffer: Y from its start, U and V from their offsets (so the planes may overlap, as interleaved chroma
/// does). The frame goes through the pipeline and twice through a tracker (the second update of the same
/// frame continues the tracks the first one started).
pub fn planar_descriptor(data: &[u8]) {
    let Some((head, buf)) = data.split_first_chunk::<26>() else { return };
    let word = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().unwrap()) as usize;
    let (width, height) = (word(0) as u32, word(4) as u32);
    let (stride, uv_row_stride, uv_pixel_stride) = (word(8), word(12), usize::from(head[16]));
    let (u_off, v_off) = (word(18), word(22));
    let (Some(rotation), Some(u), Some(v)) =
        (Rotation::from_degrees(90 * i32::from(head[17] % 8) - 180), buf.get(u_off..), buf.get(v_off..))
    else {
        return;
    };
    let Ok(view) = ImageView::planar(buf, stride, u, v, uv_row_stride, uv_pixel_stride, width, height, rotation) else { return };
    let img = view.to_image();
    assert_eq!((img.width(), img.height()), view.upright_size());
    pipeline(engine(), &img);
    let mut tracker = Tracker::new(engine(), TrackerOptions::default()).expect("default options are valid");
    let first = tracker.update(&img).expect("an upright image always updates");
    let second = tracker.update(&img).expect("an upright image always updates");
    for t in &second.tracks {
        assert!(t.id >= 1 && t.id < 1 + first.tracks.len() as u64 + second.tracks.len() as u64, "track ids are dense");
    }
}

/// Encoded image: the bytes of a JPEG, PNG or WebP file (or anything else).
pub fn encoded_image(data: &[u8]) {
    if let Ok(img) = Image::decode(data) {
        pipeline(engine(), &img);
    }
}

/// Replaces each model's sha256 in the pack's manifest with the sha256 of the entry it names, as a hostile
/// pack builder would; `None` if the pack or its manifest does not parse.
fn reseal_pack(pack: &[u8]) -> Option<Vec<u8>> {
    let entries = container::parse(pack).ok()?;
    let find = |name: &str| entries.iter().find(|(n, _)| n == name).map(|(_, r)| &pack[r.clone()]);
    let mut manifest = Manifest::parse(std::str::from_utf8(find(MANIFEST_FILE)?).ok()?).ok()?;
    for m in &mut manifest.models {
        if let Some(bytes) = find(&m.file) {
            m.sha256 = sha256_hex(bytes);
        }
    }
    let text = manifest.to_json();
    let mut out: Vec<(&str, &[u8])> = vec![(MANIFEST_FILE, text.as_bytes())];
    out.extend(entries.iter().filter(|(n, _)| n != MANIFEST_FILE).map(|(n, r)| (n.as_str(), &pack[r.clone()])));
    Some(container::write(&out))
}

/// The engine the `model_pack` target loads from its input (`None` when the pack itself does not parse), so
/// that a test can check which error a hostile pack gets.
pub fn model_pack_engine(data: &[u8]) -> Option<crate::error::Result<Engine>> {
    let (&flags, pack) = data.split_first()?;
    let bytes = if flags & 1 != 0 { reseal_pack(pack)? } else { pack.to_vec() };
    let p = ModelPack::from_bytes(bytes).ok()?;
    let mut o = options();
    o.load_quality = flags & 2 != 0;
    Some(Engine::from_pack(&p, o))
}

/// Model pack: a flag byte (bit 0: reseal the sha256s; bit 1: load the quality model), then a pack
/// container holding `manifest.json` and the models. A pack that loads is then used: models that load but
/// compute nonsense must give errors, never panics.
pub fn model_pack(data: &[u8]) {
    let Some(Ok(engine)) = model_pack_engine(data) else { return };
    let pixels: Vec<u8> = (0..48 * 40 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let img = Image::from_rgb(48, 40, pixels).expect("valid size");
    pipeline(&engine, &img);
    let face = Face {
        x: 10.0,
        y: 8.0,
        width: 28.0,
        height: 28.0,
        score: 0.9,
        landmarks: [[18.0, 18.0], [30.0, 18.0], [24.0, 24.0], [19.0, 30.0], [29.0, 30.0]],
    };
    let _ = engine.quality(&img, &face);
    let _ = engine.embed(&img, &face);
}

/// Gallery file: a flag byte (bit 0: rewrite the trailing SHA-256 so the parser behind it is reached; bits
/// 1-7 pick a query), then the file. The file is loaded from memory and from disk (same answer); a gallery
/// that loads must re-encode to exactly its input, survive search, enroll, remove, and a save/load round trip.
pub fn gallery_file(data: &[u8]) {
    let Some((&flags, body)) = data.split_first() else { return };
    let mut bytes = body.to_vec();
    if flags & 1 != 0 && bytes.len() >= 32 {
        let n = bytes.len() - 32;
        let digest = Sha256::digest(&bytes[..n]);
        bytes[n..].copy_from_slice(&digest);
    }
    let path = scratch_dir().join("gallery.fkg");
    std::fs::write(&path, &bytes).expect("write the scratch gallery");
    let from_mem = Gallery::from_bytes(&bytes, GALLERY_MODEL, GALLERY_DIM);
    let from_file = Gallery::load(&path, GALLERY_MODEL, GALLERY_DIM);
    match (&from_mem, &from_file) {
        (Ok(a), Ok(b)) => assert_eq!(a.to_bytes().unwrap(), b.to_bytes().unwrap(), "file and memory loads differ"),
        (Err(a), Err(b)) => assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "{a} vs {b}"),
        _ => panic!("file and memory loads disagree: {:?} vs {:?}", from_mem.is_ok(), from_file.is_ok()),
    }
    let Ok(g) = from_mem else { return };
    assert_eq!(g.to_bytes().unwrap(), bytes, "an accepted file re-encodes to itself");
    let query: Vec<f32> = (0..GALLERY_DIM).map(|i| f32::from(flags >> 1) - i as f32).collect();
    let _ = g.search(&query, 3, Some(0.0));
    // Up to 32 templates every one is re-ranked exactly, so the int8 search must equal the f32 reference.
    if g.template_count() <= 32 {
        assert_eq!(g.search(&query, 5, None).unwrap(), g.search_f32_exact(&query, 5, None).unwrap());
    }
    let _ = g.enroll("fuzz-enrolled", &[&query]);
    if let Some(first) = g.identities().first() {
        g.remove(first).expect("an enrolled identity can be removed");
    }
    let saved = scratch_dir().join("saved.fkg");
    g.save(&saved).expect("save to the scratch folder");
    let back = Gallery::load(&saved, GALLERY_MODEL, GALLERY_DIM).expect("a saved gallery loads");
    assert_eq!(back.to_bytes().unwrap(), g.to_bytes().unwrap(), "save/load round trip");
}
