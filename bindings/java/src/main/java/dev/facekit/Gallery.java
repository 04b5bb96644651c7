package dev.facekit;

import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * Enrolled identities ({@code fk_gallery}) for one engine's embedder. Thread-safe. The engine is needed only
 * to create or load the gallery and for {@link #enrollImage}; closing the engine does not affect it.
 */
public final class Gallery implements AutoCloseable {
    /** One search result. */
    public static final class Hit {
        public final String id;
        public final float similarity;

        Hit(String id, float similarity) {
            this.id = id;
            this.similarity = similarity;
        }

        @Override
        public String toString() {
            return String.format("%s (%.4f)", id, similarity);
        }
    }

    /**
     * One stored template: its identity and the unit-norm float values the gallery scores with (see
     * {@link #template}). {@link #addTemplate} of them into a gallery of the same {@link #modelId} scores every
     * query bit for bit as this one.
     */
    public static final class Template {
        public final String id;
        private final float[] values;

        Template(String id, float[] values) {
            this.id = id;
            this.values = values;
        }

        /** The template's values (a copy), as many as the gallery's dimension. */
        public float[] values() {
            return values.clone();
        }

        @Override
        public String toString() {
            return String.format("%s (%d values)", id, values.length);
        }
    }

    final NativeHandle handle; // package-private: a Tracker holds it during update
    private final float defaultThreshold;
    private final int dim;

    /** An empty gallery for {@code engine}'s embedder. */
    public Gallery(Engine engine) {
        this(engine, 0L);
    }

    private Gallery(Engine engine, long loaded) {
        long p = loaded != 0 ? loaded : engine.withPointer(NativeLib::galleryNew);
        this.handle = new NativeHandle(this, p, NativeLib::galleryFree, "Gallery");
        this.defaultThreshold = engine.defaultThreshold();
        this.dim = engine.embeddingDim(); // the gallery's dimension: fk_gallery_new/_load take the engine's
    }

    /** Loads a gallery written by {@link #save} (verified: checksum, model, dimension). */
    public static Gallery load(Engine engine, String path) {
        byte[] p = Image.Strings.utf8(path, "path");
        return new Gallery(engine, engine.withPointer(e -> NativeLib.galleryLoad(e, p)));
    }

    /** Adds a template under {@code id} (1..255 bytes of UTF-8); an existing id gains a template. */
    public void enroll(String id, float[] embedding) {
        byte[] b = Image.Strings.utf8(id, "id");
        long p = handle.acquire();
        try {
            NativeLib.galleryEnroll(p, b, embedding);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Detects the largest face in {@code image}, checks it under {@code engine}'s quality policy
     * (FK_ERR_POOR_QUALITY, FK_ERR_NOT_LIVE: nothing enrolled), embeds it and enrolls it.
     */
    public void enrollImage(Engine engine, String id, Image image) {
        byte[] b = Image.Strings.utf8(id, "id");
        long p = handle.acquire();
        try {
            long e = engine.handle.acquire();
            try {
                NativeLib.galleryEnrollImage(p, e, b, image);
            } finally {
                engine.handle.release();
                Reference.reachabilityFence(engine);
            }
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Adds a template under {@code id} exactly as given: {@code values} of the gallery's dimension and unit norm
     * (squared norm within 1e-3 of 1), e.g. from {@link #template} of a gallery with the same {@link #modelId}
     * or from a central gallery. Unlike {@link #enroll} it is not normalised again, so a gallery rebuilt from
     * exported templates scores as the original. A wrong length, a non-finite value or a vector that is not
     * unit-norm is FK_ERR_INVALID_ARGUMENT, and nothing is added.
     */
    public void addTemplate(String id, float[] values) {
        byte[] b = Image.Strings.utf8(id, "id");
        long p = handle.acquire();
        try {
            NativeLib.galleryAddTemplate(p, b, values);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** Removes an identity and its templates (FK_ERR_NOT_FOUND if it is not enrolled). */
    public void remove(String id) {
        byte[] b = Image.Strings.utf8(id, "id");
        long p = handle.acquire();
        try {
            NativeLib.galleryRemove(p, b);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** Number of enrolled identities. */
    public int size() {
        return withPointer(NativeLib::galleryCount);
    }

    /** Number of templates over all identities ({@link #size} counts identities): {@link #template}'s indexes. */
    public int templateCount() {
        return withPointer(NativeLib::galleryTemplateCount);
    }

    /**
     * Template {@code index} (0..{@link #templateCount()} - 1) and its identity: the unit-norm float values the
     * gallery stores and scores with. Index order is stable until the next enroll or remove (a remove moves the
     * last template into the freed place). An index out of range is FK_ERR_INVALID_ARGUMENT.
     */
    public Template template(int index) {
        if (index < 0) throw FacekitException.invalid("template index must be >= 0, got " + index);
        return withPointer(p -> readTemplate(p, index, new byte[1][]));
    }

    /**
     * Every template, in index order ({@link #template} of 0..{@link #templateCount()} - 1). Read one by one: an
     * enroll or remove from another thread meanwhile can shift the order or make this throw.
     */
    public List<Template> templates() {
        return withPointer(p -> {
            int n = NativeLib.galleryTemplateCount(p);
            List<Template> out = new ArrayList<>(n);
            byte[][] id = new byte[1][];
            for (int i = 0; i < n; i++) out.add(readTemplate(p, i, id));
            return out;
        });
    }

    /** Template {@code index} of the gallery at pointer {@code p}; {@code id} is the shim's out slot. */
    private Template readTemplate(long p, int index, byte[][] id) {
        float[] v = NativeLib.galleryTemplate(p, index, dim, id);
        return new Template(new String(id[0], StandardCharsets.UTF_8), v);
    }

    /** {@code call(gallery pointer)} with the gallery held open for the call. */
    private <T> T withPointer(LongFunction<T> call) {
        long p = handle.acquire();
        try {
            return call.apply(p);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /**
     * The model id of the embedder this gallery was made for (e.g. the sha256 of its weights; fast and accurate
     * modes differ). Galleries of one model id take each other's templates.
     */
    public String modelId() {
        return withPointer(p -> new String(NativeLib.galleryModelId(p), StandardCharsets.UTF_8));
    }

    /**
     * The threshold to decide against this gallery at, with {@code engine}, for a probe face whose eyes are
     * {@code eyeDistance} pixels apart (fk_gallery_threshold): {@link Engine#galleryThresholdForFace} for the
     * gallery's size, raised for the camera when the enrolled people (3 or more) score higher against each other
     * than the calibration's strangers, or by the manifest's camera section. What the tracker decides at.
     */
    public float threshold(Engine engine, int operatingPoint, float eyeDistance) {
        long e = engine.handle.acquire();
        try {
            return withPointer(g -> NativeLib.galleryThreshold(e, g, operatingPoint, eyeDistance));
        } finally {
            engine.handle.release();
            Reference.reachabilityFence(engine);
        }
    }

    /** Up to {@code k} identities at or above the engine's calibrated threshold, best first (empty: nobody). */
    public List<Hit> search(float[] query, int k) {
        return search(query, k, defaultThreshold);
    }

    /** Up to {@code k} identities with similarity ≥ {@code threshold}, best first ({@code -1}: the nearest). */
    public List<Hit> search(float[] query, int k, float threshold) {
        if (k < 1) throw FacekitException.invalid("k must be at least 1");
        long p = handle.acquire();
        try {
            // Never more slots than identities (a huge k would otherwise allocate k * 260 native bytes).
            int cap = Math.max(1, Math.min(k, NativeLib.galleryCount(p)));
            byte[][] ids = new byte[cap][];
            float[] sims = new float[cap];
            int n = NativeLib.gallerySearch(p, query, threshold, ids, sims);
            List<Hit> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) out.add(new Hit(new String(ids[i], StandardCharsets.UTF_8), sims[i]));
            return out;
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    /** Saves atomically: after a crash the file is the old or the new gallery, never a mix. */
    public void save(String path) {
        byte[] b = Image.Strings.utf8(path, "path");
        long p = handle.acquire();
        try {
            NativeLib.gallerySave(p, b);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
        }
    }

    public boolean isClosed() {
        return handle.isClosed();
    }

    /** Frees the gallery (unsaved changes are lost). Idempotent. */
    @Override
    public void close() {
        handle.close();
    }
}
