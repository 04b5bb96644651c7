//! Replays the committed fuzz corpus (`fuzz/corpus/NAME/`) and every past finding (`fuzz/regressions/NAME/`)
//! through the fuzz targets' bodies (`facekit::fuzzing`), so a regression in parsing code fails an ordinary
//! `cargo test` without building the fuzzers. `fuzz/run.sh TARGET SECONDS` does the real fuzzing.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `fuzz/KIND/TARGET`, sorted (none if the folder does not exist).
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fuzz_dir().join(kind).join(target))
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Runs every corpus and regression input of `target` through `body`; a panic names the input.
fn replay(target: &str, body: fn(&[u8])) {
    let corpus = inputs("corpus", target);
    assert!(!corpus.is_empty(), "no committed corpus for {target}");
    for path in corpus.iter().chain(&inputs("regressions", target)) {
        let bytes = std::fs::read(path).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| body(&bytes)) {
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{target}: input {} fails: {}", path.display(), msg.unwrap_or_default());
        }
    }
}

#[test]
fn image_descriptor_corpus() {
    replay("image_descriptor", facekit::fuzzing::image_descriptor);
}

#[test]
fn planar_descriptor_corpus() {
    replay("planar_descriptor", facekit::fuzzing::planar_descriptor);
}

#[test]
fn encoded_image_corpus() {
    replay("encoded_image", facekit::fuzzing::encoded_image);
}

#[test]
fn model_pack_corpus() {
    replay("model_pack", facekit::fuzzing::model_pack);
}

#[test]
fn gallery_file_corpus() {
    replay("gallery_file", facekit::fuzzing::gallery_file);
}

#[test]
fn c_text_corpus() {
    replay("c_text", facekit::fuzzing::c_text);
}

/// The tiny synthetic pack of the model_pack corpus really loads (so the fuzzer starts past the container,
/// the manifest and the sha256 checks) and runs: detection on a drawn image, an 8-value embedding.
#[test]
fn seed_pack_loads_and_runs() {
    let bytes = std::fs::read(fuzz_dir().join("corpus/model_pack/tiny-valid")).unwrap();
    let engine = facekit::Engine::from_pack_bytes(&bytes[1..], facekit::fuzzing::options()).expect("seed pack loads");
    assert_eq!(engine.dim(), 8);
    assert!(engine.quality_model().is_some());
    let img = facekit::Image::from_rgb(48, 40, (0..48 * 40 * 3).map(|i| (i % 256) as u8).collect()).unwrap();
    let faces = engine.detect(&img).expect("the tiny detector runs");
    let e = engine.embed(&img, &faces[0]).expect("the tiny embedder runs");
    assert!((e.as_slice().iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
}

/// The gallery seeds are what their names say: valid files of the fuzzing model, or of another one.
#[test]
fn seed_galleries_load() {
    use facekit::fuzzing::{GALLERY_DIM, GALLERY_MODEL};
    let load = |name: &str| {
        let bytes = std::fs::read(fuzz_dir().join("corpus/gallery_file").join(name)).unwrap();
        facekit::gallery::Gallery::from_bytes(&bytes[1..], GALLERY_MODEL, GALLERY_DIM)
    };
    assert_eq!(load("three").unwrap().template_count(), 4);
    assert_eq!(load("utf8-keys").unwrap().identities(), ["zoë", "名前"]);
    assert!(matches!(load("other-model"), Err(facekit::Error::Incompatible(_))));
}

/// Finding 1 (model_pack): an ONNX graph whose output names a tensor that no node makes panicked inside
/// tract's ONNX loader. A pack carrying one (with a matching sha256) must be refused with a clear error.
#[test]
fn a_graph_output_made_by_no_node_is_a_model_format_error() {
    let bytes = std::fs::read(fuzz_dir().join("regressions/model_pack/graph-output-made-by-no-node")).unwrap();
    let r = std::panic::catch_unwind(|| facekit::Engine::from_pack_bytes(&bytes[1..], facekit::fuzzing::options()));
    let r = r.expect("no panic");
    assert!(matches!(&r, Err(facekit::Error::ModelFormat(m)) if m.contains("made_by_no_node")), "{r:?}");
}

/// Fuzzing finding (model_pack, 13,247 executions): a Transpose whose `perm` names an axis the input does not
/// have made tract index out of bounds while typing the graph. The shield turned that panic into an error, but
/// libFuzzer (and a `panic = "abort"` build) sees the panic itself; the ONNX check now refuses it first.
#[test]
fn a_transpose_perm_that_is_not_a_permutation_is_a_model_format_error() {
    let bytes = std::fs::read(fuzz_dir().join("regressions/model_pack/crash-5b738bc8e0028440231ac55fce0de9b65481b4c3")).unwrap();
    let r = facekit::fuzzing::model_pack_engine(&bytes).expect("the pack parses");
    assert!(matches!(&r, Err(facekit::Error::ModelFormat(m)) if m.contains("not a permutation")), "{r:?}");
}
