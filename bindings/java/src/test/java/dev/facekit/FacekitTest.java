package dev.facekit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * Tests of the Java bindings on real models and LFW photos: a plain main (no JUnit), one line per test, a final
 * line "N passed, M failed", exit status 1 on any failure.
 *
 * <p>Properties: facekit.shared (default $FACEKIT_SHARED), facekit.engineCycles (default 30),
 * facekit.galleryCycles (default 1000), facekit.test.support (path of libfacekit_test_support.so; default:
 * System.loadLibrary), and those of {@link PackagingTest}.
 */
public final class FacekitTest {
    private static int passed, failed;

    interface Body {
        void run() throws Exception;
    }

    static void test(String name, Body body) {
        long t0 = System.nanoTime();
        try {
            body.run();
            passed++;
            System.out.printf("PASS %-48s %7.0f ms%n", name, (System.nanoTime() - t0) / 1e6);
        } catch (Throwable t) {
            failed++;
            System.out.printf("FAIL %-48s %s%n", name, t);
            t.printStackTrace(System.out);
        }
    }

    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
    }

    /** Runs {@code body}, which must throw a FacekitException with {@code status} and a message. */
    static FacekitException expect(int status, Body body) throws Exception {
        try {
            body.run();
        } catch (FacekitException e) {
            check(e.status() == status, "expected " + FacekitException.statusName(status) + ", got " + e);
            check(e.statusName().equals(FacekitException.statusName(status)), "status name " + e.statusName());
            check(!e.detail().isEmpty(), "empty fk_last_error message for " + e.statusName());
            return e;
        }
        throw new AssertionError("expected " + FacekitException.statusName(status) + ", nothing thrown");
    }

    // ---------------------------------------------------------------------------------------------------
    // Fixtures

    private static Path shared;
    private static String models;
    private static Engine engine;
    private static Image bush1, bush2, powell;

    private static String lfw(String name, int n) {
        return shared.resolve("data/lfw/images/" + name + "/" + String.format("%s_%04d.jpg", name, n)).toString();
    }

    private static double rssMb() throws IOException {
        for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
        }
        throw new IOException("no VmRSS");
    }

    /** Test-only native (src/test/c/test_support.c): glibc malloc_trim(0); false where unavailable. */
    private static native boolean mallocTrim();

    /** Test-only native: bytes in use in the C heap (glibc mallinfo2), -1 where unknown. */
    private static native long mallocInUse();

    private static boolean trimAvailable;

    static {
        try {
            // run_tests.sh passes its path (the tests run without java.library.path: the natives come from the jar).
            String support = System.getProperty("facekit.test.support");
            if (support != null) System.load(support);
            else System.loadLibrary("facekit_test_support");
            trimAvailable = true;
        } catch (UnsatisfiedLinkError e) {
            System.out.println("     (no test support library: VmRSS is read without malloc_trim)");
        }
    }

    private static final long QUIESCE_MS = Long.getLong("facekit.quiesceMs", 5500);

    /**
     * Before reading VmRSS for a lifetime loop: {@link #settle()} after waiting for HotSpot's arena-chunk pool
     * cleaner (every 5 s), which otherwise keeps several MB of the JIT compiler's scratch memory malloc'ed
     * after the loop got compiled — a one-off step that looks like a leak (seen with NMT as "Arena Chunk").
     */
    private static void quiesce() throws InterruptedException {
        System.gc();
        Thread.sleep(QUIESCE_MS);
        settle();
    }

    /** Collects garbage, lets the Cleaner run, and returns cached free heap pages to the OS (glibc). */
    static void settle() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(20); // let the Cleaner thread run
        }
        if (trimAvailable) mallocTrim();
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        return Math.sqrt(s);
    }

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    /** RGB8 -> NV21 (BT.601 full range, as Android cameras deliver), rows of {@code stride} bytes. */
    static byte[] rgbToNv21(byte[] rgb, int w, int h, int stride) {
        int cw = (w + 1) / 2, ch = (h + 1) / 2;
        byte[] out = new byte[stride * h + stride * ch];
        double[] u = new double[w * h], v = new double[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = 3 * (y * w + x);
                double r = rgb[i] & 0xff, g = rgb[i + 1] & 0xff, b = rgb[i + 2] & 0xff;
                out[y * stride + x] = clamp(0.299 * r + 0.587 * g + 0.114 * b);
                u[y * w + x] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
                v[y * w + x] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
            }
        }
        for (int cy = 0; cy < ch; cy++) {
            for (int cx = 0; cx < cw; cx++) {
                double su = 0, sv = 0;
                int n = 0;
                for (int dy = 0; dy < 2; dy++) {
                    for (int dx = 0; dx < 2; dx++) {
                        int x = Math.min(2 * cx + dx, w - 1), y = Math.min(2 * cy + dy, h - 1);
                        su += u[y * w + x];
                        sv += v[y * w + x];
                        n++;
                    }
                }
                int o = stride * h + cy * stride + 2 * cx;
                out[o] = clamp(sv / n); // NV21: V first
                out[o + 1] = clamp(su / n);
            }
        }
        return out;
    }

    private static byte clamp(double x) {
        return (byte) Math.max(0, Math.min(255, Math.round(x)));
    }

    /** Android Bitmap.getPixels layout: 0xAARRGGBB per pixel. */
    static int[] rgbToArgb(byte[] rgb, int w, int h) {
        int[] out = new int[w * h];
        for (int i = 0; i < w * h; i++) {
            out[i] = 0xff000000 | (rgb[3 * i] & 0xff) << 16 | (rgb[3 * i + 1] & 0xff) << 8 | (rgb[3 * i + 2] & 0xff);
        }
        return out;
    }

    /** The upright image turned 90° counter-clockwise: a sensor buffer that needs rotation=90 to be upright. */
    static byte[] rotateCcw(byte[] rgb, int w, int h) {
        byte[] out = new byte[rgb.length]; // h wide, w tall
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int ny = w - 1 - x, nx = y;
                System.arraycopy(rgb, 3 * (y * w + x), out, 3 * (ny * h + nx), 3);
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------------

    public static void main(String[] args) throws Exception {
        String sh = System.getProperty("facekit.shared", System.getenv("FACEKIT_SHARED"));
        if (sh == null) throw new IllegalStateException("set -Dfacekit.shared or FACEKIT_SHARED");
        shared = Paths.get(sh);
        models = shared.resolve("models").toString();
        int engineCycles = Integer.getInteger("facekit.engineCycles", 30);
        int galleryCycles = Integer.getInteger("facekit.galleryCycles", 1000);
        long t0 = System.nanoTime();

        test("load engine and images", () -> {
            // LFW photos are press photos (a photo of a photo): decisions on them run with the policy's liveness
            // requirement off. The liveness test below uses Replay-Attack frames and the default policy.
            engine = new Engine(models, Map.of("require_liveness", "0"));
            bush1 = Image.load(lfw("George_W_Bush", 1));
            bush2 = Image.load(lfw("George_W_Bush", 2));
            powell = Image.load(lfw("Colin_Powell", 1));
            check(bush1.width() == 250 && bush1.height() == 250 && bush1.format() == Image.RGB8, "" + bush1);
            check(bush1.bytes().length == 250 * 250 * 3, "rgb length");
        });
        if (engine == null) {
            System.out.println(passed + " passed, " + (failed + 1) + " failed");
            System.exit(1);
        }

        test("version", () -> {
            String cargo = PackagingTest.cargoVersion(); // -Dfacekit.cargoToml; the checks themselves are there
            check(Engine.version().equals(cargo == null ? "0.1.0" : cargo), Engine.version());
            check(cargo != null || NativeLib.version() == 100, "fk_version");
        });

        PackagingTest.run();

        test("verify: two Bush photos match", () -> {
            Match m = engine.verify(bush1, bush2);
            check(m.isMatch && m.similarity > m.threshold, "" + m);
            check(m.operatingPoint == Engine.FAR_1E3 && m.threshold == engine.threshold(), "" + m);
        });

        test("verify: Bush vs Powell do not match", () -> {
            Match m = engine.verify(bush1, powell);
            check(!m.isMatch && m.similarity < m.threshold, "" + m);
        });

        test("detect: boxes and landmarks are sane", () -> {
            List<Face> faces = engine.detect(bush1);
            check(faces.size() >= 1, "no face");
            Face f = faces.get(0);
            check(f.x >= 0 && f.y >= 0 && f.x + f.width <= 255 && f.y + f.height <= 255, "" + f);
            check(f.width > 50 && f.width < 200 && f.height > 50 && f.height < 200, "" + f);
            check(Math.abs(f.x + f.width / 2 - 125) < 40 && Math.abs(f.y + f.height / 2 - 125) < 40, "centre " + f);
            check(f.score >= 0.5f && f.score <= 1f, "score " + f.score);
            check(f.landmark(0)[0] < f.landmark(1)[0] && f.landmark(3)[0] < f.landmark(4)[0], "left/right order");
            check(Math.max(f.landmark(0)[1], f.landmark(1)[1]) < f.landmark(2)[1], "eyes above nose");
            check(f.landmark(2)[1] < Math.min(f.landmark(3)[1], f.landmark(4)[1]), "nose above mouth");
        });

        test("embed: unit length, dim 128, compare == verify", () -> {
            check(engine.embeddingDim() == 128, "dim " + engine.embeddingDim());
            float[] a = engine.embed(bush1, engine.detect(bush1).get(0));
            float[] b = engine.embed(bush2);
            check(a.length == 128 && Math.abs(norm(a) - 1) < 1e-4, "norm " + norm(a));
            Match m = engine.compare(a, b);
            check(Math.abs(m.similarity - dot(a, b)) < 1e-4, "cosine");
            check(Math.abs(m.similarity - engine.verify(bush1, bush2).similarity) < 1e-4, "compare vs verify");
        });

        test("align: 112x112 RGB crop", () -> {
            int[] cs = engine.cropSize();
            byte[] crop = engine.align(bush1, engine.detect(bush1).get(0));
            check(cs[0] == 112 && cs[1] == 112 && crop.length == 112 * 112 * 3, Arrays.toString(cs));
        });

        test("quality: values in range", () -> {
            Face f = engine.detect(bush1).get(0);
            Quality q = engine.quality(bush1, f);
            check(q.overall >= 0 && q.overall <= 100, "overall " + q.overall);
            check(q.acceptable == (q.reasons == 0) && q.acceptable == q.reasonNames().isEmpty(), "" + q);
            check(q.components().size() == Quality.COMPONENTS.length, "components");
            for (Map.Entry<String, Quality.Component> c : q.components().entrySet()) {
                Quality.Component v = c.getValue();
                check(v.assessed ? v.score >= 0 && v.score <= 100 : Float.isNaN(v.score), c.getKey() + " " + v);
            }
            check(Math.abs(q.components().get("confidence").raw - f.score) < 1e-5, "confidence = detector score");
            Quality.Component occ = q.components().get("occlusion"); // covered eye/mouth regions, 0..3
            check(!occ.assessed || (occ.raw >= 0 && occ.raw <= 3), "occlusion " + occ);
        });

        test("threshold: stricter FAR, higher cosine", () -> {
            float t2 = engine.threshold(Engine.FAR_1E2), t3 = engine.threshold(Engine.FAR_1E3);
            float t4 = engine.threshold(Engine.FAR_1E4);
            float t5 = engine.threshold(Engine.FAR_1E5), t6 = engine.threshold(Engine.FAR_1E6);
            check(-1 < t2 && t2 < t3 && t3 < t4 && t4 < t5 && t5 < t6 && t6 < 1, t2 + " " + t3 + " " + t4 + " " + t5 + " " + t6);
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> engine.threshold(9));
        });

        test("per-face thresholds: small faces higher, a look-alike gallery higher", () -> {
            int op = Engine.FAR_1E3;
            float t3 = engine.threshold(op);
            check(engine.thresholdForFace(op, 80f) == t3, "press-photo resolution: the press threshold");
            float t12 = engine.thresholdForFace(op, 12f), t20 = engine.thresholdForFace(op, 20f);
            check(t12 > t20 && t20 > t3, t12 + " " + t20 + " " + t3);
            check(engine.galleryThresholdForFace(op, 10, 12f) > engine.galleryThresholdForFace(op, 10, 80f), "gallery, small face");
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> engine.thresholdForFace(op, Float.NaN));
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> engine.thresholdForFace(9, 30f));
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> engine.galleryThresholdForFace(op, -1, 30f));
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> engine.galleryThresholdForFace(op, 10, -1f));
            try (Gallery g = new Gallery(engine)) {
                g.enroll("bush", engine.embed(bush1));
                g.enroll("powell", engine.embed(powell));
                // 2 people: no camera evidence, the size rule alone.
                check(g.threshold(engine, op, 80f) == engine.galleryThresholdForFace(op, 2, 80f), "two people");
                // Three look-alikes (cosine ~0.8 with each other): strangers on this "camera" score high.
                Random r = new Random(7);
                float[] base = new float[128];
                for (int i = 0; i < 128; i++) base[i] = (float) r.nextGaussian();
                for (int k = 0; k < 3; k++) {
                    float[] v = new float[128];
                    for (int i = 0; i < 128; i++) v[i] = base[i] + 0.5f * (float) r.nextGaussian();
                    g.enroll("lookalike" + k, v);
                }
                float raised = g.threshold(engine, op, 80f), plain = engine.galleryThresholdForFace(op, 5, 80f);
                check(raised > plain + 0.1f, raised + " vs " + plain);
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.threshold(engine, 9, 30f));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.threshold(engine, op, Float.POSITIVE_INFINITY));
            }
        });

        test("accurate mode: two embedders fused, 256-d", () -> {
            try (Engine acc = new Engine(models, Map.of("mode", "accurate", "require_liveness", "0"))) {
                check(acc.embed(bush1).length == 256, "dimension");
                check(acc.verify(bush1, bush2).isMatch && !acc.verify(bush1, powell).isMatch, "decisions");
            }
        });

        test("bad input raises FacekitException with the right status", () -> {
            byte[] nv21 = rgbToNv21(bush1.bytes(), 250, 250, 250);
            byte[] shortBuf = Arrays.copyOf(nv21, nv21.length - 100);
            FacekitException e = expect(FacekitException.FK_ERR_INVALID_IMAGE,
                    () -> engine.detect(Image.nv21(shortBuf, 250, 250, 250, 0)));
            check(e.getMessage().startsWith("FK_ERR_INVALID_IMAGE: "), e.getMessage());
            expect(FacekitException.FK_ERR_INVALID_IMAGE, () -> engine.detect(Image.nv21(nv21, 250, 250, 200, 0)));
            expect(FacekitException.FK_ERR_INVALID_IMAGE, () -> engine.detect(Image.nv21(nv21, -5, 250, 250, 0)));
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> engine.detect(Image.nv21(nv21, 250, 250, 250, 45)));
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT,
                    () -> engine.detect(Image.of(bush1.bytes(), 250, 250, 750, 42, 0)));
            float[] emb = engine.embed(bush1);
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> engine.compare(emb, Arrays.copyOf(emb, 64)));
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT,
                    () -> engine.compare(Arrays.copyOf(emb, 64), Arrays.copyOf(emb, 64)));
            try (Gallery g = new Gallery(engine)) {
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.enroll("x", Arrays.copyOf(emb, 100)));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.enroll("x", new float[0]));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.enroll("", emb));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.enroll("a\0b", emb));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.enroll("x".repeat(256), emb));
                expect(FacekitException.FK_ERR_NOT_FOUND, () -> g.remove("nobody"));
                expect(FacekitException.FK_ERR_NO_FACE,
                        () -> g.enrollImage(engine, "grey", Image.rgb(new byte[64 * 64 * 3], 64, 64)));
                check(g.size() == 0, "nothing enrolled");
            }
            Path dir = Files.createTempDirectory("facekit-java");
            try {
                Path txt = dir.resolve("notes.jpg");
                Files.write(txt, "not a JPEG".getBytes(StandardCharsets.UTF_8));
                expect(FacekitException.FK_ERR_DECODE, () -> Image.load(txt.toString()));
                expect(FacekitException.FK_ERR_IO, () -> Image.load(dir.resolve("missing.jpg").toString()));
                Path junk = dir.resolve("junk.fkg");
                Files.write(junk, new byte[300]);
                expect(FacekitException.FK_ERR_CORRUPT, () -> Gallery.load(engine, junk.toString()));
                expect(FacekitException.FK_ERR_MODEL_LOAD, () -> new Engine(dir.resolve("none").toString()).close());
            } finally {
                deleteTree(dir);
            }
            Image tiny = Image.rgb(new byte[3], 1, 1);
            check(engine.detect(tiny).isEmpty(), "1x1 image: no faces, no error");
            expect(FacekitException.FK_ERR_NO_FACE, () -> engine.verify(tiny, bush1));
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> new Engine(models, Map.of("max_faces", "0")));
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> new Engine(models, Map.of("no_such_option", "1")));
            Face nan = new Face(Float.NaN, 0, 10, 10, 1, new float[10]);
            expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> engine.embed(bush1, nan));
        });

        test("liveness: a live face passes, a print and a phone photo do not", () -> {
            String ra = "data/liveness/replay-attack/";
            Image real = Image.load(shared.resolve(ra + "real/devel/client005_session01_webcam_authenticate_controlled_1.jpg").toString());
            Image real2 = Image.load(shared.resolve(ra + "real/devel/client005_session01_webcam_authenticate_controlled_2.jpg").toString());
            Image print = Image.load(shared.resolve(ra + "spoof/devel/print/fixed_attack_print_client101_session01_highdef_photo_controlled.jpg").toString());
            Image phone = Image.load(shared.resolve(ra + "spoof/devel/mobile_photo/hand_attack_mobile_client005_session01_mobile_photo_controlled.jpg").toString());
            try (Engine live = new Engine(models)) {
                Image[] frames = {real, print, phone};
                for (int i = 0; i < frames.length; i++) {
                    Liveness l = live.liveness(frames[i]);
                    boolean expectLive = i == 0;
                    check(l.status == Liveness.ASSESSED && l.operatingPoint == Liveness.APCER_5E2, "" + l);
                    check(l.isLive == expectLive && l.threshold > 0.5f && l.threshold < 1f, "frame " + i + ": " + l);
                    check(l.modelScores().length == 2, "" + l);
                    for (float m : l.modelScores()) check(expectLive ? m > 0.99f : m < 0.05f, "frame " + i + ": " + l);
                }
                check(live.verify(real, real2).isMatch, "two live captures of client 5");
                FacekitException e = expect(FacekitException.FK_ERR_NOT_LIVE, () -> live.verify(real, phone));
                check(e.detail().contains("show your real face"), e.getMessage());
                try (Gallery g = new Gallery(live)) {
                    expect(FacekitException.FK_ERR_NOT_LIVE, () -> g.enrollImage(live, "client005", phone));
                    check(g.size() == 0, "nothing enrolled from a spoof");
                }
                Face f = live.largestFace(real);
                Face cut = new Face(-f.width * 0.6f, f.y, f.width, f.height, f.score, f.landmarks());
                check(live.liveness(real, cut).status == Liveness.FACE_AT_BORDER, "cut-off face");
            }
            try (Engine off = new Engine(models, Map.of("load_liveness", "0"))) {
                expect(FacekitException.FK_ERR_UNSUPPORTED, () -> off.liveness(real));
            }
            check(FacekitException.statusName(FacekitException.FK_ERR_POOR_QUALITY).equals("FK_ERR_POOR_QUALITY"), "name");
        });

        test("closed handles refuse calls; close is idempotent", () -> {
            Engine e = new Engine(models);
            Gallery g = new Gallery(e);
            e.close();
            e.close();
            try {
                e.detect(bush1);
                throw new AssertionError("detect on a closed engine");
            } catch (IllegalStateException expected) {
                // ok
            }
            check(g.size() == 0, "gallery outlives its engine");
            g.close();
            g.close();
            check(e.isClosed() && g.isClosed(), "closed");
        });

        test("NV21 of a real photo detects the same face as RGB", () -> {
            Face ref = engine.detect(bush1).get(0);
            float[] refEmb = engine.embed(bush1, ref);
            for (int stride : new int[] {250, 256}) { // tight, and padded rows as camera planes have
                Image img = Image.nv21(rgbToNv21(bush1.bytes(), 250, 250, stride), 250, 250, stride, 0);
                List<Face> faces = engine.detect(img);
                check(!faces.isEmpty() && faces.get(0).iou(ref) > 0.8, "stride " + stride + ": " + faces);
                double sim = dot(engine.embed(img, faces.get(0)), refEmb);
                check(sim > 0.9, "NV21 vs RGB embedding " + sim);
            }
            // A sensor buffer that needs a 90° clockwise turn: results come back in upright coordinates.
            byte[] sensor = rotateCcw(bush1.bytes(), 250, 250);
            Image rot = Image.nv21(rgbToNv21(sensor, 250, 250, 250), 250, 250, 250, 90);
            List<Face> faces = engine.detect(rot);
            check(!faces.isEmpty() && faces.get(0).iou(ref) > 0.8, "rotated NV21: " + faces);
        });

        test("int[] ARGB (Bitmap.getPixels) = BGRA8: same face and crop", () -> {
            int[] argb = rgbToArgb(bush1.bytes(), 250, 250);
            Image img = Image.argb(argb, 250, 250, 0);
            check(img.format() == Image.BGRA8 && img.stride() == 1000, "" + img);
            Face ref = engine.detect(bush1).get(0);
            List<Face> faces = engine.detect(img);
            check(!faces.isEmpty() && faces.get(0).iou(ref) > 0.99, "" + faces);
            // Byte-identical aligned crop: proves the channel order, not just that a face is found.
            check(Arrays.equals(engine.align(img, ref), engine.align(bush1, ref)), "ARGB crop differs from RGB");
            check(Arrays.equals(engine.embed(img, ref), engine.embed(bush1, ref)), "ARGB embedding differs");
            // Control: the same ints read as RGBA (wrong order) give a different crop.
            Image wrong = Image.of(toBytes(argb), 250, 250, 1000, Image.RGBA8, 0);
            check(!Arrays.equals(engine.align(wrong, ref), engine.align(bush1, ref)), "control should differ");
            // getPixels with a row stride larger than the width.
            int[] padded = new int[260 * 250];
            for (int y = 0; y < 250; y++) System.arraycopy(argb, y * 250, padded, y * 260, 250);
            check(Arrays.equals(engine.align(Image.argb(padded, 250, 250, 260, 0), ref), engine.align(bush1, ref)),
                    "padded ARGB crop");
        });

        test("direct ByteBuffer input", () -> {
            ByteBuffer buf = ByteBuffer.allocateDirect(bush1.bytes().length);
            buf.put(bush1.bytes());
            Image img = Image.of(buf, 250, 250, 750, Image.RGB8, 0);
            check(engine.detect(img).equals(engine.detect(bush1)), "direct buffer faces");
        });

        test("gallery: enroll, search, save, load, remove", () -> {
            float[] eBush2 = engine.embed(bush2), ePowell = engine.embed(powell);
            float[] negPowell = new float[128];
            for (int i = 0; i < 128; i++) negPowell[i] = -ePowell[i];
            Path dir = Files.createTempDirectory("facekit-java");
            String path = dir.resolve("people.fkg").toString();
            try {
                List<Gallery.Hit> nearest;
                try (Gallery g = new Gallery(engine)) {
                    check(g.search(eBush2, 3).isEmpty(), "empty gallery");
                    g.enrollImage(engine, "George W. Bush", bush1);
                    g.enroll("Colin Powell", ePowell);
                    g.enroll("Zoë 😀", negPowell); // UTF-8 outside the BMP round-trips
                    check(g.size() == 3, "size");
                    List<Gallery.Hit> hits = g.search(eBush2, 3);
                    check(hits.size() == 1 && hits.get(0).id.equals("George W. Bush"), "" + hits);
                    nearest = g.search(eBush2, 3, -1f);
                    check(nearest.size() == 3 && nearest.get(0).id.equals("George W. Bush"), "" + nearest);
                    check(nearest.get(0).similarity >= nearest.get(1).similarity, "sorted");
                    g.save(path);
                }
                try (Gallery g2 = Gallery.load(engine, path)) {
                    check(g2.size() == 3, "loaded size");
                    List<Gallery.Hit> again = g2.search(eBush2, 3, -1f);
                    for (int i = 0; i < 3; i++) {
                        check(again.get(i).id.equals(nearest.get(i).id)
                                && again.get(i).similarity == nearest.get(i).similarity, "round trip " + again);
                    }
                    check(g2.search(negPowell, 1).get(0).id.equals("Zoë 😀"), "unicode id");
                    g2.remove("Colin Powell");
                    check(g2.size() == 2, "removed");
                }
            } finally {
                deleteTree(dir);
            }
        });

        test("gallery templates: export, import into a new gallery, identical search", () -> {
            // 63 four-byte characters + 3 bytes = 255 bytes: the longest identity, outside the BMP throughout.
            String longId = "😀".repeat(63) + "abc";
            check(longId.getBytes(StandardCharsets.UTF_8).length == 255, "long id bytes");
            Image blair1 = Image.load(lfw("Tony_Blair", 2)), blair2 = Image.load(lfw("Tony_Blair", 3)); // _0001: "occluded"
            Image rumsfeld = Image.load(lfw("Donald_Rumsfeld", 1));
            try (Gallery g = new Gallery(engine); Gallery copy = new Gallery(engine)) {
                check(g.templateCount() == 0 && g.templates().isEmpty(), "empty gallery has no templates");
                g.enrollImage(engine, "George W. Bush", bush1);
                g.enrollImage(engine, "George W. Bush", bush2); // a second template of the same identity
                g.enrollImage(engine, "Colin Powell", powell);
                g.enrollImage(engine, "Tony Blair 🇬🇧", blair1);
                g.enrollImage(engine, longId, rumsfeld);
                check(g.size() == 4 && g.templateCount() == 5, g.size() + " identities, " + g.templateCount() + " templates");
                String model = g.modelId();
                check(model.length() == 64 && model.matches("[0-9a-f]+"), "model id " + model);
                check(model.equals(copy.modelId()), "same engine, same model id");
                try (Engine acc = new Engine(models, Map.of("mode", "accurate", "require_liveness", "0"));
                        Gallery ga = new Gallery(acc)) {
                    check(!ga.modelId().equals(model), "accurate mode has another model id");
                    float[] acc256 = acc.embed(bush1);
                    // A 256-d template into a 128-d gallery: refused, whatever its norm.
                    expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> copy.addTemplate("x", acc256));
                }

                List<Gallery.Template> all = g.templates();
                check(all.size() == 5, "templates " + all);
                List<String> ids = new ArrayList<>();
                for (int i = 0; i < all.size(); i++) {
                    Gallery.Template t = all.get(i), one = g.template(i);
                    check(t.id.equals(one.id) && Arrays.equals(t.values(), one.values()), "template(" + i + ") vs templates()");
                    check(t.values().length == 128 && Math.abs(norm(t.values()) - 1) < 1e-5, "unit norm " + t);
                    ids.add(t.id);
                }
                List<String> sorted = new ArrayList<>(ids);
                sorted.sort(null);
                List<String> want = new ArrayList<>(List.of("Colin Powell", "George W. Bush", "George W. Bush", "Tony Blair 🇬🇧", longId));
                want.sort(null);
                check(sorted.equals(want), "identities " + ids);
                // The template is what the gallery scores with: the enrolled photo's embedding.
                float[] powellEmb = engine.embed(powell);
                boolean found = false;
                for (Gallery.Template t : all) found |= t.id.equals("Colin Powell") && dot(t.values(), powellEmb) > 0.9999;
                check(found, "Colin Powell's template is his photo's embedding");
                float[] mutated = all.get(0).values();
                mutated[0] = 42f;
                check(all.get(0).values()[0] != 42f, "values() is a copy");

                for (Gallery.Template t : all) copy.addTemplate(t.id, t.values());
                check(copy.size() == g.size() && copy.templateCount() == g.templateCount(), "copy counts");
                List<Gallery.Template> back = copy.templates();
                for (int i = 0; i < all.size(); i++) {
                    check(back.get(i).id.equals(all.get(i).id) && Arrays.equals(back.get(i).values(), all.get(i).values()),
                            "copy template " + i + ": " + back.get(i) + " vs " + all.get(i));
                }
                // Probes: other photos of enrolled people, a stranger, and off-unit vectors.
                List<float[]> probes = new ArrayList<>();
                probes.add(engine.embed(Image.load(lfw("George_W_Bush", 3))));
                probes.add(engine.embed(Image.load(lfw("Colin_Powell", 2))));
                probes.add(engine.embed(blair2));
                probes.add(engine.embed(Image.load(lfw("Donald_Rumsfeld", 2))));
                probes.add(engine.embed(Image.load(lfw("Aaron_Eckhart", 1))));
                float[] shifted = engine.embed(bush2);
                for (int i = 0; i < shifted.length; i++) shifted[i] += 0.1f;
                probes.add(shifted);
                String[] who = {"George W. Bush", "Colin Powell", "Tony Blair 🇬🇧", longId};
                int matched = 0;
                for (int k = 0; k < probes.size(); k++) {
                    float[] q = probes.get(k);
                    List<Gallery.Hit> a = g.search(q, 10, -1f), b = copy.search(q, 10, -1f);
                    check(a.size() == 4 && b.size() == 4, a + " / " + b);
                    for (int i = 0; i < a.size(); i++) {
                        check(a.get(i).id.equals(b.get(i).id) && a.get(i).similarity == b.get(i).similarity,
                                "hit " + i + ": " + a + " vs " + b);
                    }
                    List<Gallery.Hit> da = g.search(q, 3), db = copy.search(q, 3); // default threshold
                    check(da.size() == db.size(), da + " vs " + db);
                    for (int i = 0; i < da.size(); i++) {
                        check(da.get(i).id.equals(db.get(i).id) && da.get(i).similarity == db.get(i).similarity, da + " vs " + db);
                    }
                    if (k < who.length) check(b.get(0).id.equals(who[k]), "probe " + k + " nearest: " + b);
                    matched += da.isEmpty() ? 0 : 1;
                }
                check(matched > 0, "no probe matched at the default threshold: that path went untested");
            }
        });

        test("gallery templates: bad input raises FacekitException, changes nothing", () -> {
            try (Gallery g = new Gallery(engine)) {
                g.enrollImage(engine, "George W. Bush", bush1);
                g.enrollImage(engine, "Colin Powell", powell);
                List<Gallery.Template> before = g.templates();
                float[] v = before.get(0).values();
                float[] probe = engine.embed(bush2);
                List<Gallery.Hit> hitsBefore = g.search(probe, 5, -1f);

                FacekitException e = expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.template(-1));
                check(e.detail().contains("must be >= 0, got -1"), e.getMessage());
                e = expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.template(2));
                check(e.detail().contains("out of range") && e.detail().contains("2 templates"), e.getMessage());
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.template(Integer.MAX_VALUE));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.template(Integer.MIN_VALUE));

                e = expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("x", Arrays.copyOf(v, 64)));
                check(e.detail().contains("64 values") && e.detail().contains("expects 128"), e.getMessage());
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("x", Arrays.copyOf(v, 129)));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("x", new float[0]));
                float[] nan = v.clone();
                nan[5] = Float.NaN;
                e = expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("x", nan));
                check(e.detail().contains("non-finite"), e.getMessage());
                float[] inf = v.clone();
                inf[0] = Float.POSITIVE_INFINITY;
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("x", inf));
                float[] twice = v.clone();
                for (int i = 0; i < twice.length; i++) twice[i] *= 2;
                e = expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("x", twice));
                check(e.detail().contains("squared norm") && e.detail().contains("enroll"), e.getMessage());
                float[] slightly = v.clone(); // squared norm 1.002: outside the 1e-3 tolerance, not normalised
                for (int i = 0; i < slightly.length; i++) slightly[i] *= 1.001f;
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("x", slightly));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("x", new float[128]));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("", v));
                e = expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("a\0b", v));
                check(e.detail().contains("NUL"), e.getMessage());
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("x".repeat(256), v));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> g.addTemplate("😀".repeat(64), v)); // 256 bytes
                // null: NullPointerException naming the argument, as enroll and the other methods do.
                try {
                    g.addTemplate(null, v);
                    throw new AssertionError("null id accepted");
                } catch (NullPointerException npe) {
                    check("id".equals(npe.getMessage()), "" + npe);
                }
                try {
                    g.addTemplate("x", null);
                    throw new AssertionError("null values accepted");
                } catch (NullPointerException npe) {
                    check("values".equals(npe.getMessage()), "" + npe);
                }

                check(g.size() == 2 && g.templateCount() == 2, g.size() + " / " + g.templateCount());
                List<Gallery.Template> after = g.templates();
                for (int i = 0; i < before.size(); i++) {
                    check(after.get(i).id.equals(before.get(i).id) && Arrays.equals(after.get(i).values(), before.get(i).values()),
                            "template " + i + " changed");
                }
                List<Gallery.Hit> hitsAfter = g.search(probe, 5, -1f);
                for (int i = 0; i < hitsBefore.size(); i++) {
                    check(hitsAfter.get(i).id.equals(hitsBefore.get(i).id)
                            && hitsAfter.get(i).similarity == hitsBefore.get(i).similarity, hitsBefore + " vs " + hitsAfter);
                }

                // Within the tolerance: stored exactly as given, not normalised again (enroll would normalise).
                float[] near = v.clone();
                for (int i = 0; i < near.length; i++) near[i] *= 1.0002f;
                g.addTemplate("near", near);
                check(g.templateCount() == 3 && Arrays.equals(g.template(2).values(), near), "stored as given");
                g.enroll("normalised", near);
                check(!Arrays.equals(g.template(3).values(), near), "enroll normalises");
            }
            Gallery closed = new Gallery(engine);
            closed.close();
            Body[] calls = {closed::templateCount, () -> closed.template(0), closed::templates, closed::modelId,
                    () -> closed.addTemplate("x", new float[128])};
            for (Body c : calls) {
                try {
                    c.run();
                    throw new AssertionError("call on a closed gallery");
                } catch (IllegalStateException expected) {
                    // ok
                }
            }
        });

        TrackerTest.run(shared, models);

        test("8 threads share one engine: identical results", () -> {
            Image[] images = {bush1, bush2, powell};
            List<List<Face>> refFaces = new ArrayList<>();
            List<float[]> refEmb = new ArrayList<>();
            for (Image im : images) {
                refFaces.add(engine.detect(im));
                refEmb.add(engine.embed(im, engine.detect(im).get(0)));
            }
            ExecutorService pool = Executors.newFixedThreadPool(8);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                final int tid = t;
                results.add(pool.submit(() -> {
                    start.await();
                    int ok = 0;
                    for (int i = 0; i < 5; i++) {
                        int k = (tid + i) % images.length;
                        List<Face> faces = engine.detect(images[k]);
                        float[] emb = engine.embed(images[k], faces.get(0));
                        if (faces.equals(refFaces.get(k)) && Arrays.equals(emb, refEmb.get(k))) ok++;
                    }
                    return ok;
                }));
            }
            start.countDown();
            int ok = 0;
            for (Future<Integer> f : results) ok += f.get();
            pool.shutdown();
            check(ok == 40, ok + "/40 calls gave bit-identical results");
        });

        test("Cleaner frees handles that were never closed", () -> {
            settle();
            int before = NativeHandle.LIVE.get();
            dropUnclosed(engine, 20);
            check(NativeHandle.LIVE.get() == before + 20, "20 live galleries");
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (NativeHandle.LIVE.get() > before && System.nanoTime() < deadline) settle();
            check(NativeHandle.LIVE.get() == before, "live handles: " + NativeHandle.LIVE.get() + " vs " + before);
        });

        float[] emb = engine.embed(bush1);
        float[][] others = new float[40][128];
        Random rnd = new Random(7);
        for (float[] o : others) for (int i = 0; i < o.length; i++) o[i] = (float) rnd.nextGaussian();

        test(galleryCycles + " Gallery create/use/close cycles: flat RSS", () -> {
            Path dir = Files.createTempDirectory("facekit-java");
            try {
                String path = dir.resolve("cycle.fkg").toString();
                // Warm-up: long enough for the JIT to compile the loop.
                for (int i = 0; i < 500; i++) galleryCycle(i, emb, others, path);
                quiesce();
                int live = NativeHandle.LIVE.get();
                double before = rssMb();
                long m0 = trimAvailable ? mallocInUse() : -1;
                long c0 = System.nanoTime();
                for (int i = 0; i < galleryCycles; i++) galleryCycle(i, emb, others, path);
                double secs = (System.nanoTime() - c0) / 1e9;
                quiesce();
                double after = rssMb();
                long m1 = trimAvailable ? mallocInUse() : -1;
                if (m0 >= 0) System.out.printf("     [mem] C heap in use (mallinfo2): %+.2f MB%n", (m1 - m0) / 1048576.0);
                System.out.printf("     [mem] Gallery x%d: VmRSS %.1f -> %.1f MB (%+.1f MB) in %.1f s%n", galleryCycles,
                        before, after, after - before, secs);
                check(NativeHandle.LIVE.get() == live, "native handles left: " + (NativeHandle.LIVE.get() - live));
                // Leaking every gallery would add ~40 MB per 1,000 cycles (see the probe test): allow far less.
                check(after - before < 5.0, "RSS grew " + (after - before) + " MB");
            } finally {
                deleteTree(dir);
            }
        });

        test("500 rounds of template export/import and refusals: C heap flat", () -> {
            // What a leak in the shim's template calls would show: each read or add mallocs a ~0.5 KB buffer, so
            // leaking it in any of these 20,500 reads, 20,500 adds or 20,000 refusals would add 5 to 10 MB. Counted
            // with mallinfo2 (bytes in use), not VmRSS: the allocator's cache would hide a few MB either way.
            if (!trimAvailable) {
                System.out.println("     (skipped: no test support library for mallinfo2)");
                return;
            }
            try (Gallery g = new Gallery(engine)) {
                g.enroll("bush", emb);
                for (int j = 0; j < others.length; j++) g.enroll("id-" + j, others[j]);
                float[] twice = new float[128];
                for (int i = 0; i < 128; i++) twice[i] = 2 * emb[i];
                Body round = () -> {
                    List<Gallery.Template> all = g.templates();
                    try (Gallery c = new Gallery(engine)) {
                        for (Gallery.Template t : all) c.addTemplate(t.id, t.values());
                        check(c.templateCount() == all.size() && c.modelId().length() == 64, "copy");
                    }
                    for (int k = 0; k < 20; k++) {
                        try {
                            g.addTemplate("x", twice);
                            throw new AssertionError("not unit-norm accepted");
                        } catch (FacekitException expected) {
                            // ok
                        }
                        try {
                            g.template(all.size());
                            throw new AssertionError("index out of range accepted");
                        } catch (FacekitException expected) {
                            // ok
                        }
                    }
                };
                for (int i = 0; i < 100; i++) round.run();
                settle();
                long m0 = mallocInUse();
                for (int i = 0; i < 500; i++) round.run();
                settle();
                long m1 = mallocInUse();
                System.out.printf("     [mem] template rounds x500: C heap in use (mallinfo2) %+.2f MB%n", (m1 - m0) / 1048576.0);
                check(m0 < 0 || m1 - m0 < 2 * 1048576L, "C heap grew " + (m1 - m0) + " bytes");
                check(g.templateCount() == others.length + 1, "refusals added nothing");
            }
        });

        test(engineCycles + " Engine create/use/close cycles: flat RSS", () -> {
            for (int i = 0; i < 3; i++) engineCycle();
            quiesce();
            int live = NativeHandle.LIVE.get();
            double before = rssMb();
            long m0 = trimAvailable ? mallocInUse() : -1;
            long c0 = System.nanoTime();
            for (int i = 0; i < engineCycles; i++) engineCycle();
            double secs = (System.nanoTime() - c0) / 1e9;
            quiesce();
            double after = rssMb();
            long m1 = trimAvailable ? mallocInUse() : -1;
            if (m0 >= 0) System.out.printf("     [mem] C heap in use (mallinfo2): %+.2f MB%n", (m1 - m0) / 1048576.0);
            System.out.printf("     [mem] Engine x%d: VmRSS %.1f -> %.1f MB (%+.1f MB) in %.1f s%n", engineCycles, before,
                    after, after - before, secs);
            check(NativeHandle.LIVE.get() == live, "native handles left: " + (NativeHandle.LIVE.get() - live));
            check(after - before < 20.0, "RSS grew " + (after - before) + " MB");
        });

        test("RSS probe sees 300 leaked galleries (sensitivity)", () -> {
            settle();
            double before = rssMb();
            long[] leaked = new long[300];
            for (int i = 0; i < leaked.length; i++) { // raw handles: nothing frees them until the end
                leaked[i] = NativeLib.galleryNew(engine.handle.acquire());
                engine.handle.release();
                NativeLib.galleryEnroll(leaked[i], "bush".getBytes(StandardCharsets.UTF_8), emb);
                for (int j = 0; j < others.length; j++) {
                    NativeLib.galleryEnroll(leaked[i], ("id-" + j).getBytes(StandardCharsets.UTF_8), others[j]);
                }
            }
            settle();
            double grown = rssMb() - before;
            for (long p : leaked) NativeLib.galleryFree(p);
            System.out.printf("     [mem] 300 deliberately leaked galleries: VmRSS %+.1f MB%n", grown);
            check(grown > 3.0, "the probe should see a leak");
        });

        engine.close();
        System.out.printf("total %.1f s%n", (System.nanoTime() - t0) / 1e9);
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }

    /** Creates galleries and drops them without close(): only the Cleaner can free them. */
    private static void dropUnclosed(Engine e, int n) {
        float[] unit = new float[e.embeddingDim()];
        unit[0] = 1f;
        for (int i = 0; i < n; i++) new Gallery(e).enroll("x", unit);
    }

    private static void galleryCycle(int i, float[] emb, float[][] others, String path) {
        try (Gallery g = new Gallery(engine)) {
            g.enroll("bush", emb);
            for (int j = 0; j < others.length; j++) g.enroll("id-" + j, others[j]);
            check(g.size() == others.length + 1, "size");
            check(g.search(emb, 2).get(0).id.equals("bush"), "search");
            g.remove("id-0");
            if (i % 100 == 0) { // save/load fsync: only now and then
                g.save(path);
                try (Gallery g2 = Gallery.load(engine, path)) {
                    check(g2.size() == others.length, "loaded");
                }
            }
        }
    }

    private static void engineCycle() {
        try (Engine e = new Engine(models)) {
            Face f = e.detect(bush1).get(0);
            e.embed(bush1, f);
            e.quality(bush1, f);
            try (Gallery g = new Gallery(e)) {
                g.enrollImage(e, "b", bush1);
            }
        }
    }

    private static byte[] toBytes(int[] argb) {
        ByteBuffer b = ByteBuffer.allocate(argb.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(argb);
        return b.array();
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
        }
    }
}
