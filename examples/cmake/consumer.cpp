// Verifies two photos with an installed facekit: examples/cmake/CMakeLists.txt builds it with find_package or
// pkg-config, against the shared or the static library.
//   facekit_consumer [--no-liveness] [MODEL_DIR] IMAGE_A IMAGE_B
// MODEL_DIR defaults to $FACEKIT_MODELS, then to the installed default pack the build found
// (PREFIX/share/facekit/models). The C API has no search of its own: fk_engine_new_from_dir takes a directory.
// Exit status: 0 compared (the line says whether the faces match), 1 an error, 2 usage, 3 header/library mismatch.
#include <facekit.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#ifndef FACEKIT_CONSUMER_MODELS
#define FACEKIT_CONSUMER_MODELS ""
#endif

namespace {

struct EngineFree {
    void operator()(fk_engine *e) const { fk_engine_free(e); }
};
struct OptionsFree {
    void operator()(fk_options *o) const { fk_options_free(o); }
};
using Engine = std::unique_ptr<fk_engine, EngineFree>;
using Options = std::unique_ptr<fk_options, OptionsFree>;

// A decoded photo whose pixels facekit owns.
class Photo {
  public:
    Photo() = default;
    Photo(const Photo &) = delete;
    Photo &operator=(const Photo &) = delete;
    ~Photo() { fk_image_release(&image_); }
    fk_status load(const char *path) { return fk_image_load(path, &image_); }
    const fk_image *get() const { return &image_; }

  private:
    fk_image image_{};
};

int fail(const std::string &what, fk_status s) {
    std::fprintf(stderr, "facekit_consumer: %s: %s (%s)\n", what.c_str(), fk_status_str(s), fk_last_error());
    return 1;
}

}  // namespace

int main(int argc, char **argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    bool liveness = true;
    if (!args.empty() && args.front() == "--no-liveness") {
        liveness = false;  // press photos (LFW) are refused by the liveness check; live captures pass it
        args.erase(args.begin());
    }
    std::string models;
    if (args.size() == 3) {
        models = args[0];
        args.erase(args.begin());
    } else if (args.size() == 2) {
        const char *env = std::getenv("FACEKIT_MODELS");
        models = env && *env ? env : FACEKIT_CONSUMER_MODELS;
    }
    if (args.size() != 2 || models.empty()) {
        std::fprintf(stderr, "usage: %s [--no-liveness] [MODEL_DIR] IMAGE_A IMAGE_B%s\n", argv[0],
                     models.empty() && args.size() == 2 ? " (no installed model pack: give MODEL_DIR)" : "");
        return 2;
    }

    // The library this program runs with: the header it was compiled with must match it.
    Dl_info where{};
    dladdr(reinterpret_cast<void *>(&fk_version), &where);
    std::printf("facekit %s (header %s) from %s\n", fk_version_string(), FK_VERSION_STRING,
                where.dli_fname ? where.dli_fname : "?");
    if (fk_version() != FK_VERSION) {
        std::fprintf(stderr, "facekit_consumer: library %u, header %u\n", fk_version(), FK_VERSION);
        return 3;
    }

    Options options(fk_options_new());
    if (!options) return fail("options", FK_ERR_PANIC);
    if (!liveness) {
        fk_status s = fk_options_set(options.get(), "require_liveness", "0");
        if (s != FK_OK) return fail("require_liveness=0", s);
    }
    fk_engine *raw = nullptr;
    fk_status s = fk_engine_new_from_dir(models.c_str(), options.get(), &raw);
    if (s != FK_OK) return fail("load models from " + models, s);
    Engine engine(raw);

    Photo a, b;
    if ((s = a.load(args[0].c_str())) != FK_OK) return fail(args[0], s);
    if ((s = b.load(args[1].c_str())) != FK_OK) return fail(args[1], s);
    fk_match m{};
    if ((s = fk_verify(engine.get(), a.get(), b.get(), &m)) != FK_OK) return fail("verify", s);
    std::printf("models %s\nsimilarity %.4f threshold %.4f is_match %d (false-accept rate 1e-%d)\n", models.c_str(),
                m.similarity, m.threshold, m.is_match, m.operating_point);
    return 0;
}
