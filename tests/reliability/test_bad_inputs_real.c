/*
 * test_bad_inputs_real.c - the bad-input matrix through the real library
 * (libcutout.so: plugin + libtorch shim) with the models of
 * tests/support/make_test_models.py: every input of CutoutRemoveBackground with the wrong
 * rank, dtype, device, channel count, zero dims, negative or overlapping
 * strides, NaN and Inf, values outside 0..1, one pixel over the limit, a
 * huge batch, a mask batch mismatch; every kind of broken model file and
 * every kind of wrong model output.
 *
 * Each case must return its documented status with a message that starts
 * with the input's name, leave no outputs, and leave the context working
 * (a good call right after succeeds). The stub-based matrix of the plugin
 * alone is tests/c/test_validation.c; this one runs the same library a
 * host loads.
 *
 * Usage: test_bad_inputs_real PHOTO_DIR MODEL_DIR
 */
#include <math.h>
#include <stdlib.h>

#include "reliability_support.h"

static cutout_context *ctx;
static rel_image photo; /* 2 x H x W x 3, a real photo twice */

/* Runs and checks status, message prefix ("image" -> "image:"), message
 * text and that no output came back. */
static void expect_status(const DLTensor *image, const DLTensor *mask, const char *model,
                          int64_t batch_size, cutout_status want, const char *input,
                          const char *text, int line)
{
    DLManagedTensor *out[2];
    cutout_status st = rel_run(ctx, image, mask, model, batch_size, NULL, out);
    const char *msg = cutout_last_error();
    size_t n = strlen(input);
    bool named = strncmp(msg, input, n) == 0 && (msg[n] == ':' || msg[n] == ' ');
    rel_checks++;
    if (st != want || !named || strstr(msg, text) == NULL ||
        (st != CUTOUT_OK && (out[0] != NULL || out[1] != NULL))) {
        rel_failures++;
        fprintf(stderr, "line %d: expected %s naming %s with \"%s\", got %s: \"%s\"\n", line,
                cutout_status_string(want), input, text, cutout_status_string(st), msg);
    }
    if (st == CUTOUT_OK) rel_release(out);
}
#define EXPECT(image, mask, model, bs, want, input, text) \
    expect_status(image, mask, model, bs, want, input, text, __LINE__)

/* A good call: must succeed, alpha in 0..1 and finite, RGB = input's. */
static void expect_good(const DLTensor *image, const DLTensor *mask, const char *model,
                        const float *rgb_reference, int line)
{
    DLManagedTensor *out[2];
    cutout_status st = rel_run(ctx, image, mask, model, 2, NULL, out);
    rel_checks++;
    if (st != CUTOUT_OK) {
        rel_failures++;
        fprintf(stderr, "line %d: expected success, got %s: %s\n", line,
                cutout_status_string(st), cutout_last_error());
        return;
    }
    const DLTensor *im = &out[0]->dl_tensor;
    int64_t pixels = im->shape[0] * im->shape[1] * im->shape[2];
    const float *rgba = im->data;
    const float *alpha = out[1]->dl_tensor.data;
    int64_t bad_alpha = 0, bad_rgb = 0;
    for (int64_t p = 0; p < pixels; p++) {
        if (!(rgba[p * 4 + 3] >= 0.0f && rgba[p * 4 + 3] <= 1.0f) ||
            memcmp(&rgba[p * 4 + 3], &alpha[p], 4) != 0)
            bad_alpha++;
        if (rgb_reference && memcmp(&rgba[p * 4], &rgb_reference[p * 3], 12) != 0) bad_rgb++;
    }
    REL_CHECK(bad_alpha == 0 && bad_rgb == 0, "line %d: %lld bad alpha, %lld bad RGB values",
              line, (long long)bad_alpha, (long long)bad_rgb);
    rel_release(out);
}
#define EXPECT_GOOD(image, mask, model, rgb) expect_good(image, mask, model, rgb, __LINE__)

