package dev.facekit;

import java.util.Objects;

/**
 * Something a door-gate loop acts on ({@code fk_event}): track {@link #track} {@link #APPEARED}, was
 * {@link #DECIDED} ({@link #decision} set) or was {@link #LOST}, in tracker frame {@link #frame} (0-based).
 */
public final class TrackEvent {
    // fk_event_kind values.
    public static final int APPEARED = 1, DECIDED = 2, LOST = 3;

    /** Per event, what the shim writes: longs frame and track; ints kind, then a decision's 3; a decision's 3 floats. */
    static final int LONGS = 2, INTS = 4, FLOATS = 3;

    public final long frame;
    public final long track;
    /** APPEARED, DECIDED or LOST. */
    public final int kind;
    /** For DECIDED; null otherwise. */
    public final Decision decision;

    private TrackEvent(long frame, long track, int kind, Decision decision) {
        this.frame = frame;
        this.track = track;
        this.kind = kind;
        this.decision = decision;
    }

    /** Event {@code i} of the shim's parallel arrays. */
    static TrackEvent fromNative(int i, long[] longs, int[] ints, float[] floats, byte[][] identities) {
        return new TrackEvent(longs[i * LONGS], longs[i * LONGS + 1], ints[i * INTS],
                Decision.fromNative(ints, i * INTS + 1, floats, i * FLOATS, identities[i]));
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TrackEvent)) return false;
        TrackEvent e = (TrackEvent) o;
        return frame == e.frame && track == e.track && kind == e.kind && Objects.equals(decision, e.decision);
    }

    @Override
    public int hashCode() {
        return Objects.hash(frame, track, kind, decision);
    }

    @Override
    public String toString() {
        String k = kind == APPEARED ? "APPEARED" : kind == DECIDED ? "DECIDED" : kind == LOST ? "LOST" : "kind=" + kind;
        return "TrackEvent[frame " + frame + " track " + track + " " + k + (decision == null ? "" : " " + decision) + "]";
    }
}
