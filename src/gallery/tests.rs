use std::collections::HashSet;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::bench::SplitMix64;
use super::scan::{quantize_row, TopK};
use super::*;

const MODEL: &str = "test-model";

fn vecs(rng: &mut SplitMix64, n: usize, dim: usize) -> Vec<Vec<f32>> {
    (0..n).map(|_| rng.unit_vector(dim)).collect()
}

/// `v` plus random noise of norm `amount` (not normalised: search must normalise).
fn noisy(rng: &mut SplitMix64, v: &[f32], amount: f32) -> Vec<f32> {
    let e = rng.unit_vector(v.len());
    v.iter().zip(&e).map(|(a, b)| a + amount * b).collect()
}

/// A gallery of `n` identities with one random template each, named "0", "1", ...
fn random_gallery(rng: &mut SplitMix64, n: usize, dim: usize) -> (Gallery, Vec<Vec<f32>>) {
    let g = Gallery::new(MODEL, dim).unwrap();
    let t = vecs(rng, n, dim);
    for (i, v) in t.iter().enumerate() {
        g.enroll(&i.to_string(), &[v]).unwrap();
    }
    (g, t)
}

/// Every internal index agrees with every other, and the int8 rows match their f32 rows.
fn check_invariants(g: &Gallery) {
    let s = g.read().unwrap();
    let rows = s.owner.len();
    assert_eq!(s.f32_rows.len(), rows * s.dim);
    assert_eq!(s.i8_rows.len(), rows * s.stride);
    assert_eq!(s.scales.len(), rows);
    assert_eq!(s.index.len(), s.idents.len());
    let mut seen = vec![false; rows];
    for (slot, ident) in s.idents.iter().enumerate() {
        assert_eq!(s.index[&ident.id] as usize, slot);
        assert!(!ident.rows.is_empty());
        for &r in &ident.rows {
            assert_eq!(s.owner[r as usize] as usize, slot);
            assert!(!std::mem::replace(&mut seen[r as usize], true), "row {r} listed twice");
        }
    }
    assert!(seen.iter().all(|&x| x), "a row belongs to nobody");
    let mut q = vec![0i8; s.stride];
    for r in 0..rows {
        let scale = quantize_row(s.f32_row(r), &mut q[..s.dim]);
        assert_eq!(&q[..], &s.i8_rows[r * s.stride..(r + 1) * s.stride]);
        assert_eq!(scale, s.scales[r]);
    }
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T>) {
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "expected InvalidArgument, got {r:?}");
}

fn assert_corrupt<T: std::fmt::Debug>(r: Result<T>, what: &str) {
    assert!(matches!(r, Err(Error::Corrupt(_))), "{what}: expected Corrupt, got {r:?}");
}

/// Scratch folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("facekit-gallery-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn gallery_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Gallery>();
}

#[test]
fn new_validates_arguments() {
    assert_invalid(Gallery::new(MODEL, 0));
    assert_invalid(Gallery::new(MODEL, MAX_DIM + 1));
    assert_invalid(Gallery::new("", 128));
    assert_invalid(Gallery::new("a\0b", 128));
    assert_invalid(Gallery::new(&"m".repeat(MAX_MODEL_ID_LEN + 1), 128));
    let g = Gallery::new(MODEL, MAX_DIM).unwrap();
    assert_eq!((g.model_id(), g.dim(), g.count(), g.template_count()), (MODEL, MAX_DIM, 0, 0));
}

#[test]
fn enroll_search_remove_basics() {
    let mut rng = SplitMix64::new(1);
    let (g, t) = random_gallery(&mut rng, 50, 64);
    assert_eq!((g.count(), g.template_count()), (50, 50));
    assert!(g.contains("7") && !g.contains("50"));
    let mut expected: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    expected.sort();
    assert_eq!(g.identities(), expected);

    // Scaled query: search normalises, so the similarity to its own template is 1.
    let q: Vec<f32> = t[7].iter().map(|x| x * 3.5).collect();
    let hits = g.search(&q, 3, None).unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].id, "7");
    assert!((hits[0].similarity - 1.0).abs() < 1e-5, "{hits:?}");
    assert!(hits.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    assert_eq!(hits, g.search_f32_exact(&q, 3, None).unwrap());

    // k larger than the gallery: every identity once.
    assert_eq!(g.search(&q, 1000, None).unwrap().len(), 50);

    assert_eq!(g.remove("7").unwrap(), 1);
    assert!(matches!(g.remove("7"), Err(Error::NotFound(_))));
    assert_eq!((g.count(), g.template_count()), (49, 49));
    assert!(!g.contains("7"));
    assert!(g.search(&q, 49, None).unwrap().iter().all(|h| h.id != "7"));
    check_invariants(&g);

    for i in 0..50 {
        if i != 7 {
            g.remove(&i.to_string()).unwrap();
        }
    }
    assert_eq!((g.count(), g.template_count()), (0, 0));
    assert!(g.search(&q, 5, None).unwrap().is_empty());
    assert!(g.search_f32_exact(&q, 5, None).unwrap().is_empty());
    check_invariants(&g);
}