static void test_image_input(void)
{
    DLTensor t = photo.tensor;
    int64_t shape5[5] = {2, photo.shape[1], photo.shape[2], 3, 1};

    t.ndim = 3;
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "expected 4 dims B x H x W x C, got 3");
    t.ndim = 5;
    t.shape = shape5;
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "got 5 dims");

    const DLDataType dtypes[] = {{kDLInt, 32, 1}, {kDLFloat, 64, 1}, {kDLInt, 8, 1}, {kDLFloat, 32, 2},
                                 {kDLComplex, 64, 1}, {kDLUInt, 16, 1}, {kDLUInt, 1, 1}};
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        t = photo.tensor;
        t.dtype = dtypes[i];
        EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "expected dtype float32, float16, bfloat16 or uint8");
    }

    t = photo.tensor;
    t.device = (DLDevice){kDLCUDA, 0};
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_DEVICE, "image", "on cuda:0, but this context runs on cpu");
    t.device = (DLDevice){kDLMetal, 0};
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "expected a cpu or cuda tensor");
    t.device = (DLDevice){kDLCPU, 3}; /* a CPU id means nothing */
    EXPECT_GOOD(&t, NULL, "good", photo.data);

    for (int64_t c = 1; c <= 5; c++) {
        if (c == 3 || c == 4) continue;
        int64_t s[4] = {1, 4, 4, c};
        t = photo.tensor;
        t.shape = s;
        EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "expected C = 3 (RGB) or 4 (RGBA)");
    }
    for (int dim = 0; dim < 4; dim++) {
        int64_t s[4] = {2, photo.shape[1], photo.shape[2], 3};
        s[dim] = 0;
        t = photo.tensor;
        t.shape = s;
        EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "with every dim > 0");
    }

    int64_t H = photo.shape[1], W = photo.shape[2];
    int64_t negative[4] = {H * W * 3, -W * 3, 3, 1};
    t = photo.tensor;
    t.strides = negative;
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "expected non-negative strides");
    int64_t overflowing[4] = {H * W * 3, INT64_MAX / 2, 3, 1};
    t.strides = overflowing;
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "spans more than 2^63 elements");
    t = photo.tensor;
    t.byte_offset = UINT64_MAX - 16;
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "byte_offset");
    t = photo.tensor;
    t.data = NULL;
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "data pointer is NULL");
    t = photo.tensor;
    t.shape = NULL;
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "shape pointer is NULL");

    /* Overlapping strides are read-only views, and fine: the batch stride 0
     * (item 1 = item 0), the channel stride 0 (gray read as RGB). */
    int64_t same_item[4] = {0, W * 3, 3, 1};
    t = photo.tensor;
    t.strides = same_item;
    EXPECT_GOOD(&t, NULL, "good", NULL);
    int64_t gray[4] = {H * W * 3, W * 3, 3, 0};
    t.strides = gray;
    EXPECT_GOOD(&t, NULL, "good", NULL);

    /* One pixel over the limit, and a batch that can never fit: refused
     * from the descriptor alone (the 4-pixel buffer is never read). */
    int64_t over[4] = {1, 2048, 2049, 3};
    int64_t zero_strides[4] = {0, 0, 0, 0};
    float tiny[12] = {0};
    DLTensor big = {.data = tiny, .device = {kDLCPU, 0}, .ndim = 4, .dtype = {kDLFloat, 32, 1},
                    .shape = over, .strides = zero_strides};
    EXPECT(&big, NULL, "good", 1, CUTOUT_ERR_LIMIT, "image", "2048 x 2049 (H x W) is over the limit of 4194304 pixels");
    int64_t huge_batch[4] = {(int64_t)1 << 40, 8, 8, 3};
    big.shape = huge_batch;
    EXPECT(&big, NULL, "good", 1, CUTOUT_ERR_OUT_OF_MEMORY, "image", "of memory available");
    int64_t absurd_batch[4] = {INT64_MAX / 4, 8, 8, 3};
    big.shape = absurd_batch;
    EXPECT(&big, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "needs more than 2^63 bytes");
}

