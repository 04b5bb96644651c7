package dev.facekit;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.Cleaner;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The JNI entry points (src/main/c/facekit_jni.c). Package-private: the public classes own every handle.
 * Handles are C pointers carried as {@code long}. Every method throws {@link FacekitException} on a non-OK
 * status, with the message of {@code fk_last_error()}.
 *
 * <p>Loading, first match wins (README, "The jar"):
 * <ol>
 * <li>{@code -Dfacekit.jni.library=/abs/path/libfacekit_jni.so}: {@code System.load} of that file (it finds
 *     libfacekit.so.0 by its rpath, LD_LIBRARY_PATH or the system's library path);
 * <li>Android (no resources to extract), {@code -Dfacekit.native=system}, or a {@code libfacekit_jni.so} in a
 *     directory of {@code java.library.path}: {@code System.loadLibrary("facekit_jni")} (on Android the APK's
 *     jniLibs);
 * <li>otherwise the natives packed in the jar for this platform, {@code dev/facekit/native/<os>-<arch>/}
 *     ({@code linux-x86_64}, {@code linux-aarch64}): both files are copied into a new owner-only temporary
 *     directory, libfacekit.so.0 is loaded first and then the shim (whose {@code DT_NEEDED libfacekit.so.0} is
 *     then satisfied by the library already loaded under that SONAME; its {@code $ORIGIN} rpath would find it
 *     beside it too), and both files and the directory are deleted right after loading: a mapped library
 *     survives the unlink on Linux, and nothing is left behind even if the JVM is killed (which
 *     {@code deleteOnExit} would not cover). Where a loaded file cannot be deleted, {@code deleteOnExit}.
 * </ol>
 * A failure does not fail class initialisation (which would surface as {@code ExceptionInInitializerError}
 * once and as a bare {@code NoClassDefFoundError} afterwards): it is kept, and every entry point that needs
 * no handle ({@link Engine#Engine}, {@link Engine#version()}, {@link Image#load}) throws it as a
 * {@link FacekitException} ({@code FK_ERR_UNSUPPORTED}), on each call, naming the platform and what was
 * tried. Every other native call needs a handle, which only those entry points create.
 */
final class NativeLib {
    private NativeLib() {}

    /** One cleaner thread for every backstop of the bindings. */
    static final Cleaner CLEANER = Cleaner.create();

    /** Where the natives of a jar live: {@code RESOURCE_ROOT + platform + "/" + file}. */
    static final String RESOURCE_ROOT = "dev/facekit/native/";
    /** Files per platform, in load order: the library (by its SONAME), then the JNI shim. */
    static final String[] FILES = {"libfacekit.so.0", "libfacekit_jni.so"};
    /** Written by build_jar.sh: the platforms this jar carries, one a line. */
    static final String PLATFORMS_INDEX = RESOURCE_ROOT + "platforms.txt";

    /** How the natives were loaded (for diagnostics and the tests), or null when loading failed. */
    private static final String SOURCE;
    /** Absolute paths of the files loaded with System.load, in order (empty for System.loadLibrary). */
    private static final List<String> LOADED_FILES = new ArrayList<>();
    /** The load failure's message, or null. */
    private static final String LOAD_ERROR;
    private static final Throwable LOAD_CAUSE;

    static {
        String source = null, error = null;
        Throwable cause = null;
        try {
            source = load();
        } catch (UnsupportedPlatform e) {
            error = e.getMessage();
        } catch (IOException | RuntimeException | LinkageError e) {
            error = "loading the facekit native library failed (" + platform() + "): " + e;
            cause = e;
        }
        SOURCE = source;
        LOAD_ERROR = error;
        LOAD_CAUSE = cause;
    }

    /** No natives for this platform in the jar and no other way configured. */
    private static final class UnsupportedPlatform extends Exception {
        private static final long serialVersionUID = 1L;

        UnsupportedPlatform(String message) {
            super(message, null, false, false);
        }
    }

    private static boolean isAndroid() {
        String vm = System.getProperty("java.vm.name", "");
        String vendor = System.getProperty("java.vendor", "");
        return vm.equals("Dalvik") || vendor.contains("Android");
    }

    /** {@code os-arch} as in the jar's resource path, e.g. {@code linux-x86_64}, {@code linux-aarch64}. */
    static String platform() {
        String os = System.getProperty("os.name", "unknown").toLowerCase(Locale.ROOT);
        if (os.startsWith("linux")) os = "linux";
        else if (os.startsWith("mac") || os.startsWith("darwin")) os = "macos";
        else if (os.startsWith("windows")) os = "windows";
        else os = os.replaceAll("[^a-z0-9]+", "");
        String arch = System.getProperty("os.arch", "unknown").toLowerCase(Locale.ROOT);
        switch (arch) {
            case "amd64": case "x86_64": case "x86-64": case "x64": arch = "x86_64"; break;
            case "aarch64": case "arm64": arch = "aarch64"; break;
            default: arch = arch.replaceAll("[^a-z0-9_]+", "");
        }
        return os + "-" + arch;
    }

    /** True if a directory of java.library.path holds the shim, so System.loadLibrary would find it. */
    private static boolean shimOnLibraryPath() {
        String lp = System.getProperty("java.library.path", "");
        String name = System.mapLibraryName("facekit_jni");
        for (String dir : lp.split(File.pathSeparator)) {
            if (!dir.isEmpty() && new File(dir, name).isFile()) return true;
        }
        return false;
    }

    private static String load() throws IOException, UnsupportedPlatform {
        String path = System.getProperty("facekit.jni.library");
        if (path != null && !path.isEmpty()) {
            System.load(path);
            LOADED_FILES.add(path);
            return "facekit.jni.library=" + path;
        }
        if (isAndroid() || "system".equals(System.getProperty("facekit.native")) || shimOnLibraryPath()) {
            System.loadLibrary("facekit_jni");
            return "System.loadLibrary(facekit_jni)";
        }
        return extractAndLoad(platform());
    }

    private static String extractAndLoad(String platform) throws IOException, UnsupportedPlatform {
        String dir = RESOURCE_ROOT + platform + "/";
        ClassLoader cl = NativeLib.class.getClassLoader();
        URL[] urls = new URL[FILES.length];
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < FILES.length; i++) {
            urls[i] = cl == null ? ClassLoader.getSystemResource(dir + FILES[i]) : cl.getResource(dir + FILES[i]);
            if (urls[i] == null) missing.add(dir + FILES[i]);
        }
        if (!missing.isEmpty()) {
            StringBuilder m = new StringBuilder("no facekit native library for ").append(platform)
                    .append(" (os.name=").append(System.getProperty("os.name"))
                    .append(", os.arch=").append(System.getProperty("os.arch"))
                    .append("): tried the class-path resources ");
            for (int i = 0; i < FILES.length; i++) m.append(i == 0 ? "" : ", ").append(dir).append(FILES[i]);
            if (missing.size() == FILES.length) m.append(" (not found)");
            else m.append(" (not found: ").append(String.join(", ", missing)).append(")");
            m.append("; the class path has natives for: ").append(bundledPlatforms(cl));
            m.append(". Build libfacekit and the JNI shim for this platform and pass -Dfacekit.jni.library=")
                    .append("/path/libfacekit_jni.so, or put it on java.library.path");
            throw new UnsupportedPlatform(m.toString());
        }
        boolean posix = FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
        FileAttribute<?>[] owner = posix
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))}
                : new FileAttribute<?>[0];
        Path tmp = Files.createTempDirectory("facekit-native-", owner);
        Path[] files = new Path[FILES.length];
        try {
            for (int i = 0; i < FILES.length; i++) {
                files[i] = tmp.resolve(FILES[i]);
                try (InputStream in = urls[i].openStream()) {
                    Files.copy(in, files[i], StandardCopyOption.REPLACE_EXISTING);
                }
                if (posix) Files.setPosixFilePermissions(files[i], PosixFilePermissions.fromString("rwx------"));
            }
            for (Path f : files) {
                String abs = f.toAbsolutePath().toString();
                System.load(abs);
                LOADED_FILES.add(abs);
            }
        } finally {
            // Loaded or not, the copies go now: the mappings outlive the unlink (Linux, macOS).
            for (Path f : files) {
                if (f != null && !deleteQuietly(f)) f.toFile().deleteOnExit();
            }
            if (!deleteQuietly(tmp)) tmp.toFile().deleteOnExit(); // registered last: runs first
        }
        return "extracted from " + urls[1].toString().replaceFirst("/[^/]*$", "/") + " to " + tmp;
    }

    private static boolean deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** The platforms listed in the jar's index, or "none" when it has none (a jar built without natives). */
    private static String bundledPlatforms(ClassLoader cl) {
        URL index = cl == null ? ClassLoader.getSystemResource(PLATFORMS_INDEX) : cl.getResource(PLATFORMS_INDEX);
        if (index == null) return "none";
        try (InputStream in = index.openStream()) {
            String s = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim().replaceAll("\\s+", ", ");
            return s.isEmpty() ? "none" : s;
        } catch (IOException e) {
            return "unknown (" + e + ")";
        }
    }

    /** Throws the load failure as a FacekitException (a new one each call, with the original as its cause). */
    static void checkLoaded() {
        if (LOAD_ERROR != null) {
            FacekitException e = new FacekitException(FacekitException.FK_ERR_UNSUPPORTED, LOAD_ERROR);
            if (LOAD_CAUSE != null) e.initCause(LOAD_CAUSE);
            throw e;
        }
    }

    /**
     * How the natives were loaded: {@code "extracted from jar:file:/...!/dev/facekit/native/linux-x86_64/ to
     * /tmp/facekit-native-..."}, {@code "facekit.jni.library=..."} or {@code "System.loadLibrary(facekit_jni)"};
     * null if loading failed.
     */
    static String source() {
        return SOURCE;
    }

    /** Absolute paths given to System.load, in load order (empty after System.loadLibrary or a failure). */
    static List<String> loadedFiles() {
        return java.util.Collections.unmodifiableList(LOADED_FILES);
    }

    // Entry points that need no handle check the load first; every other call needs a handle from them.
    static String versionString() {
        checkLoaded();
        return versionString0();
    }

    static int version() {
        checkLoaded();
        return version0();
    }

    static long engineNew(byte[] dir, byte[][] keys, byte[][] values) {
        checkLoaded();
        return engineNew0(dir, keys, values);
    }

    /** Decoded RGB8 pixels, tightly packed; writes {width, height} to {@code size}. */
    static byte[] imageLoad(byte[] path, int[] size) {
        checkLoaded();
        return imageLoad0(path, size);
    }

    private static native String versionString0();

    private static native int version0();

    private static native long engineNew0(byte[] dir, byte[][] keys, byte[][] values);

    private static native byte[] imageLoad0(byte[] path, int[] size);

    // Engine. keys/values/dir are UTF-8 without NUL; dir == null loads the bundled model pack.
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
