/* facekit_jni.c — JNI shim between dev.facekit.NativeLib and the C ABI of facekit (include/facekit.h).
 *
 * Marshalling only: Java arrays in, C calls, Java arrays out, and a dev.facekit.FacekitException (status +
 * fk_last_error() text) for every non-OK status. No facekit logic lives here. Build:
 *   gcc -shared -fPIC -I$JAVA_HOME/include -I$JAVA_HOME/include/linux -I<repo>/include \
 *       facekit_jni.c -L<libdir> -lfacekit -o libfacekit_jni.so
 *
 * Conventions:
 * - Handles are C pointers carried as jlong. The Java side guarantees they are live (NativeHandle).
 * - Strings cross as UTF-8 byte[] (never jstring: JNI's strings are "modified UTF-8", which differs for NUL and
 *   characters outside the BMP, and Android's CheckJNI aborts on invalid input).
 * - Pixel arrays are copied in with Get<Type>ArrayElements and released with JNI_ABORT (nothing is copied
 *   back). Not GetPrimitiveArrayCritical: a detect call takes tens of milliseconds, too long to hold off the GC.
 * - After any function that may throw, return at once (the pending exception is delivered on return).
 */
#include <jni.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "facekit.h"

/* Cached at load (classes and field IDs of the loading class loader: on Android FindClass from a native
 * thread would see only the system loader). */
static jclass g_exception;      /* dev.facekit.FacekitException */
static jmethodID g_exception_ctor; /* (int, byte[]) */
static jclass g_byte_array;     /* byte[] */
static jclass g_int_array;      /* int[] */
static jfieldID f_pixels, f_width, f_height, f_stride, f_format, f_rotation; /* dev.facekit.Image */
static jfieldID f_u, f_v, f_uv_stride, f_uv_pixel_stride;                     /* its chroma planes (YUV420) */

#define ENGINE(h) ((const fk_engine *)(intptr_t)(h))
#define GALLERY(h) ((const fk_gallery *)(intptr_t)(h))
#define TRACKER(h) ((fk_tracker *)(intptr_t)(h))
#define FACE_FLOATS 15
#define QUALITY_COMPONENTS 12
#define QUALITY_FLOATS (3 + 3 * QUALITY_COMPONENTS)
/* Fails to compile when fk_quality_report gains or loses a component: update quality() and Quality.java. */
_Static_assert(sizeof(fk_quality_report) ==
                   offsetof(fk_quality_report, sharpness) + QUALITY_COMPONENTS * sizeof(fk_quality_component),
               "fk_quality_report changed: update the component list of the shim and Quality.java");

/* ------------------------------------------------------------------------------------------------------ */
/* Exceptions */

static void throw_java(JNIEnv *env, const char *cls, const char *msg) {
    jclass c = (*env)->FindClass(env, cls);
    if (c) (*env)->ThrowNew(env, c, msg);
}

static jbyteArray new_bytes(JNIEnv *env, const void *data, size_t n) {
    if (n > INT32_MAX) {
        throw_java(env, "java/lang/OutOfMemoryError", "array too large for Java");
        return NULL;
    }
    jbyteArray a = (*env)->NewByteArray(env, (jsize)n);
    if (a && n) (*env)->SetByteArrayRegion(env, a, 0, (jsize)n, (const jbyte *)data);
    return a;
}

/* Throws FacekitException(status, fk_last_error()). Must run before any other fk_ call on this thread. */
static void throw_status(JNIEnv *env, fk_status st) {
    const char *msg = fk_last_error();
    jbyteArray m = new_bytes(env, msg, msg ? strlen(msg) : 0);
    if (!m) return; /* OutOfMemoryError pending */
    jthrowable e = (jthrowable)(*env)->NewObject(env, g_exception, g_exception_ctor, (jint)st, m);
    if (e) (*env)->Throw(env, e);
}

/* true (and an exception thrown) if st is an error. */
static int failed(JNIEnv *env, fk_status st) {
    if (st == FK_OK) return 0;
    throw_status(env, st);
    return 1;
}

/* ------------------------------------------------------------------------------------------------------ */
/* Argument helpers */

/* A malloc'd NUL-terminated copy of a UTF-8 byte[] (the Java side refuses embedded NULs). NULL + pending
 * exception on failure. */
static char *cstring(JNIEnv *env, jbyteArray a, const char *what) {
    if (!a) {
        throw_java(env, "java/lang/NullPointerException", what);
        return NULL;
    }
    jsize n = (*env)->GetArrayLength(env, a);
    char *s = malloc((size_t)n + 1);
    if (!s) {
        throw_java(env, "java/lang/OutOfMemoryError", what);
        return NULL;
    }
    (*env)->GetByteArrayRegion(env, a, 0, n, (jbyte *)s);
    s[n] = '\0';
    return s;
}

/* A malloc'd copy of a float[]; never NULL on success, even for length 0, so that the library reports a
 * zero length as FK_ERR_INVALID_ARGUMENT rather than a NULL pointer. */
static float *floats(JNIEnv *env, jfloatArray a, size_t *len, const char *what) {
    if (!a) {
        throw_java(env, "java/lang/NullPointerException", what);
        return NULL;
    }
    jsize n = (*env)->GetArrayLength(env, a);
    float *f = malloc(((size_t)n + 1) * sizeof *f);
    if (!f) {
        throw_java(env, "java/lang/OutOfMemoryError", what);
        return NULL;
    }
    (*env)->GetFloatArrayRegion(env, a, 0, n, f);
    *len = (size_t)n;
    return f;
}

