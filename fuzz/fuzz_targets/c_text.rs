#![no_main]
// Body: facekit::fuzzing::c_text (replayed on the committed corpus by tests/fuzz_corpus.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| facekit::fuzzing::c_text(data));
