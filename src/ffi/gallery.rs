//! C ABI of the 1:N gallery. Same rules as the rest of `ffi`: NULL checks, magic tags, panic boundary,
//! outputs written only on success.

use super::*;
use crate::gallery::Gallery;

/// A gallery of enrolled identities. **Thread-safe**: searches run concurrently with each other and with
/// enroll/remove/save from other threads (an internal read-write lock). Free with `fk_gallery_free`.
pub struct fk_gallery {
    magic: u64,
    inner: Gallery,
}
const GALLERY_MAGIC: u64 = 0x666b_6761_6c6c_0001;

/// Longest identity key in bytes (UTF-8, no NUL), excluding the terminator.
pub const FK_ID_MAX: usize = 255;

/// One search result: a NUL-terminated identity key and its similarity (cosine, best template of that
/// identity).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct fk_hit {
    pub id: [c_char; 256],
    pub similarity: f32,
}

pub(super) unsafe fn gallery_ref<'a>(p: *const fk_gallery) -> Result<&'a Gallery, Error> {
    let g = nn(p, "gallery")?;
    if g.magic != GALLERY_MAGIC {
        return Err(Error::invalid("gallery: not an fk_gallery handle (freed or wrong pointer)"));
    }
    Ok(&g.inner)
}

unsafe fn put_gallery(out: *mut *mut fk_gallery, g: Gallery) {
    *out = Box::into_raw(Box::new(fk_gallery { magic: GALLERY_MAGIC, inner: g }));
}

/// New empty gallery for the embeddings of `engine`'s embedder (its model id and dimension; templates of
/// another model are refused). On FK_OK `*out` owns it. Returns FK_OK, FK_ERR_NULL_ARGUMENT,
/// FK_ERR_INVALID_ARGUMENT, FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_new(engine: *const fk_engine, out: *mut *mut fk_gallery) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        nn(out, "out")?;
        put_gallery(out, Gallery::new(e.model_id(), e.dim())?);
        Ok(())
    })
}

/// Frees a gallery (unsaved changes are lost). NULL is a no-op. No other thread may be using it.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_free(gallery: *mut fk_gallery) {
    boundary((), || {
        if !gallery.is_null() && (*gallery).magic == GALLERY_MAGIC {
            (*gallery).magic = 0;
            drop(Box::from_raw(gallery));
        }
    });
}

/// Adds one template (`len` floats, the gallery's dimension) under identity `id` (1..255 bytes of UTF-8).
/// Enrolling an existing id adds a template; an identity's score is its best template's. Returns FK_OK,
/// FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (bad id, wrong length, zero/non-finite vector),
/// FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_enroll(gallery: *const fk_gallery, id: *const c_char, embedding: *const f32, len: usize) -> fk_status {
    guard(|| {
        let g = gallery_ref(gallery)?;
        let id = cstr(id, "id")?;
        let e = slice(embedding, len, "embedding")?;
        g.enroll(id, &[e])
    })
}

/// Detects the largest face in `image`, checks it under `engine`'s quality policy (quality, then liveness if
/// the policy requires it: an enrolment photo of a photo is the worst case), embeds it and enrolls it under
/// `id`. Returns the statuses of `fk_gallery_enroll` plus FK_ERR_INVALID_IMAGE, FK_ERR_NO_FACE,
/// FK_ERR_POOR_QUALITY, FK_ERR_NOT_LIVE, FK_ERR_UNSUPPORTED (the policy requires liveness, the engine has
/// none), FK_ERR_INCOMPATIBLE (engine of another model); nothing is enrolled unless FK_OK. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_enroll_image(gallery: *const fk_gallery, engine: *const fk_engine, id: *const c_char, image: *const fk_image) -> fk_status {
    guard(|| {
        let g = gallery_ref(gallery)?;
        let e = engine_ref(engine)?;
        let id = cstr(id, "id")?;
        if e.model_id() != g.model_id() {
            return Err(Error::Incompatible("engine's embedder differs from the gallery's".into()));
        }
        let img = image_from(image)?;
        let face = e.largest_face(&img)?;
        e.check_capture(&img, &face)?;
        let emb = e.embed(&img, &face)?;
        g.enroll(id, &[emb.as_slice()])
    })
}

