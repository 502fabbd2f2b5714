/*
 * test_precision_quality.c - the lower-precision mattes of the default
 * model against its fp32 matte, on every PNG photo of a folder.
 *
 * Usage (ctest runs it, label "model"):
 *   test_precision_quality MODELS_DIR PHOTOS_DIR
 *
 * For each photo, CutoutRemoveBackground runs with precision "fp32" and
 * with "bf16". The bar has two parts:
 *   - the mean absolute difference of the two MASK outputs is <= 1e-3;
 *   - the masks at 0.5 agree as well as fp32 agrees with itself when the
 *     photo is re-quantised: IoU@0.5 >= 0.999, or, where a matte has so
 *     many pixels near 0.5 that it is below that, at least the IoU of
 *     fp32 on the photo against fp32 on the photo plus uniform noise of
 *     up to one 8-bit step (the smallest change an 8-bit photo can show).
 * A fixed IoU alone held on one CPU and failed on another: which pixels of
 * a soft hair matte cross 0.5 depends on the order of the bf16 sums, which
 * differs between AMX, AVX512-BF16 and emulated kernels. The model's own
 * response to an invisible change of the input is the scale that does not.
 * Photos are read as RGB; an RGBA photo's dropped alpha composites onto
 * black. Fails when the model or the photos are missing; exit status 0
 * only when every photo passed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cutout.h>

#include "matte_diff.h"
#include "png_read.h"

static const double kMaxMean = 1e-3;
static const double kMinIoU = 0.999;
static const float kNoiseAmplitude = 1.0f / 255.0f;

/* The MASK of one run, or NULL after printing why. */
static DLManagedTensor *run_mask(cutout_context *ctx, DLTensor *image, const char *precision) {
    cutout_input inputs[] = {
        {"image", CUTOUT_VALUE_TENSOR, image, 0, 0, false, NULL},
        {"model", CUTOUT_VALUE_STRING, NULL, 0, 0, false, "isnet"},
        {"precision", CUTOUT_VALUE_STRING, NULL, 0, 0, false, precision},
    };
    DLManagedTensor *out[2] = {NULL, NULL};
    if (cutout_node_run(ctx, "CutoutRemoveBackground", inputs, 3, NULL, out, 2) != CUTOUT_OK) {
        fprintf(stderr, "FAIL: %s: %s\n", precision, cutout_last_error());
        return NULL;
    }
    out[0]->deleter(out[0]);
    return out[1];
}

/* A copy of the n values of px plus uniform noise in +-kNoiseAmplitude,
 * the same for every run (a fixed xorshift sequence), or NULL. */
static float *requantised(const float *px, int64_t n) {
    float *out = malloc((size_t)n * sizeof *out);
    uint32_t state = 2463534242u;
    for (int64_t i = 0; out != NULL && i < n; ++i) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        float u = (float)(state >> 8) / 16777216.0f; /* 0 .. 1 */
        out[i] = px[i] + (2.0f * u - 1.0f) * kNoiseAmplitude;
    }
    return out;
}

/* The IoU@0.5 of fp32 on the photo against fp32 on the re-quantised photo,
 * or -1 after printing why it could not be computed. */
static double own_iou(cutout_context *ctx, const float *px, const int64_t *shape,
                      const DLManagedTensor *ref) {
    int64_t h = shape[1], w = shape[2];
    float *noisy = requantised(px, h * w * 3);
    if (noisy == NULL) return -1;
    DLTensor image = {noisy, {kDLCPU, 0}, 4, {kDLFloat, 32, 1}, (int64_t *)shape, NULL, 0};
    DLManagedTensor *other = run_mask(ctx, &image, "fp32");
    double iou = -1;
    if (other != NULL) {
        iou = matte_diff_of(other->dl_tensor.data, ref->dl_tensor.data, h * w).iou;
        other->deleter(other);
    }
    free(noisy);
    return iou;
}

/* 1 when the photo passes, 0 when it fails. */
static int check_photo(cutout_context *ctx, const char *path, const char *name) {
    int64_t h, w;
    uint8_t *rgb = png_read_rgb(path, &h, &w);
    if (rgb == NULL) return 0;
    float *px = malloc((size_t)(h * w * 3) * sizeof *px);
    for (int64_t i = 0; px != NULL && i < h * w * 3; ++i) px[i] = rgb[i] / 255.0f;
    int64_t shape[4] = {1, h, w, 3};
    DLTensor image = {px, {kDLCPU, 0}, 4, {kDLFloat, 32, 1}, shape, NULL, 0};
    DLManagedTensor *ref = px != NULL ? run_mask(ctx, &image, "fp32") : NULL;
    DLManagedTensor *low = ref != NULL ? run_mask(ctx, &image, "bf16") : NULL;
    int ok = 0;
    if (low != NULL) {
        matte_diff d = matte_diff_of(low->dl_tensor.data, ref->dl_tensor.data, h * w);
        double min_iou = kMinIoU;
        if (d.iou < kMinIoU) {
            double own = own_iou(ctx, px, shape, ref);
            if (own > 0 && own < min_iou) min_iou = own;
        }
        ok = d.mean <= kMaxMean && d.iou >= min_iou;
        printf("%s %-32s bf16 vs fp32: mean |d| %.2e (max %.0e), IoU@0.5 %.5f (min %.5f)\n",
               ok ? "ok  " : "FAIL", name, d.mean, kMaxMean, d.iou, min_iou);
    }
    if (low != NULL) low->deleter(low);
    if (ref != NULL) ref->deleter(ref);
    free(px);
    free(rgb);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODELS_DIR PHOTOS_DIR\n", argv[0]);
        return 2;
    }
    cutout_context_params params = cutout_context_default_params();
    const char *dirs[] = {argv[1]};
    params.model_dirs = dirs;
    params.num_model_dirs = 1;
    cutout_context *ctx = NULL;
    if (cutout_context_create(&params, &ctx) != CUTOUT_OK) {
        fprintf(stderr, "FAIL: context: %s\n", cutout_last_error());
        return 1;
    }
    DIR *d = opendir(argv[2]);
    if (d == NULL) {
        fprintf(stderr, "FAIL: %s: cannot open the photo folder\n", argv[2]);
        cutout_context_destroy(ctx);
        return 1;
    }
    int photos = 0, passed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".png") != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[2], e->d_name);
        ++photos;
        passed += check_photo(ctx, path, e->d_name);
    }
    closedir(d);
    cutout_context_destroy(ctx);
    printf("%d of %d photos within the bar\n", passed, photos);
    return photos > 0 && passed == photos ? 0 : 1;
}
