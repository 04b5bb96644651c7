/* C tests of the facekit ABI, compiled against the committed include/facekit.h and the built library.
 * usage: api_test SHARED_DIR happy|bad|threads [CALLS_PER_THREAD | NO_LIVENESS_DIR MISMATCH_DIR]
 *   (env FK_TEST_DET_SIZE: detector input; FK_TEST_VALGRIND=1: skip the checks that only load more engines, each
 *   ~1.5 min under valgrind and the same load code as the first; the two directories of `bad` are model
 *   directories whose manifest has no liveness entries / promises 2 liveness classes, made by tests/c_abi.rs)
 * Prints one line per check; exits non-zero on the first failure. Run by tests/c_abi.rs (also under valgrind). */
#define _POSIX_C_SOURCE 200809L /* popen: the camera calibration reads frames from ffmpeg */
#include "facekit.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int checks = 0;
#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        checks++;                                                                     \
        if (!(cond)) {                                                                \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                      \
            fprintf(stderr, __VA_ARGS__);                                             \
            fprintf(stderr, " (last error: %s)\n", fk_last_error());                  \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)
#define EXPECT(call, status) CHECK((call) == (status), "%s should be %s", #call, #status)

static char shared[1024];
static const char *no_liveness_dir = "", *mismatch_dir = "";
static const char *path_of(const char *rel) {
    static char buf[2048];
    snprintf(buf, sizeof buf, "%s/%s", shared, rel);
    return buf;
}

static const char *det_size = "320"; /* smaller under valgrind, where inference runs ~50x slower */
static int under_valgrind = 0;

/* The LFW photos below are press photos (a photo of a photo): decisions on them run with the policy's
 * liveness requirement off; liveness() checks the liveness requirement on Replay-Attack frames. */
static fk_engine *load_engine_with(const char *require_liveness, const char *load_liveness) {
    fk_engine *e = NULL;
    fk_options *o = fk_options_new();
    CHECK(o != NULL, "options");
    EXPECT(fk_options_set(o, "operating_point", "far_1e-3"), FK_OK);
    EXPECT(fk_options_set(o, "detector_input_size", det_size), FK_OK);
    EXPECT(fk_options_set(o, "require_liveness", require_liveness), FK_OK);
    EXPECT(fk_options_set(o, "load_liveness", load_liveness), FK_OK);
    EXPECT(fk_engine_new_from_dir(path_of("models"), o, &e), FK_OK);
    fk_options_free(o);
    CHECK(e != NULL, "engine");
    return e;
}
static fk_engine *load_engine(void) { return load_engine_with("0", "1"); }

static fk_image load(const char *rel) {
    fk_image img;
    EXPECT(fk_image_load(path_of(rel), &img), FK_OK);
    return img;
}

static void liveness(fk_engine *scorer);

