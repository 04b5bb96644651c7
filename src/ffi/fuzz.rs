//! Body of the `c_text` fuzz target (see `crate::fuzzing`, which re-exports it): every C entry point that
//! parses text — option keys and values, identity keys, file paths — called through its `extern "C"`
//! function exactly as C calls it, with the statuses each may return checked against its documentation.

use super::*;
use std::collections::HashSet;
use std::sync::OnceLock;

/// Selector byte, then NUL-separated fields (each becomes one C string): selector mod 3 picks option
/// key/value pairs, identity keys or file names.
pub fn fuzz_c_text(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let fields: Vec<CString> = rest.split(|&b| b == 0).map(|f| CString::new(f).expect("split at NUL")).collect();
    // SAFETY (for the calls below): every pointer is a live CString, a local or the process-wide engine.
    unsafe {
        match selector % 3 {
            0 => options(&fields),
            1 => identities(&fields),
            _ => paths(&fields),
        }
    }
}

/// The message of the last failure on this thread.
unsafe fn last_error() -> String {
    CStr::from_ptr(fk_last_error()).to_string_lossy().into_owned()
}

/// An engine loaded through the C ABI once per process (never freed; it lives as long as the process).
fn engine() -> *const fk_engine {
    static E: OnceLock<usize> = OnceLock::new();
    *E.get_or_init(|| {
        let dir = crate::pack::find_model_dir(None).expect("the c_text target needs the models: set FACEKIT_MODELS");
        let dir = CString::new(dir.to_string_lossy().as_bytes()).expect("no NUL in the model path");
        let mut e = std::ptr::null_mut();
        // SAFETY: valid C strings and out-pointer; NULL options mean defaults.
        let st = unsafe { fk_engine_new_from_dir(dir.as_ptr(), std::ptr::null(), &mut e) };
        assert_eq!(st, FK_OK, "engine loads");
        e as usize
    }) as *const fk_engine
}

/// Key/value pairs into `fk_options_set`: each either applies or is refused with FK_ERR_INVALID_ARGUMENT
/// and a message, leaving the options exactly as they were; accepted options always form a valid policy.
unsafe fn options(fields: &[CString]) {
    let o = fk_options_new();
    let empty = CString::default();
    for pair in fields.chunks(2) {
        let value = pair.get(1).unwrap_or(&empty);
        let before = (*o).inner.clone();
        match fk_options_set(o, pair[0].as_ptr(), value.as_ptr()) {
            FK_OK => {}
            FK_ERR_INVALID_ARGUMENT => {
                assert!((*o).inner == before, "a refused option changed the options");
                assert!(!last_error().is_empty(), "a refusal without a message");
            }
            other => panic!("fk_options_set returned {other:?}: {}", last_error()),
        }
    }
    if let Err(e) = (*o).inner.quality.validate() {
        panic!("accepted options hold an invalid quality policy: {e}");
    }
    fk_options_free(o);
}

/// A template per field, made from its bytes, so distinct keys get distinct directions.
fn template(key: &[u8], dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|i| if i == 0 { 1.0 } else { 0.0 }).collect();
    for (i, &b) in key.iter().enumerate() {
        v[1 + (i * 31 + usize::from(b)) % (dim - 1)] += f32::from(b) / 64.0 + 0.25;
    }
    v
}

/// Identity keys into enroll, search and remove: a key is accepted exactly when it is 1..=FK_ID_MAX bytes of
/// UTF-8; an enrolled key is found by its own template and comes back byte for byte; removal works once.
unsafe fn identities(fields: &[CString]) {
    let e = engine();
    let dim = fk_engine_embedding_dim(e);
    let mut g = std::ptr::null_mut();
    assert_eq!(fk_gallery_new(e, &mut g), FK_OK);
    let mut enrolled = HashSet::new();
    for key in fields {
        let k = key.as_bytes();
        let valid = !k.is_empty() && k.len() <= FK_ID_MAX && std::str::from_utf8(k).is_ok();
        let t = template(k, dim);
        let st = fk_gallery_enroll(g, key.as_ptr(), t.as_ptr(), t.len());
        assert_eq!(st, if valid { FK_OK } else { FK_ERR_INVALID_ARGUMENT }, "enroll {key:?}: {}", last_error());
        if valid {
            enrolled.insert(k.to_vec());
            let mut hits = vec![fk_hit { id: [0; 256], similarity: 0.0 }; enrolled.len()];
            let mut n = 0;
            assert_eq!(fk_gallery_search(g, t.as_ptr(), t.len(), 0.9999, hits.as_mut_ptr(), hits.len(), &mut n), FK_OK);
            let found = hits[..n].iter().any(|h| CStr::from_ptr(h.id.as_ptr()).to_bytes() == k);
            assert!(found, "{key:?} is not found by its own template");
        }
    }
    assert_eq!(fk_gallery_count(g), enrolled.len());
    for key in fields {
        let expected = if enrolled.remove(key.as_bytes()) {
            FK_OK
        } else if std::str::from_utf8(key.as_bytes()).is_ok() {
            FK_ERR_NOT_FOUND
        } else {
            FK_ERR_INVALID_ARGUMENT
        };
        assert_eq!(fk_gallery_remove(g, key.as_ptr()), expected, "remove {key:?}: {}", last_error());
    }
    fk_gallery_free(g);
}

