#![no_main]
// Body: facekit::fuzzing::gallery_file (replayed on the committed corpus by tests/fuzz_corpus.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| facekit::fuzzing::gallery_file(data));
