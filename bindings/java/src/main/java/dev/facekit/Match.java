package dev.facekit;

/**
 * A comparison: cosine {@code similarity} in [-1, 1] (not a probability), the calibrated {@code threshold}
 * of {@code operatingPoint} (false-accept rate 10^-value) and the decision {@code similarity >= threshold}.
 */
public final class Match {
    public final float similarity;
    public final float threshold;
    public final boolean isMatch;
    public final int operatingPoint;

    Match(float similarity, float threshold, boolean isMatch, int operatingPoint) {
        this.similarity = similarity;
        this.threshold = threshold;
        this.isMatch = isMatch;
        this.operatingPoint = operatingPoint;
    }

    /** From the shim's {similarity, threshold, is_match, operating_point}. */
    static Match fromNative(float[] m) {
        return new Match(m[0], m[1], m[2] != 0f, (int) m[3]);
    }

    @Override
    public String toString() {
        return String.format("Match[similarity=%.4f threshold=%.4f match=%s far=1e-%d]", similarity, threshold,
                isMatch, operatingPoint);
    }
}
