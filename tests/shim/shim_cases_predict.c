/* shim_cases_predict.c - predicting mattes: a real photo against the Python reference, strides and dtypes, what models return, abort. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cutout_shim.h"
#include "cutout_shim_testing.h"
#include "png_read.h"
#include "shim_cases.h"
#include "shim_test_support.h"

static bool count_polls(void *user) {
    ++*(int *)user;
    return false;
}

/* Items 1..2 of `image` (three copies of the photo): on a CPU each item has
 * its own forward pass (3 abort polls each); a model loaded with
 * cpu_shared_passes gives both one pass (3 polls), the path CUDA takes, with the same
 * mattes. Also with letterbox at another processing size, whose padding
 * and cropping back run per pass. */
static void check_batched_passes(cutout_shim_model *model, const test_tensor *image,
                                 const photo *p) {
    char err[512];
    const cutout_shim_load_params shared = {sizeof shared, NULL, true, false};
    cutout_shim_model *shared_model = NULL;
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), CPU, &shared, &shared_model,
                                        NULL, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    if (shared_model == NULL) return;
    int64_t ashape[3] = {3, p->height, p->width};
    test_tensor single = tt_compact(F32, 3, ashape);
    test_tensor batched = tt_compact(F32, 3, ashape);
    const cutout_shim_predict_params letterbox = {sizeof letterbox, 48, 40,
                                                  CUTOUT_SHIM_FIT_LETTERBOX, CUTOUT_SHIM_QUALITY_FAST};
    for (int fit = 0; fit < 2; ++fit) {
        const cutout_shim_predict_params *params = fit ? &letterbox : NULL;
        const char *label = fit ? "letterbox 48 x 40" : "native size";
        int single_polls = 0, batched_polls = 0;
        fill_f32(&single, SENTINEL);
        fill_f32(&batched, SENTINEL);
        CHECK_STATUS(cutout_shim_predict_alpha(model, &image->t, 1, 2, params, &single.t,
                                                  count_polls, &single_polls, err, sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        CHECK_STATUS(cutout_shim_predict_alpha(shared_model, &image->t, 1, 2, params, &batched.t,
                                                  count_polls, &batched_polls, err, sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        CHECK(single_polls == 6, "%s: one pass per item: expected 6 polls, got %d", label,
              single_polls);
        CHECK(batched_polls == 3, "%s: one pass for both: expected 3 polls, got %d", label,
              batched_polls);
        double d = 0;
        for (int64_t item = 1; item <= 2; ++item)
            d = fmax(d, max_diff(&batched, item, f32_at3(&single, item, 0, 0)));
        printf("  %s, 2 items: max |one pass - a pass each| = %.3g\n", label, d);
        CHECK(d <= 1e-6, "%s: the batched pass differs from per-item passes by %g", label, d);
        if (!fit) {
            d = fmax(max_diff(&batched, 1, p->expected_alpha),
                     max_diff(&batched, 2, p->expected_alpha));
            CHECK(d <= PREDICTION_TOLERANCE, "batched pass differs from the reference by %g", d);
        }
        CHECK(item_all_equal(&batched, 0, SENTINEL) && item_all_equal(&single, 0, SENTINEL),
              "%s: item 0 was written", label);
    }
    tt_free(&single);
    tt_free(&batched);
    cutout_shim_model_free(shared_model);
}

int case_predict_photo(void) {
    char err[512];
    photo p = load_photo();
    cutout_shim_model *model = load_model("tiny_valid.pt");
    int64_t h = p.height, w = p.width;

    /* Batch of 3 photos; predict only item 1, then items 1..2. */
    test_tensor image = photo_batch_u8(&p, 3);
    int64_t ashape[3] = {3, h, w};
    test_tensor alpha = tt_compact(F32, 3, ashape);
    fill_f32(&alpha, SENTINEL);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 1, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    double d = max_diff(&alpha, 1, p.expected_alpha);
    printf("  uint8 photo %lldx%lld: max |shim - python| = %.3g\n", (long long)h, (long long)w, d);
    CHECK(d <= PREDICTION_TOLERANCE, "item 1 differs from the Python reference by %g", d);
    CHECK(in_unit_range(&alpha, 1), "alpha outside 0..1");
    CHECK(item_all_equal(&alpha, 0, SENTINEL) && item_all_equal(&alpha, 2, SENTINEL),
          "items outside [first, first+count) were written");

    fill_f32(&alpha, SENTINEL);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 1, 2, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = fmax(max_diff(&alpha, 1, p.expected_alpha), max_diff(&alpha, 2, p.expected_alpha));
    CHECK(d <= PREDICTION_TOLERANCE, "batch of 2 differs from the reference by %g", d);
    CHECK(item_all_equal(&alpha, 0, SENTINEL), "item 0 was written");
    check_batched_passes(model, &image, &p);

    /* The same photo as float32 (v / 255), float16 and RGBA float32. */
    int64_t shape4[4] = {1, h, w, 4};
    int64_t shape3[4] = {1, h, w, 3};
    uint16_t half_of[256]; /* half of v / 255, searched once per value */
    for (int v = 0; v < 256; ++v) half_of[v] = float_to_half((float)v / 255.0f);
    test_tensor f32 = tt_compact(F32, 4, shape3);
    test_tensor f16 = tt_compact(F16, 4, shape3);
    test_tensor rgba = tt_compact(F32, 4, shape4);
    for (int64_t i = 0; i < h * w; ++i)
        for (int c = 0; c < 4; ++c) {
            float v = c < 3 ? (float)p.rgb[i * 3 + c] / 255.0f : 0.25f;
            if (c < 3) ((float *)f32.t.data)[i * 3 + c] = v;
            if (c < 3) ((uint16_t *)f16.t.data)[i * 3 + c] = half_of[p.rgb[i * 3 + c]];
            ((float *)rgba.t.data)[i * 4 + c] = v;
        }
    test_tensor alpha1 = tt_compact(F32, 3, ashape); /* first item used */
    alpha1.shape[0] = 1;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &f32.t, 0, 1, NULL, &alpha1.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = max_diff(&alpha1, 0, p.expected_alpha);
    CHECK(d <= PREDICTION_TOLERANCE, "float32 input differs from the reference by %g", d);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &rgba.t, 0, 1, NULL, &alpha1.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = max_diff(&alpha1, 0, p.expected_alpha);
    CHECK(d <= PREDICTION_TOLERANCE, "RGBA input (alpha must be ignored) differs by %g", d);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &f16.t, 0, 1, NULL, &alpha1.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = max_diff(&alpha1, 0, p.expected_alpha);
    printf("  float16 photo: max |shim - python| = %.3g\n", d);
    CHECK(d <= 2e-3, "float16 input differs from the reference by %g", d);

    /* Misuse: items out of range, wrong alpha_out, wrong channels. */
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 2, 2, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "got first 2, count 2");
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 0, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "count 0");
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha1.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "alpha_out: shape does not match the image");
    CHECK_STATUS(cutout_shim_predict_alpha(NULL, &image.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "model");
    CHECK_STATUS(cutout_shim_predict_alpha(model, NULL, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: tensor is NULL");
    int64_t two_channels[4] = {3, h, w / 3 * 2, 2}; /* same bytes, C = 2 */
    image.t.shape = two_channels;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "expected C = 3 or 4");
    image.t.shape = image.shape;

    tt_free(&image);
    tt_free(&alpha);
    tt_free(&alpha1);
    tt_free(&f32);
    tt_free(&f16);
    tt_free(&rgba);
    cutout_shim_model_free(model);
    free_photo(&p);
    return 0;
}

int case_predict_strided(void) {
    char err[512];
    photo p = load_photo();
    cutout_shim_model *model = load_model("tiny_valid.pt");
    int64_t h = p.height, w = p.width;

    /* The crop as a view into the full uint8 photo: not contiguous, with a
     * byte offset. Smaller than the model input, so it is upscaled. */
    test_tensor full = photo_batch_u8(&p, 1);
    DLTensor crop = full.t;
    int64_t crop_shape[4] = {1, p.crop_h, p.crop_w, 3};
    int64_t crop_strides[4] = {h * w * 3, w * 3, 3, 1};
    crop.shape = crop_shape;
    crop.strides = crop_strides;
    crop.byte_offset = (uint64_t)((p.crop_y * w + p.crop_x) * 3);
    int64_t cshape[3] = {1, p.crop_h, p.crop_w};
    test_tensor calpha = tt_compact(F32, 3, cshape);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &crop, 0, 1, NULL, &calpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    double d = max_diff(&calpha, 0, p.expected_crop_alpha);
    printf("  strided uint8 crop %lldx%lld: max |shim - python| = %.3g\n", (long long)p.crop_h,
           (long long)p.crop_w, d);
    CHECK(d <= PREDICTION_TOLERANCE, "crop differs from the reference by %g", d);

    /* A crop of exactly the model's input size: no resizing either way. */
    int64_t native_shape[4] = {1, p.native_side, p.native_side, 3};
    crop.shape = native_shape;
    crop.byte_offset = (uint64_t)((p.native_y * w + p.native_x) * 3);
    int64_t nshape[3] = {1, p.native_side, p.native_side};
    test_tensor nalpha = tt_compact(F32, 3, nshape);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &crop, 0, 1, NULL, &nalpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = max_diff(&nalpha, 0, p.expected_native_alpha);
    printf("  strided uint8 crop of the input size: max |shim - python| = %.3g\n", d);
    CHECK(d <= PREDICTION_TOLERANCE, "native-size crop differs from the reference by %g", d);
    tt_free(&nalpha);

    /* float32 planes in memory (C x H x W) seen as B x H x W x C, after a
     * 16-byte header. */
    int64_t pshape[4] = {1, h, w, 3};
    int64_t pstrides[4] = {3 * h * w, w, 1, h * w};
    test_tensor planar = tt_strided(F32, 4, pshape, pstrides, 16, (size_t)(3 * h * w + 4));
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                *f32_at4(&planar, 0, y, x, c) = (float)p.rgb[(y * w + x) * 3 + c] / 255.0f;
    int64_t ashape[3] = {1, h, w};
    test_tensor alpha = tt_compact(F32, 3, ashape);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &planar.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = max_diff(&alpha, 0, p.expected_alpha);
    CHECK(d <= PREDICTION_TOLERANCE, "planar float32 differs from the reference by %g", d);

    /* The input is never written. */
    test_tensor again = photo_batch_u8(&p, 1);
    CHECK(memcmp(full.t.data, again.t.data, full.buffer_bytes) == 0, "input was modified");

    /* Non-compact alpha_out is refused. */
    int64_t astrides[3] = {h * w, 1, h};
    alpha.t.strides = astrides;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &planar.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "alpha_out: not compact");
    alpha.t.strides = NULL;

    tt_free(&full);
    tt_free(&again);
    tt_free(&calpha);
    tt_free(&planar);
    tt_free(&alpha);
    cutout_shim_model_free(model);
    free_photo(&p);
    return 0;
}

/* Models returning a tuple or list whose first element is the matte give
 * the valid model's result; a dict is refused. */
int case_model_outputs(void) {
    char err[512];
    photo p = load_photo();
    test_tensor image = photo_batch_u8(&p, 1);
    int64_t ashape[3] = {1, p.height, p.width};
    test_tensor alpha = tt_compact(F32, 3, ashape);
    const char *accepted[] = {"tiny_tuple.pt", "tiny_list.pt"};
    for (int i = 0; i < 2; ++i) {
        cutout_shim_model *model = load_model(accepted[i]);
        fill_f32(&alpha, SENTINEL);
        CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                               sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        double d = max_diff(&alpha, 0, p.expected_alpha);
        CHECK(d <= PREDICTION_TOLERANCE, "%s differs from the reference by %g", accepted[i], d);
        cutout_shim_model_free(model);
    }

    struct {
        const char *model;
        const char *needle;
    } refused[] = {
        {"tiny_dict.pt", "model output: expected a tensor B x 1 x H x W (or a tuple/list starting "
                         "with one), got GenericDict"},
        {"tiny_wrong_rank.pt", "model output: expected 4 dims B x 1 x H x W, got 3 dims [1,64,64]"},
        {"tiny_two_channels.pt", "model output: wrong shape (expected [1,1,H,W], got [1,2,64,64])"},
        {"tiny_nan.pt", "model output: not finite (expected all values finite, got 1 NaN/Inf of "
                        "4096)"},
        {"tiny_uint8.pt", "model output: wrong dtype (expected a floating-point tensor, got uint8)"},
        {"tiny_fails.pt", "model forward: "},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; ++i) {
        cutout_shim_model *model = load_model(refused[i].model);
        fill_f32(&alpha, SENTINEL);
        CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                               sizeof err),
                     CUTOUT_SHIM_ERR_INFERENCE, err, refused[i].needle);
        CHECK(item_all_equal(&alpha, 0, SENTINEL), "%s: alpha_out written on failure",
              refused[i].model);
        if (strcmp(refused[i].model, "tiny_fails.pt") == 0)
            CHECK(strstr(err, "4 channels") != NULL,
                  "forward failure message does not say what failed: \"%s\"", err);
        cutout_shim_model_free(model);
    }
    tt_free(&image);
    tt_free(&alpha);
    free_photo(&p);
    return 0;
}

