package dev.facekit;

import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.LongUnaryOperator;

/**
 * A loaded face pipeline ({@code fk_engine}). Thread-safe: share one engine between threads. Close it (or use
 * try-with-resources); a {@link java.lang.ref.Cleaner} frees it if it is dropped unclosed.
 *
 * <pre>{@code
 * try (Engine engine = new Engine("/data/models", Map.of("detector", "yunet_n"))) {
 *     Match m = engine.verify(Image.load("a.jpg"), Image.load("b.jpg"));
 * }
 * }</pre>
 */
public final class Engine implements AutoCloseable {
    // fk_operating_point values: the false-accept rate is 10^-value.
    public static final int FAR_1E2 = 2, FAR_1E3 = 3, FAR_1E4 = 4, FAR_1E5 = 5, FAR_1E6 = 6;

    final NativeHandle handle;
    private final int dim;
    private final int cropWidth, cropHeight;
    private final int maxFaces;
    private final int operatingPoint; // 0 when the embedder is not calibrated
    private final float defaultThreshold;

    /** An engine with default options from a model directory. */
    public Engine(String modelsDir) {
        this(modelsDir, Collections.emptyMap());
    }

    /**
     * An engine from a model directory ({@code null}: the model pack compiled into the library, if any) with
     * options as in {@code fk_options_set}, e.g. {@code detector=yunet_n}, {@code flip=1},
     * {@code operating_point=far_1e-4}, {@code quality.min_sharpness=40}; {@code mode=accurate} is the accurate
     * mode (MobileFaceNet and dlib ResNet fused, 256-d embeddings, several times the cost).
     */
    public Engine(String modelsDir, Map<String, String> options) {
        byte[][] keys = new byte[options.size()][];
        byte[][] values = new byte[options.size()][];
        int i = 0;
        for (Map.Entry<String, String> e : options.entrySet()) {
            keys[i] = Image.Strings.utf8(e.getKey(), "option key");
            values[i++] = Image.Strings.utf8(e.getValue(), "option value");
        }
        long p = NativeLib.engineNew(modelsDir == null ? null : Image.Strings.utf8(modelsDir, "modelsDir"), keys, values);
        this.handle = new NativeHandle(this, p, NativeLib::engineFree, "Engine");
        this.dim = NativeLib.engineDim(p);
        int[] crop = NativeLib.engineCropSize(p);
        this.cropWidth = crop[0];
        this.cropHeight = crop[1];
        // A buffer of max_faces entries holds every face fk_detect can return (it reports the total found and
        // writes at most the capacity), so one call suffices: mirror the option (default 64, range 1..1024).
        int mf = 64;
        if (options.containsKey("max_faces")) {
            try {
                mf = (int) Double.parseDouble(options.get("max_faces").trim());
            } catch (NumberFormatException ignored) {
                mf = 1024; // unreachable: the library refused a bad value above
            }
        }
        this.maxFaces = Math.max(1, Math.min(mf, 1024));
        // Nor is there a getter for the engine's operating point: comparing a unit vector with itself gives
        // the match at that point, threshold included.
        float[] e0 = new float[dim];
        int op = 0;
        float thr = -1f;
        if (dim > 0) {
            e0[0] = 1f;
            try {
                float[] m = NativeLib.compare(p, e0, e0);
                thr = m[1];
                op = (int) m[3];
            } catch (FacekitException notCalibrated) {
                // Leave op = 0: threshold() needs an explicit operating point then.
            }
        }
        this.operatingPoint = op;
        this.defaultThreshold = thr;
    }

    /**
     * The native library's version string ({@code fk_version_string()}), e.g. "0.1.0". Throws
     * {@link FacekitException} ({@code FK_ERR_UNSUPPORTED}) if the natives could not be loaded, e.g. a jar
     * without natives for this platform.
     */
    public static String version() {
        return NativeLib.versionString();
    }

    /**
     * The version of these bindings: the {@code Implementation-Version} of the jar's manifest (the crate's
     * version, from Cargo.toml), or null when the classes do not come from the jar (e.g. compiled into an app).
     * Needs no native library. With the jar's own natives it equals {@link #version()}.
     */
    public static String bindingsVersion() {
        return BindingsVersion.VALUE;
    }

    /** Read once, from the manifest of the jar holding this class (not from {@link Package}: when another
     * class-path entry defined the package first, e.g. test classes in {@code dev.facekit}, the package has
     * that entry's attributes). */
    private static final class BindingsVersion {
        static final String VALUE = read();

        private static String read() {
            java.net.URL self = Engine.class.getResource("Engine.class");
            if (self != null && self.getProtocol().equals("jar")) {
                String s = self.toString();
                try (java.io.InputStream in = java.net.URI.create(s.substring(0, s.lastIndexOf("!/") + 2)
                        + "META-INF/MANIFEST.MF").toURL().openStream()) {
                    String v = new java.util.jar.Manifest(in).getMainAttributes()
                            .getValue(java.util.jar.Attributes.Name.IMPLEMENTATION_VERSION);
                    if (v != null) return v;
                } catch (java.io.IOException | RuntimeException e) {
                    // fall through to the package's attributes
                }
            }
            Package p = Engine.class.getPackage();
            return p == null ? null : p.getImplementationVersion();
        }
    }

    public int embeddingDim() {
        return dim;
    }

    /** Width and height of {@link #align}'s crop (112x112 for the default embedder). */
    public int[] cropSize() {
        return new int[] {cropWidth, cropHeight};
    }

