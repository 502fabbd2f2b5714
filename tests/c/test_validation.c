/* test_validation.c - every bad input gets its status and a message naming
 * the input, no outputs, and nothing allocated. */
#include <math.h>
#include <stdlib.h>

#include "fixture.h"

static cutout_context *ctx;
static const char *testdata;

/* Runs and expects failure `want` with `text`, and no outputs or leaks. */
static void expect_failure(const DLTensor *image, const DLTensor *mask, int64_t batch_size,
                           cutout_status want, const char *text, int line)
{
    DLManagedTensor *out[2];
    cutout_status st = fixture_run(ctx, image, mask, batch_size, NULL, out);
    fixture_checks++;
    if (st != want || !strstr(cutout_last_error(), text) || out[0] || out[1] ||
        stub_live_tensors() != 0) {
        fixture_failures++;
        fprintf(stderr, "line %d: expected %s with \"%s\", got %s: \"%s\" (outputs %p %p, live %lld)\n",
                line, cutout_status_string(want), text, cutout_status_string(st),
                cutout_last_error(), (void *)out[0], (void *)out[1],
                (long long)stub_live_tensors());
    }
}
#define EXPECT_FAILURE(img, mask, bs, want, text) expect_failure(img, mask, bs, want, text, __LINE__)

static void expect_success(const DLTensor *image, const DLTensor *mask, int line)
{
    DLManagedTensor *out[2];
    cutout_status st = fixture_run(ctx, image, mask, 1, NULL, out);
    fixture_checks++;
    if (st != CUTOUT_OK || !out[0] || !out[1]) {
        fixture_failures++;
        fprintf(stderr, "line %d: expected success, got %s: %s\n", line, cutout_status_string(st),
                cutout_last_error());
    }
    if (st == CUTOUT_OK) fixture_release(out);
}
#define EXPECT_SUCCESS(img, mask) expect_success(img, mask, __LINE__)

static void test_arguments(void)
{
    test_image img = fixture_photo(testdata, "animal_fur_chelsea.png", 1, 3);
    DLManagedTensor *out[2] = {(DLManagedTensor *)(uintptr_t)1, (DLManagedTensor *)(uintptr_t)1};
    cutout_input in[2] = {{.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = &img.tensor},
                          {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = "stub"}};
    CHECK_ERROR(cutout_node_run(NULL, "CutoutRemoveBackground", in, 2, NULL, out, 2),
                CUTOUT_ERR_INVALID_ARGUMENT, "ctx is NULL");
    CHECK(out[0] == NULL && out[1] == NULL);
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", in, 2, NULL, NULL, 2),
                CUTOUT_ERR_INVALID_ARGUMENT, "outputs is NULL");
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", in, 2, NULL, out, 1),
                CUTOUT_ERR_INVALID_ARGUMENT, "has 2 outputs, got room for 1");
    CHECK_ERROR(cutout_node_run(ctx, "RemoveBackground", in, 2, NULL, out, 2),
                CUTOUT_ERR_UNKNOWN_NODE, "no node \"RemoveBackground\"");
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", NULL, 2, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "inputs: array is NULL");
    cutout_run_params bad = cutout_run_default_params();
    bad.struct_size = 2;
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", in, 2, &bad, out, 2),
                CUTOUT_ERR_INVALID_ARGUMENT, "params.struct_size");

    /* Names, kinds, duplicates, missing inputs. */
    cutout_input three[3] = {in[0], in[1], {.name = "colour", .kind = CUTOUT_VALUE_INT, .i = 1}};
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", three, 3, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT,
                "colour: CutoutRemoveBackground has no input of that name (expected one of: image, "
                "model, batch_size, precision, quality, mask)");
    three[2] = in[0];
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", three, 3, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "image: given more than once");
    three[2] = (cutout_input){.name = "batch_size", .kind = CUTOUT_VALUE_FLOAT, .f = 2};
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", three, 3, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "batch_size: expected an INT for a INT input, got a FLOAT");
    three[2] = (cutout_input){.name = NULL, .kind = CUTOUT_VALUE_INT};
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", three, 3, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "inputs[2]: name is NULL");
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", &in[1], 1, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "image: required input missing (expected IMAGE)");
    cutout_input null_image = {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = NULL};
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", &null_image, 1, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "image: tensor is NULL");
    cutout_input null_model[2] = {in[0], {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = NULL}};
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", null_model, 2, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "model: string is NULL");

    EXPECT_FAILURE(&img.tensor, NULL, 0, CUTOUT_ERR_INVALID_INPUT,
                   "batch_size: expected an integer in 1..64, got 0");
    EXPECT_FAILURE(&img.tensor, NULL, 65, CUTOUT_ERR_INVALID_INPUT,
                   "batch_size: expected an integer in 1..64, got 65");

    /* Models: missing, not a model, bad names. */
    cutout_input missing[2] = {in[0], {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = "no-such-model"}};
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", missing, 2, NULL, out, 2),
                CUTOUT_ERR_MODEL_NOT_FOUND, "model: \"no-such-model\" not found (searched: ");
    CHECK(strstr(cutout_last_error(), fixture_model_dir()) && strstr(cutout_last_error(), "/no-such-model.pt") &&
          strstr(cutout_last_error(), "tools/fetch-model"));
    missing[1].s = "broken";
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", missing, 2, NULL, out, 2),
                CUTOUT_ERR_MODEL_INVALID, "model: \"broken\": not a stub model");
    missing[1].s = "../stub";
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", missing, 2, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "model: expected a model name");
    CHECK(out[0] == NULL && out[1] == NULL && stub_live_tensors() == 0);
    fixture_image_free(&img);
}

