package dev.facekit;

import java.util.Arrays;

/**
 * Liveness of one face ({@code fk_liveness_report}): the probability of a live face (not a print, a photo or
 * a video on a screen), each model's score, and the decision at the calibrated threshold of an operating
 * point. One frame is one piece of evidence: on a live camera, average over several frames of a track.
 */
public final class Liveness {
    // fk_liveness_status values.
    /** Scored: {@link #score} and {@link #isLive} hold. */
    public static final int ASSESSED = 0;
    /** A model's crop would hold fewer pixels than its input: not scored. Ask the user to come closer. */
    public static final int FACE_TOO_SMALL = 1;
    /** The face is cut off by the frame edge: not scored. Ask the user to centre the face. */
    public static final int FACE_AT_BORDER = 2;
    // fk_liveness_point values (APCER in per mille).
    public static final int APCER_1E2 = 10, APCER_5E2 = 50;

    /** One of ASSESSED, FACE_TOO_SMALL, FACE_AT_BORDER. */
    public final int status;
    /** Probability of a live face in [0, 1]; NaN unless assessed. */
    public final float score;
    public final boolean isLive;
    /** The calibrated threshold of {@link #operatingPoint}. */
    public final float threshold;
    /** APCER_5E2 (default) or APCER_1E2. */
    public final int operatingPoint;
    private final float[] modelScores;

    private Liveness(int status, float score, boolean isLive, float threshold, int operatingPoint, float[] modelScores) {
        this.status = status;
        this.score = score;
        this.isLive = isLive;
        this.threshold = threshold;
        this.operatingPoint = operatingPoint;
        this.modelScores = modelScores;
    }

    /** Each model's probability of a live face, in the manifest's order (NaN unless assessed). */
    public float[] modelScores() {
        return modelScores.clone();
    }

    /** From the shim's {status, score, is_live, threshold, operating_point, model_count, then the model scores}. */
    static Liveness fromNative(float[] a) {
        int count = a.length >= 6 ? (int) a[5] : -1;
        if (count < 0 || a.length < 6 + count) {
            throw new FacekitException(FacekitException.FK_ERR_INTERNAL, "malformed liveness report from the shim");
        }
        return new Liveness((int) a[0], a[1], a[2] != 0f, a[3], (int) a[4], Arrays.copyOfRange(a, 6, 6 + count));
    }

    @Override
    public String toString() {
        String s = status == ASSESSED ? "" : status == FACE_TOO_SMALL ? " FACE_TOO_SMALL" : status == FACE_AT_BORDER ? " FACE_AT_BORDER" : " status=" + status;
        return String.format("Liveness[score=%.4f live=%s threshold=%.4f%s models=%s]", score, isLive, threshold, s,
                Arrays.toString(modelScores));
    }
}