static void camera_calibration(fk_engine *e) {
    const uint32_t w = 1920, h = 1080;
    const size_t n = (size_t)w * h * 3;
    char cmd[2048], dir[256], manifest[300];
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -nostdin -i '%s' -fps_mode passthrough -f rawvideo -pix_fmt rgb24 -",
             path_of("data/video/facenetpt_opera_crowd.mp4"));
    FILE *pipe = popen(cmd, "r");
    CHECK(pipe != NULL, "ffmpeg");
    uint8_t *buf = malloc(n);
    CHECK(buf != NULL, "frame buffer");
    fk_camera_calibrator *cc = NULL;
    EXPECT(fk_camera_calibrator_new(e, &cc), FK_OK);
    uint64_t frames = 0;
    while (fread(buf, 1, n, pipe) == n) {
        fk_image f = {.data = buf, .len = n, .width = w, .height = h, .stride = (size_t)w * 3, .format = FK_FORMAT_RGB8};
        EXPECT(fk_camera_calibrator_add_frame(cc, &f), FK_OK);
        frames++;
    }
    CHECK(pclose(pipe) == 0, "ffmpeg exit status");
    free(buf);
    CHECK(frames == 105 && fk_camera_calibrator_frames(cc) == frames, "%llu frames", (unsigned long long)frames);
    snprintf(dir, sizeof dir, "/tmp/fk-c-camera-%d", (int)getpid());
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s && ln -s %s/*.onnx %s/", dir, dir, path_of("models"), dir);
    CHECK(system(cmd) == 0, "model directory");
    snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
    fk_camera_report r;
    EXPECT(fk_camera_calibrator_finish(cc, 25.0, "opera crowd", manifest, &r, sizeof r), FK_OK);
    fk_camera_calibrator_free(cc);
    CHECK(r.frames == frames && fabs(r.seconds - 105 / 25.0) < 1e-9 && r.impostor_pairs >= 10 && r.tracks >= 2, "report: %llu pairs, %llu tracks",
          (unsigned long long)r.impostor_pairs, (unsigned long long)r.tracks);
    CHECK(r.impostor_mean < r.impostor_max && r.impostor_max <= 1.0f && r.impostor_std > 0 && r.median_eye_px > 0, "report: mean %.3f max %.3f",
          r.impostor_mean, r.impostor_max);
    fk_engine *adapted = NULL;
    fk_options *o = fk_options_new();
    EXPECT(fk_options_set(o, "detector_input_size", det_size), FK_OK);
    EXPECT(fk_engine_new_from_dir(dir, o, &adapted), FK_OK);
    fk_options_free(o);
    fk_gallery *g = NULL;
    EXPECT(fk_gallery_new(e, &g), FK_OK);
    float before = 0, after = 0;
    EXPECT(fk_gallery_threshold(e, g, FK_OP_FAR_1E3, 30.0f, &before), FK_OK);
    EXPECT(fk_gallery_threshold(adapted, g, FK_OP_FAR_1E3, 30.0f, &after), FK_OK);
    CHECK(after > before, "camera-adapted threshold %.4f, before %.4f", after, before);
    fk_gallery_free(g);
    fk_engine_free(adapted);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    printf("camera calibration: %llu frames, %llu pairs in view together (mean %.3f, max %.3f); gallery threshold %.4f -> %.4f\n",
           (unsigned long long)r.frames, (unsigned long long)r.impostor_pairs, r.impostor_mean, r.impostor_max, before, after);
}

/* ------------------------------------------------------------------------------------------------ */
static void happy(void) {
    CHECK(fk_version() == FK_VERSION, "fk_version %u != FK_VERSION %u", fk_version(), FK_VERSION);
    CHECK(FK_VERSION == FK_VERSION_MAJOR * 10000 + FK_VERSION_MINOR * 100 + FK_VERSION_PATCH, "version macros");
    CHECK(strcmp(fk_version_string(), FK_VERSION_STRING) == 0, "version string %s", fk_version_string());

    fk_engine *e = load_engine();
    size_t dim = fk_engine_embedding_dim(e);
    CHECK(dim == 128, "dim %zu", dim);

    fk_image a = load("data/lfw/images/George_W_Bush/George_W_Bush_0001.jpg");
    fk_image b = load("data/lfw/images/George_W_Bush/George_W_Bush_0002.jpg");
    fk_image c = load("data/lfw/images/Colin_Powell/Colin_Powell_0001.jpg");

    fk_match same, diff;
    EXPECT(fk_verify(e, &a, &b, &same), FK_OK);
    EXPECT(fk_verify(e, &a, &c, &diff), FK_OK);
    printf("same person: similarity %.4f threshold %.4f match %d\n", same.similarity, same.threshold, same.is_match);
    printf("two people:  similarity %.4f threshold %.4f match %d\n", diff.similarity, diff.threshold, diff.is_match);
    CHECK(same.is_match == 1 && diff.is_match == 0, "decisions");
    CHECK(same.operating_point == FK_OP_FAR_1E3, "operating point");

    /* The stage-by-stage path gives the same similarity as fk_verify. */
    fk_face faces[8];
    size_t n = 0;
    EXPECT(fk_detect(e, &a, NULL, 0, &n), FK_OK); /* ask for the count only */
    CHECK(n == 1, "count-only query found %zu faces", n);
    EXPECT(fk_detect(e, &a, faces, 8, &n), FK_OK);
    CHECK(n >= 1 && faces[0].score > 0.5f, "faces %zu", n);
    CHECK(fk_engine_operating_point(e) == FK_OP_FAR_1E3, "engine operating point");
    uint32_t cw = 0, ch = 0;
    EXPECT(fk_engine_crop_size(e, &cw, &ch), FK_OK);
    CHECK(cw == 112 && ch == 112, "crop %ux%u", cw, ch);
    uint8_t *crop = malloc((size_t)cw * ch * 3);
    EXPECT(fk_align(e, &a, &faces[0], crop, (size_t)cw * ch * 3), FK_OK);
    free(crop);
    float ea[128], eb[128];
    size_t nb = 0;
    fk_face fb[8];
    EXPECT(fk_embed(e, &a, &faces[0], ea, 128), FK_OK);
    EXPECT(fk_detect(e, &b, fb, 8, &nb), FK_OK);
    CHECK(nb >= 1, "faces in b");
    EXPECT(fk_embed(e, &b, &fb[0], eb, 128), FK_OK);
    fk_match m;
    EXPECT(fk_compare(e, ea, eb, 128, &m), FK_OK);
    CHECK(m.similarity > same.similarity - 1e-4f && m.similarity < same.similarity + 1e-4f, "stage path %.5f vs verify %.5f", m.similarity, same.similarity);
    float t = 0, tf = 0, t_small = 0;
    EXPECT(fk_engine_threshold(e, FK_OP_FAR_1E3, &t), FK_OK);
    /* fk_verify decides at the threshold for the smaller face's resolution (its inter-eye distance). */
    float eye_a = hypotf(faces[0].landmarks[0][0] - faces[0].landmarks[1][0], faces[0].landmarks[0][1] - faces[0].landmarks[1][1]);
    float eye_b = hypotf(fb[0].landmarks[0][0] - fb[0].landmarks[1][0], fb[0].landmarks[0][1] - fb[0].landmarks[1][1]);
    EXPECT(fk_engine_threshold_for_face(e, FK_OP_FAR_1E3, eye_a < eye_b ? eye_a : eye_b, &tf), FK_OK);
    CHECK(tf == same.threshold, "verify threshold %.5f vs the face's band %.5f", same.threshold, tf);
    /* A webcam-sized face (20 px between the eyes) is decided higher than a press photo (80 px). */
    EXPECT(fk_engine_threshold_for_face(e, FK_OP_FAR_1E3, 20.0f, &t_small), FK_OK);
    EXPECT(fk_engine_threshold_for_face(e, FK_OP_FAR_1E3, 80.0f, &tf), FK_OK);
    CHECK(tf == t && t_small > t, "band thresholds: 20 px %.5f, 80 px %.5f, single %.5f", t_small, tf, t);

    fk_quality_report q;
    EXPECT(fk_quality(e, &a, &faces[0], &q, sizeof q), FK_OK);
    printf("quality overall %.1f acceptable %d reasons 0x%x learned %.3f\n", q.overall, q.acceptable, q.reasons, q.learned.raw);
    CHECK(q.overall > 0 && q.overall <= 100 && q.learned.assessed, "quality");

    /* Gallery: enroll two people, identify a third photo, save and load. */
    fk_gallery *g = NULL;
    EXPECT(fk_gallery_new(e, &g), FK_OK);
    EXPECT(fk_gallery_enroll(g, "bush", ea, 128), FK_OK);
    EXPECT(fk_gallery_enroll_image(g, e, "powell", &c), FK_OK);
    CHECK(fk_gallery_count(g) == 2, "count");
    fk_hit hits[4];
    size_t nh = 0;
    /* A gallery decides at the threshold for its size: 1 template is the 1:1 threshold; 1,000 templates at
     * FPIR 1e-3 need FAR 1e-6 per comparison; 2 templates lie between the calibrated 1e-3 and 1e-4. */
    float gt = 0, t4 = 0, t6 = 0;
    EXPECT(fk_engine_gallery_threshold(e, FK_OP_FAR_1E3, 1, &gt), FK_OK);
    CHECK(gt == t, "one template: %.5f vs %.5f", gt, t);
    EXPECT(fk_engine_threshold(e, FK_OP_FAR_1E6, &t6), FK_OK);
    EXPECT(fk_engine_gallery_threshold(e, FK_OP_FAR_1E3, 1000, &gt), FK_OK);
    CHECK(fabsf(gt - t6) < 1e-5f, "1,000 templates: %.5f vs far_1e-6 %.5f", gt, t6);
    EXPECT(fk_engine_threshold(e, FK_OP_FAR_1E4, &t4), FK_OK);
    EXPECT(fk_engine_gallery_threshold(e, FK_OP_FAR_1E3, 2, &gt), FK_OK);
    CHECK(gt > t && gt < t4, "2 templates: %.5f", gt);
    /* fk_gallery_threshold: the size rule at the probe's resolution, raised for the camera only from 3 enrolled
     * people on (here 2: no shift). */
    float gd = 0, gf = 0;
    EXPECT(fk_gallery_threshold(e, g, FK_OP_FAR_1E3, eye_b, &gd), FK_OK);
    EXPECT(fk_engine_gallery_threshold_for_face(e, FK_OP_FAR_1E3, 2, eye_b, &gf), FK_OK);
    CHECK(gd == gf && gd >= gt, "gallery threshold %.5f vs %.5f (single %.5f)", gd, gf, gt);
    EXPECT(fk_gallery_search(g, eb, 128, gt, hits, 4, &nh), FK_OK);
    CHECK(nh == 1 && strcmp(hits[0].id, "bush") == 0, "identify %zu %s", nh, nh ? hits[0].id : "-");
    char gpath[256];
    snprintf(gpath, sizeof gpath, "/tmp/fk-c-gallery-%d.fkg", (int)getpid());
    EXPECT(fk_gallery_save(g, gpath), FK_OK);
    fk_gallery *g2 = NULL;
    EXPECT(fk_gallery_load(e, gpath, &g2), FK_OK);
    CHECK(fk_gallery_count(g2) == 2, "loaded count");
    EXPECT(fk_gallery_remove(g2, "powell"), FK_OK);
    EXPECT(fk_gallery_remove(g2, "powell"), FK_ERR_NOT_FOUND);
    fk_gallery_free(g2);

    /* Templates out and in (a central gallery's path): every template read back and added to a new gallery
     * answers the same search with the bit-identical similarity. */
    {
        CHECK(fk_gallery_template_count(g) == 2, "template count %zu", fk_gallery_template_count(g));
        char mid[FK_MODEL_ID_MAX + 1];
        EXPECT(fk_gallery_model_id(g, mid, sizeof mid), FK_OK);
        CHECK(strlen(mid) > 0, "model id");
        fk_gallery *copy = NULL;
        EXPECT(fk_gallery_new(e, &copy), FK_OK);
        for (size_t i = 0; i < fk_gallery_template_count(g); i++) {
            char tid[FK_ID_MAX + 1];
            float tv[128];
            EXPECT(fk_gallery_template(g, i, tid, sizeof tid, tv, 128), FK_OK);
            EXPECT(fk_gallery_add_template(copy, tid, tv, 128), FK_OK);
        }
        char cmid[FK_MODEL_ID_MAX + 1];
        EXPECT(fk_gallery_model_id(copy, cmid, sizeof cmid), FK_OK);
        CHECK(strcmp(mid, cmid) == 0, "same model id");
        fk_hit h2[4];
        size_t n2 = 0;
        EXPECT(fk_gallery_search(copy, eb, 128, -1.0f, h2, 4, &n2), FK_OK);
        EXPECT(fk_gallery_search(g, eb, 128, -1.0f, hits, 4, &nh), FK_OK);
        CHECK(n2 == nh && n2 == 2, "copy answers %zu of %zu", n2, nh);
        for (size_t i = 0; i < n2 && i < nh; i++)
            CHECK(strcmp(h2[i].id, hits[i].id) == 0 && memcmp(&h2[i].similarity, &hits[i].similarity, sizeof(float)) == 0,
                  "hit %zu: %s %.9g vs %s %.9g", i, h2[i].id, h2[i].similarity, hits[i].id, hits[i].similarity);
        fk_gallery_free(copy);
    }
    fk_gallery_free(g);
    unlink(gpath);

    /* The same photo as camera planes: Y, and U/V interleaved at pixel stride 2 (Android YUV_420_888 as most
     * phones fill it; full-range BT.601). Found where the RGB path finds it. */
    {
        const uint32_t w = a.width, h = a.height, cw2 = (w + 1) / 2, ch2 = (h + 1) / 2;
        uint8_t *y = malloc((size_t)w * h), *vu = malloc((size_t)cw2 * 2 * ch2);
        for (uint32_t r = 0; r < h; r++)
            for (uint32_t x = 0; x < w; x++) {
                const uint8_t *p = a.data + r * a.stride + 3 * x;
                float Y = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
                y[r * w + x] = (uint8_t)(Y + 0.5f);
                if (r % 2 == 0 && x % 2 == 0) {
                    float U = 128.0f + 0.5643f * (p[2] - Y), V = 128.0f + 0.7133f * (p[0] - Y);
                    vu[(r / 2) * cw2 * 2 + x] = (uint8_t)(V < 0 ? 0 : V > 255 ? 255 : V + 0.5f);
                    vu[(r / 2) * cw2 * 2 + x + 1] = (uint8_t)(U < 0 ? 0 : U > 255 ? 255 : U + 0.5f);
                }
            }
        fk_image planar = {.data = y, .len = (size_t)w * h, .width = w, .height = h, .stride = w, .format = FK_FORMAT_YUV420,
                           .u = vu + 1, .u_len = (size_t)cw2 * 2 * ch2 - 1, .v = vu, .v_len = (size_t)cw2 * 2 * ch2 - 1,
                           .uv_stride = (size_t)cw2 * 2, .uv_pixel_stride = 2};
        fk_face pf[4];
        size_t pn = 0;
        EXPECT(fk_detect(e, &planar, pf, 4, &pn), FK_OK);
        CHECK(pn == 1 && fabsf(pf[0].x - faces[0].x) < 3 && fabsf(pf[0].y - faces[0].y) < 3, "planar frame: %zu faces at %.1f,%.1f", pn, pn ? pf[0].x : 0.f, pn ? pf[0].y : 0.f);
        free(y);
        free(vu);
    }

    /* The tracker on a still "stream" of one photo, decided against the photo's own embedding (1:1). */
    {
        fk_tracker *tr = NULL;
        EXPECT(fk_tracker_new(e, &tr), FK_OK);
        EXPECT(fk_tracker_set(tr, "capture_gap", "1"), FK_OK);
        EXPECT(fk_tracker_set_template(tr, ea, 128), FK_OK);
        fk_track tk[4];
        fk_event ev[8];
        size_t nt = 0, ne = 0;
        int appeared = 0, decided = 0;
        for (int f = 0; f < 5; f++) {
            EXPECT(fk_tracker_update(tr, &a, tk, 4, &nt), FK_OK);
            CHECK(nt == 1 && tk[0].id == 1 && tk[0].state == (f == 0 ? FK_TRACK_NEW : FK_TRACK_TRACKED), "frame %d: %zu tracks", f, nt);
            EXPECT(fk_tracker_poll_events(tr, ev, 8, &ne), FK_OK);
            for (size_t i = 0; i < ne; i++) {
                appeared += ev[i].kind == FK_EVENT_APPEARED;
                if (ev[i].kind == FK_EVENT_DECIDED) {
                    decided++;
                    CHECK(ev[i].decision.verdict == FK_VERDICT_ACCEPTED && ev[i].decision.similarity > 0.9f, "decision %d %.3f", ev[i].decision.verdict, ev[i].decision.similarity);
                }
            }
        }
        CHECK(appeared == 1 && decided == 1 && tk[0].decision.verdict == FK_VERDICT_ACCEPTED, "appeared %d decided %d", appeared, decided);
        float best[128];
        EXPECT(fk_tracker_best_embedding(tr, tk[0].id, best, 128), FK_OK);
        EXPECT(fk_tracker_reset(tr), FK_OK);
        EXPECT(fk_tracker_best_embedding(tr, tk[0].id, best, 128), FK_ERR_NOT_FOUND);
        fk_tracker_free(tr);
        printf("tracker: 5 frames, 1 track, decided accepted\n");
    }

    /* The accurate mode: MobileFaceNet and dlib ResNet fused into one 256-d embedding with its own calibration;
     * its galleries are not the fast mode's (outside valgrind: one more engine, the same load code). */
    if (!under_valgrind) {
        fk_options *ao = fk_options_new();
        EXPECT(fk_options_set(ao, "mode", "accurate"), FK_OK);
        EXPECT(fk_options_set(ao, "require_liveness", "0"), FK_OK);
        EXPECT(fk_options_set(ao, "load_liveness", "0"), FK_OK);
        fk_engine *acc = NULL;
        EXPECT(fk_engine_new_from_dir(path_of("models"), ao, &acc), FK_OK);
        fk_options_free(ao);
        CHECK(fk_engine_embedding_dim(acc) == 256, "accurate dim %zu", fk_engine_embedding_dim(acc));
        fk_match as, ad;
        EXPECT(fk_verify(acc, &a, &b, &as), FK_OK);
        EXPECT(fk_verify(acc, &a, &c, &ad), FK_OK);
        CHECK(as.is_match == 1 && ad.is_match == 0 && as.threshold != same.threshold, "accurate decisions %.4f %.4f", as.similarity, ad.similarity);
        float ae[256];
        EXPECT(fk_embed(acc, &a, &faces[0], ae, 128), FK_ERR_BUFFER_TOO_SMALL);
        EXPECT(fk_embed(acc, &a, &faces[0], ae, 256), FK_OK);
        fk_gallery *ag = NULL;
        EXPECT(fk_gallery_new(acc, &ag), FK_OK);
        EXPECT(fk_gallery_enroll(ag, "bush", ae, 256), FK_OK);
        char apath[256];
        snprintf(apath, sizeof apath, "/tmp/fk-c-accurate-%d.fkg", (int)getpid());
        EXPECT(fk_gallery_save(ag, apath), FK_OK);
        fk_gallery *wrong = NULL;
        EXPECT(fk_gallery_load(e, apath, &wrong), FK_ERR_INCOMPATIBLE);
        EXPECT(fk_gallery_load(acc, apath, &wrong), FK_OK);
        fk_gallery_free(wrong);
        fk_gallery_free(ag);
        unlink(apath);
        fk_engine_free(acc);
        printf("accurate mode: same %.4f, different %.4f, threshold %.4f\n", as.similarity, ad.similarity, as.threshold);
    }

    /* The camera calibration on the crowd clip's frames (ffmpeg decodes them to RGB), written as the manifest of
     * a model directory; an engine loaded from there decides against a gallery higher, adapted to the camera's
     * strangers (outside valgrind: 105 full-HD frames). */
    if (!under_valgrind) camera_calibration(e);

    fk_image_release(&a);
    fk_image_release(&b);
    fk_image_release(&c);
    CHECK(a.data == NULL, "release zeroes");
    liveness(e);
    fk_engine_free(e);
}