/// Adds one template under `id` exactly as given (`len` floats, the gallery's dimension, unit norm: squared
/// norm within 1e-3 of 1): a template read with `fk_gallery_template` from this or another gallery of the same
/// model, or from an interchange file or a central gallery. Unlike `fk_gallery_enroll` it is not normalised
/// again, so a gallery rebuilt from exported templates scores every query bit for bit as the original.
/// Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (bad id, wrong length, non-finite or not
/// unit-norm), FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_add_template(gallery: *const fk_gallery, id: *const c_char, values: *const f32, len: usize) -> fk_status {
    guard(|| {
        let g = gallery_ref(gallery)?;
        let id = cstr(id, "id")?;
        g.add_template(id, slice(values, len, "values")?)
    })
}

/// Number of templates over all identities (an identity may have several; 0 for an invalid handle): the
/// indexes of `fk_gallery_template` are 0..count-1. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_template_count(gallery: *const fk_gallery) -> usize {
    boundary(0, || gallery_ref(gallery).map(|g| g.template_count()).unwrap_or(0))
}

/// Reads template `index` (0..`fk_gallery_template_count` - 1): its identity key, NUL-terminated, into `id`
/// (`id_capacity` bytes; FK_ID_MAX + 1 always suffice) and its values into `values` (`len` floats, at least
/// the gallery's dimension; exactly that many are written). The values are the unit-norm float templates
/// the gallery stores and scores with (its int8 copy only preselects candidates; every similarity a search
/// returns is computed from these floats), so `fk_gallery_add_template` of them into a new gallery of the same
/// model reproduces every search exactly. Index order is stable until the next enroll or remove (a remove moves
/// the last template into the freed place). Outputs are written on FK_OK only. Returns FK_OK,
/// FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (index out of range), FK_ERR_BUFFER_TOO_SMALL (`id` or
/// `values`; `fk_last_error()` says the size needed), FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_template(
    gallery: *const fk_gallery,
    index: usize,
    id: *mut c_char,
    id_capacity: usize,
    values: *mut f32,
    len: usize,
) -> fk_status {
    guard(|| {
        let g = gallery_ref(gallery)?;
        if id.is_null() {
            return Err(Error::NullArgument("id"));
        }
        if values.is_null() {
            return Err(Error::NullArgument("values"));
        }
        let (key, row) = g.template(index)?;
        let id_out = out_buf(id, id_capacity, key.len() + 1, "id")?;
        let values_out = out_buf(values, len, row.len(), "values")?;
        for (d, s) in id_out.iter_mut().zip(key.bytes().chain([0])) {
            *d = s as c_char;
        }
        values_out.copy_from_slice(&row);
        Ok(())
    })
}

/// Longest model id in bytes (UTF-8, no NUL), excluding the terminator.
pub const FK_MODEL_ID_MAX: usize = 1024;

/// Writes the model id of the embedder the gallery was made for (e.g. the sha256 of its weights; fast and
/// accurate modes differ), NUL-terminated, into `buf` (`capacity` bytes; FK_MODEL_ID_MAX + 1 always
/// suffice). A gallery, an interchange file and a central gallery of one model id are interchangeable.
/// Written on FK_OK only. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_BUFFER_TOO_SMALL, FK_ERR_PANIC.
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_model_id(gallery: *const fk_gallery, buf: *mut c_char, capacity: usize) -> fk_status {
    guard(|| {
        let g = gallery_ref(gallery)?;
        let m = g.model_id();
        let out = out_buf(buf, capacity, m.len() + 1, "buf")?;
        for (d, s) in out.iter_mut().zip(m.bytes().chain([0])) {
            *d = s as c_char;
        }
        Ok(())
    })
}

/// Removes an identity and all its templates. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_NOT_FOUND,
/// FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_remove(gallery: *const fk_gallery, id: *const c_char) -> fk_status {
    guard(|| {
        let g = gallery_ref(gallery)?;
        g.remove(cstr(id, "id")?).map(|_| ())
    })
}

