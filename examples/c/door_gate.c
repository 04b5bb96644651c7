/* A door gate in 130 lines: enroll people from photos, read camera frames (raw NV21 on stdin), track faces, and
 * print one line per decided person — OPEN <id> or DENY <reason>.
 *
 *   cc -std=c11 examples/c/door_gate.c -Iinclude -Ltarget/release -lfacekit -Wl,-rpath,$PWD/target/release -o door_gate
 *   ffmpeg -v error -i clip.mkv -f rawvideo -pix_fmt nv21 - | ./door_gate ../shared/models PEOPLE_DIR 640 480
 *
 * PEOPLE_DIR holds one photo per person, named after them (alice.jpg → "alice"). */
/* 64-bit directory offsets on 32-bit boards (armv7): without it glibc's readdir fails with EOVERFLOW on a file
 * system whose offsets do not fit 32 bits, and the folder looks empty (seen under qemu-arm). */
#define _FILE_OFFSET_BITS 64
#include "facekit.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, fk_status s) {
    fprintf(stderr, "door_gate: %s: %s (%s)\n", what, fk_status_str(s), fk_last_error());
    return 1;
}

static const char *reason(int verdict) {
    switch (verdict) {
    case FK_VERDICT_NO_MATCH: return "unknown person";
    case FK_VERDICT_NOT_LIVE: return "show your real face";
    case FK_VERDICT_POOR_QUALITY: return "look at the camera";
    default: return "undecided";
    }
}

/* Enrolls every .jpg/.png of `dir` under its file name without the extension. Returns the count, -1 on error. */
static int enroll_folder(fk_engine *engine, fk_gallery *gallery, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    int n = 0;
    struct dirent *e;
    while ((errno = 0, e = readdir(d)) != NULL) {
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || (strcmp(dot, ".jpg") != 0 && strcmp(dot, ".png") != 0)) continue;
        char path[4096], id[FK_ID_MAX + 1];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(id, sizeof id, "%.*s", (int)(dot - e->d_name), e->d_name);
        fk_image photo = {0};
        fk_status s = fk_image_load(path, &photo);
        if (s == FK_OK) s = fk_gallery_enroll_image(gallery, engine, id, &photo);
        fk_image_release(&photo);
        if (s != FK_OK) {
            fail(path, s); /* a photo without a usable face is skipped, the rest enrolled */
            continue;
        }
        fprintf(stderr, "enrolled %s\n", id);
        n++;
    }
    if (errno != 0) { /* readdir's NULL is an error, not the end: say so rather than enrol part of the folder */
        perror(dir);
        n = -1;
    }
    closedir(d);
    return n;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s MODEL_DIR PEOPLE_DIR WIDTH HEIGHT < frames.nv21\n", argv[0]);
        return 2;
    }
    const uint32_t w = (uint32_t)strtoul(argv[3], NULL, 10), h = (uint32_t)strtoul(argv[4], NULL, 10);
    if (w == 0 || h == 0 || w > 8192 || h > 8192) {
        fprintf(stderr, "door_gate: bad frame size %sx%s\n", argv[3], argv[4]);
        return 2;
    }
    fk_engine *engine = NULL;
    fk_gallery *gallery = NULL;
    fk_tracker *tracker = NULL;
    fk_status s;
    int rc = 1;
    /* A gate compares every passer-by with everyone enrolled: decide at the strict operating point. */
    fk_options *options = fk_options_new();
    if (!options) return 1;
    s = fk_options_set(options, "operating_point", "far_1e-4");
    if (s == FK_OK) s = fk_engine_new_from_dir(argv[1], options, &engine);
    fk_options_free(options);
    if (s != FK_OK) return fail("load models", s);
    if ((s = fk_gallery_new(engine, &gallery)) != FK_OK) { fail("gallery", s); goto done; }
    if (enroll_folder(engine, gallery, argv[2]) <= 0) { fprintf(stderr, "door_gate: nobody enrolled\n"); goto done; }
    if ((s = fk_tracker_new(engine, &tracker)) != FK_OK) { fail("tracker", s); goto done; }
    if ((s = fk_tracker_set_gallery(tracker, gallery)) != FK_OK) { fail("tracker gallery", s); goto done; }
    /* One entrance, one or two faces at a time: afford the finer region search (128 px rather than the
       default 64, about twice the tracking cost per face). Its finer boxes and landmarks are what the
       liveness and quality checks of each capture see (BENCHMARKS.md, "Tracking": more live webcam
       visitors accepted). */
    if ((s = fk_tracker_set(tracker, "roi_input", "128")) != FK_OK) { fail("tracker setting", s); goto done; }

    /* NV21: w*h bytes of Y, then h/2 rows of interleaved V/U. The camera's buffer goes in as it is. */
    const size_t frame_len = (size_t)w * h + (size_t)w * ((h + 1) / 2);
    uint8_t *frame = malloc(frame_len);
    fk_track tracks[16];
    fk_event events[32];
    size_t n_tracks, n_events;
    if (!frame) goto done;
    while (fread(frame, 1, frame_len, stdin) == frame_len) {
        fk_image img = {.data = frame, .len = frame_len, .width = w, .height = h, .stride = w, .format = FK_FORMAT_NV21, .rotation = 0};
        if ((s = fk_tracker_update(tracker, &img, tracks, 16, &n_tracks)) != FK_OK) { fail("frame", s); break; }
        do {
            if ((s = fk_tracker_poll_events(tracker, events, 32, &n_events)) != FK_OK) { fail("events", s); break; }
            for (size_t i = 0; i < n_events; i++) {
                const fk_event *ev = &events[i];
                if (ev->kind != FK_EVENT_DECIDED) continue;
                if (ev->decision.verdict == FK_VERDICT_ACCEPTED)
                    printf("OPEN %s (frame %llu, similarity %.3f)\n", ev->decision.identity, (unsigned long long)ev->frame, ev->decision.similarity);
                else
                    printf("DENY %s (frame %llu)\n", reason(ev->decision.verdict), (unsigned long long)ev->frame);
                fflush(stdout);
            }
        } while (n_events == 32);
    }
    free(frame);
    rc = s == FK_OK ? 0 : 1;
done:
    fk_tracker_free(tracker);
    fk_gallery_free(gallery);
    fk_engine_free(engine);
    return rc;
}
