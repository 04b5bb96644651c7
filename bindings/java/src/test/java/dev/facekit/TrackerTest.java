package dev.facekit;

import static dev.facekit.FacekitTest.check;
import static dev.facekit.FacekitTest.expect;
import static dev.facekit.FacekitTest.test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Live-camera tests (Tracker, YUV_420_888 planes) on real video: Intel ASL webcam clips of person A
 * (intel_asl_no, intel_asl_brother) and person C (intel_asl_book, intel_asl_school), decoded by ffmpeg to NV21
 * (full-range BT.601, as Android cameras deliver it), and a Replay-Attack phone-photo attack. Run from
 * {@link FacekitTest#main}; frames per clip are capped so that the whole set takes seconds.
 */
final class TrackerTest {
    private TrackerTest() {}

    private static final int W = 640, H = 480, FRAME = W * H * 3 / 2;
    private static final Map<String, Integer> CLIPS = Map.of("no", 30, "brother", 36, "book", 24, "school", 24);
    private static final Map<String, String> GATE = Map.of("roi_input", "128");
    private static final Map<String, byte[][]> decoded = new HashMap<>();
    private static Path shared;

    /** The first CLIPS frames of intel_asl_NAME.mkv as NV21 byte[]s. */
    private static byte[][] clip(String name) throws IOException, InterruptedException {
        byte[][] cached = decoded.get(name);
        if (cached != null) return cached;
        int n = CLIPS.get(name);
        Process p = new ProcessBuilder("ffmpeg", "-v", "error", "-nostdin", "-i",
                shared.resolve("data/video/intel_asl_" + name + ".mkv").toString(), "-frames:v", "" + n, "-vf",
                "scale=out_color_matrix=bt601:out_range=full", "-f", "rawvideo", "-pix_fmt", "nv21", "-")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        byte[] all = p.getInputStream().readAllBytes();
        check(p.waitFor() == 0 && all.length == n * FRAME, name + ": ffmpeg gave " + all.length + " bytes");
        byte[][] frames = new byte[n][];
        for (int i = 0; i < n; i++) frames[i] = Arrays.copyOfRange(all, i * FRAME, (i + 1) * FRAME);
        decoded.put(name, frames);
        return frames;
    }

    /**
     * A camera's YUV_420_888 planes at pixel stride 2, as Android hands them over: direct buffers, plane 1 (U)
     * starting one byte into the interleaved V/U memory and plane 2 (V) at its start, each ending at its last
     * sample. {@link #fill} copies a frame in (the camera's job); the Image reads the buffers in place.
     */
    static final class Camera {
        final ByteBuffer y = ByteBuffer.allocateDirect(W * H), vu = ByteBuffer.allocateDirect(FRAME - W * H);
        final ByteBuffer u = vu.duplicate().position(1).slice(), v = vu.duplicate().limit(vu.capacity() - 1).slice();
        final Image image = Image.yuv420(W, H, y, W, u, v, W, 2, 0);

        Image fill(byte[] nv21) {
            y.clear();
            y.put(nv21, 0, W * H);
            vu.clear();
            vu.put(nv21, W * H, FRAME - W * H);
            return image;
        }
    }

    /** Events and per-frame tracks of one run. */
    static final class Run {
        final List<TrackEvent> events = new ArrayList<>();
        final List<List<Track>> frames = new ArrayList<>();

        List<TrackEvent> decided() {
            List<TrackEvent> d = new ArrayList<>();
            for (TrackEvent e : events) if (e.kind == TrackEvent.DECIDED) d.add(e);
            return d;
        }

        /** (kind, track) pairs, e.g. "1:1 2:1" for appeared then decided of track 1. */
        String kinds() {
            StringBuilder s = new StringBuilder();
            for (TrackEvent e : events) s.append(s.length() == 0 ? "" : " ").append(e.kind).append(':').append(e.track);
            return s.toString();
        }
    }

    private static Run run(Tracker t, byte[][] frames, Camera camera) {
        Run r = new Run();
        for (byte[] f : frames) {
            r.frames.add(t.update(camera == null ? Image.nv21(f, W, H, W, 0) : camera.fill(f)));
            r.events.addAll(t.pollEvents());
        }
        return r;
    }

    /** Once a track is decided, every later frame reports the same decision for it. */
    private static void checkNoFlicker(List<List<Track>> frames) {
        Map<Long, Decision> first = new HashMap<>();
        for (List<Track> tracks : frames) {
            for (Track t : tracks) {
                if (t.decision != null) {
                    check(first.computeIfAbsent(t.id, k -> t.decision).equals(t.decision), "track " + t.id + " flickered");
                } else {
                    check(!first.containsKey(t.id), "track " + t.id + " lost its decision");
                }
            }
        }
    }

    /** An enrolment station: follow the one person in view, keep its best capture. */
    private static float[] enrolFromCamera(Tracker t, byte[][] frames) {
        t.reset();
        Run r = run(t, frames, null);
        check(r.events.size() == 1 && r.events.get(0).kind == TrackEvent.APPEARED, r.kinds());
        long id = r.events.get(0).track;
        for (List<Track> tracks : r.frames) check(tracks.size() == 1 && tracks.get(0).id == id, "one track: " + tracks);
        Track last = r.frames.get(r.frames.size() - 1).get(0);
        check(last.captures >= 1 && last.bestQuality > 0 && last.bestQuality <= 100, "" + last);
        float[] e = t.bestEmbedding(id);
        check(e.length == 128 && Math.abs(Math.sqrt(FacekitTest.dot(e, e)) - 1) < 1e-4, "unit embedding");
        return e;
    }

    static void run(Path sharedDir, String models) throws Exception {
        shared = sharedDir;
        boolean ffmpeg;
        try {
            ffmpeg = new ProcessBuilder("ffmpeg", "-version").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor() == 0;
        } catch (IOException e) {
            ffmpeg = false;
        }
        if (!ffmpeg) System.out.println("SKIP tracker tests on video: ffmpeg is not installed (Debian package ffmpeg)");
        Engine engine = new Engine(models); // the default policy: quality and liveness required for decisions
        String ra = "data/liveness/replay-attack/";
        Image live = Image.load(shared.resolve(ra + "real/test/client009_session01_webcam_authenticate_controlled_1.jpg").toString());
        Image attack = Image.load(shared.resolve(ra
                + "spoof/test/mobile_photo/fixed_attack_mobile_client009_session01_mobile_photo_controlled.jpg").toString());
        float[][] templates = new float[2][];

        if (ffmpeg) {
            test("tracker: camera enrolment, then a gallery identifies other clips", () -> {
                // The door-gate configuration of examples/c/door_gate.c (128 px region search: finer boxes for
                // each capture's liveness check; at the default 64 px some webcam visitors are refused as not live).
                try (Tracker enrol = new Tracker(engine, GATE)) {
                    templates[0] = enrolFromCamera(enrol, clip("no"));
                    templates[1] = enrolFromCamera(enrol, clip("book"));
                }
                check(engine.compare(templates[0], templates[1]).similarity < engine.threshold(), "A and C differ");
                Run a, c;
                try (Gallery g = new Gallery(engine); Tracker t = new Tracker(engine, GATE)) {
                    g.enroll("A", templates[0]);
                    g.enroll("C", templates[1]);
                    t.setGallery(g);
                    a = run(t, clip("brother"), null);
                    c = run(t, clip("school"), null);
                }
                check(a.kinds().equals("1:1 2:1"), a.kinds());
                Decision d = a.decided().get(0).decision;
                check(d.accepted() && "A".equals(d.identity) && d.similarity >= d.threshold && d.liveness >= 0.5f, "" + d);
                check(d.afterFrames > 0 && d.afterFrames < CLIPS.get("brother"), "" + d);
                // The next clip is another shot: track 1 ends at its first frame, track 2 is C.
                check(c.kinds().equals("3:1 1:2 2:2"), c.kinds());
                check(c.events.get(0).frame == CLIPS.get("brother") && c.frames.get(0).get(0).state == Track.LOST, "cut");
                d = c.decided().get(0).decision;
                check(d.accepted() && "C".equals(d.identity), "" + d);
                check(a.frames.get(0).get(0).state == Track.NEW && a.frames.get(1).get(0).state == Track.TRACKED, "states");
                checkNoFlicker(a.frames);
                checkNoFlicker(c.frames);
            });

            test("tracker: a stranger is refused without a name", () -> {
                check(templates[1] != null, "needs the enrolment test");
                Run a;
                try (Gallery g = new Gallery(engine); Tracker t = new Tracker(engine, GATE)) {
                    g.enroll("C", templates[1]);
                    t.setGallery(g);
                    a = run(t, clip("brother"), null);
                }
                check(!a.decided().isEmpty(), a.kinds());
                for (TrackEvent e : a.decided()) {
                    // A refusal names nobody: a firmware that opens for any named identity stays shut.
                    check(!e.decision.accepted() && e.decision.identity == null, "" + e.decision);
                }
            });

            test("tracker: template on YUV_420_888 planes; photo attack; size change", () -> {
                check(templates[0] != null, "needs the enrolment test");
                Run a, c, p = new Run();
                List<Track> gone;
                List<TrackEvent> end;
                try (Tracker t = new Tracker(engine, Map.of("capture_gap", "2", "roi_input", "128"))) {
                    t.setTemplate(templates[0]);
                    Camera camera = new Camera();
                    a = run(t, clip("brother"), camera);
                    c = run(t, clip("book"), camera);
                    // A phone photo held to the camera (another frame size too), for 12 frames: a track not live on
                    // its first captures gathers 6 liveness scores (one every 2 frames here) before it is refused.
                    for (int i = 0; i < 12; i++) {
                        p.frames.add(t.update(attack));
                        p.events.addAll(t.pollEvents());
                    }
                    gone = t.update(Image.rgb(new byte[320 * 240 * 3], 320, 240)); // the photo is gone
                    end = t.pollEvents();
                }
                Decision d = a.decided().get(0).decision;
                check(d.accepted() && d.identity == null && d.similarity >= d.threshold, "" + d);
                d = c.decided().get(0).decision;
                check(d.verdict == Decision.NO_MATCH && d.similarity < d.threshold, "" + d);
                check(p.kinds().equals("3:2 1:3 2:3"), p.kinds()); // size change ends track 2 at once
                check(p.frames.get(0).get(0).state == Track.LOST && p.frames.get(0).get(1).state == Track.NEW, "" + p.frames.get(0));
                d = p.decided().get(0).decision;
                check(d.verdict == Decision.NOT_LIVE && d.liveness < 0.5f && Float.isNaN(d.similarity), "" + d);
                check(gone.size() == 1 && gone.get(0).id == 3 && gone.get(0).state == Track.LOST, "" + gone);
                check(end.size() == 1 && end.get(0).kind == TrackEvent.LOST && end.get(0).track == 3, "" + end);
                checkNoFlicker(a.frames);
                checkNoFlicker(c.frames);
                checkNoFlicker(p.frames);
            });

            test("YUV_420_888 planes = packed NV21 / I420, read in place", () -> {
                byte[] nv21 = clip("brother")[0];
                Image packed = Image.nv21(nv21, W, H, W, 0);
                List<Face> faces = engine.detect(packed);
                check(faces.size() == 1, "" + faces);
                byte[] crop = engine.align(packed, faces.get(0));
                Camera camera = new Camera();
                Image planes = camera.fill(nv21);
                check(planes.format() == Image.YUV420 && planes.uvPixelStride() == 2, "" + planes);
                check(engine.detect(planes).equals(faces), "pixel stride 2: faces");
                check(Arrays.equals(engine.align(planes, faces.get(0)), crop), "pixel stride 2: crop");
                // Pixel stride 1 with padded rows (Y 704, U/V 352 bytes apart) against packed I420.
                int cw = W / 2, ch = H / 2, ys = W + 64, cs = cw + 32;
                byte[] i420 = new byte[FRAME];
                ByteBuffer y = ByteBuffer.allocateDirect(ys * (H - 1) + W), u = ByteBuffer.allocateDirect(cs * (ch - 1) + cw),
                        v = ByteBuffer.allocateDirect(cs * (ch - 1) + cw);
                System.arraycopy(nv21, 0, i420, 0, W * H);
                for (int r = 0; r < H; r++) y.put(r * ys, nv21, r * W, W);
                for (int r = 0; r < ch; r++) {
                    for (int x = 0; x < cw; x++) {
                        byte vv = nv21[W * H + r * W + 2 * x], uu = nv21[W * H + r * W + 2 * x + 1];
                        i420[W * H + r * cw + x] = uu;
                        i420[W * H + cw * ch + r * cw + x] = vv;
                        u.put(r * cs + x, uu);
                        v.put(r * cs + x, vv);
                    }
                }
                Image planar = Image.yuv420(W, H, y, ys, u, v, cs, 1, 0);
                Image packedI420 = Image.of(i420, W, H, W, Image.I420, 0);
                check(engine.detect(packedI420).equals(faces) && engine.detect(planar).equals(faces), "pixel stride 1: faces");
                check(Arrays.equals(engine.align(planar, faces.get(0)), engine.align(packedI420, faces.get(0))), "pixel stride 1: crop");
                // In place: the library reads the camera's buffers at the call, not a copy made by Image.
                for (int i = 0; i < y.capacity(); i++) y.put(i, (byte) 0);
                for (int i = 0; i < u.capacity(); i++) {
                    u.put(i, (byte) 128);
                    v.put(i, (byte) 128);
                }
                check(engine.detect(planar).isEmpty(), "planes overwritten with black: no face");
            });

            test("tracker: two trackers in two threads share one engine", () -> {
                byte[][] frames = Arrays.copyOf(clip("brother"), 24);
                Run alone;
                try (Tracker t = new Tracker(engine)) {
                    alone = run(t, frames, null);
                }
                ExecutorService pool = Executors.newFixedThreadPool(2);
                List<Future<Run>> runs = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    boolean planar = i == 1;
                    runs.add(pool.submit(() -> {
                        try (Tracker t = new Tracker(engine)) {
                            return run(t, frames, planar ? new Camera() : null);
                        }
                    }));
                }
                for (Future<Run> f : runs) {
                    Run r = f.get();
                    check(r.events.equals(alone.events) && r.frames.equals(alone.frames), "threaded run differs");
                }
                pool.shutdown();
            });
        }

        test("tracker: bad frames, settings and references; frame size change", () -> {
            try (Tracker t = new Tracker(engine)) {
                t.setTemplate(templates[0] != null ? templates[0] : engine.embed(live));
                check(t.update(live).get(0).state == Track.NEW, "first frame");
                int w = live.width(), h = live.height();
                byte[] nv21 = new byte[w * h * 3 / 2];
                expect(FacekitException.FK_ERR_INVALID_IMAGE, () -> t.update(Image.nv21(nv21, w, h, w - 2, 0)));
                expect(FacekitException.FK_ERR_INVALID_IMAGE, () -> t.update(Image.nv21(Arrays.copyOf(nv21, 1000), w, h, w, 0)));
                ByteBuffer y = ByteBuffer.allocateDirect(w * h), c = ByteBuffer.allocateDirect(w * h / 4);
                expect(FacekitException.FK_ERR_INVALID_IMAGE, () -> t.update(Image.yuv420(w, h, y, w, c, c, w / 2 - 1, 1, 0)));
                expect(FacekitException.FK_ERR_INVALID_IMAGE, () -> t.update(Image.yuv420(w, h, y, w, c, c, w / 2, 2, 0)));
                expect(FacekitException.FK_ERR_INVALID_IMAGE, () -> t.update(Image.yuv420(w, h, y, w, c, c, w / 2, 0, 0)));
                expect(FacekitException.FK_ERR_INVALID_IMAGE, () -> t.update(Image.yuv420(w, h + 2, y, w, c, c, w / 2, 1, 0)));
                expect(FacekitException.FK_ERR_INVALID_IMAGE, () -> t.update(Image.yuv420(w, h, y, -1, c, c, w / 2, 1, 0)));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT,
                        () -> Image.yuv420(w, h, ByteBuffer.allocate(w * h), w, c, c, w / 2, 1, 0)); // heap buffer
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> t.update(Image.nv21(nv21, w, h, w, 45)));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> t.set("detect_every", "0"));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> t.set("no_such_setting", "1"));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> t.setTemplate(new float[64]));
                expect(FacekitException.FK_ERR_INVALID_ARGUMENT, () -> t.setTemplate(new float[128]));
                expect(FacekitException.FK_ERR_NOT_FOUND, () -> t.bestEmbedding(12345));
                // None of that disturbed the stream: refused frames are not seen, the same track continues.
                List<Track> again = t.update(live);
                check(again.size() == 1 && again.get(0).id == 1 && again.get(0).state == Track.TRACKED && again.get(0).age == 1, "" + again);
                t.pollEvents();
                // Another frame size ends every track.
                Image small = Image.rgb(Arrays.copyOf(live.bytes(), 200 * 150 * 3), 200, 150);
                List<Track> ended = t.update(small);
                check(!ended.isEmpty() && ended.get(0).id == 1 && ended.get(0).state == Track.LOST, "" + ended);
                List<TrackEvent> ev = t.pollEvents();
                check(ev.get(0).kind == TrackEvent.LOST && ev.get(0).track == 1, "" + ev);
                t.set("max_tracks", "40");
                t.reset();
                check(t.pollEvents().isEmpty(), "reset drops queued events");
            }
        });

        test("tracker: closed tracker, engine or gallery refuse calls; Cleaner", () -> {
            Engine e = new Engine(models);
            Gallery g = new Gallery(e);
            Tracker t = new Tracker(e);
            t.setGallery(g);
            t.update(live);
            g.close(); // the tracker decides against it: update refuses instead of reading freed memory
            expectClosed("Gallery", () -> t.update(live));
            t.setGallery(null);
            t.update(live);
            e.close();
            expectClosed("Engine", () -> t.update(live));
            expectClosed("Engine", t::pollEvents);
            t.close();
            t.close(); // idempotent
            expectClosed("Tracker", () -> t.update(live));
            expectClosed("Tracker", t::reset);
            expectClosed("Tracker", () -> t.bestEmbedding(1));
            check(t.isClosed(), "closed");
            // Dropped unclosed: the Cleaner frees the trackers (the engine they hold stays reachable until then).
            FacekitTest.settle();
            int before = NativeHandle.LIVE.get();
            for (int i = 0; i < 10; i++) new Tracker(engine).update(live);
            check(NativeHandle.LIVE.get() == before + 10, "10 live trackers");
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (NativeHandle.LIVE.get() > before && System.nanoTime() < deadline) FacekitTest.settle();
            check(NativeHandle.LIVE.get() == before, "live handles: " + NativeHandle.LIVE.get() + " vs " + before);
        });

        engine.close();
    }

    private static void expectClosed(String kind, FacekitTest.Body body) throws Exception {
        try {
            body.run();
        } catch (IllegalStateException expected) {
            check(expected.getMessage().equals(kind + " is closed"), expected.getMessage());
            return;
        }
        throw new AssertionError("expected IllegalStateException: " + kind + " is closed");
    }
}