typedef struct abort_state {
    int polls;
    int abort_at; /* 1-based poll that returns true; 0 = never */
} abort_state;

static bool abort_at_poll(void *user) {
    abort_state *s = user;
    return ++s->polls == s->abort_at;
}

int case_abort(void) {
    char err[512];
    photo p = load_photo();
    cutout_shim_model *model = load_model("tiny_valid.pt");
    test_tensor image = photo_batch_u8(&p, 1);
    int64_t ashape[3] = {1, p.height, p.width};
    test_tensor alpha = tt_compact(F32, 3, ashape);

    abort_state never = {0, 0};
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha.t, abort_at_poll, &never,
                                           err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK(never.polls == 3, "expected 3 polls (before pre-process, before and after forward), got %d",
          never.polls);
    const char *stages[] = {"before pre-processing", "before the forward pass",
                            "after the forward pass"};
    for (int at = 1; at <= 3; ++at) {
        abort_state s = {0, at};
        fill_f32(&alpha, SENTINEL);
        CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha.t, abort_at_poll, &s,
                                               err, sizeof err),
                     CUTOUT_SHIM_CANCELLED, err, stages[at - 1]);
        CHECK(s.polls == at, "kept polling after the abort (%d polls)", s.polls);
        CHECK(item_all_equal(&alpha, 0, SENTINEL), "alpha_out written after a cancel");
    }
    tt_free(&image);
    tt_free(&alpha);
    cutout_shim_model_free(model);
    free_photo(&p);
    return 0;
}