static int face_from(JNIEnv *env, jfloatArray a, fk_face *f) {
    if (!a || (*env)->GetArrayLength(env, a) != FACE_FLOATS) {
        throw_java(env, "java/lang/IllegalArgumentException", "face must be 15 floats");
        return 0;
    }
    float v[FACE_FLOATS];
    (*env)->GetFloatArrayRegion(env, a, 0, FACE_FLOATS, v);
    f->x = v[0];
    f->y = v[1];
    f->width = v[2];
    f->height = v[3];
    f->score = v[4];
    for (int i = 0; i < 5; i++) {
        f->landmarks[i][0] = v[5 + 2 * i];
        f->landmarks[i][1] = v[6 + 2 * i];
    }
    return 1;
}

static void face_to(const fk_face *f, float *v) {
    v[0] = f->x;
    v[1] = f->y;
    v[2] = f->width;
    v[3] = f->height;
    v[4] = f->score;
    for (int i = 0; i < 5; i++) {
        v[5 + 2 * i] = f->landmarks[i][0];
        v[6 + 2 * i] = f->landmarks[i][1];
    }
}

static jfloatArray new_floats(JNIEnv *env, const float *v, jsize n) {
    jfloatArray a = (*env)->NewFloatArray(env, n);
    if (a && n) (*env)->SetFloatArrayRegion(env, a, 0, n, v);
    return a;
}

/* A direct ByteBuffer's memory, from its address (position ignored) to its capacity: no copy. Throws and
 * returns 0 for anything else. */
static int direct(JNIEnv *env, jobject buf, const uint8_t **data, size_t *len, const char *what) {
    void *p = buf ? (*env)->GetDirectBufferAddress(env, buf) : NULL;
    jlong cap = buf ? (*env)->GetDirectBufferCapacity(env, buf) : -1;
    if (!p || cap < 0) {
        throw_java(env, buf ? "java/lang/IllegalArgumentException" : "java/lang/NullPointerException", what);
        return 0;
    }
    *data = (const uint8_t *)p;
    *len = (size_t)cap;
    return 1;
}

/* A dev.facekit.Image's pixels made available to C for the duration of one call. */
typedef struct {
    jobject array;
    void *elems;
    int kind; /* 1 byte[], 2 int[], 3 direct ByteBuffer */
    fk_image img;
} pinned_image;

static void unpin_image(JNIEnv *env, pinned_image *p) {
    if (p->kind == 1 && p->elems) (*env)->ReleaseByteArrayElements(env, (jbyteArray)p->array, p->elems, JNI_ABORT);
    if (p->kind == 2 && p->elems) (*env)->ReleaseIntArrayElements(env, (jintArray)p->array, p->elems, JNI_ABORT);
    p->elems = NULL;
}

static int pin_image(JNIEnv *env, jobject image, pinned_image *p) {
    memset(p, 0, sizeof *p);
    if (!image) {
        throw_java(env, "java/lang/NullPointerException", "image");
        return 0;
    }
    jobject px = (*env)->GetObjectField(env, image, f_pixels);
    size_t nbytes;
    if (!px) {
        throw_java(env, "java/lang/NullPointerException", "image.pixels");
        return 0;
    } else if ((*env)->IsInstanceOf(env, px, g_byte_array)) {
        p->kind = 1;
        p->elems = (*env)->GetByteArrayElements(env, (jbyteArray)px, NULL);
        nbytes = (size_t)(*env)->GetArrayLength(env, (jarray)px);
    } else if ((*env)->IsInstanceOf(env, px, g_int_array)) {
        /* ARGB ints: the Java side chose BGRA8, which is their byte order on little-endian CPUs. */
        p->kind = 2;
        p->elems = (*env)->GetIntArrayElements(env, (jintArray)px, NULL);
        nbytes = (size_t)(*env)->GetArrayLength(env, (jarray)px) * 4u;
    } else {
        p->kind = 3;
        const uint8_t *d;
        if (!direct(env, px, &d, &nbytes, "image pixels must be byte[], int[] or a direct ByteBuffer")) return 0;
        p->elems = (void *)(uintptr_t)d;
    }
    if (!p->elems) return 0; /* OutOfMemoryError pending */
    p->array = px;
    p->img.data = (const uint8_t *)p->elems;
    p->img.len = nbytes;
    /* Negative Java ints become huge unsigned values, which the library refuses as FK_ERR_INVALID_IMAGE. */
    p->img.width = (uint32_t)(*env)->GetIntField(env, image, f_width);
    p->img.height = (uint32_t)(*env)->GetIntField(env, image, f_height);
    p->img.stride = (size_t)(int64_t)(*env)->GetIntField(env, image, f_stride);
    p->img.format = (int32_t)(*env)->GetIntField(env, image, f_format);
    p->img.rotation = (int32_t)(*env)->GetIntField(env, image, f_rotation);
    if (p->img.format == FK_FORMAT_YUV420) {
        /* Camera planes (Android YUV_420_888): direct buffers, read in place. Image.yuv420 made them non-null
         * and direct; the Image object keeps them reachable, so the local references can go at once. */
        jobject u = (*env)->GetObjectField(env, image, f_u), v = (*env)->GetObjectField(env, image, f_v);
        int ok = direct(env, u, &p->img.u, &p->img.u_len, "image U plane must be a direct ByteBuffer") &&
                 direct(env, v, &p->img.v, &p->img.v_len, "image V plane must be a direct ByteBuffer");
        (*env)->DeleteLocalRef(env, u);
        (*env)->DeleteLocalRef(env, v);
        if (!ok) {
            unpin_image(env, p);
            return 0;
        }
        p->img.uv_stride = (size_t)(int64_t)(*env)->GetIntField(env, image, f_uv_stride);
        p->img.uv_pixel_stride = (size_t)(int64_t)(*env)->GetIntField(env, image, f_uv_pixel_stride);
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------------------ */
/* Load / unload */

static jclass global_class(JNIEnv *env, const char *name) {
    jclass local = (*env)->FindClass(env, name);
    if (!local) return NULL;
    jclass g = (jclass)(*env)->NewGlobalRef(env, local);
    (*env)->DeleteLocalRef(env, local);
    return g;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK) return JNI_ERR;
    if (!(g_exception = global_class(env, "dev/facekit/FacekitException"))) return JNI_ERR;
    if (!(g_exception_ctor = (*env)->GetMethodID(env, g_exception, "<init>", "(I[B)V"))) return JNI_ERR;
    if (!(g_byte_array = global_class(env, "[B"))) return JNI_ERR;
    if (!(g_int_array = global_class(env, "[I"))) return JNI_ERR;
    jclass image = (*env)->FindClass(env, "dev/facekit/Image");
    if (!image) return JNI_ERR;
    f_pixels = (*env)->GetFieldID(env, image, "pixels", "Ljava/lang/Object;");
    f_width = (*env)->GetFieldID(env, image, "width", "I");
    f_height = (*env)->GetFieldID(env, image, "height", "I");
    f_stride = (*env)->GetFieldID(env, image, "stride", "I");
    f_format = (*env)->GetFieldID(env, image, "format", "I");
    f_rotation = (*env)->GetFieldID(env, image, "rotation", "I");
    f_u = (*env)->GetFieldID(env, image, "u", "Ljava/nio/ByteBuffer;");
    f_v = (*env)->GetFieldID(env, image, "v", "Ljava/nio/ByteBuffer;");
    f_uv_stride = (*env)->GetFieldID(env, image, "uvStride", "I");
    f_uv_pixel_stride = (*env)->GetFieldID(env, image, "uvPixelStride", "I");
    (*env)->DeleteLocalRef(env, image);
    if (!f_pixels || !f_width || !f_height || !f_stride || !f_format || !f_rotation || !f_u || !f_v || !f_uv_stride ||
        !f_uv_pixel_stride)
        return JNI_ERR;
    /* The header this shim was compiled against must match the library's major version. */
    if (fk_version() / 10000 != FK_VERSION / 10000) {
        throw_java(env, "java/lang/UnsatisfiedLinkError", "libfacekit major version differs from facekit.h");
        return JNI_ERR;
    }
    return JNI_VERSION_1_6;
}

JNIEXPORT void JNICALL JNI_OnUnload(JavaVM *vm, void *reserved) {
    (void)reserved;
    JNIEnv *env;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK) return;
    (*env)->DeleteGlobalRef(env, g_exception);
    (*env)->DeleteGlobalRef(env, g_byte_array);
    (*env)->DeleteGlobalRef(env, g_int_array);
}