#[test]
fn threshold_gives_the_open_set_answer() {
    let mut rng = SplitMix64::new(2);
    let (g, t) = random_gallery(&mut rng, 200, 128);
    // A stranger: random vectors in 128 dims have cosine ~N(0, 0.09) to everyone.
    let stranger = rng.unit_vector(128);
    assert!(g.search(&stranger, 5, Some(0.6)).unwrap().is_empty());
    assert!(g.search_f32_exact(&stranger, 5, Some(0.6)).unwrap().is_empty());
    assert_eq!(g.search(&stranger, 5, None).unwrap().len(), 5);
    // A noisy photo of identity 42 (cosine ~0.8): found, alone above the threshold.
    let q = noisy(&mut rng, &t[42], 0.7);
    let hits = g.search(&q, 5, Some(0.6)).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].id, "42");
    assert!(hits[0].similarity >= 0.6);
}

#[test]
fn identity_score_is_the_max_over_its_templates() {
    let mut rng = SplitMix64::new(3);
    let dim = 32;
    let g = Gallery::new(MODEL, dim).unwrap();
    let a = vecs(&mut rng, 3, dim);
    let b = vecs(&mut rng, 1, dim);
    g.enroll("alice", &[&a[0], &a[1]]).unwrap();
    g.enroll("bob", &[&b[0]]).unwrap();
    // Enrolling an existing id adds templates.
    g.enroll("alice", &[&a[2]]).unwrap();
    assert_eq!((g.count(), g.template_count()), (2, 4));
    for (i, t) in a.iter().enumerate() {
        let hits = g.search(t, 2, None).unwrap();
        assert_eq!(hits.len(), 2, "one hit per identity");
        assert_eq!(hits[0].id, "alice", "template {i}");
        assert!((hits[0].similarity - 1.0).abs() < 1e-5);
        let best = a.iter().map(|x| scan::dot_f32(x, t)).fold(f32::MIN, f32::max);
        assert_eq!(hits[0].similarity, best);
    }
    // Many near-identical templates of one identity must not crowd the others out of the candidates.
    let crowd: Vec<Vec<f32>> = (0..100).map(|_| noisy(&mut rng, &b[0], 0.01)).collect();
    let refs: Vec<&[f32]> = crowd.iter().map(|v| v.as_slice()).collect();
    g.enroll("bob", &refs).unwrap();
    let hits = g.search(&b[0], 2, None).unwrap();
    assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["bob", "alice"]);
    assert_eq!(hits, g.search_f32_exact(&b[0], 2, None).unwrap());
    assert_eq!(g.remove("bob").unwrap(), 101);
    check_invariants(&g);
}

#[test]
fn invalid_inputs_are_errors() {
    let g = Gallery::new(MODEL, 4).unwrap();
    let ok = [1.0f32, 0.0, 0.0, 0.0];
    assert_invalid(g.enroll("", &[&ok]));
    assert_invalid(g.enroll(&"x".repeat(MAX_ID_LEN + 1), &[&ok]));
    assert_invalid(g.enroll("nul\0", &[&ok]));
    assert_invalid(g.enroll("a", &[]));
    assert_invalid(g.enroll("a", &[&[1.0, 0.0, 0.0]]));
    assert_invalid(g.enroll("a", &[&[1.0, 0.0, 0.0, 0.0, 0.0]]));
    assert_invalid(g.enroll("a", &[&[f32::NAN, 0.0, 0.0, 0.0]]));
    assert_invalid(g.enroll("a", &[&[f32::INFINITY, 0.0, 0.0, 0.0]]));
    assert_invalid(g.enroll("a", &[&[0.0; 4]]));
    // All-or-nothing: a valid template next to an invalid one is not enrolled either.
    assert_invalid(g.enroll("a", &[&ok, &[0.0; 4]]));
    assert_eq!((g.count(), g.template_count()), (0, 0));
    // Extreme but valid values are normalised without overflow or underflow.
    g.enroll(&"x".repeat(MAX_ID_LEN), &[&[f32::MAX, f32::MAX, 0.0, 0.0], &[1e-40, 0.0, 0.0, 0.0]]).unwrap();
    g.enroll("a", &[&ok]).unwrap();
    check_invariants(&g);

    for search in [Gallery::search, Gallery::search_f32_exact] {
        assert_invalid(search(&g, &ok, 0, None));
        assert_invalid(search(&g, &[1.0, 0.0], 1, None));
        assert_invalid(search(&g, &[f32::NAN, 0.0, 0.0, 0.0], 1, None));
        assert_invalid(search(&g, &[0.0; 4], 1, None));
        assert_invalid(search(&g, &ok, 1, Some(f32::NAN)));
        assert_invalid(search(&g, &ok, 1, Some(f32::INFINITY)));
    }
    assert!(matches!(g.remove("nobody"), Err(Error::NotFound(_))));
}

#[test]
fn top_k_keeps_the_best() {
    let mut rng = SplitMix64::new(4);
    for cap in [0, 1, 3, 32, 100] {
        let scores: Vec<f32> = (0..1000).map(|_| rng.uniform() as f32).collect();
        let mut top = TopK::new(cap);
        for (i, &s) in scores.iter().enumerate() {
            top.push(s, i as u32);
        }
        let mut expected: Vec<(f32, u32)> = scores.iter().enumerate().map(|(i, &s)| (s, i as u32)).collect();
        expected.sort_by(|a, b| b.0.total_cmp(&a.0));
        expected.truncate(cap);
        assert_eq!(top.into_sorted(), expected);
    }
}

