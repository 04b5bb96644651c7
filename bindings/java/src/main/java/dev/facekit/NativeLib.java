package dev.facekit;

import java.lang.ref.Cleaner;

/**
 * The JNI entry points (src/main/c/facekit_jni.c). Package-private: the public classes own every handle.
 * Handles are C pointers carried as {@code long}. Every method throws {@link FacekitException} on a non-OK
 * status, with the message of {@code fk_last_error()}.
 *
 * <p>Loading: {@code -Dfacekit.jni.library=/abs/path/libfacekit_jni.so} if set, else
 * {@code System.loadLibrary("facekit_jni")} (java.library.path; on Android the APK's jniLibs). The shim needs
 * libfacekit.so.0 on the loader's path (LD_LIBRARY_PATH, its rpath, or jniLibs on Android).
 */
final class NativeLib {
    private NativeLib() {}

    /** One cleaner thread for every backstop of the bindings. */
    static final Cleaner CLEANER = Cleaner.create();

    static {
        String path = System.getProperty("facekit.jni.library");
        if (path != null && !path.isEmpty()) {
            System.load(path);
        } else {
            System.loadLibrary("facekit_jni");
        }
    }

    static native String versionString();

    static native int version();

    // Engine. keys/values/dir are UTF-8 without NUL; dir == null loads the bundled model pack.
    static native long engineNew(byte[] dir, byte[][] keys, byte[][] values);

    static native void engineFree(long engine);

    static native int engineDim(long engine);

    static native int[] engineCropSize(long engine);

    static native float engineThreshold(long engine, int operatingPoint);

    /** fk_engine_threshold_for_face. */
    static native float engineThresholdForFace(long engine, int operatingPoint, float eyeDistance);

    /** fk_engine_gallery_threshold_for_face ({@code templates} >= 0). */
    static native float engineGalleryThresholdForFace(long engine, int operatingPoint, long templates, float eyeDistance);

    /** fk_gallery_threshold. */
    static native float galleryThreshold(long engine, long gallery, int operatingPoint, float eyeDistance);

    /** Faces as 15 floats each (see {@link Face#toNative}); {@code capacity} = the engine's max_faces. */
    static native float[] detect(long engine, Image image, int capacity);

    static native byte[] align(long engine, Image image, float[] face);

    static native float[] embed(long engine, Image image, float[] face);

    /** {similarity, threshold, is_match, operating_point}. */
    static native float[] compare(long engine, float[] a, float[] b);

    static native float[] verify(long engine, Image a, Image b);

    /** {overall, acceptable, reasons, then raw, score, assessed of each component, in Quality.COMPONENTS order}. */
    static native float[] quality(long engine, Image image, float[] face);

    /** {status, score, is_live, threshold, operating_point, model_count, then FK_LIVENESS_MAX_MODELS scores}. */
    static native float[] liveness(long engine, Image image, float[] face);

    // Gallery.
    static native long galleryNew(long engine);

    static native long galleryLoad(long engine, byte[] path);

    static native void galleryFree(long gallery);

    static native void galleryEnroll(long gallery, byte[] id, float[] embedding);

    static native void galleryEnrollImage(long gallery, long engine, byte[] id, Image image);

    /** Adds {@code values} exactly as given (unit norm; not normalised again). */
    static native void galleryAddTemplate(long gallery, byte[] id, float[] values);

    static native void galleryRemove(long gallery, byte[] id);

    static native int galleryCount(long gallery);

    static native int galleryTemplateCount(long gallery);

    /** Template {@code index} ({@code dim} floats); its identity (UTF-8) goes to {@code id[0]}. */
    static native float[] galleryTemplate(long gallery, int index, int dim, byte[][] id);

    /** The gallery's model id, UTF-8. */
    static native byte[] galleryModelId(long gallery);

    /** Fills {@code ids} (UTF-8) and {@code sims} (capacity = their length) and returns the number of hits. */
    static native int gallerySearch(long gallery, float[] query, float threshold, byte[][] ids, float[] sims);

    static native void gallerySave(long gallery, byte[] path);

    /** Decoded RGB8 pixels, tightly packed; writes {width, height} to {@code size}. */
    static native byte[] imageLoad(byte[] path, int[] size);

    // Tracker. Output arrays are parallel: per item {@link Track#INTS} ints and {@link Track#FLOATS} floats
    // (events: {@link TrackEvent#LONGS}, {@link TrackEvent#INTS}, {@link TrackEvent#FLOATS}), and one UTF-8
    // identity (null when empty); the capacity is {@code identities.length}.
    static native long trackerNew(long engine);

    static native void trackerFree(long tracker);

    static native void trackerSet(long tracker, byte[] key, byte[] value);

    /** {@code gallery == 0}: stop deciding. */
    static native void trackerSetGallery(long tracker, long gallery);

    static native void trackerSetTemplate(long tracker, float[] embedding);

    /** Returns the number of tracks of the frame; writes the first min(that, capacity). */
    static native int trackerUpdate(long tracker, Image frame, long[] ids, int[] ints, float[] floats, byte[][] identities);

    /** Returns the number of events written (at most the capacity). */
    static native int trackerPollEvents(long tracker, long[] longs, int[] ints, float[] floats, byte[][] identities);

    static native float[] trackerBestEmbedding(long tracker, long track, int dim);

    static native void trackerReset(long tracker);
}
