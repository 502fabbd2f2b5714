/* reliability_support.c - see reliability_support.h. */
#define _GNU_SOURCE
#include "reliability_support.h"

#include <stdlib.h>
#include <unistd.h>

int rel_failures;
int rel_checks;


cutout_context *rel_context(const char *model_dir)
{
    const char *dirs[] = {model_dir};
    cutout_context_params p = cutout_context_default_params();
    p.model_dirs = dirs;
    p.num_model_dirs = 1;
    p.num_threads = 2;
    cutout_context *ctx = NULL;
    if (cutout_context_create(&p, &ctx) != CUTOUT_OK) {
        fprintf(stderr, "context: %s\n", cutout_last_error());
        exit(2);
    }
    return ctx;
}

cutout_status rel_run(cutout_context *ctx, const DLTensor *image, const DLTensor *mask,
                      const char *model, int64_t batch_size, const cutout_run_params *run,
                      DLManagedTensor *out[2])
{
    cutout_input inputs[4] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = image},
        {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = model},
        {.name = "batch_size", .kind = CUTOUT_VALUE_INT, .i = batch_size},
        {.name = "mask", .kind = CUTOUT_VALUE_TENSOR, .tensor = mask},
    };
    out[0] = out[1] = (DLManagedTensor *)(uintptr_t)8; /* must be overwritten */
    return cutout_node_run(ctx, "CutoutRemoveBackground", inputs, mask ? 4 : 3, run, out, 2);
}

void rel_release(DLManagedTensor *out[2])
{
    for (int i = 0; i < 2; i++) {
        if (out[i] != NULL) out[i]->deleter(out[i]);
        out[i] = NULL;
    }
}

int64_t rel_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, resident = 0;
    if (f == NULL) return -1;
    if (fscanf(f, "%lld %lld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (int64_t)sysconf(_SC_PAGESIZE);
}

int rel_finish(const char *suite)
{
    printf("%s: %d checks, %d failed\n", suite, rel_checks, rel_failures);
    return rel_failures == 0 ? 0 : 1;
}