#[test]
fn quantisation_error_is_small() {
    // The module docs promise a dot-product error with a standard deviation of about 0.001 at 128 dims.
    let mut rng = SplitMix64::new(5);
    let dim = 128;
    let (mut sum_sq, mut worst, n) = (0.0f64, 0.0f64, 20_000);
    let (mut qa, mut qb) = (vec![0i8; dim], vec![0i8; dim]);
    for _ in 0..n {
        let (a, b) = (rng.unit_vector(dim), rng.unit_vector(dim));
        let (sa, sb) = (quantize_row(&a, &mut qa), quantize_row(&b, &mut qb));
        let approx = qa.iter().zip(&qb).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum::<i32>() as f32 * sa * sb;
        let err = f64::from(approx - scan::dot_f32(&a, &b));
        sum_sq += err * err;
        worst = worst.max(err.abs());
    }
    let rms = (sum_sq / f64::from(n)).sqrt();
    assert!(rms < 0.0015, "rms error {rms}");
    assert!(worst < 0.01, "worst error {worst}");
}

#[test]
fn int8_search_agrees_with_f32() {
    let mut rng = SplitMix64::new(6);
    let (g, t) = random_gallery(&mut rng, 4000, 128);
    let (mut top1_agree, mut lists_equal, n) = (0, 0, 250);
    for i in 0..n {
        let q = if i % 5 == 0 {
            rng.unit_vector(128)
        } else {
            let j = rng.below(t.len());
            noisy(&mut rng, &t[j], 0.7)
        };
        let fast = g.search(&q, 10, None).unwrap();
        let exact = g.search_f32_exact(&q, 10, None).unwrap();
        top1_agree += usize::from(fast[0] == exact[0]);
        lists_equal += usize::from(fast == exact);
        // Whatever the int8 scan picks, the similarities reported are the exact ones.
        let q = normalized(&q, 128).unwrap();
        for h in &fast {
            assert_eq!(h.similarity, scan::dot_f32(&t[h.id.parse::<usize>().unwrap()], &q));
        }
    }
    assert!(top1_agree * 1000 >= n * 995, "top-1 agreement {top1_agree}/{n}");
    assert!(lists_equal * 100 >= n * 95, "top-10 lists equal {lists_equal}/{n}");
}

#[test]
fn threaded_search_equals_single_threaded() {
    let mut rng = SplitMix64::new(7);
    // Enough rows for three threads (MIN_ROWS_PER_THREAD each); 100 templates per identity keeps enrolment quick.
    let (dim, rows) = (16, 3 * MIN_ROWS_PER_THREAD + 5);
    let g = Gallery::new(MODEL, dim).unwrap();
    let t = vecs(&mut rng, rows, dim);
    for (i, chunk) in t.chunks(100).enumerate() {
        let refs: Vec<&[f32]> = chunk.iter().map(|v| v.as_slice()).collect();
        g.enroll(&i.to_string(), &refs).unwrap();
    }
    for i in 0..10 {
        let j = i * 9803 % rows;
        let q = noisy(&mut rng, &t[j], 0.05);
        let single = g.search(&q, 10, None).unwrap();
        assert_eq!(single[0].id, (j / 100).to_string());
        for threads in [0, 2, 3, 8] {
            assert_eq!(g.search_with_threads(&q, 10, None, threads).unwrap(), single, "{threads} threads");
        }
    }
}

#[test]
fn removal_keeps_storage_contiguous_and_searchable() {
    let mut rng = SplitMix64::new(8);
    let dim = 48;
    let g = Gallery::new(MODEL, dim).unwrap();
    let mut templates: Vec<(String, Vec<Vec<f32>>)> = (0..300)
        .map(|i| {
            let n = 1 + rng.below(4);
            (format!("person-{i}"), vecs(&mut rng, n, dim))
        })
        .collect();
    // Interleave the rows of different identities, so removals move rows around.
    for round in 0..4 {
        for (id, ts) in &templates {
            if let Some(t) = ts.get(round) {
                g.enroll(id, &[t]).unwrap();
            }
        }
    }
    check_invariants(&g);
    let mut removed = HashSet::new();
    for i in (0..300).step_by(3).chain((1..300).step_by(7)) {
        let (id, ts) = &templates[i];
        if removed.insert(id.clone()) {
            assert_eq!(g.remove(id).unwrap(), ts.len());
        }
    }
    check_invariants(&g);
    templates.retain(|(id, _)| !removed.contains(id));
    assert_eq!(g.count(), templates.len());
    assert_eq!(g.template_count(), templates.iter().map(|(_, ts)| ts.len()).sum::<usize>());
    for (id, ts) in &templates {
        for t in ts {
            let hits = g.search(t, 1, None).unwrap();
            assert_eq!(&hits[0].id, id);
            assert!((hits[0].similarity - 1.0).abs() < 1e-5);
        }
    }
}

