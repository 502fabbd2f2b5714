/*
 * test_shim_main.c - tests of the libtorch shim (cutout_shim.h) on tiny
 * TorchScript models written by tests/support/make_test_models.py and on a real photo.
 *
 * Usage: test_shim CASE MODELS_DIR PHOTO_PNG
 * Each CASE is one ctest test (the table below); the cases live in
 * shim_cases_*.c by subject.
 * Exit status: 0 all checks passed, 1 a check failed, 77 skipped.
 */
#include <stdio.h>
#include <string.h>

#include "shim_cases.h"
#include "shim_test_support.h"

/* ------------------------------------------------------------------------ */


static const struct {
    const char *name;
    int (*run)(void);
} CASES[] = {
    {"version", case_version},
    {"load", case_load},
    {"bad_files", case_bad_files},
    {"predict_photo", case_predict_photo},
    {"predict_strided", case_predict_strided},
    {"model_outputs", case_model_outputs},
    {"abort", case_abort},
    {"device", case_device},
    {"compose_rgb", case_compose_rgb},
    {"compose_uint8_exact", case_compose_uint8_exact},
    {"compose_alpha", case_compose_alpha},
    {"compose_guide_resize", case_compose_guide_resize},
    {"compose_errors", case_compose_errors},
    {"alloc", case_alloc},
    {"count_nonfinite", case_count_nonfinite},
    {"messages", case_messages},
    {"threads", case_threads},
    {"frames", case_frames},
    {"precision", case_precision},
    {"precision_rule", case_precision_rule},
    {"bf16_close", case_bf16_close},
};

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s CASE MODELS_DIR PHOTO_PNG\n", argv[0]);
        return 2;
    }
    g_models_dir = argv[2];
    g_photo_path = argv[3];
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; ++i) {
        if (strcmp(CASES[i].name, argv[1]) != 0) continue;
        int rc = CASES[i].run();
        if (rc == 77) return 77;
        if (g_failures > 0) {
            fprintf(stderr, "%s: %d check(s) failed\n", argv[1], g_failures);
            return 1;
        }
        printf("%s: ok\n", argv[1]);
        return 0;
    }
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
}
