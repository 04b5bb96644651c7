#![no_main]
// Body: facekit::fuzzing::planar_descriptor (replayed on the committed corpus by tests/fuzz_corpus.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| facekit::fuzzing::planar_descriptor(data));