#[test]
fn save_load_round_trip() {
    let mut rng = SplitMix64::new(9);
    let (g, t) = random_gallery(&mut rng, 300, 96);
    g.enroll("42", &[&rng.unit_vector(96)]).unwrap();
    g.remove("17").unwrap();
    g.enroll("ünïcödé 名前", &[&rng.unit_vector(96), &rng.unit_vector(96)]).unwrap();

    let dir = TempDir::new("roundtrip");
    let path = dir.0.join("gallery.fkg");
    g.save(&path).unwrap();
    // Saving again replaces the file; no temporary file is left behind.
    g.save(&path).unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["gallery.fkg"]);

    let bytes = g.to_bytes().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let loaded = Gallery::load(&path, MODEL, 96).unwrap();
    assert_eq!(loaded.to_bytes().unwrap(), bytes);
    assert_eq!(loaded.identities(), g.identities());
    assert_eq!(loaded.template_count(), g.template_count());
    check_invariants(&loaded);
    for v in t.iter().take(50) {
        let q = noisy(&mut rng, v, 0.5);
        assert_eq!(loaded.search(&q, 5, None).unwrap(), g.search(&q, 5, None).unwrap());
    }
    let from_mem = Gallery::from_bytes(&bytes, MODEL, 96).unwrap();
    assert_eq!(from_mem.to_bytes().unwrap(), bytes);

    // An empty gallery round-trips too.
    let empty = Gallery::new(MODEL, 3).unwrap();
    let e = Gallery::from_bytes(&empty.to_bytes().unwrap(), MODEL, 3).unwrap();
    assert_eq!((e.count(), e.template_count()), (0, 0));
}

#[test]
fn load_reports_io_incompatible_and_corrupt() {
    let dir = TempDir::new("errors");
    let g = Gallery::new(MODEL, 8).unwrap();
    g.enroll("a", &[&[1.0; 8]]).unwrap();
    let path = dir.0.join("g.bin");
    g.save(&path).unwrap();
    assert!(matches!(Gallery::load(&path, "other-model", 8), Err(Error::Incompatible(_))));
    assert!(matches!(Gallery::load(&path, MODEL, 16), Err(Error::Incompatible(_))));
    assert!(matches!(Gallery::load(dir.0.join("missing"), MODEL, 8), Err(Error::Io { .. })));
    assert!(matches!(g.save(dir.0.join("no-such-dir").join("g.bin")), Err(Error::Io { .. })));

    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    assert_corrupt(Gallery::load(&path, MODEL, 8), "flipped file");
    std::fs::write(&path, &bytes[..mid]).unwrap();
    assert_corrupt(Gallery::load(&path, MODEL, 8), "truncated file");
    std::fs::write(&path, b"").unwrap();
    assert_corrupt(Gallery::load(&path, MODEL, 8), "empty file");
}

/// A small gallery's bytes: the subject of the exhaustive corruption tests.
fn small_gallery_bytes() -> Vec<u8> {
    let mut rng = SplitMix64::new(10);
    let g = Gallery::new(MODEL, 4).unwrap();
    g.enroll("alice", &[&rng.unit_vector(4), &rng.unit_vector(4)]).unwrap();
    g.enroll("bob", &[&rng.unit_vector(4)]).unwrap();
    g.enroll("7", &[&rng.unit_vector(4)]).unwrap();
    g.to_bytes().unwrap()
}

#[test]
fn every_single_byte_corruption_is_detected() {
    let bytes = small_gallery_bytes();
    Gallery::from_bytes(&bytes, MODEL, 4).unwrap();
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            assert_corrupt(Gallery::from_bytes(&b, MODEL, 4), &format!("byte {i} ^ {mask:#x}"));
        }
    }
}