static void test_image_layouts(void)
{
    test_image img = fixture_photo(testdata, "product_coffee.png", 2, 3);
    DLTensor t = img.tensor;
    int64_t shape[5] = {2, img.shape[1], img.shape[2], 3, 1};

    t.ndim = 3;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "image: expected 4 dims B x H x W x C, got 3 dims");
    t.ndim = 5;
    t.shape = shape;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "image: expected 4 dims B x H x W x C, got 5 dims");
    t = img.tensor;
    for (int64_t c = 1; c <= 5; c++) {
        if (c == 3 || c == 4) continue;
        int64_t s[4] = {1, 8, 8, c};
        t.shape = s;
        EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "got C = ");
    }
    for (int dim = 0; dim < 3; dim++) {
        int64_t s[4] = {2, img.shape[1], img.shape[2], 3};
        s[dim] = 0;
        t.shape = s;
        EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "image: expected 4 dims B x H x W x C with every dim > 0");
    }
    t = img.tensor;
    t.dtype = (DLDataType){kDLInt, 32, 1};
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT,
                   "image: expected dtype float32, float16, bfloat16 or uint8, got int32");
    t.dtype = (DLDataType){kDLFloat, 64, 1};
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "got float64");
    t.dtype = (DLDataType){kDLFloat, 32, 4};
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "got float32 x 4 lanes");
    t = img.tensor;
    t.device = (DLDevice){kDLCUDA, 0};
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_DEVICE, "image: on cuda:0, but this context runs on cpu");
    t.device = (DLDevice){(DLDeviceType)8 /* Metal */, 0};
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "image: expected a cpu or cuda tensor");
    t = img.tensor;
    t.data = NULL;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "image: data pointer is NULL");
    t = img.tensor;
    int64_t negative[4] = {0, 0, 0, 0};
    negative[0] = img.shape[1] * img.shape[2] * 3;
    negative[1] = -img.shape[2] * 3;
    negative[2] = 3;
    negative[3] = 1;
    t.strides = negative;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "image: expected non-negative strides, got stride");
    int64_t huge[4] = {1, INT64_MAX / 2, 3, 1};
    t.strides = huge;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "spans more than 2^63 elements");
    t = img.tensor;
    t.byte_offset = UINT64_MAX - 8;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "byte_offset");
    /* A huge batch is refused before any allocation. */
    t = img.tensor;
    int64_t big_batch[4] = {INT64_MAX / 4, img.shape[1], img.shape[2], 3};
    t.shape = big_batch;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "image:");

    /* Overlapping (stride 0) views are read-only broadcasts and are fine. */
    t = img.tensor;
    int64_t broadcast[4] = {0, img.shape[2] * 3, 3, 1};
    t.strides = broadcast;
    EXPECT_SUCCESS(&t, NULL);
    fixture_image_free(&img);
}

static void test_nonfinite(void)
{
    test_image img = fixture_photo(testdata, "portrait_astronaut.png", 3, 3);
    size_t per_item = (size_t)(img.shape[1] * img.shape[2] * 3);
    img.data[2 * per_item + 100] = NAN;
    EXPECT_FAILURE(&img.tensor, NULL, 1, CUTOUT_ERR_INVALID_INPUT,
                   "image: expected finite values, got 1 NaN or Inf values (first in item 2)");
    img.data[2 * per_item + 100] = 0.5f;
    img.data[per_item + 7] = INFINITY;
    img.data[5] = -INFINITY;
    EXPECT_FAILURE(&img.tensor, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "got 2 NaN or Inf values (first in item 0)");
    img.data[per_item + 7] = 0.5f;
    img.data[5] = 0.5f;
    test_image mask = fixture_blank(1, 16, 16, 1);
    int64_t mshape[2] = {16, 16};
    mask.tensor.ndim = 2;
    mask.tensor.shape = mshape;
    mask.data[17] = NAN;
    EXPECT_FAILURE(&img.tensor, &mask.tensor, 1, CUTOUT_ERR_INVALID_INPUT,
                   "mask: expected finite values, got 1 NaN or Inf values");
    mask.data[17] = 1.0f;
    EXPECT_SUCCESS(&img.tensor, &mask.tensor);
    fixture_image_free(&mask);
    fixture_image_free(&img);
}

