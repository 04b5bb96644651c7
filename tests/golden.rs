//! Differential test against the onnxruntime reference (`../shared/golden/reference.json`, made by
//! `../shared/tools/golden.py`): on every image of `data/faces`, the same faces, the same landmarks, the same
//! embeddings and LightQNet scores.

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

#[test]
fn pipeline_matches_the_onnxruntime_reference() {
    let text = std::fs::read_to_string(common::shared().join("golden/reference.json")).expect("golden file");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let engine = common::engine_640();
    let (mut faces, mut close_emb, mut lm_err_sum, mut lm_n, mut q_err_max) = (0usize, 0usize, 0f64, 0usize, 0f32);
    let mut problems = Vec::new();
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
                problems.push(format!("{}: IoU {:.3} < 0.9", path.display(), of.iou(rf)));
            }
            for (a, b) in of.landmarks.iter().zip(rf.landmarks.iter()) {
                lm_err_sum += (((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)) as f64).sqrt();
                lm_n += 1;
            }
            let emb = engine.embed(&img, of).unwrap();
            faces += 1;
            let c = cosine(emb.as_slice(), remb).unwrap();
            if c >= 0.99 {
                close_emb += 1;
            }
            let q = engine.quality_model().unwrap().score(&img, of).unwrap();
            q_err_max = q_err_max.max((q - rq).abs());
        }
        for o in ours.iter().filter(|o| o.score > 0.6) {
            if !refs.iter().any(|(rf, _, _)| o.iou(rf) >= 0.5) {
                problems.push(format!("{}: extra face {o:?}", path.display()));
            }
        }
    }
    let lm_mean = lm_err_sum / lm_n as f64;
    let share = close_emb as f64 / faces as f64;
    eprintln!("golden: {faces} faces, mean landmark error {lm_mean:.3} px, {:.2}% embeddings with cosine >= 0.99, max LightQNet diff {q_err_max:.4}", 100.0 * share);
    assert!(faces > 200, "too few faces compared: {faces}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(lm_mean <= 1.5, "mean landmark error {lm_mean}");
    assert!(share >= 0.98, "only {:.2}% of embeddings within cosine 0.99", 100.0 * share);
    assert!(q_err_max < 0.05, "LightQNet differs by {q_err_max}");
}
