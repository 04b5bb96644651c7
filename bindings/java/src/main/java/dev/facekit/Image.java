package dev.facekit;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A frame and its layout ({@code fk_image}): pixels, width, height, stride (bytes between rows; luma rows for
 * YUV), pixel format and rotation (clockwise degrees, 0/90/180/270, that make the frame upright — Android's
 * {@code rotationDegrees}). Results are always in upright-image coordinates. The pixels are not copied here;
 * facekit reads them only during a call and never keeps them.
 */
public final class Image {
    // fk_format values.
    public static final int RGB8 = 1, BGR8 = 2, RGBA8 = 3, BGRA8 = 4, GRAY8 = 5, NV21 = 6, NV12 = 7, I420 = 8;
    /** Three separately addressed 4:2:0 planes: see {@link #yuv420}. */
    public static final int YUV420 = 9;

    // Read by the JNI shim by name: keep the names and types in sync with facekit_jni.c.
    final Object pixels; // byte[], int[] or a direct ByteBuffer (the Y plane of YUV420)
    final int width, height, stride, format, rotation;
    final ByteBuffer u, v; // YUV420 only: direct chroma planes
    final int uvStride, uvPixelStride;

    private Image(Object pixels, int width, int height, int stride, int format, int rotation) {
        this(pixels, width, height, stride, format, rotation, null, null, 0, 0);
    }

    private Image(Object pixels, int width, int height, int stride, int format, int rotation, ByteBuffer u, ByteBuffer v,
            int uvStride, int uvPixelStride) {
        if (pixels == null) throw new NullPointerException("pixels");
        this.pixels = pixels;
        this.width = width;
        this.height = height;
        this.stride = stride;
        this.format = format;
        this.rotation = rotation;
        this.u = u;
        this.v = v;
        this.uvStride = uvStride;
        this.uvPixelStride = uvPixelStride;
    }

    /** Any byte layout of {@code fk_format}; the library checks that sizes, stride and length fit together. */
    public static Image of(byte[] data, int width, int height, int stride, int format, int rotation) {
        return new Image(data, width, height, stride, format, rotation);
    }

    /**
     * A direct {@link ByteBuffer} (e.g. a camera plane), read from address 0 to its capacity: position and
     * limit are ignored. Heap buffers: pass {@code buffer.array()} to {@link #of(byte[], int, int, int, int, int)}.
     */
    public static Image of(ByteBuffer direct, int width, int height, int stride, int format, int rotation) {
        if (!direct.isDirect()) throw FacekitException.invalid("ByteBuffer must be direct (or pass its array)");
        return new Image(direct, width, height, stride, format, rotation);
    }

    /**
     * A camera frame as three planes, read in place — no copy in Java or C. The planes are direct
     * {@link ByteBuffer}s, each read from its address (position and limit ignored) to its capacity: {@code y}
     * with rows {@code yRowStride} bytes apart; {@code u} and {@code v} with ⌈height/2⌉ rows {@code uvRowStride}
     * bytes apart and samples {@code uvPixelStride} bytes apart (1: planar; 2: U and V interleave, as most
     * phones deliver them). Exactly what Android's {@code ImageFormat.YUV_420_888} gives:
     *
     * <pre>{@code
     * ImageProxy.PlaneProxy[] p = imageProxy.getPlanes();   // or android.media.Image.getPlanes()
     * Image frame = Image.yuv420(imageProxy.getWidth(), imageProxy.getHeight(),
     *         p[0].getBuffer(), p[0].getRowStride(), p[1].getBuffer(), p[2].getBuffer(),
     *         p[1].getRowStride(), p[1].getPixelStride(), imageProxy.getImageInfo().getRotationDegrees());
     * }</pre>
     *
     * The buffers must stay valid during the calls that use the image (close the ImageProxy afterwards).
     */
    public static Image yuv420(int width, int height, ByteBuffer y, int yRowStride, ByteBuffer u, ByteBuffer v,
            int uvRowStride, int uvPixelStride, int rotation) {
        if (y == null || u == null || v == null) throw new NullPointerException("planes");
        if (!y.isDirect() || !u.isDirect() || !v.isDirect()) {
            throw FacekitException.invalid("YUV420 planes must be direct ByteBuffers (camera planes are)");
        }
        return new Image(y, width, height, yRowStride, YUV420, rotation, u, v, uvRowStride, uvPixelStride);
    }

    /** Android camera NV21: Y plane ({@code height} rows of {@code stride} bytes), then interleaved V/U rows. */
    public static Image nv21(byte[] data, int width, int height, int stride, int rotation) {
        return new Image(data, width, height, stride, NV21, rotation);
    }

    /** Tightly packed RGB8 (3 bytes per pixel, R first). */
    public static Image rgb(byte[] data, int width, int height) {
        return new Image(data, width, height, width * 3, RGB8, 0);
    }

    /** Android {@code Bitmap.getPixels(pixels, 0, width, 0, 0, width, height)}: one ARGB int per pixel. */
    public static Image argb(int[] pixels, int width, int height, int rotation) {
        return argb(pixels, width, height, width, rotation);
    }

    /**
     * ARGB ints ({@code 0xAARRGGBB}) with {@code rowStride} ints per row (getPixels' {@code stride}). In memory a
     * little-endian int is the bytes B, G, R, A — exactly {@link #BGRA8}, so no conversion is needed.
     */
    public static Image argb(int[] pixels, int width, int height, int rowStride, int rotation) {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            // Big-endian ints would be A, R, G, B bytes, a layout facekit has no format for.
            throw new UnsupportedOperationException("ARGB int[] input needs a little-endian CPU");
        }
        if (rowStride < 0 || rowStride > Integer.MAX_VALUE / 4) throw FacekitException.invalid("bad row stride");
        return new Image(pixels, width, height, rowStride * 4, BGRA8, rotation);
    }

    /** Decodes a JPEG or PNG file with the library ({@code fk_image_load}) into an RGB8 image. */
    public static Image load(String path) {
        int[] size = new int[2];
        byte[] rgb = NativeLib.imageLoad(Strings.utf8(path, "path"), size);
        return rgb(rgb, size[0], size[1]);
    }

    public int width() {
        return width;
    }

    public int height() {
        return height;
    }

    public int stride() {
        return stride;
    }

    public int format() {
        return format;
    }

    public int rotation() {
        return rotation;
    }

    /** Row stride of the chroma planes ({@link #YUV420} only, else 0). */
    public int uvStride() {
        return uvStride;
    }

    /** Distance between chroma samples ({@link #YUV420} only, else 0). */
    public int uvPixelStride() {
        return uvPixelStride;
    }

    /** The pixel array when it is a {@code byte[]} (e.g. an image from {@link #load}), else null. */
    public byte[] bytes() {
        return pixels instanceof byte[] ? (byte[]) pixels : null;
    }

    @Override
    public String toString() {
        String uv = format == YUV420 ? " uvStride=" + uvStride + " uvPixelStride=" + uvPixelStride : "";
        return "Image[" + width + "x" + height + " format=" + format + " stride=" + stride + uv + " rotation=" + rotation + "]";
    }

    /** UTF-8 for strings that cross into C (JNI's own strings are "modified UTF-8"). */
    static final class Strings {
        private Strings() {}

        static byte[] utf8(String s, String what) {
            if (s == null) throw new NullPointerException(what);
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            for (byte x : b) {
                // C strings end at the first NUL: refuse rather than silently truncate.
                if (x == 0) throw FacekitException.invalid(what + " contains a NUL character");
            }
            return b;
        }
    }
}