/* ------------------------------------------------------------------------------------------------------ */
/* Version */

JNIEXPORT jstring JNICALL Java_dev_facekit_NativeLib_versionString0(JNIEnv *env, jclass cls) {
    (void)cls;
    return (*env)->NewStringUTF(env, fk_version_string()); /* ASCII digits and dots */
}

JNIEXPORT jint JNICALL Java_dev_facekit_NativeLib_version0(JNIEnv *env, jclass cls) {
    (void)env;
    (void)cls;
    return (jint)fk_version();
}

/* ------------------------------------------------------------------------------------------------------ */
/* Engine */

JNIEXPORT jlong JNICALL Java_dev_facekit_NativeLib_engineNew0(JNIEnv *env, jclass cls, jbyteArray dir,
                                                             jobjectArray keys, jobjectArray values) {
    (void)cls;
    fk_options *o = fk_options_new();
    if (!o) {
        throw_status(env, FK_ERR_PANIC);
        return 0;
    }
    jsize n = keys ? (*env)->GetArrayLength(env, keys) : 0;
    for (jsize i = 0; i < n; i++) {
        jbyteArray jk = (jbyteArray)(*env)->GetObjectArrayElement(env, keys, i);
        jbyteArray jv = (jbyteArray)(*env)->GetObjectArrayElement(env, values, i);
        char *k = cstring(env, jk, "option key");
        char *v = k ? cstring(env, jv, "option value") : NULL;
        (*env)->DeleteLocalRef(env, jk);
        (*env)->DeleteLocalRef(env, jv);
        fk_status st = v ? fk_options_set(o, k, v) : FK_OK;
        free(k);
        free(v);
        if (!v || failed(env, st)) { /* read fk_last_error before fk_options_free */
            fk_options_free(o);
            return 0;
        }
    }
    fk_engine *e = NULL;
    fk_status st;
    if (dir) {
        char *d = cstring(env, dir, "modelsDir");
        if (!d) {
            fk_options_free(o);
            return 0;
        }
        st = fk_engine_new_from_dir(d, o, &e);
        free(d);
    } else {
        st = fk_engine_new_bundled(o, &e);
    }
    failed(env, st);
    fk_options_free(o);
    return st == FK_OK ? (jlong)(intptr_t)e : 0;
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_engineFree(JNIEnv *env, jclass cls, jlong engine) {
    (void)env;
    (void)cls;
    fk_engine_free((fk_engine *)(intptr_t)engine);
}

JNIEXPORT jint JNICALL Java_dev_facekit_NativeLib_engineDim(JNIEnv *env, jclass cls, jlong engine) {
    (void)env;
    (void)cls;
    return (jint)fk_engine_embedding_dim(ENGINE(engine));
}

JNIEXPORT jintArray JNICALL Java_dev_facekit_NativeLib_engineCropSize(JNIEnv *env, jclass cls, jlong engine) {
    (void)cls;
    uint32_t w = 0, h = 0;
    if (failed(env, fk_engine_crop_size(ENGINE(engine), &w, &h))) return NULL;
    jint v[2] = {(jint)w, (jint)h};
    jintArray a = (*env)->NewIntArray(env, 2);
    if (a) (*env)->SetIntArrayRegion(env, a, 0, 2, v);
    return a;
}

JNIEXPORT jfloat JNICALL Java_dev_facekit_NativeLib_engineThreshold(JNIEnv *env, jclass cls, jlong engine, jint op) {
    (void)cls;
    float t = 0;
    failed(env, fk_engine_threshold(ENGINE(engine), (int32_t)op, &t));
    return t;
}

JNIEXPORT jfloat JNICALL Java_dev_facekit_NativeLib_engineThresholdForFace(JNIEnv *env, jclass cls, jlong engine, jint op,
                                                                          jfloat eye_distance) {
    (void)cls;
    float t = 0;
    failed(env, fk_engine_threshold_for_face(ENGINE(engine), (int32_t)op, eye_distance, &t));
    return t;
}

JNIEXPORT jfloat JNICALL Java_dev_facekit_NativeLib_engineGalleryThresholdForFace(JNIEnv *env, jclass cls, jlong engine,
                                                                                 jint op, jlong templates,
                                                                                 jfloat eye_distance) {
    (void)cls;
    float t = 0; /* templates >= 0: checked by Engine.java */
    failed(env, fk_engine_gallery_threshold_for_face(ENGINE(engine), (int32_t)op, (size_t)templates, eye_distance, &t));
    return t;
}

JNIEXPORT jfloat JNICALL Java_dev_facekit_NativeLib_galleryThreshold(JNIEnv *env, jclass cls, jlong engine, jlong gallery,
                                                                    jint op, jfloat eye_distance) {
    (void)cls;
    float t = 0;
    failed(env, fk_gallery_threshold(ENGINE(engine), GALLERY(gallery), (int32_t)op, eye_distance, &t));
    return t;
}

JNIEXPORT jfloatArray JNICALL Java_dev_facekit_NativeLib_detect(JNIEnv *env, jclass cls, jlong engine, jobject image,
                                                               jint capacity) {
    (void)cls;
    size_t cap = capacity < 1 ? 1 : (size_t)capacity;
    fk_face *faces = calloc(cap, sizeof *faces);
    if (!faces) {
        throw_java(env, "java/lang/OutOfMemoryError", "faces");
        return NULL;
    }
    pinned_image p;
    if (!pin_image(env, image, &p)) {
        free(faces);
        return NULL;
    }
    size_t n = 0;
    fk_status st = fk_detect(ENGINE(engine), &p.img, faces, cap, &n);
    unpin_image(env, &p);
    if (n > cap) n = cap; /* *count is the number found; only `cap` were written */
    jfloatArray out = NULL;
    if (!failed(env, st)) {
        float *v = malloc((n * FACE_FLOATS + 1) * sizeof *v);
        if (v) {
            for (size_t i = 0; i < n; i++) face_to(&faces[i], v + i * FACE_FLOATS);
            out = new_floats(env, v, (jsize)(n * FACE_FLOATS));
            free(v);
        } else {
            throw_java(env, "java/lang/OutOfMemoryError", "faces");
        }
    }
    free(faces);
    return out;
}

JNIEXPORT jbyteArray JNICALL Java_dev_facekit_NativeLib_align(JNIEnv *env, jclass cls, jlong engine, jobject image,
                                                             jfloatArray jface) {
    (void)cls;
    fk_face f;
    uint32_t w = 0, h = 0;
    if (!face_from(env, jface, &f) || failed(env, fk_engine_crop_size(ENGINE(engine), &w, &h))) return NULL;
    size_t len = (size_t)w * h * 3;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        throw_java(env, "java/lang/OutOfMemoryError", "crop");
        return NULL;
    }
    pinned_image p;
    jbyteArray out = NULL;
    if (pin_image(env, image, &p)) {
        fk_status st = fk_align(ENGINE(engine), &p.img, &f, buf, len);
        unpin_image(env, &p);
        if (!failed(env, st)) out = new_bytes(env, buf, len);
    }
    free(buf);
    return out;
}