static void test_image_values(void)
{
    int64_t n = photo.shape[0] * photo.shape[1] * photo.shape[2] * 3;
    float *values = malloc((size_t)(n + 1) * sizeof(float));
    memcpy(values, photo.data, (size_t)n * sizeof(float));
    DLTensor t = photo.tensor;
    t.data = values;

    values[n / 2 + 1] = NAN;
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "expected finite values, got 1 NaN or Inf values (first in item 1)");
    values[n / 2 + 1] = -INFINITY;
    values[7] = INFINITY;
    EXPECT(&t, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "got 2 NaN or Inf values (first in item 0)");

    /* Values outside 0..1 are used as they are: RGB passes through bit
     * for bit, the matte stays in 0..1. */
    for (int64_t k = 0; k < n; k++) values[k] = (k % 3 == 0) ? -0.75f : (k % 3 == 1 ? 7.5f : 1e30f);
    EXPECT_GOOD(&t, NULL, "good", values);

    /* float32 data one byte off alignment (a DLPack producer may do that). */
    char *raw = malloc((size_t)n * sizeof(float) + 1);
    memcpy(raw + 1, photo.data, (size_t)n * sizeof(float));
    t = photo.tensor;
    t.data = raw;
    t.byte_offset = 1;
    EXPECT_GOOD(&t, NULL, "good", photo.data);
    free(raw);

    /* NaN in the alpha channel of an RGBA image counts too; NaN in memory
     * the strides skip does not. */
    rel_image rgba = rel_blank(1, 16, 16, 4);
    for (int64_t k = 0; k < 16 * 16 * 4; k++) rgba.data[k] = 0.5f;
    rgba.data[4 * 37 + 3] = NAN;
    EXPECT(&rgba.tensor, NULL, "good", 1, CUTOUT_ERR_INVALID_INPUT, "image", "expected finite values");
    int64_t rgb_view[4] = {16 * 16 * 4, 16 * 4, 4, 1};
    int64_t rgb_shape[4] = {1, 16, 16, 3};
    t = rgba.tensor;
    t.shape = rgb_shape;
    t.strides = rgb_view;
    EXPECT_GOOD(&t, NULL, "good", NULL);
    rel_image_free(&rgba);
    free(values);
}

