/*
 * reliability_support.h - helpers shared by the reliability tests: checks,
 * photos as float32 tensors, running the node, RSS.
 *
 * The tests link either libcutout_stub.so (C stub shim; RELIABILITY_STUB is
 * defined and the stub's counters are used) or libcutout.so (libtorch and
 * the tiny models of tests/support/make_test_models.py). Every test takes
 *   argv[1] the photo folder, argv[2] the model folder, argv[3] the model
 * name ("stub" or "good").
 */
#ifndef CUTOUT_RELIABILITY_SUPPORT_H
#define CUTOUT_RELIABILITY_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cutout.h"
#include "test_image.h"

#ifdef RELIABILITY_STUB
#include "stub_shim.h"
#endif

extern int rel_failures;
extern int rel_checks;

#define REL_CHECK(cond, ...)                                                          \
    do {                                                                              \
        rel_checks++;                                                                 \
        if (!(cond)) {                                                                \
            rel_failures++;                                                           \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                             \
            fprintf(stderr, "\n");                                                    \
        }                                                                             \
    } while (0)

/* Photos and blank images (tests/c/test_image.h), under this file's names. */
typedef test_image rel_image;
#define rel_photo test_image_photo
#define rel_blank test_image_blank
#define rel_image_free test_image_free

/* A context that searches `model_dir` (and nothing from the environment's
 * CUTOUT_MODEL_PATH is needed). Exits with status 2 on failure. */
cutout_context *rel_context(const char *model_dir);

/* Runs CutoutRemoveBackground; `mask` may be NULL; `run` may be NULL. */
cutout_status rel_run(cutout_context *ctx, const DLTensor *image, const DLTensor *mask,
                      const char *model, int64_t batch_size, const cutout_run_params *run,
                      DLManagedTensor *out[2]);

/* Calls the deleters of non-NULL outputs and clears them. */
void rel_release(DLManagedTensor *out[2]);

/* Resident set size of this process in bytes (from /proc/self/statm). */
int64_t rel_rss_bytes(void);

/* Prints "<suite>: N checks, M failed" and returns the exit status. */
int rel_finish(const char *suite);

#endif
