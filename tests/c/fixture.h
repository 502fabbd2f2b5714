/*
 * fixture.h - shared helpers of the unit tests: a tiny check framework, a
 * temporary model folder with stub models, real photos as float32 tensors,
 * and a one-call wrapper around cutout_node_run.
 */
#ifndef CUTOUT_TEST_FIXTURE_H
#define CUTOUT_TEST_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cutout.h"
#include "stub_shim.h"
#include "test_image.h"

extern int fixture_failures;
extern int fixture_checks;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        fixture_checks++;                                                                 \
        if (!(cond)) {                                                                    \
            fixture_failures++;                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                 \
    } while (0)

/* Status equals `want` and the thread's message contains `text`. */
#define CHECK_ERROR(st, want, text)                                                       \
    do {                                                                                  \
        cutout_status st_ = (st);                                                         \
        fixture_checks++;                                                                 \
        if (st_ != (want) || strstr(cutout_last_error(), (text)) == NULL) {               \
            fixture_failures++;                                                           \
            fprintf(stderr, "%s:%d: expected %s with \"%s\", got %s: \"%s\"\n", __FILE__, \
                    __LINE__, cutout_status_string(want), (text), cutout_status_string(st_), \
                    cutout_last_error());                                                 \
        }                                                                                 \
    } while (0)

/* Prints the summary line and returns the process exit code. */
int fixture_finish(const char *suite);

/* Photos and blank images (test_image.h), under the fixture's names. */
#define fixture_photo test_image_photo
#define fixture_blank test_image_blank
#define fixture_image_free test_image_free

/* Creates a temporary model folder with "stub.pt" (a valid stub model),
 * "broken.pt" (garbage) and "notes.txt", and a context that searches it.
 * Extra nodes.json text may be given (NULL = embedded). */
cutout_status fixture_context(const char *nodes_json, cutout_context **ctx);
const char *fixture_model_dir(void);
void fixture_cleanup(void);

/* Records the progress callback's calls. */
typedef struct progress_log {
    int64_t calls;
    int64_t done[512];
    int64_t total[512];
    int64_t abort_after; /* should_abort returns true once this many items are done; <0 never */
    int64_t abort_polls;
} progress_log;
void fixture_progress(int64_t done, int64_t total, void *user);
bool fixture_should_abort(void *user);

/* Runs CutoutRemoveBackground on image (+ optional mask) with model "stub". */
cutout_status fixture_run(cutout_context *ctx, const DLTensor *image, const DLTensor *mask,
                          int64_t batch_size, progress_log *log, DLManagedTensor *out[2]);

/* Calls the deleters of non-NULL outputs. */
void fixture_release(DLManagedTensor *out[2]);

#endif