/* ------------------------------------------------------------------------------------------------ */
/* Liveness on Replay-Attack frames (both models agree clearly on each), and the refusals it drives. */
#define REPLAY "data/liveness/replay-attack/"
#define REAL_1 REPLAY "real/devel/client005_session01_webcam_authenticate_controlled_1.jpg"
#define REAL_2 REPLAY "real/devel/client005_session01_webcam_authenticate_controlled_2.jpg"
#define PRINT REPLAY "spoof/devel/print/fixed_attack_print_client101_session01_highdef_photo_controlled.jpg"
#define PHONE REPLAY "spoof/devel/mobile_photo/hand_attack_mobile_client005_session01_mobile_photo_controlled.jpg"

static fk_face first_face(fk_engine *e, const fk_image *img) {
    fk_face f;
    size_t n = 0;
    EXPECT(fk_detect(e, img, &f, 1, &n), FK_OK);
    CHECK(n >= 1, "a face");
    return f;
}

/* `scorer`: any engine with the liveness models (the happy path's); the refusals need one whose policy requires
 * liveness, loaded here (outside valgrind: fk_liveness above already runs the stage under it). */
static void liveness(fk_engine *scorer) {
    fk_engine *e = scorer;
    fk_image real = load(REAL_1), real2 = load(REAL_2), print = load(PRINT), phone = load(PHONE);
    const fk_image *frames[3] = {&real, &print, &phone};
    const char *names[3] = {"real", "print", "phone"};
    for (int i = 0; i < 3; i++) {
        fk_face f = first_face(e, frames[i]);
        fk_liveness_report r;
        EXPECT(fk_liveness(e, frames[i], &f, &r, sizeof r), FK_OK);
        printf("liveness %-5s: status %d score %.4f (models %.4f %.4f) threshold %.4f live %d\n", names[i], (int)r.status, r.score,
               r.model_scores[0], r.model_scores[1], r.threshold, (int)r.is_live);
        CHECK(r.status == FK_LIVENESS_STATUS_ASSESSED && r.model_count == 2 && r.operating_point == FK_LIVENESS_POINT_APCER5E2, "report");
        CHECK(r.threshold > 0.5f && r.threshold < 1.0f, "calibrated threshold %.4f", r.threshold);
        int live = i == 0;
        CHECK(r.is_live == live, "%s judged %s", names[i], r.is_live ? "live" : "not live");
        for (int m = 0; m < 2; m++)
            CHECK(live ? r.model_scores[m] > 0.99f : r.model_scores[m] < 0.05f, "%s model %d score %.4f", names[i], m, r.model_scores[m]);
    }

    CHECK(strncmp(fk_status_str(FK_ERR_NOT_LIVE), "FK_ERR_NOT_LIVE", 15) == 0, "status str");
    CHECK(strncmp(fk_status_str(FK_ERR_POOR_QUALITY), "FK_ERR_POOR_QUALITY", 19) == 0, "status str");
    fk_image *all[4] = {&real, &real2, &print, &phone};
    if (under_valgrind) goto done;

    /* Decisions: two live captures of client 5 match; a photo of client 5 on a phone is refused as not live,
     * at verification and at enrolment, with its own status. */
    e = load_engine_with("1", "1");
    fk_match m;
    EXPECT(fk_verify(e, &real, &real2, &m), FK_OK);
    CHECK(m.is_match == 1, "two live captures match (%.4f)", m.similarity);
    m.similarity = -7;
    EXPECT(fk_verify(e, &real, &phone, &m), FK_ERR_NOT_LIVE);
    CHECK(strstr(fk_last_error(), "show your real face") != NULL && strstr(fk_last_error(), "second image") != NULL, "message");
    CHECK(m.similarity == -7, "match untouched");
    printf("verify(live, phone photo): %s\n", fk_last_error());
    fk_gallery *g = NULL;
    EXPECT(fk_gallery_new(e, &g), FK_OK);
    EXPECT(fk_gallery_enroll_image(g, e, "client005", &phone), FK_ERR_NOT_LIVE);
    CHECK(fk_gallery_count(g) == 0, "nothing enrolled from a spoof");
    EXPECT(fk_gallery_enroll_image(g, e, "client005", &real), FK_OK);
    CHECK(fk_gallery_count(g) == 1, "enrolled");
    fk_gallery_free(g);
    fk_engine_free(e);
done:
    for (int i = 0; i < 4; i++) fk_image_release(all[i]);
}

