package dev.facekit;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Capture quality of one face ({@code fk_quality_report}): overall score 0–100, whether it is acceptable under
 * the engine's policy, the reason flags, and each measured component. Quality is not liveness.
 */
public final class Quality {
    // fk_quality_reason bits.
    public static final int TOO_DARK = 1, TOO_BRIGHT = 2, BLURRY = 4, LOW_CONTRAST = 8, POSE = 16, TOO_SMALL = 32,
            LOW_CONFIDENCE = 64, LOW_LEARNED_QUALITY = 128, LOW_OVERALL = 256, OCCLUDED = 512,
            COMPRESSED = 1024;
    private static final String[] REASON_NAMES = {"TOO_DARK", "TOO_BRIGHT", "BLURRY", "LOW_CONTRAST", "POSE",
            "TOO_SMALL", "LOW_CONFIDENCE", "LOW_LEARNED_QUALITY", "LOW_OVERALL", "OCCLUDED",
            "COMPRESSED"};
    /** Component names in the order of the C struct. */
    static final String[] COMPONENTS = {"sharpness", "brightness", "exposure", "contrast", "yaw", "pitch", "roll",
            "face_size", "confidence", "learned", "occlusion", "compression"};

    /** A measured value and its 0–100 score; {@code assessed == false}: not measured (both NaN). */
    public static final class Component {
        public final float raw, score;
        public final boolean assessed;

        Component(float raw, float score, boolean assessed) {
            this.raw = raw;
            this.score = score;
            this.assessed = assessed;
        }

        @Override
        public String toString() {
            return assessed ? String.format("%.3f (score %.1f)", raw, score) : "not assessed";
        }
    }

    public final float overall;
    public final boolean acceptable;
    /** Bitmask of the reason constants above. */
    public final int reasons;
    private final Map<String, Component> components;

    private Quality(float overall, boolean acceptable, int reasons, Map<String, Component> components) {
        this.overall = overall;
        this.acceptable = acceptable;
        this.reasons = reasons;
        this.components = Collections.unmodifiableMap(components);
    }

    /** Names of the reason flags that are set, e.g. ["BLURRY"]. */
    public List<String> reasonNames() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < REASON_NAMES.length; i++) {
            if ((reasons & (1 << i)) != 0) out.add(REASON_NAMES[i]);
        }
        return out;
    }

    /**
     * Components by name: sharpness, brightness, exposure, contrast, yaw, pitch, roll, face_size, confidence,
     * learned, occlusion (number of covered eye/mouth regions, 0–3), compression (JPEG blockiness, ≈1 clean).
     */
    public Map<String, Component> components() {
        return components;
    }

    /** From the shim's {overall, acceptable, reasons, then raw, score, assessed for each component}. */
    static Quality fromNative(float[] a) {
        if (a.length != 3 + 3 * COMPONENTS.length) {
            // The shim and this class disagree on the struct (it grew): fail loudly rather than mislabel.
            throw new FacekitException(FacekitException.FK_ERR_INTERNAL,
                    "quality report has " + (a.length - 3) / 3 + " components, expected " + COMPONENTS.length);
        }
        Map<String, Component> c = new LinkedHashMap<>();
        for (int i = 0; i < COMPONENTS.length; i++) {
            int o = 3 + 3 * i;
            c.put(COMPONENTS[i], new Component(a[o], a[o + 1], a[o + 2] != 0f));
        }
        return new Quality(a[0], a[1] != 0f, (int) a[2], c);
    }

    @Override
    public String toString() {
        return String.format("Quality[overall=%.1f acceptable=%s reasons=%s]", overall, acceptable, reasonNames());
    }
}