/// A scratch folder with a gallery, a PNG, a model folder whose manifest is junk and an `out` folder, for
/// `paths`.
fn sandbox() -> &'static std::path::Path {
    static S: OnceLock<std::path::PathBuf> = OnceLock::new();
    S.get_or_init(|| {
        let d = crate::fuzzing::scratch_dir().join("c_text");
        std::fs::create_dir_all(d.join("m")).and_then(|()| std::fs::create_dir_all(d.join("out"))).expect("create the sandbox");
        std::fs::write(d.join("m").join(crate::pack::MANIFEST_FILE), b"{\"format\": 1").expect("write");
        Image::from_rgb(2, 2, vec![9; 12]).and_then(|i| i.save(d.join("a.png"))).expect("write a PNG");
        // SAFETY: the engine is live; `g` is freed below.
        unsafe {
            let mut g = std::ptr::null_mut();
            assert_eq!(fk_gallery_new(engine(), &mut g), FK_OK);
            let p = CString::new(d.join("g.fkg").to_string_lossy().as_bytes()).expect("no NUL");
            assert_eq!(fk_gallery_save(g, p.as_ptr()), FK_OK);
            fk_gallery_free(g);
        }
        d
    })
}

/// `dir/name` as a C string.
fn c_path(dir: &std::path::Path, name: &[u8]) -> CString {
    let mut p = dir.as_os_str().as_encoded_bytes().to_vec();
    p.push(b'/');
    p.extend_from_slice(name);
    CString::new(p).expect("no NUL")
}

/// File names (relative to the sandbox, so `..` may lead anywhere: only reading calls get them) into the
/// loading entry points, and names without a `/` into `fk_gallery_save` (in the sandbox's `out`, emptied
/// after each save).
unsafe fn paths(fields: &[CString]) {
    let dir = sandbox();
    for name in fields {
        let path = c_path(dir, name.as_bytes());
        let mut img = EMPTY_IMAGE;
        match fk_image_load(path.as_ptr(), &mut img) {
            FK_OK => fk_image_release(&mut img),
            FK_ERR_INVALID_ARGUMENT | FK_ERR_IO | FK_ERR_DECODE | FK_ERR_INVALID_IMAGE => {}
            other => panic!("fk_image_load returned {other:?}: {}", last_error()),
        }
        let mut g = std::ptr::null_mut();
        match fk_gallery_load(engine(), path.as_ptr(), &mut g) {
            FK_OK => fk_gallery_free(g),
            FK_ERR_INVALID_ARGUMENT | FK_ERR_IO | FK_ERR_CORRUPT | FK_ERR_INCOMPATIBLE => {}
            other => panic!("fk_gallery_load returned {other:?}: {}", last_error()),
        }
        let mut e = std::ptr::null_mut();
        match fk_engine_new_from_dir(path.as_ptr(), std::ptr::null(), &mut e) {
            FK_OK => fk_engine_free(e),
            FK_ERR_INVALID_ARGUMENT | FK_ERR_MODEL_LOAD | FK_ERR_MODEL_FORMAT | FK_ERR_MODEL_CHECKSUM | FK_ERR_IO => {}
            other => panic!("fk_engine_new_from_dir returned {other:?}: {}", last_error()),
        }
        if !name.as_bytes().contains(&b'/') {
            let mut g = std::ptr::null_mut();
            assert_eq!(fk_gallery_new(engine(), &mut g), FK_OK);
            let out = dir.join("out");
            match fk_gallery_save(g, c_path(&out, name.as_bytes()).as_ptr()) {
                FK_OK => {
                    for f in std::fs::read_dir(&out).into_iter().flatten().flatten() {
                        let _ = std::fs::remove_file(f.path());
                    }
                }
                FK_ERR_INVALID_ARGUMENT | FK_ERR_IO => {}
                other => panic!("fk_gallery_save returned {other:?}: {}", last_error()),
            }
            fk_gallery_free(g);
        }
    }
}