#[test]
fn every_truncation_and_extension_is_detected() {
    let bytes = small_gallery_bytes();
    for len in 0..bytes.len() {
        assert_corrupt(Gallery::from_bytes(&bytes[..len], MODEL, 4), &format!("truncated to {len}"));
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_corrupt(Gallery::from_bytes(&longer, MODEL, 4), "one byte appended");
}

/// Rewrites the body (everything before the checksum) with `edit` and appends a valid checksum: a file that
/// passes verification but lies in its content.
fn resealed(bytes: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut body = bytes[..bytes.len() - 32].to_vec();
    edit(&mut body);
    let digest = Sha256::digest(&body);
    body.extend_from_slice(&digest);
    body
}

#[test]
fn well_sealed_but_lying_files_are_rejected() {
    let bytes = small_gallery_bytes();
    // Offsets in the small gallery: header is 8 + 4 + 2 + len(MODEL) + 4 + 8 + 8.
    let counts = 8 + 4 + 2 + MODEL.len() + 4;
    let first_record = counts + 16;
    fn put(at: usize, v: &[u8]) -> impl FnOnce(&mut Vec<u8>) + '_ {
        move |b| b[at..at + v.len()].copy_from_slice(v)
    }

    let version2 = resealed(&bytes, put(8, &2u32.to_le_bytes()));
    assert!(matches!(Gallery::from_bytes(&version2, MODEL, 4), Err(Error::Incompatible(_))));

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("huge identity count", resealed(&bytes, put(counts, &u64::MAX.to_le_bytes()))),
        ("huge template count", resealed(&bytes, put(counts + 8, &u64::MAX.to_le_bytes()))),
        ("too few templates", resealed(&bytes, put(counts + 8, &2u64.to_le_bytes()))),
        ("identity count too high", resealed(&bytes, put(counts, &4u64.to_le_bytes()))),
        ("identity count too low", resealed(&bytes, put(counts, &2u64.to_le_bytes()))),
        ("huge key length", resealed(&bytes, put(first_record, &u16::MAX.to_le_bytes()))),
        ("empty key", resealed(&bytes, put(first_record, &0u16.to_le_bytes()))),
        ("key not UTF-8", resealed(&bytes, put(first_record + 2, &[0xFF]))),
        ("key with NUL", resealed(&bytes, put(first_record + 2, &[0]))),
        ("zero templates", resealed(&bytes, put(first_record + 7, &0u32.to_le_bytes()))),
        ("huge templates", resealed(&bytes, put(first_record + 7, &u32::MAX.to_le_bytes()))),
        ("NaN value", resealed(&bytes, put(first_record + 11, &f32::NAN.to_le_bytes()))),
        ("not unit norm", resealed(&bytes, put(first_record + 11, &3.0f32.to_le_bytes()))),
        ("zero dim", resealed(&bytes, put(counts - 4, &0u32.to_le_bytes()))),
        ("bad model id", resealed(&bytes, put(8 + 4 + 2, &[0xFF]))),
        ("trailing garbage", resealed(&bytes, |b| b.extend_from_slice(&[0; 5]))),
    ];
    for (what, b) in cases {
        assert_corrupt(Gallery::from_bytes(&b, MODEL, 4), what);
    }

    let g = Gallery::new(MODEL, 2).unwrap();
    g.enroll("bob", &[&[1.0, 0.0]]).unwrap();
    g.enroll("bod", &[&[0.0, 1.0]]).unwrap();
    let bytes = g.to_bytes().unwrap();
    let at = bytes.windows(3).position(|w| w == b"bod").unwrap() + 2;
    assert_corrupt(Gallery::from_bytes(&resealed(&bytes, put(at, b"b")), MODEL, 2), "duplicate key");
}

#[test]
fn oversized_files_and_counts_are_refused_before_allocating() {
    // A sparse file one byte over the limit: refused from its length, without reading a gigabyte.
    let dir = TempDir::new("limits");
    let path = dir.0.join("huge.fkg");
    std::fs::File::create(&path).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
    let e = Gallery::load(&path, MODEL, 4).unwrap_err();
    assert!(matches!(&e, Error::Corrupt(m) if m.contains("limit")), "{e}");
    // Well-sealed headers announcing one identity or one template over the limits.
    let bytes = small_gallery_bytes();
    let counts = 8 + 4 + 2 + MODEL.len() + 4;
    for (at, n) in [(counts, MAX_IDENTITIES + 1), (counts + 8, MAX_TEMPLATES + 1)] {
        let lying = resealed(&bytes, |b| b[at..at + 8].copy_from_slice(&(n as u64).to_le_bytes()));
        let e = Gallery::from_bytes(&lying, MODEL, 4).unwrap_err();
        assert!(matches!(&e, Error::Corrupt(m) if m.contains("limits")), "{e}");
    }
}

#[test]
fn enrolment_stops_at_the_limits() {
    // Templates: one identity with one template too many (dimension 1, so it is cheap).
    let g = Gallery::new(MODEL, 1).unwrap();
    let many: Vec<&[f32]> = vec![&[1.0]; MAX_TEMPLATES + 1];
    let e = g.enroll("a", &many).unwrap_err();
    assert!(matches!(&e, Error::InvalidArgument(m) if m.contains("full")), "{e}");
    g.enroll("a", &many[1..]).unwrap();
    assert_eq!(g.template_count(), MAX_TEMPLATES);
    assert_invalid(g.enroll("b", &[&[1.0]]));
    // Identities and file size: the check enroll makes, at and just over each limit.
    let (id, key) = (MAX_ID_LEN, MAX_ID_LEN * MAX_IDENTITIES);
    assert!(file::check_size(8, 1, MAX_IDENTITIES, key, MAX_IDENTITIES).is_ok());
    assert!(file::check_size(8, 1, MAX_IDENTITIES + 1, key + id, MAX_IDENTITIES + 1).unwrap_err().contains("identities"));
    let per_file = (MAX_FILE_BYTES as usize - 200) / (4 * MAX_DIM);
    assert!(file::check_size(8, MAX_DIM, 1, 1, per_file).is_ok());
    assert!(file::check_size(8, MAX_DIM, 1, 1, per_file + 1).unwrap_err().contains("bytes"));
    // A gallery at the byte limit saves a file that loads (checked on the size of a real file).
    let g = Gallery::new(MODEL, 3).unwrap();
    g.enroll("k", &[&[1.0, 2.0, 3.0]]).unwrap();
    assert_eq!(g.to_bytes().unwrap().len() as u64, file::file_len(MODEL.len(), 3, 1, 1, 1));
}

/// Passes writes through until `budget` bytes have gone, then fails every write with `kind`.
struct FailAfter<W> {
    inner: W,
    budget: usize,
    kind: std::io::ErrorKind,
}