static void test_pixel_limit(void)
{
    /* 2048 x 2048 = the limit exactly: accepted. One more row or column: not. */
    test_image img = fixture_blank(1, 2048, 2049, 3);
    int64_t ok[4] = {1, 2048, 2048, 3};
    DLTensor t = img.tensor;
    t.shape = ok;
    EXPECT_SUCCESS(&t, NULL);
    int64_t wide[4] = {1, 2048, 2049, 3};
    t.shape = wide;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_LIMIT,
                   "image: 2048 x 2049 (H x W) is over the limit of 4194304 pixels per image");
    int64_t tall[4] = {1, 2049, 2048, 3};
    t.shape = tall;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_LIMIT, "image: 2049 x 2048 (H x W) is over the limit");
    int64_t thin[4] = {1, 1, 4194305, 3};
    t.shape = thin;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_LIMIT, "1 x 4194305");
    int64_t overflow[4] = {1, INT64_MAX / 2, 4, 3};
    t.shape = overflow;
    EXPECT_FAILURE(&t, NULL, 1, CUTOUT_ERR_INVALID_INPUT, "image:");

    /* The guide mask has the same limit. */
    test_image small = fixture_blank(1, 8, 8, 3);
    DLTensor m = img.tensor;
    int64_t mask_wide[3] = {1, 2048, 2049};
    m.ndim = 3;
    m.shape = mask_wide;
    EXPECT_FAILURE(&small.tensor, &m, 1, CUTOUT_ERR_LIMIT, "mask: 2048 x 2049");
    fixture_image_free(&small);
    fixture_image_free(&img);
}

static void test_masks(void)
{
    test_image img = fixture_photo(testdata, "product_coffee.png", 3, 3);
    test_image mask = fixture_blank(2, img.shape[1], img.shape[2], 1);
    DLTensor m = mask.tensor;
    int64_t s3[3] = {2, img.shape[1], img.shape[2]};
    m.ndim = 3;
    m.shape = s3;
    EXPECT_FAILURE(&img.tensor, &m, 1, CUTOUT_ERR_INVALID_INPUT,
                   "mask: batch of 2 does not match the image batch of 3 (expected 1 or 3)");
    m.ndim = 1;
    EXPECT_FAILURE(&img.tensor, &m, 1, CUTOUT_ERR_INVALID_INPUT,
                   "mask: expected 2 dims H x W or 3 dims B x H x W, got 1 dims");
    int64_t s4[4] = {1, img.shape[1], img.shape[2], 1};
    m.ndim = 4;
    m.shape = s4;
    EXPECT_FAILURE(&img.tensor, &m, 1, CUTOUT_ERR_INVALID_INPUT, "mask: expected 2 dims H x W or 3 dims B x H x W, got 4 dims");
    m = mask.tensor;
    m.ndim = 3;
    int64_t zero[3] = {1, 0, 5};
    m.shape = zero;
    EXPECT_FAILURE(&img.tensor, &m, 1, CUTOUT_ERR_INVALID_INPUT, "mask: expected 2 dims H x W or 3 dims B x H x W with every dim > 0");
    m.shape = s3;
    s3[0] = 1;
    m.dtype = (DLDataType){kDLInt, 64, 1};
    EXPECT_FAILURE(&img.tensor, &m, 1, CUTOUT_ERR_INVALID_INPUT, "mask: expected dtype float32, float16, bfloat16 or uint8, got int64");
    m.dtype = (DLDataType){kDLFloat, 32, 1};
    m.device = (DLDevice){kDLCUDA, 0};
    EXPECT_FAILURE(&img.tensor, &m, 1, CUTOUT_ERR_DEVICE, "mask: on cuda:0, but the image is on cpu");
    fixture_image_free(&mask);
    fixture_image_free(&img);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s TESTDATA_DIR\n", argv[0]);
        return 2;
    }
    testdata = argv[1];
    if (fixture_context(NULL, &ctx) != CUTOUT_OK) {
        fprintf(stderr, "context: %s\n", cutout_last_error());
        return 1;
    }
    test_arguments();
    test_image_layouts();
    test_nonfinite();
    test_pixel_limit();
    test_masks();
    cutout_context_destroy(ctx);
    return fixture_finish("test_validation");
}
