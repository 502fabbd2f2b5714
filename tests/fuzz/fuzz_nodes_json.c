/*
 * fuzz_nodes_json.c - a host's own nodes.json text (cutout_context_params
 * .nodes_json) through cutout_context_create, and, when a context comes
 * out, CutoutRemoveBackground run on a small image with and without the
 * optional-looking inputs (model, batch_size), against the C stub shim.
 *
 * Checks:
 * - creation either succeeds or fails with CUTOUT_ERR_SPEC (or
 *   OUT_OF_MEMORY), a NULL context and a message starting "nodes.json:";
 * - a spec that was accepted never makes a run crash, hang or leak: every
 *   run returns OK with complete outputs, or an error with a message and
 *   no outputs, and every tensor the stub allocated is freed.
 * Input: the JSON text itself (cut at the first NUL byte).
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cutout.h"
#include "fuzz_check.h"
#include "fuzz_model_dir.h"
#include "stub_shim.h"

#define MAX_TEXT (64 * 1024)

static float g_pixels[2 * 4 * 5 * 3];
static int64_t g_shape[4] = {2, 4, 5, 3};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_make_model_dir();
    for (size_t i = 0; i < sizeof g_pixels / sizeof g_pixels[0]; i++)
        g_pixels[i] = (float)(i % 11) / 10.0f;
    return 0;
}

/* Never aborts a run that ends; stops one that loops (and the check
 * below then fails), so a hang shows up as a crash at once. */
static bool abort_if_looping(void *user)
{
    int *polls = user;
    (*polls)++;
    return *polls > 100;
}

/* Runs the node once with the image, plus the model when `which` has bit
 * 0 and batch_size when it has bit 1; the spec's defaults fill the rest. */
static void run_node(cutout_context *ctx, int which)
{
    DLTensor image = {.data = g_pixels, .device = {kDLCPU, 0}, .ndim = 4,
                      .dtype = {kDLFloat, 32, 1}, .shape = g_shape};
    cutout_input inputs[3] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = &image},
        {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = "stub"},
        {.name = "batch_size", .kind = CUTOUT_VALUE_INT, .i = 1},
    };
    size_t n = 1;
    if (which & 1) inputs[n++] = inputs[1];
    if (which & 2) inputs[n++] = inputs[2];
    int polls = 0;
    cutout_run_params run = cutout_run_default_params();
    run.should_abort = abort_if_looping;
    run.abort_user = &polls;
    DLManagedTensor *out[4] = {NULL, NULL, NULL, NULL};
    cutout_status st = cutout_node_run(ctx, "CutoutRemoveBackground", inputs, n, &run, out, 4);
    if (st == CUTOUT_OK) {
        FUZZ_CHECK(out[0] != NULL && out[1] != NULL, "success without outputs");
        FUZZ_CHECK(out[0]->dl_tensor.ndim == 4 && out[0]->dl_tensor.shape[0] == 2 &&
                       out[1]->dl_tensor.ndim == 3,
                   "output shapes");
        /* batch_size >= 1 means at most 2 forward passes plus item polls. */
        FUZZ_CHECK(polls <= 12, "%d abort polls for 2 images", polls);
        for (int i = 0; i < 4; i++)
            if (out[i]) out[i]->deleter(out[i]);
    } else {
        FUZZ_CHECK(polls <= 100, "the run kept going: %d abort polls for 2 images", polls);
        FUZZ_CHECK(st < 0 && st != CUTOUT_ERR_INTERNAL, "run: %s: %s", cutout_status_string(st),
                   cutout_last_error());
        FUZZ_CHECK(cutout_last_error()[0] != '\0', "run failed without a message");
        for (int i = 0; i < 4; i++) FUZZ_CHECK(out[i] == NULL, "failed run left outputs");
    }
    FUZZ_CHECK(stub_live_tensors() == 0, "%lld tensors left allocated",
               (long long)stub_live_tensors());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_TEXT) return 0;
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';

    const char *dirs[] = {fuzz_model_dir};
    cutout_context_params p = cutout_context_default_params();
    p.model_dirs = dirs;
    p.num_model_dirs = 1;
    p.nodes_json = text;
    cutout_context *ctx = (cutout_context *)(uintptr_t)8;
    cutout_status st = cutout_context_create(&p, &ctx);
    free(text); /* the context keeps its own copy of what it needs */
    if (st != CUTOUT_OK) {
        FUZZ_CHECK(ctx == NULL, "failed creation left a context");
        FUZZ_CHECK(st == CUTOUT_ERR_SPEC || st == CUTOUT_ERR_OUT_OF_MEMORY, "creation: %s: %s",
                   cutout_status_string(st), cutout_last_error());
        FUZZ_CHECK(strncmp(cutout_last_error(), "nodes.json:", 11) == 0,
                   "message does not name nodes.json: %s", cutout_last_error());
        return 0;
    }
    for (int which = 0; which < 4; which++) run_node(ctx, which);
    cutout_context_destroy(ctx);
    return 0;
}
