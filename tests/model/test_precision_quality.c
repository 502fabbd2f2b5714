/*
 * test_precision_quality.c - the lower-precision mattes of the default
 * model against its fp32 matte, on every PNG photo of a folder.
 *
 * Usage (ctest runs it, label "model"):
 *   test_precision_quality MODELS_DIR PHOTOS_DIR
 *
 * For each photo, CutoutRemoveBackground runs with precision "fp32" and
 * with "bf16"; per photo the MASK outputs must agree to a mean absolute
 * difference <= 1e-3 and an IoU of (alpha >= 0.5) >= 0.995. The IoU bar
 * leaves room for the pixels of a soft hair matte that sit at 0.5 and fall
 * either side of it depending on the order of the bf16 sums, which differs
 * between AMX, AVX512-BF16 and libtorch's own kernels (see
 * benchmarks/RESULTS.md); against true alpha the two precisions are
 * compared in tests/model/test_quality.py.
 *
 * On a CPU without native bf16 (or with ONEDNN_MAX_CPU_ISA below
 * AVX512_CORE_BF16) the library must refuse "bf16" with a message that
 * says why, and "auto" must give exactly the fp32 matte. Where bf16 runs,
 * "auto" (decided by a timing on this CPU) must give, on the first photo,
 * exactly the matte of the precision the context reports it chose.
 * Photos are read as RGB; an RGBA photo's dropped alpha composites onto
 * black. Fails when the model or the photos are missing; exit status 0
 * only when every photo passed.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cutout.h>

#include "cpu_flags.h"
#include "matte_diff.h"
#include "png_read.h"

static const double kMaxMean = 1e-3;
static const double kMinIoU = 0.995;

/* Runs CutoutRemoveBackground on `image` in `precision`; on success *mask
 * is the MASK output (the caller's) and the IMAGE output is freed. */
static cutout_status run_node(cutout_context *ctx, DLTensor *image, const char *precision,
                              DLManagedTensor **mask) {
    cutout_input inputs[] = {
        {"image", CUTOUT_VALUE_TENSOR, image, 0, 0, false, NULL},
        {"model", CUTOUT_VALUE_STRING, NULL, 0, 0, false, "isnet"},
        {"precision", CUTOUT_VALUE_STRING, NULL, 0, 0, false, precision},
    };
    DLManagedTensor *out[2] = {NULL, NULL};
    cutout_status st = cutout_node_run(ctx, "CutoutRemoveBackground", inputs, 3, NULL, out, 2);
    if (st == CUTOUT_OK) out[0]->deleter(out[0]);
    *mask = out[1];
    return st;
}

/* The MASK of one run, or NULL after printing why. */
static DLManagedTensor *run_mask(cutout_context *ctx, DLTensor *image, const char *precision) {
    DLManagedTensor *mask = NULL;
    if (run_node(ctx, image, precision, &mask) != CUTOUT_OK) {
        fprintf(stderr, "FAIL: %s: %s\n", precision, cutout_last_error());
        return NULL;
    }
    return mask;
}

/* Whether the library runs bf16 on this CPU; set once by probe_bf16(). */
static bool bf16_supported = true;

/* Sets bf16_supported from one bf16 run on a small grey image: the library
 * either runs it or refuses it for want of native bf16, with the reason.
 * Returns 0 on any other outcome, after printing it. */
static int probe_bf16(cutout_context *ctx) {
    static float px[32 * 32 * 3];
    for (size_t i = 0; i < sizeof px / sizeof px[0]; ++i) px[i] = 0.5f;
    int64_t shape[4] = {1, 32, 32, 3};
    DLTensor image = {px, {kDLCPU, 0}, 4, {kDLFloat, 32, 1}, shape, NULL, 0};
    DLManagedTensor *mask = NULL;
    cutout_status st = run_node(ctx, &image, "bf16", &mask);
    if (st == CUTOUT_OK) {
        mask->deleter(mask);
        return 1;
    }
    if (st == CUTOUT_ERR_DEVICE && strstr(cutout_last_error(), "bf16 needs a CPU with") != NULL) {
        printf("this CPU has no native bf16: %s\n", cutout_last_error());
        bf16_supported = false;
        return 1;
    }
    fprintf(stderr, "FAIL: bf16 probe: %s: %s\n", cutout_status_string(st), cutout_last_error());
    return 0;
}

/* Whether "auto" was compared with the precision it reports (once). */
static bool auto_checked = false;

/* "auto" (measured on this CPU) must give, to the bit, the matte of the
 * precision the context reports it chose: fp32's `ref` or bf16's `low`.
 * 1 when it does. */
static int check_auto(cutout_context *ctx, DLTensor *image, DLManagedTensor *ref,
                      DLManagedTensor *low, const char *name) {
    char chosen[16], reason[256];
    if (cutout_context_model_precision(ctx, "isnet", "auto", chosen, sizeof chosen, reason,
                                       sizeof reason) != CUTOUT_OK) {
        fprintf(stderr, "FAIL: auto: %s\n", cutout_last_error());
        return 0;
    }
    DLManagedTensor *a = run_mask(ctx, image, "auto");
    DLManagedTensor *same = strcmp(chosen, "bf16") == 0 ? low : ref;
    size_t bytes = (size_t)(image->shape[1] * image->shape[2]) * sizeof(float);
    int ok = a != NULL && (strcmp(chosen, "bf16") == 0 || strcmp(chosen, "fp32") == 0) &&
             memcmp(a->dl_tensor.data, same->dl_tensor.data, bytes) == 0;
    printf("%s %-32s auto chose %s (%s) and %s its matte\n", ok ? "ok  " : "FAIL", name, chosen,
           reason, ok ? "gives" : "does not give");
    if (a != NULL) a->deleter(a);
    return ok;
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
    DLManagedTensor *low = NULL;
    int ok = 0;
    if (ref != NULL && !bf16_supported) {
        /* auto must then be fp32, to the bit. */
        low = run_mask(ctx, &image, "auto");
        ok = low != NULL && memcmp(low->dl_tensor.data, ref->dl_tensor.data,
                                   (size_t)(h * w) * sizeof(float)) == 0;
        printf("%s %-32s no native bf16: auto %s fp32\n", ok ? "ok  " : "FAIL", name,
               ok ? "equals" : "differs from");
    } else if (ref != NULL) {
        low = run_mask(ctx, &image, "bf16");
    }
    if (low != NULL && bf16_supported) {
        matte_diff d = matte_diff_of(low->dl_tensor.data, ref->dl_tensor.data, h * w);
        ok = d.mean <= kMaxMean && d.iou >= kMinIoU;
        printf("%s %-32s bf16 vs fp32: mean |d| %.2e (max %.0e), IoU@0.5 %.5f (min %.3f)\n",
               ok ? "ok  " : "FAIL", name, d.mean, kMaxMean, d.iou, kMinIoU);
        if (!auto_checked) {
            auto_checked = true;
            ok = ok && check_auto(ctx, &image, ref, low, name);
        }
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
    /* A cap at AVX2 or above changes nothing on a CPU without AVX-512: the
     * uncapped run of this test is then the same run. */
    const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
    if (cap != NULL && *cap != '\0' && !cpuinfo_has(" avx512f")) {
        printf("skipped: ONEDNN_MAX_CPU_ISA=%s on a CPU without AVX-512 is the uncapped run\n", cap);
        return 77;
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
    if (!probe_bf16(ctx)) {
        cutout_context_destroy(ctx);
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
