/* installed_host.c - a C host built only from what `cmake --install` put
 * under a prefix, found through pkg-config: it creates a context, checks
 * that its nodes.json parses and that the installed models folder is one
 * the library searches, and runs the basic node on a small image with the
 * model it is given. Usage: installed_host PREFIX MODEL. Exit 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cutout.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PREFIX MODEL\n", argv[0]);
        return 2;
    }
    cutout_context *ctx = NULL;
    if (cutout_context_create(NULL, &ctx) != CUTOUT_OK) {
        fprintf(stderr, "context: %s\n", cutout_last_error());
        return 1;
    }
    char share[4096];
    snprintf(share, sizeof share, "%s/share/cutout/models", argv[1]);
    int found = 0;
    for (int64_t i = 0; i < cutout_context_model_dir_count(ctx); i++)
        found |= strcmp(cutout_context_model_dir(ctx, i), share) == 0;
    if (!found) {
        fprintf(stderr, "the library does not search %s\n", share);
        return 1;
    }
    float pixels[2 * 3 * 3] = {0.1f, 0.2f, 0.3f, 0.9f, 0.8f, 0.7f, 0.5f, 0.5f, 0.5f,
                               0.0f, 1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.2f, 0.4f, 0.6f};
    int64_t shape[4] = {1, 2, 3, 3};
    DLTensor image = {.data = pixels, .device = {kDLCPU, 0}, .ndim = 4,
                      .dtype = {kDLFloat, 32, 1}, .shape = shape};
    cutout_input in[2] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = &image},
        {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = argv[2]},
    };
    DLManagedTensor *out[2] = {NULL, NULL};
    cutout_status st = cutout_node_run(ctx, "CutoutRemoveBackground", in, 2, NULL, out, 2);
    if (st != CUTOUT_OK) {
        fprintf(stderr, "run: %s: %s\n", cutout_status_string(st), cutout_last_error());
        return 1;
    }
    const DLTensor *rgba = &out[0]->dl_tensor;
    const int ok = rgba->ndim == 4 && rgba->shape[3] == 4 && out[1]->dl_tensor.ndim == 3;
    printf("cutout %s from %s: IMAGE %lld x %lld x %lld x %lld\n", cutout_version_string(), argv[1],
           (long long)rgba->shape[0], (long long)rgba->shape[1], (long long)rgba->shape[2],
           (long long)rgba->shape[3]);
    out[0]->deleter(out[0]);
    out[1]->deleter(out[1]);
    cutout_context_destroy(ctx);
    return ok ? 0 : 1;
}
