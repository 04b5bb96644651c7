//! Differential test against the onnxruntime reference (`../shared/golden/reference.json`, made by
//! `../shared/tools/golden.py`): on every image of `data/faces`, the same faces, the same landmarks, the same
//! embeddings and LightQNet scores.
//!
//! `FACEKIT_GOLDEN_DUMP=FILE` also writes every face compared (image, our box, our embedding, the liveness
//! score of the default liveness models on that face) as one JSON document, so `cross/test.sh` can compare an
//! ARM build's answers with the x86-64 build's on the same pixels (`cross/compare_x86.py`).

mod common;
use facekit::compare::cosine;
use facekit::{Face, Image};
use serde_json::Value;

fn face_of(v: &Value) -> (Face, Vec<f32>, f32) {
    let b: Vec<f32> = v["box"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    let mut f = Face { x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1], score: v["score"].as_f64().unwrap() as f32, ..Default::default() };
    for (i, p) in v["landmarks"].as_array().unwrap().iter().enumerate() {
        f.landmarks[i] = [p[0].as_f64().unwrap() as f32, p[1].as_f64().unwrap() as f32];
    }
    let e = v["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    (f, e, v["lightqnet"].as_f64().unwrap() as f32)
}

/// One face for `FACEKIT_GOLDEN_DUMP`: our box, embedding and liveness score (null when not assessed).
fn dump_face(engine: &facekit::Engine, img: &Image, item: &Value, of: &Face, emb: &[f32]) -> Value {
    let live = engine.liveness_model().expect("the default pack has liveness models").score(img, of).unwrap();
    serde_json::json!({
        "image": item["image"], "box": [of.x, of.y, of.width, of.height], "score": of.score, "embedding": emb,
        "liveness": if live.score.is_finite() { Some(live.score) } else { None }, "liveness_status": live.status.name(),
    })
}

/// The dump alone, on the first `FACEKIT_GOLDEN_IMAGES` (default 3) golden images, for runs too slow for the
/// whole set (cross/test.sh under `qemu-aarch64 -cpu max`). Run by name: `--ignored --exact golden_subset_dump`.
#[test]
#[ignore = "a tool for cross/test.sh: needs FACEKIT_GOLDEN_DUMP"]
fn golden_subset_dump() {
    let out = std::env::var_os("FACEKIT_GOLDEN_DUMP").expect("FACEKIT_GOLDEN_DUMP=FILE");
    let n: usize = std::env::var("FACEKIT_GOLDEN_IMAGES").map_or(3, |v| v.parse().expect("a count"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(common::shared().join("golden/reference.json")).unwrap()).unwrap();
    let engine = common::engine_640();
    let mut dump = Vec::new();
    for item in doc["images"].as_array().unwrap().iter().take(n) {
        let img = Image::open(common::shared().join(item["image"].as_str().unwrap())).unwrap();
        let ours = engine.detect(&img).unwrap();
        for (rf, _, _) in item["faces"].as_array().unwrap().iter().map(face_of) {
            if let Some(of) = ours.iter().filter(|o| o.iou(&rf) >= 0.5).max_by(|a, b| a.iou(&rf).total_cmp(&b.iou(&rf))) {
                dump.push(dump_face(engine, &img, item, of, engine.embed(&img, of).unwrap().as_slice()));
            }
        }
    }
    assert!(!dump.is_empty(), "no face in the first {n} golden images");
    std::fs::write(out, serde_json::json!({ "faces": dump }).to_string()).unwrap();
}

#[test]
fn pipeline_matches_the_onnxruntime_reference() {
    let text = std::fs::read_to_string(common::shared().join("golden/reference.json")).expect("golden file");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let engine = common::engine_640();
    let (mut faces, mut close_emb, mut lm_err_sum, mut lm_n, mut q_err_max) = (0usize, 0usize, 0f64, 0usize, 0f32);
    let (mut exact_emb, mut min_cos, mut q_close) = (0usize, 1f32, 0usize);
    let (mut problems, mut low_iou) = (Vec::new(), Vec::new());
    let dump_path = std::env::var_os("FACEKIT_GOLDEN_DUMP");
    let mut dump: Vec<Value> = Vec::new();
    for item in doc["images"].as_array().unwrap() {
        let path = common::shared().join(item["image"].as_str().unwrap());
        let img = Image::open(&path).unwrap();
        assert_eq!((img.width() as u64, img.height() as u64), (item["width"].as_u64().unwrap(), item["height"].as_u64().unwrap()));
        let ours = engine.detect(&img).unwrap();
        let refs: Vec<_> = item["faces"].as_array().unwrap().iter().map(face_of).collect();
        for (rf, remb, rq) in &refs {
            let best = ours.iter().max_by(|a, b| a.iou(rf).total_cmp(&b.iou(rf)));
            let Some(of) = best.filter(|o| o.iou(rf) >= 0.5) else {
                if rf.score >= 0.6 {
                    problems.push(format!("{}: reference face {rf:?} not found", path.display()));
                }
                continue;
            };
            if rf.score >= 0.6 && of.iou(rf) < 0.9 {
                low_iou.push(format!("{}: IoU {:.3}", path.display(), of.iou(rf)));
            }
            for (a, b) in of.landmarks.iter().zip(rf.landmarks.iter()) {
                lm_err_sum += (((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)) as f64).sqrt();
                lm_n += 1;
            }
            let emb = engine.embed(&img, of).unwrap();
            faces += 1;
            if dump_path.is_some() {
                dump.push(dump_face(engine, &img, item, of, emb.as_slice()));
            }
            let c = cosine(emb.as_slice(), remb).unwrap();
            if c >= 0.99 {
                close_emb += 1;
            }
            min_cos = min_cos.min(c);
            // Align + embed alone, from the reference's own landmarks: must agree almost exactly.
            let mut with_ref = *of;
            with_ref.landmarks = rf.landmarks;
            if cosine(engine.embed(&img, &with_ref).unwrap().as_slice(), remb).unwrap() >= 0.999 {
                exact_emb += 1;
            }
            let q = engine.quality_model().unwrap().score(&img, of).unwrap();
            q_err_max = q_err_max.max((q - rq).abs());
            if (q - rq).abs() <= 0.02 {
                q_close += 1;
            }
        }
        for o in ours.iter().filter(|o| o.score > 0.6) {
            if !refs.iter().any(|(rf, _, _)| o.iou(rf) >= 0.5) {
                problems.push(format!("{}: extra face {o:?}", path.display()));
            }
        }
    }
    if let Some(p) = &dump_path {
        std::fs::write(p, serde_json::json!({ "faces": dump }).to_string()).expect("write FACEKIT_GOLDEN_DUMP");
    }
    let lm_mean = lm_err_sum / lm_n as f64;
    let share = close_emb as f64 / faces as f64;
    eprintln!(
        "golden: {faces} faces, mean landmark error {lm_mean:.3} px, {:.2}% embeddings with cosine >= 0.99 (min {min_cos:.4}), \
         {exact_emb} with cosine >= 0.999 from the reference landmarks, max LightQNet diff {q_err_max:.4}, {q_close} within 0.02",
        100.0 * share
    );
    assert!(faces > 200, "too few faces compared: {faces}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // One face (cut by the right edge of selfie-many-people.jpg) lands at IoU 0.886 with our JPEG decoder
    // (zune-jpeg) and at 1.0 with OpenCV's decoded pixels: the decoders differ in 12 % of bytes by up to 4
    // levels. bindings/python/tests/test_golden_pixels.py runs this comparison on OpenCV-decoded pixels,
    // where every face passes. Allow that one here.
    eprintln!("faces with IoU < 0.9: {low_iou:?}");
    assert!(low_iou.len() <= 1, "{}", low_iou.join("\n"));
    assert!(lm_mean <= 1.5, "mean landmark error {lm_mean}");
    assert_eq!(exact_emb, faces, "align + embed from the reference landmarks must reproduce the reference embedding");
    // 98.6 % since the resize became bit-exact with cv2.resize (it was 96.8 % with a float resize); the
    // misses are faces whose landmarks move by tenths of a pixel with the JPEG decoder's pixels.
    assert!(share >= 0.98, "only {:.2}% of embeddings within cosine 0.99", 100.0 * share);
    assert!(q_close as f64 >= 0.98 * faces as f64, "LightQNet within 0.02 of the reference for only {q_close}/{faces}");
}