JNIEXPORT jfloatArray JNICALL Java_dev_facekit_NativeLib_embed(JNIEnv *env, jclass cls, jlong engine, jobject image,
                                                              jfloatArray jface) {
    (void)cls;
    fk_face f;
    if (!face_from(env, jface, &f)) return NULL;
    size_t dim = fk_engine_embedding_dim(ENGINE(engine));
    float *v = malloc((dim + 1) * sizeof *v);
    if (!v) {
        throw_java(env, "java/lang/OutOfMemoryError", "embedding");
        return NULL;
    }
    pinned_image p;
    jfloatArray out = NULL;
    if (pin_image(env, image, &p)) {
        fk_status st = fk_embed(ENGINE(engine), &p.img, &f, v, dim);
        unpin_image(env, &p);
        if (!failed(env, st)) out = new_floats(env, v, (jsize)dim);
    }
    free(v);
    return out;
}

static jfloatArray match_array(JNIEnv *env, const fk_match *m) {
    float v[4] = {m->similarity, m->threshold, (float)m->is_match, (float)m->operating_point};
    return new_floats(env, v, 4);
}

JNIEXPORT jfloatArray JNICALL Java_dev_facekit_NativeLib_compare(JNIEnv *env, jclass cls, jlong engine,
                                                                jfloatArray ja, jfloatArray jb) {
    (void)cls;
    size_t na = 0, nb = 0;
    float *a = floats(env, ja, &na, "a");
    float *b = a ? floats(env, jb, &nb, "b") : NULL;
    jfloatArray out = NULL;
    if (b) {
        fk_match m;
        /* The Java side checked na == nb; pass the smaller anyway so C never reads past either copy. */
        if (!failed(env, fk_compare(ENGINE(engine), a, b, na < nb ? na : nb, &m))) out = match_array(env, &m);
    }
    free(a);
    free(b);
    return out;
}

