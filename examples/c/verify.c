/* Verify two photos with facekit: are they the same person?
 *   cc -std=c11 examples/c/verify.c -Iinclude -Ltarget/release -lfacekit -Wl,-rpath,$PWD/target/release -o verify
 *   ./verify ../shared/models A.jpg B.jpg                                                                     */
#include "facekit.h"

#include <stdio.h>

static int fail(const char *what, fk_status s) {
    fprintf(stderr, "%s: %s (%s)\n", what, fk_status_str(s), fk_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL_DIR IMAGE_A IMAGE_B\n", argv[0]);
        return 2;
    }
    fk_engine *engine = NULL;
    fk_status s = fk_engine_new_from_dir(argv[1], NULL, &engine); /* NULL options = defaults */
    if (s != FK_OK) return fail("load models", s);

    /* A camera frame would be described directly: {pixels, length, width, height, stride, FK_FORMAT_NV21, 90}. */
    fk_image a = {0}, b = {0};
    fk_match m;
    int rc = 1;
    if ((s = fk_image_load(argv[2], &a)) != FK_OK) { fail(argv[2], s); goto done; }
    if ((s = fk_image_load(argv[3], &b)) != FK_OK) { fail(argv[3], s); goto done; }
    if ((s = fk_verify(engine, &a, &b, &m)) != FK_OK) { fail("verify", s); goto done; }
    printf("%s: similarity %.4f, threshold %.4f (false-accept rate 1e-%d)\n",
           m.is_match ? "same person" : "different people", m.similarity, m.threshold, m.operating_point);
    rc = 0;
done:
    fk_image_release(&a);
    fk_image_release(&b);
    fk_engine_free(engine);
    return rc;
}