static void test_mask_input(void)
{
    int64_t H = photo.shape[1], W = photo.shape[2];
    rel_image mask = rel_blank(2, H, W, 1);
    for (int64_t k = 0; k < 2 * H * W; k++) mask.data[k] = (float)(k % 5) / 4.0f;
    int64_t s3[3] = {2, H, W}, s2[2] = {H, W}, s4[4] = {2, H, W, 1}, s1[1] = {H};
    DLTensor m = mask.tensor;
    m.ndim = 3;
    m.shape = s3;
    EXPECT_GOOD(&photo.tensor, &m, "good", photo.data);
    DLTensor m2 = m;
    m2.ndim = 2;
    m2.shape = s2;
    EXPECT_GOOD(&photo.tensor, &m2, "good", photo.data);

    DLTensor bad = m;
    bad.ndim = 1;
    bad.shape = s1;
    EXPECT(&photo.tensor, &bad, "good", 1, CUTOUT_ERR_INVALID_INPUT, "mask", "expected 2 dims H x W or 3 dims B x H x W, got 1");
    bad.ndim = 4;
    bad.shape = s4;
    EXPECT(&photo.tensor, &bad, "good", 1, CUTOUT_ERR_INVALID_INPUT, "mask", "got 4 dims");
    bad = m;
    bad.dtype = (DLDataType){kDLInt, 64, 1};
    EXPECT(&photo.tensor, &bad, "good", 1, CUTOUT_ERR_INVALID_INPUT, "mask", "got int64");
    bad.dtype = (DLDataType){kDLFloat, 64, 1};
    EXPECT(&photo.tensor, &bad, "good", 1, CUTOUT_ERR_INVALID_INPUT, "mask", "got float64");
    bad = m;
    bad.device = (DLDevice){kDLCUDA, 0};
    EXPECT(&photo.tensor, &bad, "good", 1, CUTOUT_ERR_DEVICE, "mask", "on cuda:0, but the image is on cpu");
    int64_t zero[3] = {2, 0, W};
    bad = m;
    bad.shape = zero;
    EXPECT(&photo.tensor, &bad, "good", 1, CUTOUT_ERR_INVALID_INPUT, "mask", "with every dim > 0");
    int64_t negative[3] = {H * W, W, -1};
    bad = m;
    bad.strides = negative;
    EXPECT(&photo.tensor, &bad, "good", 1, CUTOUT_ERR_INVALID_INPUT, "mask", "expected non-negative strides");
    int64_t mismatch[3] = {3, H, W};
    bad = m;
    bad.shape = mismatch;
    int64_t broadcast[3] = {0, W, 1};
    bad.strides = broadcast;
    EXPECT(&photo.tensor, &bad, "good", 1, CUTOUT_ERR_INVALID_INPUT, "mask", "batch of 3 does not match the image batch of 2");
    int64_t over[3] = {1, 2049, 2048};
    bad = m;
    bad.shape = over;
    bad.strides = broadcast;
    EXPECT(&photo.tensor, &bad, "good", 1, CUTOUT_ERR_LIMIT, "mask", "2049 x 2048 (H x W) is over the limit");

    mask.data[H * W + 5] = NAN;
    EXPECT(&photo.tensor, &m, "good", 1, CUTOUT_ERR_INVALID_INPUT, "mask", "expected finite values, got 1 NaN or Inf values (first in item 1)");
    mask.data[H * W + 5] = INFINITY;
    EXPECT(&photo.tensor, &m, "good", 1, CUTOUT_ERR_INVALID_INPUT, "mask", "expected finite values");
    /* Outside 0..1: clamped, the matte stays in 0..1. */
    for (int64_t k = 0; k < 2 * H * W; k++) mask.data[k] = (k % 2) ? -3.0f : 12.0f;
    EXPECT_GOOD(&photo.tensor, &m, "good", photo.data);
    rel_image_free(&mask);
}

static void test_other_inputs(void)
{
    EXPECT(&photo.tensor, NULL, "good", 0, CUTOUT_ERR_INVALID_INPUT, "batch_size", "expected an integer in 1..64, got 0");
    EXPECT(&photo.tensor, NULL, "good", 65, CUTOUT_ERR_INVALID_INPUT, "batch_size", "got 65");
    EXPECT(&photo.tensor, NULL, "good", -1, CUTOUT_ERR_INVALID_INPUT, "batch_size", "got -1");
    EXPECT(&photo.tensor, NULL, "../good", 1, CUTOUT_ERR_INVALID_INPUT, "model", "expected a model name");
    EXPECT(&photo.tensor, NULL, "", 1, CUTOUT_ERR_INVALID_INPUT, "model", "expected a model name");
    DLManagedTensor *out[2];
    cutout_input wrong_kind[3] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = &photo.tensor},
        {.name = "model", .kind = CUTOUT_VALUE_INT, .i = 1},
        {.name = "batch_size", .kind = CUTOUT_VALUE_STRING, .s = "2"},
    };
    cutout_status st = cutout_node_run(ctx, "CutoutRemoveBackground", wrong_kind, 3, NULL, out, 2);
    REL_CHECK(st == CUTOUT_ERR_INVALID_INPUT && strncmp(cutout_last_error(), "model:", 6) == 0 &&
                  out[0] == NULL && out[1] == NULL,
              "%s: %s", cutout_status_string(st), cutout_last_error());
}