    /** The engine's operating point (FAR_1E3 by default), 0 if the embedder is not calibrated. */
    public int operatingPoint() {
        return operatingPoint;
    }

    float defaultThreshold() {
        return defaultThreshold;
    }

    /** {@code make(engine pointer)} with the engine held open for the call: how galleries and trackers are made. */
    long withPointer(LongUnaryOperator make) {
        long p = handle.acquire();
        try {
            return make.applyAsLong(p);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** Faces, best score first; an empty list when there is none. */
    public List<Face> detect(Image image) {
        long p = handle.acquire();
        try {
            float[] a = NativeLib.detect(p, image, maxFaces);
            List<Face> out = new ArrayList<>(a.length / 15);
            for (int i = 0; i + 15 <= a.length; i += 15) out.add(Face.fromNative(a, i));
            return out;
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** The largest face, or FacekitException(FK_ERR_NO_FACE). */
    public Face largestFace(Image image) {
        Face best = null;
        for (Face f : detect(image)) {
            if (best == null || f.area() > best.area()) best = f;
        }
        if (best == null) throw new FacekitException(FacekitException.FK_ERR_NO_FACE, "no face found in the image");
        return best;
    }

    /** The aligned RGB8 crop the embedder sees, row-major, {@link #cropSize()} pixels. */
    public byte[] align(Image image, Face face) {
        long p = handle.acquire();
        try {
            return NativeLib.align(p, image, face.toNative());
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** Unit-length embedding of {@code face}. */
    public float[] embed(Image image, Face face) {
        long p = handle.acquire();
        try {
            return NativeLib.embed(p, image, face.toNative());
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** Unit-length embedding of the largest face (FK_ERR_NO_FACE if none). */
    public float[] embed(Image image) {
        return embed(image, largestFace(image));
    }

    /** Compares two embeddings at the engine's operating point. */
    public Match compare(float[] a, float[] b) {
        if (a.length != b.length) {
            throw FacekitException.invalid("embeddings differ in length (" + a.length + " vs " + b.length + ")");
        }
        long p = handle.acquire();
        try {
            return Match.fromNative(NativeLib.compare(p, a, b));
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /**
     * 1:1 verification of the largest face of each image (FK_ERR_NO_FACE if either has none). Each capture is
     * checked under the engine's quality policy first: FK_ERR_POOR_QUALITY or FK_ERR_NOT_LIVE refuse it.
     */
    public Match verify(Image a, Image b) {
        long p = handle.acquire();
        try {
            return Match.fromNative(NativeLib.verify(p, a, b));
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** Capture quality of {@code face} under the engine's quality policy. */
    public Quality quality(Image image, Face face) {
        long p = handle.acquire();
        try {
            return Quality.fromNative(NativeLib.quality(p, image, face.toNative()));
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Liveness of {@code face}: a live person, or a print, a photo or a video on a screen, at the engine's
     * liveness operating point (option {@code liveness_operating_point}). A face too small or cut off by the
     * frame edge comes back with that {@link Liveness#status} and no score. FK_ERR_UNSUPPORTED when the
     * engine has no liveness models.
     */
    public Liveness liveness(Image image, Face face) {
        long p = handle.acquire();
        try {
            return Liveness.fromNative(NativeLib.liveness(p, image, face.toNative()));
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** Liveness of the largest face (FK_ERR_NO_FACE if none). */
    public Liveness liveness(Image image) {
        return liveness(image, largestFace(image));
    }

    /** Calibrated cosine threshold of an operating point (FAR_1E2, FAR_1E3 or FAR_1E4). */
    public float threshold(int operatingPoint) {
        long p = handle.acquire();
        try {
            return NativeLib.engineThreshold(p, operatingPoint);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@link #threshold(int)} for a face whose eyes are {@code eyeDistance} pixels apart (for two faces, the smaller
     * distance): the threshold measured at that resolution (fk_engine_threshold_for_face; small, blurred webcam faces
     * are decided higher). Under the option {@code thresholds=single}, or without a per-resolution table, the same
     * as {@link #threshold(int)}. FK_ERR_INVALID_ARGUMENT for an unknown point or a distance that is not a finite,
     * non-negative number.
     */
    public float thresholdForFace(int operatingPoint, float eyeDistance) {
        long p = handle.acquire();
        try {
            return NativeLib.engineThresholdForFace(p, operatingPoint, eyeDistance);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The threshold for searching a gallery of {@code templates} templates so that about the operating point's share
     * of strangers match someone, for a probe face whose eyes are {@code eyeDistance} pixels apart
     * (fk_engine_gallery_threshold_for_face: per-comparison FAR = FAR / templates, interpolated between the points
     * calibrated at that resolution). {@link Gallery#threshold} also adapts it to the camera.
     */
    public float galleryThresholdForFace(int operatingPoint, long templates, float eyeDistance) {
        if (templates < 0) throw FacekitException.invalid("templates must be >= 0, got " + templates);
        long p = handle.acquire();
        try {
            return NativeLib.engineGalleryThresholdForFace(p, operatingPoint, templates, eyeDistance);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** Threshold of the engine's own operating point. */
    public float threshold() {
        if (operatingPoint == 0) throw FacekitException.invalid("the engine's embedder is not calibrated");
        return threshold(operatingPoint);
    }

    public boolean isClosed() {
        return handle.isClosed();
    }

    /** Frees the engine. Idempotent; waits for calls still running in other threads. */
    @Override
    public void close() {
        handle.close();
    }
}
