package dev.facekit;

import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

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

    final NativeHandle handle; // package-private: a Tracker holds it during update
    private final float defaultThreshold;

    /** An empty gallery for {@code engine}'s embedder. */
    public Gallery(Engine engine) {
        this(engine, 0L);
    }

    private Gallery(Engine engine, long loaded) {
        long p = loaded != 0 ? loaded : engine.withPointer(NativeLib::galleryNew);
        this.handle = new NativeHandle(this, p, NativeLib::galleryFree, "Gallery");
        this.defaultThreshold = engine.defaultThreshold();
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
        long p = handle.acquire();
        try {
            return NativeLib.galleryCount(p);
        } finally {
            handle.release();
            Reference.reachabilityFence(this);
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