/* Model files that are not models, and models whose output is wrong. */
static void test_models(void)
{
    static const struct {
        const char *model;
        cutout_status status;
        const char *text;
    } cases[] = {
        {"no_such_model", CUTOUT_ERR_MODEL_NOT_FOUND, "not found (searched: "},
        {"folder", CUTOUT_ERR_MODEL_NOT_FOUND, "not found"},
        {"empty", CUTOUT_ERR_MODEL_INVALID, "empty file"},
        {"truncated", CUTOUT_ERR_MODEL_INVALID, "not a loadable TorchScript file"},
        {"corrupt", CUTOUT_ERR_MODEL_INVALID, "\"corrupt\""},
        {"random", CUTOUT_ERR_MODEL_INVALID, "not a loadable TorchScript file"},
        {"png_image", CUTOUT_ERR_MODEL_INVALID, "not a loadable TorchScript file"},
        {"state_dict", CUTOUT_ERR_MODEL_INVALID, "\"state_dict\""},
        {"no_meta", CUTOUT_ERR_MODEL_INVALID, "no metadata"},
        {"kind_depth", CUTOUT_ERR_MODEL_INVALID, "unsupported \"kind\""},
        {"nan_out", CUTOUT_ERR_INFERENCE, "model output: not finite"},
        {"inf_out", CUTOUT_ERR_INFERENCE, "model output: not finite"},
        {"int64_out", CUTOUT_ERR_INFERENCE, "model output: wrong dtype (expected a floating-point tensor, got int64)"},
        {"bool_out", CUTOUT_ERR_INFERENCE, "model output: wrong dtype"},
        {"two_channels", CUTOUT_ERR_INFERENCE, "model output: wrong shape (expected [1,1,H,W], got [1,2,32,32])"},
        {"rank3_out", CUTOUT_ERR_INFERENCE, "model output: expected 4 dims B x 1 x H x W, got 3 dims"},
        {"doubled_batch", CUTOUT_ERR_INFERENCE, "model output: wrong shape (expected [1,1,H,W], got [2,1,32,32])"},
        {"scalar_out", CUTOUT_ERR_INFERENCE, "model output: expected 4 dims"},
        {"none_out", CUTOUT_ERR_INFERENCE, "model output: expected a tensor"},
        {"string_out", CUTOUT_ERR_INFERENCE, "model output: expected a tensor"},
        {"tuple_int_first", CUTOUT_ERR_INFERENCE, "model output: expected a tensor"},
        {"raises", CUTOUT_ERR_INFERENCE, "model forward: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        DLManagedTensor *out[2];
        cutout_status st = rel_run(ctx, &photo.tensor, NULL, cases[i].model, 2, NULL, out);
        const char *msg = cutout_last_error();
        REL_CHECK(st == cases[i].status && strncmp(msg, "model", 5) == 0 &&
                      strstr(msg, cases[i].text) != NULL && out[0] == NULL && out[1] == NULL,
                  "model %s: expected %s with \"%s\", got %s: \"%s\"", cases[i].model,
                  cutout_status_string(cases[i].status), cases[i].text,
                  cutout_status_string(st), msg);
        if (st == CUTOUT_OK) rel_release(out);
        /* The context is still fine: the good model works right after. */
        EXPECT_GOOD(&photo.tensor, NULL, "good", photo.data);
    }
    /* Accepted: a matte outside 0..1 (clamped) and a float64 matte. */
    EXPECT_GOOD(&photo.tensor, NULL, "wide_range", photo.data);
    EXPECT_GOOD(&photo.tensor, NULL, "float64_out", photo.data);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PHOTO_DIR MODEL_DIR\n", argv[0]);
        return 2;
    }
    photo = rel_photo(argv[1], "animal_fur_chelsea.png", 2, 3);
    ctx = rel_context(argv[2]);
    test_image_input();
    test_image_values();
    test_mask_input();
    test_other_inputs();
    test_models();
    cutout_context_destroy(ctx);
    rel_image_free(&photo);
    return rel_finish("test_bad_inputs_real");
}