impl<W: std::io::Write> std::io::Write for FailAfter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.budget == 0 {
            return Err(std::io::Error::new(self.kind, "injected fault"));
        }
        let n = self.inner.write(&buf[..buf.len().min(self.budget)])?;
        self.budget -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[test]
fn a_save_that_fails_part_way_keeps_the_previous_file() {
    let mut rng = SplitMix64::new(12);
    let dir = TempDir::new("faults");
    let path = dir.0.join("g.fkg");
    let (old, _) = random_gallery(&mut rng, 40, 16);
    old.save(&path).unwrap();
    let previous = std::fs::read(&path).unwrap();
    let (new, _) = random_gallery(&mut rng, 60, 16);
    let len = new.to_bytes().unwrap().len();
    for kind in [std::io::ErrorKind::StorageFull, std::io::ErrorKind::Other] {
        for budget in [0, 1, 100, len / 2, len - 33, len - 1] {
            let r = new.save_through(&path, |f| Box::new(FailAfter { inner: f, budget, kind }));
            assert!(matches!(&r, Err(Error::Io { source, .. }) if source.kind() == kind), "{kind:?} after {budget}: {r:?}");
            assert_eq!(std::fs::read(&path).unwrap(), previous, "{kind:?} after {budget}: the previous file changed");
            let names: Vec<_> = std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(names, ["g.fkg"], "the temporary file is removed");
        }
    }
    assert_eq!(Gallery::load(&path, MODEL, 16).unwrap().to_bytes().unwrap(), previous);
    // The budget that lets every byte through saves the new gallery.
    new.save_through(&path, |f| Box::new(FailAfter { inner: f, budget: len, kind: std::io::ErrorKind::Other })).unwrap();
    assert_eq!(Gallery::load(&path, MODEL, 16).unwrap().to_bytes().unwrap(), new.to_bytes().unwrap());
}

#[test]
fn searches_run_while_another_thread_enrolls_and_removes() {
    let mut rng = SplitMix64::new(11);
    let dim = 64;
    let (g, stable) = random_gallery(&mut rng, 2000, dim);
    let churn = vecs(&mut rng, 200, dim);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let searchers: Vec<_> = (0..3u64)
            .map(|n| {
                let (g, stable, stop) = (&g, &stable, &stop);
                s.spawn(move || {
                    let mut rng = SplitMix64::new(100 + n);
                    let mut searches = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) || searches < 50 {
                        let i = rng.below(stable.len());
                        let q = noisy(&mut rng, &stable[i], 0.3);
                        let hits = g.search_with_threads(&q, 3, None, 1 + (searches % 2)).unwrap();
                        assert_eq!(hits[0].id, i.to_string());
                        assert!(g.search_f32_exact(&q, 1, Some(0.5)).unwrap()[0].id == i.to_string());
                        searches += 1;
                    }
                    searches
                })
            })
            .collect();
        for round in 0..20 {
            for (i, v) in churn.iter().enumerate() {
                g.enroll(&format!("churn-{i}"), &[v]).unwrap();
            }
            for i in (round % 2..churn.len()).step_by(2) {
                g.remove(&format!("churn-{i}")).unwrap();
            }
            for i in (1 - round % 2..churn.len()).step_by(2) {
                g.remove(&format!("churn-{i}")).unwrap();
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for h in searchers {
            assert!(h.join().unwrap() >= 50);
        }
    });
    assert_eq!(g.count(), 2000);
    check_invariants(&g);
}

#[test]
fn bench_smoke() {
    let r = bench(3000, 64, 40, 12);
    assert_eq!((r.size, r.dim), (3000, 64));
    assert!(r.recall_at_1_int8_vs_f32 >= 0.95, "{r:?}");
    assert!(r.ms_per_search_f32 > 0.0 && r.ms_per_search_int8 > 0.0 && r.build_seconds > 0.0, "{r:?}");
    let empty = bench(0, 8, 3, 1);
    assert_eq!((empty.recall_at_1_int8_vs_f32, empty.size), (1.0, 0));
}

fn faiss_config(python: &str, script: PathBuf) -> bench::FaissBenchConfig {
    bench::FaissBenchConfig { size: 3000, dim: 32, queries: 10, rounds: 2, threads: 2, seed: 3, python: python.into(), script }
}

fn faiss_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/faiss_gallery.py")
}

#[test]
fn faiss_bench_reports_bad_setups_as_errors() {
    let mut zero_rounds = faiss_config("python3", faiss_script());
    zero_rounds.rounds = 0;
    assert_invalid(bench::bench_with_faiss(&zero_rounds));
    let no_python = bench::bench_with_faiss(&faiss_config("/nonexistent/python3", faiss_script()));
    assert!(matches!(no_python, Err(Error::Io { .. })), "{no_python:?}");
    // The interpreter runs but the script is missing: it exits without the ready line, and no scratch file
    // or child process is left behind.
    let no_script = bench::bench_with_faiss(&faiss_config("python3", PathBuf::from("/nonexistent/faiss.py")));
    assert!(matches!(&no_script, Err(Error::Internal(m)) if m.contains("without an answer")), "{no_script:?}");
    let scratch = std::env::temp_dir().join(format!("facekit-faiss-bench-{}", std::process::id()));
    assert!(!scratch.exists());
}

