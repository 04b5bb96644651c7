package dev.facekit;

import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One camera stream's tracker ({@code fk_tracker}): follows faces across frames and decides once per person.
 * Each {@link #update} takes the next frame and returns its tracks; {@link #pollEvents} returns what happened
 * since the last poll (appeared / decided / lost).
 *
 * <pre>{@code
 * try (Tracker tracker = new Tracker(engine, Map.of("detect_every", "10"))) {
 *     tracker.setGallery(gallery);                       // 1:N; or setTemplate(embedding) for 1:1
 *     for (each camera frame) {
 *         tracker.update(Image.yuv420(...));
 *         for (TrackEvent e : tracker.pollEvents()) {
 *             if (e.kind == TrackEvent.DECIDED && e.decision.accepted()) openDoor(e.decision.identity);
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p><b>One tracker per stream.</b> Feed it one camera's frames, in order. Its methods are synchronized, so
 * two threads cannot corrupt it, but interleaving two streams in one tracker makes no sense: use one tracker
 * per camera (on Android, call it from the ImageAnalysis executor). Many trackers may share one engine and
 * one gallery. The tracker holds its engine and gallery, so they stay reachable while it lives; closed
 * explicitly before it, the engine makes every call throw {@link IllegalStateException}, and the gallery
 * makes {@link #update} throw until another reference is set — never a use of freed memory. Close the tracker
 * (or use try-with-resources); a {@link java.lang.ref.Cleaner} frees it if it is dropped unclosed.
 */
public final class Tracker implements AutoCloseable {
    private final NativeHandle handle;
    private final Engine engine;
    private Gallery gallery; // guarded by this
    private int maxTracks = 16; // the most tracks ever allowed ("max_tracks"; default 16); guarded by this

    /** A tracker on {@code engine} with default settings, deciding nothing until a gallery or template is set. */
    public Tracker(Engine engine) {
        this.handle = new NativeHandle(this, engine.withPointer(NativeLib::trackerNew), NativeLib::trackerFree, "Tracker");
        this.engine = engine;
    }

    /** A tracker with settings as in {@link #set}, e.g. {@code Map.of("detect_every", "5", "min_captures", "3")}. */
    public Tracker(Engine engine, Map<String, String> settings) {
        this(engine);
        try {
            for (Map.Entry<String, String> s : settings.entrySet()) set(s.getKey(), s.getValue());
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private interface Call<R> {
        R run(long tracker);
    }

    /**
     * Runs one native call with the tracker's handle and its engine's held (and, for {@code withGallery}, its
     * gallery's): each throws IllegalStateException when closed, and none can be freed during the call.
     */
    private synchronized <R> R call(boolean withGallery, Call<R> body) {
        long t = handle.acquire();
        try {
            engine.handle.acquire();
            try {
                Gallery g = withGallery ? gallery : null;
                if (g == null) return body.run(t);
                g.handle.acquire();
                try {
                    return body.run(t);
                } finally {
                    g.handle.release();
                    Reference.reachabilityFence(g);
                }
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
     * Changes one setting from the next frame on: {@code detect_every}, {@code roi_input}, {@code roi_scale},
     * {@code roi_min_score}, {@code min_iou}, {@code max_missed}, {@code min_captures}, {@code capture_gap},
     * {@code decide_within}, {@code max_tracks} (see {@code fk_tracker_set}). FK_ERR_INVALID_ARGUMENT for an
     * unknown key or a bad value.
     */
    public void set(String key, String value) {
        byte[] k = Image.Strings.utf8(key, "key"), v = Image.Strings.utf8(value, "value");
        call(false, t -> {
            NativeLib.trackerSet(t, k, v);
            if (key.equals("max_tracks")) maxTracks = Math.max(maxTracks, (int) Double.parseDouble(value.trim()));
            return null;
        });
    }

    /**
     * Decide tracks against {@code gallery} (1:N: who is it) from now on; null stops deciding. Enrolling into
     * the gallery meanwhile is fine. FK_ERR_INCOMPATIBLE for another embedder's gallery.
     */
    public void setGallery(Gallery g) {
        call(false, t -> {
            if (g == null) {
                NativeLib.trackerSetGallery(t, 0);
            } else {
                long gp = g.handle.acquire();
                try {
                    NativeLib.trackerSetGallery(t, gp);
                } finally {
                    g.handle.release();
                    Reference.reachabilityFence(g);
                }
            }
            gallery = g;
            return null;
        });
    }

    /** Decide tracks against one template (1:1: is it this person) from now on; the vector is copied. */
    public void setTemplate(float[] embedding) {
        call(false, t -> {
            NativeLib.trackerSetTemplate(t, embedding);
            gallery = null; // no longer referred to
            return null;
        });
    }

    /**
     * Processes the next frame; returns its tracks (those lost in it included, once, with state LOST). A frame
     * of another size than the previous one ends every track (a new stream). A frame the library refuses
     * (FK_ERR_INVALID_IMAGE: wrong stride, too few bytes, ...) leaves the tracker as it was.
     */
    public List<Track> update(Image frame) {
        return call(true, t -> {
            // A frame reports at most every live track plus every track that ended in it: 2 x max_tracks.
            int cap = 2 * maxTracks;
            long[] ids = new long[cap];
            int[] ints = new int[cap * Track.INTS];
            float[] floats = new float[cap * Track.FLOATS];
            byte[][] identities = new byte[cap][];
            int n = NativeLib.trackerUpdate(t, frame, ids, ints, floats, identities);
            if (n > cap) { // cannot happen (see above); say so rather than drop tracks silently
                throw new FacekitException(FacekitException.FK_ERR_INTERNAL, n + " tracks in one frame, room for " + cap);
            }
            List<Track> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) out.add(Track.fromNative(i, ids, ints, floats, identities));
            return out;
        });
    }

    private static final int EVENT_BATCH = 64;

    /** Every event queued since the last poll, oldest first (the library keeps the latest 4,096). */
    public List<TrackEvent> pollEvents() {
        return call(false, t -> {
            List<TrackEvent> out = new ArrayList<>();
            long[] longs = new long[EVENT_BATCH * TrackEvent.LONGS];
            int[] ints = new int[EVENT_BATCH * TrackEvent.INTS];
            float[] floats = new float[EVENT_BATCH * TrackEvent.FLOATS];
            int n;
            do {
                byte[][] identities = new byte[EVENT_BATCH][];
                n = NativeLib.trackerPollEvents(t, longs, ints, floats, identities);
                for (int i = 0; i < n; i++) out.add(TrackEvent.fromNative(i, longs, ints, floats, identities));
            } while (n == EVENT_BATCH);
            return out;
        });
    }

    /**
     * The embedding of a live track's best capture (unit length) — what an enrolment from the camera stores
     * with {@link Gallery#enroll}. FK_ERR_NOT_FOUND if the track is not live or has no good capture yet.
     */
    public float[] bestEmbedding(long trackId) {
        int dim = engine.embeddingDim();
        return call(false, t -> NativeLib.trackerBestEmbedding(t, trackId, dim));
    }

    /** Forgets every track and queued event (a new stream); settings and reference stay. */
    public void reset() {
        call(false, t -> {
            NativeLib.trackerReset(t);
            return null;
        });
    }

    public boolean isClosed() {
        return handle.isClosed();
    }

    /** Frees the tracker. Idempotent; waits for a call running in another thread. */
    @Override
    public void close() {
        handle.close();
    }
}