JNIEXPORT jfloatArray JNICALL Java_dev_facekit_NativeLib_verify(JNIEnv *env, jclass cls, jlong engine, jobject ia,
                                                               jobject ib) {
    (void)cls;
    pinned_image pa, pb;
    if (!pin_image(env, ia, &pa)) return NULL;
    if (!pin_image(env, ib, &pb)) {
        unpin_image(env, &pa);
        return NULL;
    }
    fk_match m;
    fk_status st = fk_verify(ENGINE(engine), &pa.img, &pb.img, &m);
    unpin_image(env, &pb);
    unpin_image(env, &pa);
    return failed(env, st) ? NULL : match_array(env, &m);
}

JNIEXPORT jfloatArray JNICALL Java_dev_facekit_NativeLib_quality(JNIEnv *env, jclass cls, jlong engine, jobject image,
                                                                jfloatArray jface) {
    (void)cls;
    fk_face f;
    pinned_image p;
    if (!face_from(env, jface, &f) || !pin_image(env, image, &p)) return NULL;
    /* fk_quality takes sizeof(fk_quality_report) and refuses a smaller buffer, so a library whose report grew
     * fails cleanly; the slack is a second guard. Only the fields known here are read. */
    union {
        fk_quality_report report;
        unsigned char slack[sizeof(fk_quality_report) + 256];
    } q;
    memset(&q, 0, sizeof q);
    fk_status st = fk_quality(ENGINE(engine), &p.img, &f, &q.report, sizeof q.report);
    unpin_image(env, &p);
    if (failed(env, st)) return NULL;
    const fk_quality_report *r = &q.report;
    /* Same order as Quality.COMPONENTS and the C struct. */
    const fk_quality_component *c[QUALITY_COMPONENTS] = {
        &r->sharpness, &r->brightness, &r->exposure,   &r->contrast, &r->yaw,       &r->pitch,
        &r->roll,      &r->face_size,  &r->confidence, &r->learned,  &r->occlusion, &r->compression};
    float v[QUALITY_FLOATS];
    v[0] = r->overall;
    v[1] = r->acceptable ? 1.0f : 0.0f;
    v[2] = (float)r->reasons; /* < 2^24: exact in a float */
    for (int i = 0; i < QUALITY_COMPONENTS; i++) {
        v[3 + 3 * i] = c[i]->raw;
        v[4 + 3 * i] = c[i]->score;
        v[5 + 3 * i] = c[i]->assessed ? 1.0f : 0.0f;
    }
    return new_floats(env, v, QUALITY_FLOATS);
}

#define LIVENESS_FLOATS (6 + FK_LIVENESS_MAX_MODELS)

JNIEXPORT jfloatArray JNICALL Java_dev_facekit_NativeLib_liveness(JNIEnv *env, jclass cls, jlong engine, jobject image,
                                                                 jfloatArray jface) {
    (void)cls;
    fk_face f;
    pinned_image p;
    if (!face_from(env, jface, &f) || !pin_image(env, image, &p)) return NULL;
    fk_liveness_report r;
    fk_status st = fk_liveness(ENGINE(engine), &p.img, &f, &r, sizeof r);
    unpin_image(env, &p);
    if (failed(env, st)) return NULL;
    /* Same order as Liveness.fromNative; small integers are exact in a float. */
    float v[LIVENESS_FLOATS] = {(float)r.status, r.score, r.is_live ? 1.0f : 0.0f, r.threshold, (float)r.operating_point,
                                (float)r.model_count};
    for (int i = 0; i < FK_LIVENESS_MAX_MODELS; i++) v[6 + i] = r.model_scores[i];
    return new_floats(env, v, LIVENESS_FLOATS);
}

/* ------------------------------------------------------------------------------------------------------ */
/* Gallery */

JNIEXPORT jlong JNICALL Java_dev_facekit_NativeLib_galleryNew(JNIEnv *env, jclass cls, jlong engine) {
    (void)cls;
    fk_gallery *g = NULL;
    return failed(env, fk_gallery_new(ENGINE(engine), &g)) ? 0 : (jlong)(intptr_t)g;
}