/// The real FAISS comparison on a small gallery (installs faiss-cpu with pip if missing):
/// `cargo test --release -- --ignored --nocapture faiss_bench_small`
#[test]
#[ignore = "needs faiss-cpu (the script installs it with pip)"]
fn faiss_bench_small() {
    let r = bench::bench_with_faiss(&faiss_config("python3", faiss_script())).unwrap();
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    assert_eq!((r.size, r.dim, r.queries, r.rounds, r.per_round.len()), (3000, 32, 10, 2, 2));
    assert!(r.recall_at_1_int8_vs_f32 >= 0.9, "{r:?}");
    // Both sides searched the same templates with the same queries: 8 of the 10 queries are a template plus
    // noise (cosine ~0.8 to it, against < 0.7 to any other of 3000 random templates at 32 dims), which FAISS's
    // exact and SQ8 indexes both rank first; data mixed up between the two sides would fail this.
    assert!(r.faiss_sq8_recall_at_1_vs_flat >= 0.8, "{r:?}");
    let m = &r.median;
    assert!(m.ms_per_search_int8 > 0.0 && m.faiss_sq8_ms > 0.0 && m.faiss_flat_ms > 0.0 && m.read_ms > 0.0);
    // The CLI prints this JSON: the headline keys sit at its top level.
    let json = serde_json::to_value(&r).unwrap();
    for key in ["ms_per_search_int8", "faiss_sq8_ms", "ratio_to_faiss_sq8", "faiss_flat_ms", "read_ms"] {
        assert!(json[key].is_f64(), "{key} missing in {json}");
    }
}

/// `cargo test --release -- --ignored --nocapture bench_100k`
#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn bench_100k() {
    let r = bench(100_000, 128, 300, 1);
    println!("{r:?}");
    assert!(r.recall_at_1_int8_vs_f32 >= 0.995, "{r:?}");
}