/// Number of enrolled identities (0 for an invalid handle). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_count(gallery: *const fk_gallery) -> usize {
    boundary(0, || gallery_ref(gallery).map(|g| g.count()).unwrap_or(0))
}

/// The threshold to decide against `gallery` at (`fk_gallery_search`'s `threshold`) for a probe face whose
/// eyes are `eye_distance` pixels apart: `fk_engine_gallery_threshold_for_face` for the gallery's size, raised
/// for the camera when its enrolled people score higher against each other than the calibration's strangers
/// (option `thresholds=camera`, the default; 3 or more identities). What facekit's own tracker decides at.
/// Written on FK_OK only. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT (unknown point, not
/// calibrated, distance not finite or negative), FK_ERR_INCOMPATIBLE (another embedder's gallery). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_threshold(
    engine: *const fk_engine,
    gallery: *const fk_gallery,
    operating_point: i32,
    eye_distance: f32,
    out: *mut f32,
) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let g = gallery_ref(gallery)?;
        let op = operating_point_arg(operating_point)?;
        let eye = eye_distance_arg(eye_distance)?;
        let o = nn_mut(out, "out")?;
        if g.model_id() != e.model_id() {
            return Err(Error::Incompatible("the gallery was made by another embedder than the engine's".into()));
        }
        *o = e.gallery_decision_threshold(g, op.far(), Some(eye))?.threshold;
        Ok(())
    })
}

/// Searches for `query` (`len` floats): up to `capacity` identities, best first, with similarity ≥
/// `threshold` (take it from `fk_engine_gallery_threshold`, which holds the share of strangers matched at an
/// operating point whatever the gallery's size; -1 returns the nearest identities whatever their score). `*count` = hits written; 0 means "nobody enrolled matches" (the
/// open-set answer), still FK_OK. Returns FK_OK, FK_ERR_NULL_ARGUMENT,
/// FK_ERR_INVALID_ARGUMENT, FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_search(gallery: *const fk_gallery, query: *const f32, len: usize, threshold: f32, hits: *mut fk_hit, capacity: usize, count: *mut usize) -> fk_status {
    guard(|| {
        let g = gallery_ref(gallery)?;
        let q = slice(query, len, "query")?;
        nn(count, "count")?;
        if hits.is_null() {
            return Err(Error::NullArgument("hits"));
        }
        if capacity == 0 {
            return Err(Error::invalid("capacity is 0"));
        }
        if threshold.is_nan() {
            return Err(Error::invalid("threshold is NaN"));
        }
        let found = g.search(q, capacity, Some(threshold))?;
        for (i, h) in found.iter().enumerate() {
            let mut id = [0 as c_char; 256];
            for (d, s) in id.iter_mut().zip(h.id.bytes().take(FK_ID_MAX)) {
                *d = s as c_char;
            }
            *hits.add(i) = fk_hit { id, similarity: h.similarity };
        }
        *count = found.len();
        Ok(())
    })
}

/// Saves atomically to `path` (temporary file, fsync, rename, fsync of the folder): after a crash the file
/// is the old or the new gallery, never a mix. Returns FK_OK, FK_ERR_NULL_ARGUMENT, FK_ERR_INVALID_ARGUMENT,
/// FK_ERR_IO, FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_save(gallery: *const fk_gallery, path: *const c_char) -> fk_status {
    guard(|| gallery_ref(gallery)?.save(cstr(path, "path")?))
}

/// Loads a gallery saved by `fk_gallery_save`, verifying magic, version, checksum, lengths and that it was
/// made with `engine`'s embedder. On FK_OK `*out` owns it. Returns FK_OK, FK_ERR_NULL_ARGUMENT,
/// FK_ERR_INVALID_ARGUMENT, FK_ERR_IO, FK_ERR_CORRUPT, FK_ERR_INCOMPATIBLE, FK_ERR_PANIC. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn fk_gallery_load(engine: *const fk_engine, path: *const c_char, out: *mut *mut fk_gallery) -> fk_status {
    guard(|| {
        let e = engine_ref(engine)?;
        let p = cstr(path, "path")?;
        nn(out, "out")?;
        let g = Gallery::load(p, e.model_id(), e.dim())?;
        put_gallery(out, g);
        Ok(())
    })
}