/* ------------------------------------------------------------------------------------------------ */
/* Every entry point with NULLs, zero and wrong sizes, bad enums, bad files: each returns the documented
 * status and leaves its outputs untouched. */
static int bad_cases = 0;
#define BAD(call, status)      \
    do {                       \
        bad_cases++;           \
        EXPECT(call, status);  \
    } while (0)

static void bad(void) {
    fk_engine *e = load_engine();
    fk_image good = load("data/lfw/images/George_W_Bush/George_W_Bush_0001.jpg");
    fk_face face;
    size_t n = 0;
    EXPECT(fk_detect(e, &good, &face, 1, &n), FK_OK);
    CHECK(n == 1, "one face");

    /* Engine creation. */
    fk_engine *eout = (fk_engine *)0x1;
    BAD(fk_engine_new_from_dir(NULL, NULL, &eout), FK_ERR_NULL_ARGUMENT);
    BAD(fk_engine_new_from_dir(path_of("models"), NULL, NULL), FK_ERR_NULL_ARGUMENT);
    BAD(fk_engine_new_from_dir("/nonexistent/models", NULL, &eout), FK_ERR_MODEL_LOAD);
    BAD(fk_engine_new_from_memory(NULL, 10, NULL, &eout), FK_ERR_NULL_ARGUMENT);
    BAD(fk_engine_new_from_memory((const uint8_t *)"x", 0, NULL, &eout), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_engine_new_from_memory((const uint8_t *)"not a model pack", 16, NULL, &eout), FK_ERR_MODEL_FORMAT);
    BAD(fk_engine_new_bundled(NULL, NULL), FK_ERR_NULL_ARGUMENT);
    BAD(fk_engine_new_bundled(NULL, &eout), FK_ERR_UNSUPPORTED); /* this test build has no bundled pack */
    {
        /* A directory whose model files are a text file and a truncated copy: checksum errors. */
        char dir[256], cmd[1024];
        snprintf(dir, sizeof dir, "/tmp/fk-c-badmodels-%d", (int)getpid());
        snprintf(cmd, sizeof cmd, "mkdir -p %s && echo 'not a model' > %s/yunet_s_dynamic.onnx && head -c 100000 %s/mobilefacenet.onnx > %s/mobilefacenet.onnx",
                 dir, dir, path_of("models"), dir);
        CHECK(system(cmd) == 0, "make bad model dir");
        BAD(fk_engine_new_from_dir(dir, NULL, &eout), FK_ERR_MODEL_CHECKSUM);
        snprintf(cmd, sizeof cmd, "cp %s/yunet_s_dynamic.onnx %s/", path_of("models"), dir);
        CHECK(system(cmd) == 0, "copy detector");
        BAD(fk_engine_new_from_dir(dir, NULL, &eout), FK_ERR_MODEL_CHECKSUM); /* truncated embedder */
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        CHECK(system(cmd) == 0, "cleanup");
    }
    CHECK(eout == (fk_engine *)0x1, "engine out untouched");

    /* Options. */
    fk_options *o = fk_options_new();
    BAD(fk_options_set(NULL, "flip", "1"), FK_ERR_NULL_ARGUMENT);
    BAD(fk_options_set(o, NULL, "1"), FK_ERR_NULL_ARGUMENT);
    BAD(fk_options_set(o, "flip", NULL), FK_ERR_NULL_ARGUMENT);
    BAD(fk_options_set(o, "no_such_option", "1"), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_options_set(o, "detector_input_size", "-5"), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_options_set(o, "detector_input_size", "100000"), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_options_set(o, "max_faces", "0"), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_options_set(o, "operating_point", "far_1e-9"), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_options_set(o, "detector", "no_such_model"), FK_OK); /* accepted; fails at engine creation: */
    BAD(fk_engine_new_from_dir(path_of("models"), o, &eout), FK_ERR_MODEL_FORMAT);
    fk_options_free(o);
    fk_options_free(NULL);
    fk_engine_free(NULL);
    fk_gallery_free(NULL);
    fk_image_release(NULL);

    /* Image descriptors. */
    const uint8_t *px = good.data;
    fk_image img;
    fk_face faces[4];
    memset(faces, 0x5a, sizeof faces);
    size_t count = 777;
#define IMG(d, l, w, h, s, f, r) (img = (fk_image){.data = (d), .len = (l), .width = (w), .height = (h), .stride = (s), .format = (f), .rotation = (r)}, &img)
    BAD(fk_detect(e, NULL, faces, 4, &count), FK_ERR_NULL_ARGUMENT);
    BAD(fk_detect(NULL, &good, faces, 4, &count), FK_ERR_NULL_ARGUMENT);
    BAD(fk_detect(e, &good, faces, 4, NULL), FK_ERR_NULL_ARGUMENT);
    BAD(fk_detect(e, &good, NULL, 4, &count), FK_ERR_NULL_ARGUMENT);
    BAD(fk_detect(e, IMG(NULL, good.len, 250, 250, 750, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_NULL_ARGUMENT);
    BAD(fk_detect(e, IMG(px, 0, 250, 250, 750, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_detect(e, IMG(px, good.len, 0, 250, 750, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 250, 0, 750, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 749, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 0, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len - 1, 250, 250, 750, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 1000, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 1000, FK_FORMAT_RGBA8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 249, FK_FORMAT_NV21, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, 250 * 250, 250, 250, 250, FK_FORMAT_NV21, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, 250 * 250 + 2 * 125 * 125 - 1, 250, 250, 250, FK_FORMAT_I420, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 750, 0, 0), faces, 4, &count), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 750, 10, 0), faces, 4, &count), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 750, FK_FORMAT_YUV420, 0), faces, 4, &count), FK_ERR_NULL_ARGUMENT); /* no U/V planes */
    img.u = px, img.u_len = 125 * 125, img.v = px, img.v_len = 125 * 125, img.uv_stride = 124, img.uv_pixel_stride = 1;
    BAD(fk_detect(e, &img, faces, 4, &count), FK_ERR_INVALID_IMAGE); /* chroma row stride too small */
    img.uv_stride = 125, img.uv_pixel_stride = 0;
    BAD(fk_detect(e, &img, faces, 4, &count), FK_ERR_INVALID_IMAGE); /* pixel stride 0 */
    img.uv_pixel_stride = 2;
    BAD(fk_detect(e, &img, faces, 4, &count), FK_ERR_INVALID_IMAGE); /* planes too short for pixel stride 2 */
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 750, -1, 0), faces, 4, &count), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 750, FK_FORMAT_RGB8, 45), faces, 4, &count), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, 750, FK_FORMAT_RGB8, -90), faces, 4, &count), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_detect(e, IMG(px, good.len, 100000, 100000, 300000, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 250, 250, SIZE_MAX, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, SIZE_MAX, 250, 250, 750, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_ARGUMENT);
    /* Sizes that overflow a 32-bit size_t (armv7) but not a 64-bit one: the same status on both. stride x height:
       1 GiB rows, 8 of them (8 GiB: wraps on 32-bit, more than len on 64-bit); the NV21 luma + chroma planes;
       the chroma row stride of planar YUV x its rows. */
    BAD(fk_detect(e, IMG(px, good.len, 8, 8, (size_t)1 << 30, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 16, 16, (size_t)3 << 28, FK_FORMAT_NV21, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 16, 16, (size_t)3 << 28, FK_FORMAT_I420, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    img = (fk_image){.data = px, .len = 250 * 250, .width = 250, .height = 250, .stride = 250, .format = FK_FORMAT_YUV420,
                     .u = px, .u_len = 125 * 125, .v = px, .v_len = 125 * 125, .uv_stride = (size_t)1 << 26, .uv_pixel_stride = 1};
    BAD(fk_detect(e, &img, faces, 4, &count), FK_ERR_INVALID_IMAGE); /* 124 rows x 64 MiB: wraps on 32-bit */
    /* width x height x bytes per pixel: sides past MAX_SIDE (16384) are refused before any product, so a
       width x 4 that wraps 32 bits (2^30 x 4) never reaches the arithmetic. */
    BAD(fk_detect(e, IMG(px, good.len, 1u << 30, 2, 0, FK_FORMAT_RGBA8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    BAD(fk_detect(e, IMG(px, good.len, 16384, 16384, 16384 * 4, FK_FORMAT_RGBA8, 0), faces, 4, &count), FK_ERR_INVALID_IMAGE);
    /* A buffer length past isize::MAX (2 GiB on 32-bit): a length no allocation can have. */
    BAD(fk_detect(e, IMG(px, (SIZE_MAX >> 1) + 1, 250, 250, 750, FK_FORMAT_RGB8, 0), faces, 4, &count), FK_ERR_INVALID_ARGUMENT);
    CHECK(count == 777, "count untouched");
    {
        uint8_t blank[4] = {0};
        fk_face f1;
        size_t c1 = 9;
        EXPECT(fk_detect(e, IMG(blank, 3, 1, 1, 3, FK_FORMAT_RGB8, 0), &f1, 1, &c1), FK_OK); /* 1x1: no face, not an error */
        CHECK(c1 == 0, "1x1 image has no face");
        bad_cases++;
    }
    for (size_t i = 0; i < sizeof faces; i++) CHECK(((uint8_t *)faces)[i] == 0x5a, "faces untouched");

    /* Tracker. */
    {
        fk_tracker *tr = NULL, *none = NULL;
        fk_track tk[2];
        fk_event ev[2];
        size_t n = 5;
        float v[128] = {0};
        BAD(fk_tracker_new(NULL, &tr), FK_ERR_NULL_ARGUMENT);
        BAD(fk_tracker_new(e, NULL), FK_ERR_NULL_ARGUMENT);
        BAD(fk_tracker_new((const fk_engine *)&good, &none), FK_ERR_INVALID_ARGUMENT); /* not an engine */
        CHECK(none == NULL, "out untouched");
        EXPECT(fk_tracker_new(e, &tr), FK_OK);
        BAD(fk_tracker_update(NULL, &good, tk, 2, &n), FK_ERR_NULL_ARGUMENT);
        BAD(fk_tracker_update(tr, NULL, tk, 2, &n), FK_ERR_NULL_ARGUMENT);
        BAD(fk_tracker_update(tr, &good, NULL, 2, &n), FK_ERR_NULL_ARGUMENT);
        BAD(fk_tracker_update(tr, &good, tk, 2, NULL), FK_ERR_NULL_ARGUMENT);
        BAD(fk_tracker_update(tr, IMG(px, good.len, 250, 250, 749, FK_FORMAT_RGB8, 0), tk, 2, &n), FK_ERR_INVALID_IMAGE);
        BAD(fk_tracker_update(tr, IMG(px, 10, 250, 250, 750, FK_FORMAT_RGB8, 0), tk, 2, &n), FK_ERR_INVALID_IMAGE);
        CHECK(n == 5, "count untouched");
        BAD(fk_tracker_set(tr, "detect_every", "0"), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_tracker_set(tr, "detect_every", "2.5"), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_tracker_set(tr, "roi_scale", "nan"), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_tracker_set(tr, "no_such_option", "1"), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_tracker_set(tr, "aggregate", "median"), FK_ERR_INVALID_ARGUMENT);
        EXPECT(fk_tracker_set(tr, "aggregate", "best"), FK_OK);
        EXPECT(fk_tracker_set(tr, "aggregate", "mean"), FK_OK);
        BAD(fk_tracker_set(tr, NULL, "1"), FK_ERR_NULL_ARGUMENT);
        BAD(fk_tracker_set_template(tr, v, 128), FK_ERR_INVALID_ARGUMENT); /* zero vector */
        v[0] = 1;
        BAD(fk_tracker_set_template(tr, v, 127), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_tracker_set_gallery(tr, (const fk_gallery *)&good), FK_ERR_INVALID_ARGUMENT); /* not a gallery */
        BAD(fk_tracker_poll_events(tr, NULL, 2, &n), FK_ERR_NULL_ARGUMENT);
        BAD(fk_tracker_poll_events(tr, ev, 2, NULL), FK_ERR_NULL_ARGUMENT);
        BAD(fk_tracker_best_embedding(tr, 1, v, 128), FK_ERR_NOT_FOUND);
        BAD(fk_tracker_reset(NULL), FK_ERR_NULL_ARGUMENT);
        EXPECT(fk_tracker_set_gallery(tr, NULL), FK_OK);
        EXPECT(fk_tracker_update(tr, &good, NULL, 0, &n), FK_OK); /* count only */
        CHECK(n == 1, "one face tracked");
        fk_tracker_free(tr);
        fk_tracker_free(NULL);
    }

    /* Align / embed / compare / verify / quality. */
    uint8_t crop[112 * 112 * 3];
    float emb[128], emb2[128];
    for (int i = 0; i < 128; i++) emb[i] = 42.0f;
    BAD(fk_align(e, &good, &face, crop, sizeof crop - 1), FK_ERR_BUFFER_TOO_SMALL);
    BAD(fk_align(e, &good, NULL, crop, sizeof crop), FK_ERR_NULL_ARGUMENT);
    BAD(fk_align(e, &good, &face, NULL, sizeof crop), FK_ERR_NULL_ARGUMENT);
    BAD(fk_align(NULL, &good, &face, crop, sizeof crop), FK_ERR_NULL_ARGUMENT);
    BAD(fk_embed(e, &good, &face, emb, 127), FK_ERR_BUFFER_TOO_SMALL);
    BAD(fk_embed(e, &good, &face, emb, 0), FK_ERR_BUFFER_TOO_SMALL);
    BAD(fk_embed(e, &good, &face, NULL, 128), FK_ERR_NULL_ARGUMENT);
    BAD(fk_embed(e, NULL, &face, emb, 128), FK_ERR_NULL_ARGUMENT);
    BAD(fk_embed(e, &good, NULL, emb, 128), FK_ERR_NULL_ARGUMENT);
    {
        fk_face nanface = face;
        nanface.landmarks[0][0] = 0.0f / 0.0f;
        BAD(fk_embed(e, &good, &nanface, emb, 128), FK_ERR_INVALID_ARGUMENT);
        fk_face degenerate = face;
        for (int i = 0; i < 5; i++) degenerate.landmarks[i][0] = degenerate.landmarks[i][1] = 10.0f;
        BAD(fk_embed(e, &good, &degenerate, emb, 128), FK_ERR_INVALID_ARGUMENT);
    }
    for (int i = 0; i < 128; i++) CHECK(emb[i] == 42.0f, "embedding untouched");
    EXPECT(fk_embed(e, &good, &face, emb, 128), FK_OK);
    memcpy(emb2, emb, sizeof emb);
    fk_match m = {.similarity = -7};
    BAD(fk_compare(e, emb, emb2, 127, &m), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_compare(e, emb, emb2, 0, &m), FK_ERR_INVALID_ARGUMENT);
    /* float counts whose byte size wraps size_t (2^30 floats = 4 GiB on 32-bit; 2^62 on 64-bit) */
    BAD(fk_compare(e, emb, emb2, (SIZE_MAX >> 2) + 1, &m), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_compare(e, NULL, emb2, 128, &m), FK_ERR_NULL_ARGUMENT);
    BAD(fk_compare(e, emb, NULL, 128, &m), FK_ERR_NULL_ARGUMENT);
    BAD(fk_compare(e, emb, emb2, 128, NULL), FK_ERR_NULL_ARGUMENT);
    {
        float zero[128] = {0};
        BAD(fk_compare(e, emb, zero, 128, &m), FK_ERR_INVALID_ARGUMENT);
    }
    BAD(fk_verify(e, &good, NULL, &m), FK_ERR_NULL_ARGUMENT);
    BAD(fk_verify(e, &good, &good, NULL), FK_ERR_NULL_ARGUMENT);
    {
        uint8_t gray[64 * 64];
        memset(gray, 128, sizeof gray);
        BAD(fk_verify(e, &good, IMG(gray, sizeof gray, 64, 64, 64, FK_FORMAT_GRAY8, 0), &m), FK_ERR_NO_FACE);
    }
    CHECK(m.similarity == -7, "match untouched");
    fk_quality_report q;
    q.overall = -1;
    BAD(fk_quality(e, &good, NULL, &q, sizeof q), FK_ERR_NULL_ARGUMENT);
    BAD(fk_quality(e, &good, &face, NULL, sizeof q), FK_ERR_NULL_ARGUMENT);
    BAD(fk_quality(NULL, &good, &face, &q, sizeof q), FK_ERR_NULL_ARGUMENT);
    BAD(fk_quality(e, &good, &face, &q, sizeof q - 4), FK_ERR_BUFFER_TOO_SMALL);
    CHECK(q.overall == -1, "quality untouched");
    {
        /* Liveness: NULLs, a short report, a face cut off, a 1-pixel box, a frame smaller than the crop. */
        fk_liveness_report lr;
        lr.score = -1;
        BAD(fk_liveness(NULL, &good, &face, &lr, sizeof lr), FK_ERR_NULL_ARGUMENT);
        BAD(fk_liveness(e, NULL, &face, &lr, sizeof lr), FK_ERR_NULL_ARGUMENT);
        BAD(fk_liveness(e, &good, NULL, &lr, sizeof lr), FK_ERR_NULL_ARGUMENT);
        BAD(fk_liveness(e, &good, &face, NULL, sizeof lr), FK_ERR_NULL_ARGUMENT);
        BAD(fk_liveness(e, &good, &face, &lr, sizeof lr - 4), FK_ERR_BUFFER_TOO_SMALL);
        BAD(fk_liveness(e, &good, &face, &lr, 0), FK_ERR_BUFFER_TOO_SMALL);
        fk_face nanface = face;
        nanface.width = 0.0f / 0.0f;
        BAD(fk_liveness(e, &good, &nanface, &lr, sizeof lr), FK_ERR_INVALID_ARGUMENT);
        CHECK(lr.score == -1, "report untouched");
        fk_face cut = face;
        cut.x = -cut.width * 0.6f;
        BAD(fk_liveness(e, &good, &cut, &lr, sizeof lr), FK_OK);
        CHECK(lr.status == FK_LIVENESS_STATUS_FACE_AT_BORDER && !lr.is_live && lr.score != lr.score, "cut face: status %d", (int)lr.status);
        fk_face dot = face;
        dot.width = dot.height = 1.0f;
        BAD(fk_liveness(e, &good, &dot, &lr, sizeof lr), FK_OK);
        CHECK(lr.status == FK_LIVENESS_STATUS_FACE_TOO_SMALL && !lr.is_live, "1-pixel box: status %d", (int)lr.status);
        uint8_t tiny[40 * 40 * 3];
        memset(tiny, 90, sizeof tiny);
        fk_face in_tiny = {.x = 5, .y = 5, .width = 30, .height = 30, .score = 0.9f};
        for (int i = 0; i < 5; i++) in_tiny.landmarks[i][0] = in_tiny.landmarks[i][1] = 20.0f;
        BAD(fk_liveness(e, IMG(tiny, sizeof tiny, 40, 40, 120, FK_FORMAT_RGB8, 0), &in_tiny, &lr, sizeof lr), FK_OK);
        CHECK(lr.status == FK_LIVENESS_STATUS_FACE_TOO_SMALL, "40x40 frame: status %d", (int)lr.status);
        /* Options of the liveness stage. */
        fk_options *lo = fk_options_new();
        BAD(fk_options_set(lo, "liveness_operating_point", "apcer_1e-3"), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_options_set(lo, "require_liveness", "maybe"), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_options_set(lo, "liveness_operating_point", "apcer_1e-2"), FK_OK);
        BAD(fk_options_set(lo, "load_liveness", "0"), FK_OK);
        if (under_valgrind) goto done_engines;
        fk_engine *nolive = NULL;
        EXPECT(fk_engine_new_from_dir(path_of("models"), lo, &nolive), FK_OK);
        BAD(fk_liveness(nolive, &good, &face, &lr, sizeof lr), FK_ERR_UNSUPPORTED);
        BAD(fk_verify(nolive, &good, &good, &m), FK_ERR_UNSUPPORTED); /* the policy requires liveness */
        fk_engine_free(nolive);
        /* A model directory whose manifest has no liveness entries: liveness is unsupported, the rest works. */
        fk_engine *nomodels = NULL;
        EXPECT(fk_engine_new_from_dir(no_liveness_dir, NULL, &nomodels), FK_OK);
        BAD(fk_liveness(nomodels, &good, &face, &lr, sizeof lr), FK_ERR_UNSUPPORTED);
        float ne[128];
        EXPECT(fk_embed(nomodels, &good, &face, ne, 128), FK_OK);
        fk_engine_free(nomodels);
        /* A manifest that promises 2 liveness classes: the model's 3 are a format error at load. */
        BAD(fk_engine_new_from_dir(mismatch_dir, NULL, &eout), FK_ERR_MODEL_FORMAT);
    done_engines:
        fk_options_free(lo);
    }
    uint32_t w = 7, h = 7;
    float thr = -5;
    BAD(fk_engine_crop_size(e, NULL, &h), FK_ERR_NULL_ARGUMENT);
    BAD(fk_engine_threshold(e, 7, &thr), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_engine_threshold(e, FK_OP_FAR_1E3, NULL), FK_ERR_NULL_ARGUMENT);
    BAD(fk_engine_gallery_threshold(e, 1, 100, &thr), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_engine_gallery_threshold(e, FK_OP_FAR_1E3, 100, NULL), FK_ERR_NULL_ARGUMENT);
    BAD(fk_engine_gallery_threshold(NULL, FK_OP_FAR_1E3, 100, &thr), FK_ERR_NULL_ARGUMENT);
    BAD(fk_engine_threshold_for_face(NULL, FK_OP_FAR_1E3, 30.0f, &thr), FK_ERR_NULL_ARGUMENT);
    BAD(fk_engine_threshold_for_face(e, 7, 30.0f, &thr), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_engine_threshold_for_face(e, FK_OP_FAR_1E3, NAN, &thr), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_engine_threshold_for_face(e, FK_OP_FAR_1E3, -1.0f, &thr), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_engine_threshold_for_face(e, FK_OP_FAR_1E3, 30.0f, NULL), FK_ERR_NULL_ARGUMENT);
    BAD(fk_engine_gallery_threshold_for_face(e, FK_OP_FAR_1E3, 100, INFINITY, &thr), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_engine_gallery_threshold_for_face(e, FK_OP_FAR_1E3, 100, 30.0f, NULL), FK_ERR_NULL_ARGUMENT);
    CHECK(w == 7 && h == 7 && thr == -5, "outputs untouched");
    CHECK(fk_engine_embedding_dim(NULL) == 0, "dim of NULL");

    /* Files. */
    fk_image li = {0};
    BAD(fk_image_load(NULL, &li), FK_ERR_NULL_ARGUMENT);
    BAD(fk_image_load("/nonexistent.jpg", &li), FK_ERR_IO);
    BAD(fk_image_load(path_of("models/README.md"), &li), FK_ERR_DECODE);
    CHECK(li.data == NULL, "image untouched");

    /* Gallery. */
    fk_gallery *g = NULL, *gout = (fk_gallery *)0x1;
    EXPECT(fk_gallery_new(e, &g), FK_OK);
    BAD(fk_gallery_new(NULL, &gout), FK_ERR_NULL_ARGUMENT);
    BAD(fk_gallery_enroll(g, NULL, emb, 128), FK_ERR_NULL_ARGUMENT);
    BAD(fk_gallery_enroll(g, "", emb, 128), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_gallery_enroll(g, "x", emb, 64), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_gallery_enroll(g, "x", emb, (SIZE_MAX >> 2) + 1), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_gallery_enroll(g, "x", NULL, 128), FK_ERR_NULL_ARGUMENT);
    {
        char longid[300];
        memset(longid, 'a', sizeof longid - 1);
        longid[299] = 0;
        BAD(fk_gallery_enroll(g, longid, emb, 128), FK_ERR_INVALID_ARGUMENT);
        float zero[128] = {0};
        BAD(fk_gallery_enroll(g, "x", zero, 128), FK_ERR_INVALID_ARGUMENT);
    }
    BAD(fk_gallery_remove(g, "nobody"), FK_ERR_NOT_FOUND);
    BAD(fk_gallery_remove(NULL, "x"), FK_ERR_NULL_ARGUMENT);
    fk_hit hits[2];
    size_t nh = 99;
    BAD(fk_gallery_search(g, emb, 128, 0.3f, NULL, 2, &nh), FK_ERR_NULL_ARGUMENT);
    BAD(fk_gallery_search(g, emb, 128, 0.3f, hits, 0, &nh), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_gallery_search(g, emb, 12, 0.3f, hits, 2, &nh), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_gallery_search(g, emb, 128, 0.0f / 0.0f, hits, 2, &nh), FK_ERR_INVALID_ARGUMENT);
    CHECK(nh == 99, "count untouched");
    float gthr = -5;
    BAD(fk_gallery_threshold(e, NULL, FK_OP_FAR_1E3, 30.0f, &gthr), FK_ERR_NULL_ARGUMENT);
    BAD(fk_gallery_threshold(NULL, g, FK_OP_FAR_1E3, 30.0f, &gthr), FK_ERR_NULL_ARGUMENT);
    BAD(fk_gallery_threshold(e, g, 9, 30.0f, &gthr), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_gallery_threshold(e, g, FK_OP_FAR_1E3, -3.0f, &gthr), FK_ERR_INVALID_ARGUMENT);
    BAD(fk_gallery_threshold(e, g, FK_OP_FAR_1E3, 30.0f, NULL), FK_ERR_NULL_ARGUMENT);
    CHECK(gthr == -5, "gallery threshold untouched");
    BAD(fk_gallery_save(g, NULL), FK_ERR_NULL_ARGUMENT);
    BAD(fk_gallery_save(g, "/nonexistent-dir/x.fkg"), FK_ERR_IO);
    BAD(fk_gallery_load(e, "/nonexistent.fkg", &gout), FK_ERR_IO);
    BAD(fk_gallery_load(e, path_of("models/README.md"), &gout), FK_ERR_CORRUPT);
    BAD(fk_gallery_load(e, NULL, &gout), FK_ERR_NULL_ARGUMENT);
    CHECK(gout == (fk_gallery *)0x1, "gallery out untouched");
    CHECK(fk_gallery_count(NULL) == 0, "count of NULL");

    /* Templates out and in. */
    {
        float unit[128] = {0}, tv[128], twice[128] = {0};
        unit[0] = 1.0f;
        twice[0] = 2.0f;
        char tid[FK_ID_MAX + 1] = "untouched", mid[8] = "keep";
        EXPECT(fk_gallery_add_template(g, "t", unit, 128), FK_OK);
        size_t nt = fk_gallery_template_count(g);
        BAD(fk_gallery_template(NULL, 0, tid, sizeof tid, tv, 128), FK_ERR_NULL_ARGUMENT);
        BAD(fk_gallery_template(g, 0, NULL, sizeof tid, tv, 128), FK_ERR_NULL_ARGUMENT);
        BAD(fk_gallery_template(g, 0, tid, sizeof tid, NULL, 128), FK_ERR_NULL_ARGUMENT);
        BAD(fk_gallery_template(g, nt, tid, sizeof tid, tv, 128), FK_ERR_INVALID_ARGUMENT); /* out of range */
        BAD(fk_gallery_template(g, SIZE_MAX, tid, sizeof tid, tv, 128), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_gallery_template(g, 0, tid, 1, tv, 128), FK_ERR_BUFFER_TOO_SMALL); /* no room for the key */
        BAD(fk_gallery_template(g, 0, tid, sizeof tid, tv, 127), FK_ERR_BUFFER_TOO_SMALL);
        BAD(fk_gallery_template(g, 0, tid, sizeof tid, tv, 0), FK_ERR_BUFFER_TOO_SMALL);
        BAD(fk_gallery_template((const fk_gallery *)&good, 0, tid, sizeof tid, tv, 128), FK_ERR_INVALID_ARGUMENT);
        CHECK(strcmp(tid, "untouched") == 0, "template id untouched");
        BAD(fk_gallery_add_template(NULL, "t", unit, 128), FK_ERR_NULL_ARGUMENT);
        BAD(fk_gallery_add_template(g, NULL, unit, 128), FK_ERR_NULL_ARGUMENT);
        BAD(fk_gallery_add_template(g, "t", NULL, 128), FK_ERR_NULL_ARGUMENT);
        BAD(fk_gallery_add_template(g, "t", unit, 64), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_gallery_add_template(g, "t", twice, 128), FK_ERR_INVALID_ARGUMENT); /* not unit-norm */
        BAD(fk_gallery_add_template(g, "", unit, 128), FK_ERR_INVALID_ARGUMENT);
        unit[5] = NAN;
        BAD(fk_gallery_add_template(g, "t", unit, 128), FK_ERR_INVALID_ARGUMENT);
        CHECK(fk_gallery_template_count(g) == nt, "nothing added by refused templates");
        BAD(fk_gallery_model_id(NULL, mid, sizeof mid), FK_ERR_NULL_ARGUMENT);
        BAD(fk_gallery_model_id(g, NULL, sizeof mid), FK_ERR_NULL_ARGUMENT);
        BAD(fk_gallery_model_id(g, mid, sizeof mid), FK_ERR_BUFFER_TOO_SMALL); /* a sha256 needs 65 */
        CHECK(strcmp(mid, "keep") == 0, "model id untouched");
        CHECK(fk_gallery_template_count(NULL) == 0, "template count of NULL");
    }
    fk_gallery_free(g);

    /* Camera calibration: NULLs, bad frames, and footage too thin to measure a camera (nothing written). */
    {
        fk_camera_calibrator *cc = NULL, *ccout = (fk_camera_calibrator *)0x1;
        BAD(fk_camera_calibrator_new(NULL, &ccout), FK_ERR_NULL_ARGUMENT);
        BAD(fk_camera_calibrator_new(e, NULL), FK_ERR_NULL_ARGUMENT);
        BAD(fk_camera_calibrator_new((const fk_engine *)&good, &ccout), FK_ERR_INVALID_ARGUMENT); /* not an engine */
        CHECK(ccout == (fk_camera_calibrator *)0x1, "calibrator out untouched");
        EXPECT(fk_camera_calibrator_new(e, &cc), FK_OK);
        BAD(fk_camera_calibrator_add_frame(NULL, &good), FK_ERR_NULL_ARGUMENT);
        BAD(fk_camera_calibrator_add_frame(cc, NULL), FK_ERR_NULL_ARGUMENT);
        BAD(fk_camera_calibrator_add_frame(cc, IMG(px, good.len - 1, 250, 250, 750, FK_FORMAT_RGB8, 0)), FK_ERR_INVALID_IMAGE);
        BAD(fk_camera_calibrator_add_frame(cc, IMG(px, good.len, 250, 250, 749, FK_FORMAT_RGB8, 0)), FK_ERR_INVALID_IMAGE);
        BAD(fk_camera_calibrator_add_frame(cc, IMG(px, good.len, 250, 250, 750, 42, 0)), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_camera_calibrator_add_frame(cc, IMG(NULL, good.len, 250, 250, 750, FK_FORMAT_RGB8, 0)), FK_ERR_NULL_ARGUMENT);
        BAD(fk_camera_calibrator_new_stream(NULL), FK_ERR_NULL_ARGUMENT);
        CHECK(fk_camera_calibrator_frames(cc) == 0 && fk_camera_calibrator_frames(NULL) == 0, "refused frames are not counted");
        char cout_path[256];
        snprintf(cout_path, sizeof cout_path, "/tmp/fk-c-camera-bad-%d.json", (int)getpid());
        remove(cout_path);
        fk_camera_report cr, before;
        memset(&cr, 0x5a, sizeof cr);
        before = cr;
        BAD(fk_camera_calibrator_finish(cc, 30.0, "nothing", cout_path, &cr, sizeof cr), FK_ERR_NO_FACE); /* no frame yet */
        uint8_t gray[64 * 48 * 3];
        memset(gray, 128, sizeof gray);
        for (int i = 0; i < 3; i++) EXPECT(fk_camera_calibrator_add_frame(cc, IMG(gray, sizeof gray, 64, 48, 192, FK_FORMAT_RGB8, 0)), FK_OK);
        CHECK(fk_camera_calibrator_frames(cc) == 3, "3 frames");
        BAD(fk_camera_calibrator_finish(cc, 30.0, "blank frames", cout_path, &cr, sizeof cr), FK_ERR_NO_FACE);
        CHECK(strstr(fk_last_error(), "3 frames") != NULL, "the refusal counts the frames: %s", fk_last_error());
        /* One still photo, repeated: a face, but nobody in view with it. */
        EXPECT(fk_camera_calibrator_new_stream(cc), FK_OK);
        for (int i = 0; i < 4; i++) EXPECT(fk_camera_calibrator_add_frame(cc, &good), FK_OK);
        BAD(fk_camera_calibrator_finish(cc, 30.0, "a still photo", cout_path, &cr, sizeof cr), FK_ERR_INVALID_ARGUMENT);
        CHECK(strstr(fk_last_error(), "in view together") && strstr(fk_last_error(), "at least 10") && strstr(fk_last_error(), "more such pairs"),
              "the refusal says what is missing: %s", fk_last_error());
        BAD(fk_camera_calibrator_finish(cc, 30.0, "a still photo", NULL, NULL, 0), FK_ERR_INVALID_ARGUMENT); /* measure only */
        BAD(fk_camera_calibrator_finish(NULL, 30.0, "x", cout_path, &cr, sizeof cr), FK_ERR_NULL_ARGUMENT);
        BAD(fk_camera_calibrator_finish(cc, 30.0, NULL, cout_path, &cr, sizeof cr), FK_ERR_NULL_ARGUMENT);
        BAD(fk_camera_calibrator_finish(cc, 30.0, "x", cout_path, &cr, sizeof cr - 1), FK_ERR_BUFFER_TOO_SMALL);
        BAD(fk_camera_calibrator_finish(cc, 30.0, "x", cout_path, &cr, 0), FK_ERR_BUFFER_TOO_SMALL);
        BAD(fk_camera_calibrator_finish(cc, 0.0, "x", cout_path, &cr, sizeof cr), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_camera_calibrator_finish(cc, NAN, "x", cout_path, &cr, sizeof cr), FK_ERR_INVALID_ARGUMENT);
        BAD(fk_camera_calibrator_finish(cc, -INFINITY, "x", cout_path, &cr, sizeof cr), FK_ERR_INVALID_ARGUMENT);
        CHECK(memcmp(&cr, &before, sizeof cr) == 0, "report untouched");
        FILE *written = fopen(cout_path, "r");
        CHECK(written == NULL, "nothing written at manifest_out");
        CHECK(fk_camera_calibrator_frames(cc) == 7, "7 frames over two streams");
        fk_camera_calibrator_free(cc);
        fk_camera_calibrator_free(NULL);
    }

    /* Status strings. */
    CHECK(strncmp(fk_status_str(FK_ERR_NO_FACE), "FK_ERR_NO_FACE", 14) == 0, "status str");
    CHECK(strcmp(fk_status_str(12345), "unknown status") == 0, "unknown status str");

    fk_image_release(&good);
    fk_engine_free(e);
    printf("bad-input cases: %d, all returned their documented status, none crashed\n", bad_cases);
}

/* ------------------------------------------------------------------------------------------------ */
typedef struct {
    fk_engine *e;
    fk_image *a, *b;
    int calls;
    fk_match first;
    int mismatches;
} job;

static void *worker(void *arg) {
    job *j = arg;
    for (int i = 0; i < j->calls; i++) {
        fk_match m;
        if (fk_verify(j->e, j->a, j->b, &m) != FK_OK) {
            j->mismatches++;
            continue;
        }
        if (memcmp(&m, &j->first, sizeof m) != 0) j->mismatches++;
    }
    return NULL;
}

static void threads(int calls) {
    fk_engine *e = load_engine_with("0", "0"); /* decisions without liveness: its models need not load */
    fk_image a = load("data/lfw/images/George_W_Bush/George_W_Bush_0001.jpg");
    fk_image b = load("data/lfw/images/George_W_Bush/George_W_Bush_0003.jpg");
    fk_match ref;
    EXPECT(fk_verify(e, &a, &b, &ref), FK_OK);
    pthread_t t[8];
    job jobs[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (job){e, &a, &b, calls, ref, 0};
        CHECK(pthread_create(&t[i], NULL, worker, &jobs[i]) == 0, "pthread_create");
    }
    int bad = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        bad += jobs[i].mismatches;
    }
    CHECK(bad == 0, "%d of %d threaded results differ from the single-thread result", bad, 8 * calls);
    printf("8 threads x %d verify calls on one engine: all identical (similarity %.6f)\n", calls, ref.similarity);
    fk_image_release(&a);
    fk_image_release(&b);
    fk_engine_free(e);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s SHARED_DIR happy|bad|threads [CALLS | NO_LIVENESS_DIR MISMATCH_DIR]\n", argv[0]);
        return 2;
    }
    snprintf(shared, sizeof shared, "%s", argv[1]);
    if (getenv("FK_TEST_DET_SIZE")) det_size = getenv("FK_TEST_DET_SIZE");
    under_valgrind = getenv("FK_TEST_VALGRIND") != NULL;
    if (strcmp(argv[2], "happy") == 0) {
        happy();
    } else if (strcmp(argv[2], "bad") == 0) {
        if (argc < 5) {
            fprintf(stderr, "bad needs NO_LIVENESS_DIR MISMATCH_DIR\n");
            return 2;
        }
        no_liveness_dir = argv[3];
        mismatch_dir = argv[4];
        bad();
    }
    else if (strcmp(argv[2], "threads") == 0) threads(argc > 3 ? atoi(argv[3]) : 50);
    else return 2;
    printf("%s: %d checks passed\n", argv[2], checks);
    return 0;
}