/// `cargo test --release -- --ignored --nocapture bench_1m` (needs ~1 GB of memory)
#[test]
#[ignore = "benchmark: run in release with --ignored --nocapture"]
fn bench_1m() {
    let r = bench(1_000_000, 128, 200, 1);
    println!("{r:?}");
    assert!(r.recall_at_1_int8_vs_f32 >= 0.995, "{r:?}");

    // The same scan on two threads (not part of BenchReport).
    let mut rng = SplitMix64::new(2);
    let (g, t) = random_gallery(&mut rng, 1_000_000, 128);
    let mut ms: Vec<f64> = (0..50)
        .map(|_| {
            let i = rng.below(t.len());
            let q = noisy(&mut rng, &t[i], 0.7);
            let start = std::time::Instant::now();
            g.search_with_threads(&q, 1, None, 2).unwrap();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!("2 threads: {:.2} ms median", ms[ms.len() / 2]);

    let dir = TempDir::new("bench");
    let path = dir.0.join("g.fkg");
    let start = std::time::Instant::now();
    g.save(&path).unwrap();
    let saved = start.elapsed().as_secs_f64();
    let start = std::time::Instant::now();
    let loaded = Gallery::load(&path, MODEL, 128).unwrap();
    println!("save {saved:.2} s, load {:.2} s", start.elapsed().as_secs_f64());
    assert_eq!(loaded.template_count(), 1_000_000);
}

// ---------------------------------------------------------------------------------------------------------
// Templates out and in, the interchange file

/// A gallery with several templates per identity, a removal (rows moved) and awkward keys.
fn mixed_gallery(rng: &mut SplitMix64, dim: usize) -> Gallery {
    let g = Gallery::new(MODEL, dim).unwrap();
    for i in 0..40 {
        let id = match i % 4 {
            0 => format!("a\" or id != \"{i}"),
            1 => format!("back\\slash\nnewline {i}"),
            2 => format!("😀 {i}"),
            _ => i.to_string(),
        };
        let t = vecs(rng, 1 + i % 3, dim);
        let refs: Vec<&[f32]> = t.iter().map(Vec::as_slice).collect();
        g.enroll(&id, &refs).unwrap();
    }
    g.remove("3").unwrap();
    g
}

/// Every search of `queries` answers identically (ids and bit-identical similarities) in both galleries.
fn assert_same_answers(a: &Gallery, b: &Gallery, queries: &[Vec<f32>]) {
    for q in queries {
        let (x, y) = (a.search(q, 10, None).unwrap(), b.search(q, 10, None).unwrap());
        assert_eq!(x.len(), y.len());
        for (h, k) in x.iter().zip(&y) {
            assert_eq!(h.id, k.id);
            assert_eq!(h.similarity.to_bits(), k.similarity.to_bits(), "{} scores differently", h.id);
        }
    }
}

#[test]
fn templates_come_out_as_stored_and_go_back_in_bit_for_bit() {
    let mut rng = SplitMix64::new(21);
    let g = mixed_gallery(&mut rng, 96);
    let (ids, rows) = g.templates().unwrap();
    assert_eq!(ids.len(), g.template_count());
    assert_eq!(rows.len(), ids.len() * 96);
    let copy = Gallery::new(MODEL, 96).unwrap();
    for i in 0..g.template_count() {
        let (id, row) = g.template(i).unwrap();
        assert_eq!((&id, row.as_slice()), (&ids[i], &rows[i * 96..(i + 1) * 96]));
        copy.add_template(&id, &row).unwrap();
    }
    assert_eq!(copy.identities(), g.identities());
    assert_eq!(copy.templates().unwrap(), g.templates().unwrap(), "stored without renormalising");
    check_invariants(&copy);
    assert_same_answers(&g, &copy, &vecs(&mut rng, 50, 96));
    assert_invalid(g.template(g.template_count()));
}

#[test]
fn add_template_refuses_what_enrol_would_have_normalised() {
    let g = Gallery::new(MODEL, 4).unwrap();
    assert_invalid(g.add_template("x", &[1.0, 1.0, 0.0, 0.0]));
    assert_invalid(g.add_template("x", &[f32::NAN, 0.0, 0.0, 0.0]));
    assert_invalid(g.add_template("x", &[1.0, 0.0, 0.0]));
    assert_invalid(g.add_template("", &[1.0, 0.0, 0.0, 0.0]));
    assert_eq!(g.template_count(), 0, "nothing added");
    g.add_template("x", &[0.0, 1.0, 0.0, 0.0]).unwrap();
    assert_eq!(g.template(0).unwrap(), ("x".to_string(), vec![0.0, 1.0, 0.0, 0.0]));
}

#[test]
fn interchange_round_trip_answers_identically() {
    let mut rng = SplitMix64::new(22);
    let g = mixed_gallery(&mut rng, 128);
    let bytes = g.to_npz_bytes().unwrap();
    assert_eq!(bytes, g.to_npz_bytes().unwrap(), "deterministic");
    let back = Gallery::from_npz_bytes(&bytes, MODEL, 128).unwrap();
    assert_eq!(back.templates().unwrap(), g.templates().unwrap());
    assert_same_answers(&g, &back, &vecs(&mut rng, 50, 128));
    let empty = Gallery::new(MODEL, 128).unwrap();
    assert_eq!(Gallery::from_npz_bytes(&empty.to_npz_bytes().unwrap(), MODEL, 128).unwrap().template_count(), 0);

    let dir = TempDir::new("interchange");
    let path = dir.0.join("g.npz");
    g.export_npz(&path).unwrap();
    assert_eq!(Gallery::import_npz(&path, MODEL, 128).unwrap().templates().unwrap(), g.templates().unwrap());
}

#[test]
fn interchange_refuses_other_models_and_damaged_files() {
    let mut rng = SplitMix64::new(23);
    let g = mixed_gallery(&mut rng, 16);
    let bytes = g.to_npz_bytes().unwrap();
    match Gallery::from_npz_bytes(&bytes, "other-model", 16) {
        Err(Error::Incompatible(m)) => assert!(m.contains("test-model") && m.contains("other-model"), "{m}"),
        r => panic!("expected Incompatible, got {r:?}"),
    }
    assert!(matches!(Gallery::from_npz_bytes(&bytes, MODEL, 17), Err(Error::Incompatible(_))));
    // Every truncation is refused (never a panic, never a partial gallery).
    for len in (0..bytes.len()).step_by(7) {
        assert_corrupt(Gallery::from_npz_bytes(&bytes[..len], MODEL, 16), &format!("truncated to {len}"));
    }
    // A flipped byte in the data is caught by the CRC.
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    assert!(Gallery::from_npz_bytes(&flipped, MODEL, 16).is_err());
}

#[test]
fn interchange_refuses_arrays_that_disagree() {
    let ids: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
    let unit = |i: usize| (0..4).map(|j| if j == i { 1.0f32 } else { 0.0 }).collect::<Vec<_>>();
    let rows: Vec<f32> = (0..2).flat_map(unit).collect();
    let model = vec![MODEL.to_string()];
    let file = |ids: &[String], rows: &[f32], cols: usize, model: &[String]| {
        let members = vec![
            ("identities.npy", interchange_text(ids, &format!("({},)", ids.len()))),
            ("templates.npy", interchange_f32(rows, cols)),
            ("model_id.npy", interchange_text(model, "()")),
        ];
        interchange::zip_stored(&members).unwrap()
    };
    let r = Gallery::from_npz_bytes(&file(&ids, &rows, 4, &model), MODEL, 4);
    assert!(matches!(&r, Err(Error::Corrupt(m)) if m.contains("3 identities for 2 templates")), "{r:?}");
    let ok = file(&ids[..2], &rows, 4, &model);
    assert_eq!(Gallery::from_npz_bytes(&ok, MODEL, 4).unwrap().template_count(), 2);
    let not_unit: Vec<f32> = rows.iter().map(|x| x * 2.0).collect();
    assert_corrupt(Gallery::from_npz_bytes(&file(&ids[..2], &not_unit, 4, &model), MODEL, 4), "not unit-norm");
}

fn interchange_text(t: &[String], shape: &str) -> Vec<u8> {
    interchange::text_npy(t, shape)
}

fn interchange_f32(rows: &[f32], cols: usize) -> Vec<u8> {
    let data: Vec<u8> = rows.iter().flat_map(|x| x.to_le_bytes()).collect();
    interchange::npy("<f4", &format!("({}, {cols})", rows.len() / cols), &data)
}
