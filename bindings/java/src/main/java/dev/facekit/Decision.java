package dev.facekit;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A track's decision ({@code fk_decision}), taken once and final while the track lives. {@code similarity}
 * (cosine of the track's aggregated embedding to the reference) and {@code threshold} (of
 * {@code operatingPoint}) are NaN when nothing was compared; {@code liveness} is the captures' mean liveness
 * score (NaN when not assessed).
 */
public final class Decision {
    // fk_verdict values.
    /** Matched: the gallery identity in {@link #identity}, or the template. Open the door. */
    public static final int ACCEPTED = 1;
    /** Compared and below the threshold: nobody enrolled / not the template's person. */
    public static final int NO_MATCH = 2;
    /** Not a live face (a photo, a screen): show "show your real face". */
    public static final int NOT_LIVE = 3;
    /** No capture good enough within the decision window: "look at the camera". */
    public static final int POOR_QUALITY = 4;

    /** One of ACCEPTED, NO_MATCH, NOT_LIVE, POOR_QUALITY. */
    public final int verdict;
    /** The gallery identity (accepted) or the closest one (no match); null with a template or when nothing was compared. */
    public final String identity;
    public final float similarity;
    public final float threshold;
    /** An {@link Engine} operating point (FAR_1E3 by default). */
    public final int operatingPoint;
    public final float liveness;
    /** Frames from the track's first appearance to the decision. */
    public final long afterFrames;

    private Decision(int verdict, String identity, float similarity, float threshold, int operatingPoint, float liveness,
            long afterFrames) {
        this.verdict = verdict;
        this.identity = identity;
        this.similarity = similarity;
        this.threshold = threshold;
        this.operatingPoint = operatingPoint;
        this.liveness = liveness;
        this.afterFrames = afterFrames;
    }

    public boolean accepted() {
        return verdict == ACCEPTED;
    }

    /** From the shim's {verdict, operating_point, after_frames} ints and {similarity, threshold, liveness} floats; null when undecided. */
    static Decision fromNative(int[] ints, int io, float[] floats, int fo, byte[] identity) {
        if (ints[io] == 0) return null; // FK_VERDICT_NONE
        return new Decision(ints[io], identity == null ? null : new String(identity, StandardCharsets.UTF_8), floats[fo],
                floats[fo + 1], ints[io + 1], floats[fo + 2], Integer.toUnsignedLong(ints[io + 2]));
    }

    /** Field by field; NaN equals NaN (an uncompared similarity stays the same decision). */
    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Decision)) return false;
        Decision d = (Decision) o;
        return verdict == d.verdict && Objects.equals(identity, d.identity) && Float.compare(similarity, d.similarity) == 0
                && Float.compare(threshold, d.threshold) == 0 && operatingPoint == d.operatingPoint
                && Float.compare(liveness, d.liveness) == 0 && afterFrames == d.afterFrames;
    }

    @Override
    public int hashCode() {
        return Objects.hash(verdict, identity, similarity, threshold, operatingPoint, liveness, afterFrames);
    }

    public static String verdictName(int verdict) {
        switch (verdict) {
            case ACCEPTED: return "ACCEPTED";
            case NO_MATCH: return "NO_MATCH";
            case NOT_LIVE: return "NOT_LIVE";
            case POOR_QUALITY: return "POOR_QUALITY";
            default: return "VERDICT_" + verdict;
        }
    }

    @Override
    public String toString() {
        return String.format("Decision[%s%s similarity=%.4f threshold=%.4f liveness=%.3f after=%d]", verdictName(verdict),
                identity == null ? "" : " " + identity, similarity, threshold, liveness, afterFrames);
    }
}
