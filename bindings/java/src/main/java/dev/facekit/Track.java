package dev.facekit;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tracked face in the latest frame ({@code fk_track}). {@link #id} is stable for the track's life and never
 * reused by its tracker; {@link #face} is this frame's box and landmarks (the predicted box, score 0, when
 * {@link #missed} &gt; 0); {@link #decision} is null until the track is decided.
 */
public final class Track {
    // fk_track_state values.
    /** First frame of the track. */
    public static final int NEW = 1;
    /** Seen before ({@link #missed} says whether it was seen in this frame). */
    public static final int TRACKED = 2;
    /** Ended in this frame (unseen too long, scene cut, frame size change); reported once. */
    public static final int LOST = 3;

    /** ints per track the shim writes: state, age, missed, captures, then a decision's 3. */
    static final int INTS = 7;
    /** floats per track: the face's 15, best_quality, liveness, then a decision's 3. */
    static final int FLOATS = 20;

    public final long id;
    /** NEW, TRACKED or LOST. */
    public final int state;
    public final Face face;
    /** Frames since the track appeared (0 on its first). */
    public final long age;
    /** Consecutive frames unseen. */
    public final int missed;
    /** Good captures embedded so far. */
    public final int captures;
    /** Overall quality (0–100) of its best capture; NaN before the first. */
    public final float bestQuality;
    /** Mean liveness score of its captures; NaN when not assessed. */
    public final float liveness;
    public final Decision decision;

    private Track(long id, int state, Face face, long age, int missed, int captures, float bestQuality, float liveness,
            Decision decision) {
        this.id = id;
        this.state = state;
        this.face = face;
        this.age = age;
        this.missed = missed;
        this.captures = captures;
        this.bestQuality = bestQuality;
        this.liveness = liveness;
        this.decision = decision;
    }

    /** Track {@code i} of the shim's parallel arrays. */
    static Track fromNative(int i, long[] ids, int[] ints, float[] floats, byte[][] identities) {
        int io = i * INTS, fo = i * FLOATS;
        return new Track(ids[i], ints[io], Face.fromNative(floats, fo), Integer.toUnsignedLong(ints[io + 1]), ints[io + 2],
                ints[io + 3], floats[fo + 15], floats[fo + 16], Decision.fromNative(ints, io + 4, floats, fo + 17, identities[i]));
    }

    /** Field by field; NaN equals NaN. */
    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Track)) return false;
        Track t = (Track) o;
        return id == t.id && state == t.state && face.equals(t.face) && age == t.age && missed == t.missed
                && captures == t.captures && Float.compare(bestQuality, t.bestQuality) == 0
                && Float.compare(liveness, t.liveness) == 0 && Objects.equals(decision, t.decision);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(new Object[] {id, state, face, age, missed, captures, bestQuality, liveness, decision});
    }

    @Override
    public String toString() {
        String s = state == NEW ? "NEW" : state == TRACKED ? "TRACKED" : state == LOST ? "LOST" : "state=" + state;
        return "Track[" + id + " " + s + " age=" + age + " missed=" + missed + " captures=" + captures + " " + face
                + (decision == null ? "" : " " + decision) + "]";
    }
}
