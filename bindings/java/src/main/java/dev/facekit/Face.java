package dev.facekit;

import java.util.Arrays;

/**
 * One detected face in pixels of the upright image: box ({@code x, y} = top-left), detector score in [0, 1]
 * and 5 landmarks (image-left eye, image-right eye, nose tip, image-left and image-right mouth corners).
 */
public final class Face {
    public final float x, y, width, height, score;
    private final float[] landmarks; // x0, y0, x1, y1, ... (10 values)

    public Face(float x, float y, float width, float height, float score, float[] landmarks) {
        if (landmarks == null || landmarks.length != 10) {
            throw FacekitException.invalid("landmarks must hold 5 (x, y) pairs = 10 floats");
        }
        this.x = x;
        this.y = y;
        this.width = width;
        this.height = height;
        this.score = score;
        this.landmarks = landmarks.clone();
    }

    /** Landmark {@code i} (0..4) as {x, y}. */
    public float[] landmark(int i) {
        return new float[] {landmarks[2 * i], landmarks[2 * i + 1]};
    }

    /** All landmarks as x0, y0, ..., x4, y4 (a copy). */
    public float[] landmarks() {
        return landmarks.clone();
    }

    public float area() {
        return Math.max(width, 0f) * Math.max(height, 0f);
    }

    /** Intersection over union of the two boxes. */
    public float iou(Face o) {
        float iw = Math.min(x + width, o.x + o.width) - Math.max(x, o.x);
        float ih = Math.min(y + height, o.y + o.height) - Math.max(y, o.y);
        float inter = Math.max(iw, 0f) * Math.max(ih, 0f);
        float union = area() + o.area() - inter;
        return union > 0 ? inter / union : 0f;
    }

    /** The layout the JNI shim reads: x, y, width, height, score, then the 10 landmark values. */
    float[] toNative() {
        float[] f = new float[15];
        f[0] = x;
        f[1] = y;
        f[2] = width;
        f[3] = height;
        f[4] = score;
        System.arraycopy(landmarks, 0, f, 5, 10);
        return f;
    }

    static Face fromNative(float[] a, int offset) {
        return new Face(a[offset], a[offset + 1], a[offset + 2], a[offset + 3], a[offset + 4],
                Arrays.copyOfRange(a, offset + 5, offset + 15));
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Face)) return false;
        Face f = (Face) o;
        return Float.compare(x, f.x) == 0 && Float.compare(y, f.y) == 0 && Float.compare(width, f.width) == 0
                && Float.compare(height, f.height) == 0 && Float.compare(score, f.score) == 0
                && Arrays.equals(landmarks, f.landmarks);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(toNative());
    }

    @Override
    public String toString() {
        return String.format("Face[x=%.1f y=%.1f w=%.1f h=%.1f score=%.3f]", x, y, width, height, score);
    }
}