JNIEXPORT jlong JNICALL Java_dev_facekit_NativeLib_galleryLoad(JNIEnv *env, jclass cls, jlong engine, jbyteArray jpath) {
    (void)cls;
    char *path = cstring(env, jpath, "path");
    if (!path) return 0;
    fk_gallery *g = NULL;
    fk_status st = fk_gallery_load(ENGINE(engine), path, &g);
    free(path);
    return failed(env, st) ? 0 : (jlong)(intptr_t)g;
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_galleryFree(JNIEnv *env, jclass cls, jlong gallery) {
    (void)env;
    (void)cls;
    fk_gallery_free((fk_gallery *)(intptr_t)gallery);
}

/* Enroll and add-template take the same arguments: an identity and a float array, copied out of Java for the call. */
static void with_id_and_floats(JNIEnv *env, jlong gallery, jbyteArray jid, jfloatArray jv, const char *what,
                               fk_status (*call)(const fk_gallery *, const char *, const float *, size_t)) {
    size_t n = 0;
    char *id = cstring(env, jid, "id");
    float *v = id ? floats(env, jv, &n, what) : NULL;
    if (v) failed(env, call(GALLERY(gallery), id, v, n));
    free(id);
    free(v);
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_galleryEnroll(JNIEnv *env, jclass cls, jlong gallery, jbyteArray jid,
                                                              jfloatArray jemb) {
    (void)cls;
    with_id_and_floats(env, gallery, jid, jemb, "embedding", fk_gallery_enroll);
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_galleryEnrollImage(JNIEnv *env, jclass cls, jlong gallery,
                                                                   jlong engine, jbyteArray jid, jobject image) {
    (void)cls;
    char *id = cstring(env, jid, "id");
    if (!id) return;
    pinned_image p;
    if (pin_image(env, image, &p)) {
        fk_status st = fk_gallery_enroll_image(GALLERY(gallery), ENGINE(engine), id, &p.img);
        unpin_image(env, &p);
        failed(env, st);
    }
    free(id);
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_galleryAddTemplate(JNIEnv *env, jclass cls, jlong gallery,
                                                                   jbyteArray jid, jfloatArray jvalues) {
    (void)cls;
    with_id_and_floats(env, gallery, jid, jvalues, "values", fk_gallery_add_template);
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_galleryRemove(JNIEnv *env, jclass cls, jlong gallery, jbyteArray jid) {
    (void)cls;
    char *id = cstring(env, jid, "id");
    if (!id) return;
    fk_status st = fk_gallery_remove(GALLERY(gallery), id);
    free(id);
    failed(env, st);
}

JNIEXPORT jint JNICALL Java_dev_facekit_NativeLib_galleryCount(JNIEnv *env, jclass cls, jlong gallery) {
    (void)env;
    (void)cls;
    size_t n = fk_gallery_count(GALLERY(gallery));
    return n > INT32_MAX ? INT32_MAX : (jint)n;
}

JNIEXPORT jint JNICALL Java_dev_facekit_NativeLib_galleryTemplateCount(JNIEnv *env, jclass cls, jlong gallery) {
    (void)env;
    (void)cls;
    size_t n = fk_gallery_template_count(GALLERY(gallery));
    return n > INT32_MAX ? INT32_MAX : (jint)n;
}

JNIEXPORT jfloatArray JNICALL Java_dev_facekit_NativeLib_galleryTemplate(JNIEnv *env, jclass cls, jlong gallery,
                                                                        jint index, jint dim, jobjectArray jid) {
    (void)cls;
    if (!jid || (*env)->GetArrayLength(env, jid) < 1) {
        throw_java(env, "java/lang/IllegalArgumentException", "id must hold 1 element");
        return NULL;
    }
    size_t d = dim < 0 ? 0 : (size_t)dim;
    /* calloc: C writes exactly the gallery's dimension; should the caller's dim exceed it, the rest reads 0. */
    float *v = calloc(d + 1, sizeof *v);
    if (!v) {
        throw_java(env, "java/lang/OutOfMemoryError", "template");
        return NULL;
    }
    char id[FK_ID_MAX + 1];
    jfloatArray out = NULL;
    /* The Java side refuses a negative index; one that got here anyway becomes a huge size_t, which C refuses
     * as out of range. */
    if (!failed(env, fk_gallery_template(GALLERY(gallery), (size_t)(int64_t)index, id, sizeof id, v, d))) {
        const char *end = memchr(id, '\0', sizeof id);
        jbyteArray b = new_bytes(env, id, end ? (size_t)(end - id) : sizeof id);
        if (b) {
            (*env)->SetObjectArrayElement(env, jid, 0, b);
            (*env)->DeleteLocalRef(env, b);
            if (!(*env)->ExceptionCheck(env)) out = new_floats(env, v, (jsize)d);
        }
    }
    free(v);
    return out;
}

JNIEXPORT jbyteArray JNICALL Java_dev_facekit_NativeLib_galleryModelId(JNIEnv *env, jclass cls, jlong gallery) {
    (void)cls;
    char buf[FK_MODEL_ID_MAX + 1];
    if (failed(env, fk_gallery_model_id(GALLERY(gallery), buf, sizeof buf))) return NULL;
    const char *end = memchr(buf, '\0', sizeof buf);
    return new_bytes(env, buf, end ? (size_t)(end - buf) : sizeof buf);
}

JNIEXPORT jint JNICALL Java_dev_facekit_NativeLib_gallerySearch(JNIEnv *env, jclass cls, jlong gallery,
                                                              jfloatArray jquery, jfloat threshold, jobjectArray ids,
                                                              jfloatArray sims) {
    (void)cls;
    if (!ids || !sims || (*env)->GetArrayLength(env, ids) != (*env)->GetArrayLength(env, sims)) {
        throw_java(env, "java/lang/IllegalArgumentException", "ids and sims must have the same length");
        return 0;
    }
    size_t cap = (size_t)(*env)->GetArrayLength(env, ids), n = 0, count = 0;
    float *q = floats(env, jquery, &n, "query");
    if (!q) return 0;
    fk_hit *hits = calloc(cap ? cap : 1, sizeof *hits);
    float *s = malloc((cap + 1) * sizeof *s);
    if (!hits || !s) {
        throw_java(env, "java/lang/OutOfMemoryError", "hits");
    } else if (!failed(env, fk_gallery_search(GALLERY(gallery), q, n, threshold, hits, cap, &count))) {
        for (size_t i = 0; i < count; i++) {
            /* id is NUL-terminated within its 256 bytes; memchr guards against a missing terminator anyway. */
            const char *end = memchr(hits[i].id, '\0', sizeof hits[i].id);
            size_t len = end ? (size_t)(end - hits[i].id) : sizeof hits[i].id;
            jbyteArray b = new_bytes(env, hits[i].id, len);
            if (!b) break;
            (*env)->SetObjectArrayElement(env, ids, (jsize)i, b);
            (*env)->DeleteLocalRef(env, b); /* k may exceed the 16 local references JNI guarantees */
            s[i] = hits[i].similarity;
        }
        if (!(*env)->ExceptionCheck(env)) (*env)->SetFloatArrayRegion(env, sims, 0, (jsize)count, s);
    }
    free(q);
    free(hits);
    free(s);
    return (jint)count;
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_gallerySave(JNIEnv *env, jclass cls, jlong gallery, jbyteArray jpath) {
    (void)cls;
    char *path = cstring(env, jpath, "path");
    if (!path) return;
    fk_status st = fk_gallery_save(GALLERY(gallery), path);
    free(path);
    failed(env, st);
}

/* ------------------------------------------------------------------------------------------------------ */
/* Image decoding */

JNIEXPORT jbyteArray JNICALL Java_dev_facekit_NativeLib_imageLoad0(JNIEnv *env, jclass cls, jbyteArray jpath,
                                                                  jintArray size) {
    (void)cls;
    if (!size || (*env)->GetArrayLength(env, size) < 2) {
        throw_java(env, "java/lang/IllegalArgumentException", "size must hold 2 ints");
        return NULL;
    }
    char *path = cstring(env, jpath, "path");
    if (!path) return NULL;
    fk_image img;
    memset(&img, 0, sizeof img);
    fk_status st = fk_image_load(path, &img);
    free(path);
    if (failed(env, st)) return NULL;
    size_t row = (size_t)img.width * 3;
    jbyteArray out = NULL;
    if (row * img.height > INT32_MAX) {
        throw_java(env, "java/lang/OutOfMemoryError", "image too large for a Java array");
    } else if ((out = (*env)->NewByteArray(env, (jsize)(row * img.height)))) {
        /* Copy row by row: the header documents stride == width*3, but honour the field anyway. */
        for (uint32_t y = 0; y < img.height; y++) {
            (*env)->SetByteArrayRegion(env, out, (jsize)(y * row), (jsize)row, (const jbyte *)(img.data + y * img.stride));
        }
        jint wh[2] = {(jint)img.width, (jint)img.height};
        (*env)->SetIntArrayRegion(env, size, 0, 2, wh);
    }
    fk_image_release(&img);
    return out;
}

/* ------------------------------------------------------------------------------------------------------ */
/* Tracker. Tracks and events cross as parallel primitive arrays (see Track.fromNative, TrackEvent.fromNative);
 * identities as UTF-8 byte[] (null when empty). */

#define DECISION_INTS 3   /* verdict, operating_point, after_frames */
#define DECISION_FLOATS 3 /* similarity, threshold, liveness */
#define TRACK_INTS (4 + DECISION_INTS)                    /* state, age, missed, captures, decision */
#define TRACK_FLOATS (FACE_FLOATS + 2 + DECISION_FLOATS)  /* face, best_quality, liveness, decision */
#define EVENT_LONGS 2                                     /* frame, track */
#define EVENT_INTS (1 + DECISION_INTS)                    /* kind, decision */
#define EVENT_FLOATS DECISION_FLOATS

static void decision_to(const fk_decision *d, jint *iv, float *fv) {
    iv[0] = d->verdict;
    iv[1] = d->operating_point;
    iv[2] = (jint)d->after_frames; /* unsigned: Java reads it with Integer.toUnsignedLong */
    fv[0] = d->similarity;
    fv[1] = d->threshold;
    fv[2] = d->liveness;
}

/* Stores d's identity as ids[i] unless it is empty. 0 (exception pending) on failure. */
static int identity_to(JNIEnv *env, const fk_decision *d, jobjectArray ids, jsize i) {
    const char *end = memchr(d->identity, '\0', sizeof d->identity);
    size_t len = end ? (size_t)(end - d->identity) : sizeof d->identity;
    if (len == 0) return 1;
    jbyteArray b = new_bytes(env, d->identity, len);
    if (!b) return 0;
    (*env)->SetObjectArrayElement(env, ids, i, b);
    (*env)->DeleteLocalRef(env, b); /* a frame may report more tracks than JNI's guaranteed local references */
    return !(*env)->ExceptionCheck(env);
}

/* Capacity of parallel output arrays: longs/ints/floats must hold cap * their per-item counts, ids cap items.
 * -1 (IllegalArgumentException pending) when they do not fit together. */
static jsize out_capacity(JNIEnv *env, jlongArray longs, jsize nl, jintArray ints, jsize ni, jfloatArray floats, jsize nf,
                          jobjectArray ids) {
    if (!longs || !ints || !floats || !ids) {
        throw_java(env, "java/lang/NullPointerException", "output arrays");
        return -1;
    }
    jsize cap = (*env)->GetArrayLength(env, ids);
    if ((*env)->GetArrayLength(env, longs) / nl < cap || (*env)->GetArrayLength(env, ints) / ni < cap ||
        (*env)->GetArrayLength(env, floats) / nf < cap) {
        throw_java(env, "java/lang/IllegalArgumentException", "output arrays do not fit the capacity");
        return -1;
    }
    return cap;
}

JNIEXPORT jlong JNICALL Java_dev_facekit_NativeLib_trackerNew(JNIEnv *env, jclass cls, jlong engine) {
    (void)cls;
    fk_tracker *t = NULL;
    return failed(env, fk_tracker_new(ENGINE(engine), &t)) ? 0 : (jlong)(intptr_t)t;
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_trackerFree(JNIEnv *env, jclass cls, jlong tracker) {
    (void)env;
    (void)cls;
    fk_tracker_free(TRACKER(tracker));
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_trackerSet(JNIEnv *env, jclass cls, jlong tracker, jbyteArray jkey,
                                                            jbyteArray jvalue) {
    (void)cls;
    char *k = cstring(env, jkey, "key");
    char *v = k ? cstring(env, jvalue, "value") : NULL;
    if (v) failed(env, fk_tracker_set(TRACKER(tracker), k, v));
    free(k);
    free(v);
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_trackerSetGallery(JNIEnv *env, jclass cls, jlong tracker, jlong gallery) {
    (void)cls;
    failed(env, fk_tracker_set_gallery(TRACKER(tracker), GALLERY(gallery))); /* 0: stop deciding */
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_trackerSetTemplate(JNIEnv *env, jclass cls, jlong tracker,
                                                                    jfloatArray jemb) {
    (void)cls;
    size_t n = 0;
    float *e = floats(env, jemb, &n, "template");
    if (e) failed(env, fk_tracker_set_template(TRACKER(tracker), e, n));
    free(e);
}

JNIEXPORT jint JNICALL Java_dev_facekit_NativeLib_trackerUpdate(JNIEnv *env, jclass cls, jlong tracker, jobject image,
                                                               jlongArray jids, jintArray jints, jfloatArray jfloats,
                                                               jobjectArray identities) {
    (void)cls;
    jsize cap = out_capacity(env, jids, 1, jints, TRACK_INTS, jfloats, TRACK_FLOATS, identities);
    if (cap < 0) return 0;
    size_t c = (size_t)cap;
    fk_track *tracks = calloc(c ? c : 1, sizeof *tracks);
    jlong *lv = malloc((c + 1) * sizeof *lv);
    jint *iv = malloc((c * TRACK_INTS + 1) * sizeof *iv);
    float *fv = malloc((c * TRACK_FLOATS + 1) * sizeof *fv);
    pinned_image p;
    size_t n = 0;
    if (!tracks || !lv || !iv || !fv) {
        throw_java(env, "java/lang/OutOfMemoryError", "tracks");
    } else if (pin_image(env, image, &p)) {
        fk_status st = fk_tracker_update(TRACKER(tracker), &p.img, tracks, c, &n);
        unpin_image(env, &p);
        if (!failed(env, st)) {
            size_t w = n < c ? n : c; /* the Java side sizes the arrays so that n <= c; it checks the count */
            for (size_t i = 0; i < w; i++) {
                const fk_track *t = &tracks[i];
                jint *ti = iv + i * TRACK_INTS;
                float *tf = fv + i * TRACK_FLOATS;
                lv[i] = (jlong)t->id;
                ti[0] = t->state;
                ti[1] = (jint)t->age; /* unsigned: Integer.toUnsignedLong on the Java side */
                ti[2] = (jint)t->missed;
                ti[3] = (jint)t->captures;
                face_to(&t->face, tf);
                tf[FACE_FLOATS] = t->best_quality;
                tf[FACE_FLOATS + 1] = t->liveness;
                decision_to(&t->decision, ti + 4, tf + FACE_FLOATS + 2);
                if (!identity_to(env, &t->decision, identities, (jsize)i)) break;
            }
            if (!(*env)->ExceptionCheck(env)) {
                (*env)->SetLongArrayRegion(env, jids, 0, (jsize)w, lv);
                (*env)->SetIntArrayRegion(env, jints, 0, (jsize)(w * TRACK_INTS), iv);
                (*env)->SetFloatArrayRegion(env, jfloats, 0, (jsize)(w * TRACK_FLOATS), fv);
            }
        }
    }
    free(tracks);
    free(lv);
    free(iv);
    free(fv);
    return n > INT32_MAX ? INT32_MAX : (jint)n;
}

JNIEXPORT jint JNICALL Java_dev_facekit_NativeLib_trackerPollEvents(JNIEnv *env, jclass cls, jlong tracker,
                                                                   jlongArray jlongs, jintArray jints,
                                                                   jfloatArray jfloats, jobjectArray identities) {
    (void)cls;
    jsize cap = out_capacity(env, jlongs, EVENT_LONGS, jints, EVENT_INTS, jfloats, EVENT_FLOATS, identities);
    if (cap < 0) return 0;
    size_t c = (size_t)cap, n = 0;
    fk_event *events = calloc(c ? c : 1, sizeof *events);
    jlong *lv = malloc((c * EVENT_LONGS + 1) * sizeof *lv);
    jint *iv = malloc((c * EVENT_INTS + 1) * sizeof *iv);
    float *fv = malloc((c * EVENT_FLOATS + 1) * sizeof *fv);
    if (!events || !lv || !iv || !fv) {
        throw_java(env, "java/lang/OutOfMemoryError", "events");
    } else if (!failed(env, fk_tracker_poll_events(TRACKER(tracker), events, c, &n))) {
        for (size_t i = 0; i < n; i++) {
            const fk_event *e = &events[i];
            lv[i * EVENT_LONGS] = (jlong)e->frame;
            lv[i * EVENT_LONGS + 1] = (jlong)e->track;
            iv[i * EVENT_INTS] = e->kind;
            decision_to(&e->decision, iv + i * EVENT_INTS + 1, fv + i * EVENT_FLOATS);
            if (!identity_to(env, &e->decision, identities, (jsize)i)) break;
        }
        if (!(*env)->ExceptionCheck(env)) {
            (*env)->SetLongArrayRegion(env, jlongs, 0, (jsize)(n * EVENT_LONGS), lv);
            (*env)->SetIntArrayRegion(env, jints, 0, (jsize)(n * EVENT_INTS), iv);
            (*env)->SetFloatArrayRegion(env, jfloats, 0, (jsize)(n * EVENT_FLOATS), fv);
        }
    }
    free(events);
    free(lv);
    free(iv);
    free(fv);
    return (jint)n; /* n <= cap, a jsize */
}

JNIEXPORT jfloatArray JNICALL Java_dev_facekit_NativeLib_trackerBestEmbedding(JNIEnv *env, jclass cls, jlong tracker,
                                                                             jlong track, jint dim) {
    (void)cls;
    size_t d = dim < 0 ? 0 : (size_t)dim;
    float *v = malloc((d + 1) * sizeof *v);
    if (!v) {
        throw_java(env, "java/lang/OutOfMemoryError", "embedding");
        return NULL;
    }
    jfloatArray out = NULL;
    if (!failed(env, fk_tracker_best_embedding(TRACKER(tracker), (uint64_t)track, v, d))) out = new_floats(env, v, (jsize)d);
    free(v);
    return out;
}

JNIEXPORT void JNICALL Java_dev_facekit_NativeLib_trackerReset(JNIEnv *env, jclass cls, jlong tracker) {
    (void)cls;
    failed(env, fk_tracker_reset(TRACKER(tracker)));
}
