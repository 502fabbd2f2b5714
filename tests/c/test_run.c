/* test_run.c - successful runs on real photos with the stub shim: outputs'
 * shapes and values, dtypes and strides, input alpha, the guide mask
 * (per item, broadcast, resized), batching, progress, abort, failures in
 * the middle of a batch, the model search rule, and that every output is
 * freed exactly once. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stdlib.h>

#include "fixture.h"

static cutout_context *ctx;
static const char *testdata;

static float clamp01(float v) { return v < 0 ? 0 : (v > 1 ? 1 : v); }

/* The stub predicts alpha = mean(RGB). */
static float stub_alpha(const float *rgb) { return clamp01((rgb[0] + rgb[1] + rgb[2]) / 3.0f); }

/* Checks IMAGE (B x H x W x 4: RGB of `src`, alpha = expect(b, y, x)) and
 * MASK (= alpha, bit for bit), then frees both. */
static int check_outputs(DLManagedTensor *out[2], const test_image *src,
                         float (*expect)(const test_image *, int64_t, int64_t, int64_t))
{
    int bad = 0;
    const DLTensor *im = &out[0]->dl_tensor, *mk = &out[1]->dl_tensor;
    int64_t B = src->shape[0], H = src->shape[1], W = src->shape[2], C = src->shape[3];
    CHECK(im->ndim == 4 && im->shape[0] == B && im->shape[1] == H && im->shape[2] == W &&
          im->shape[3] == 4);
    CHECK(mk->ndim == 3 && mk->shape[0] == B && mk->shape[1] == H && mk->shape[2] == W);
    CHECK(im->dtype.code == kDLFloat && im->dtype.bits == 32 && mk->dtype.bits == 32);
    CHECK(im->device.device_type == kDLCPU && mk->device.device_type == kDLCPU);
    const float *rgba = (const float *)((const char *)im->data + im->byte_offset);
    const float *alpha = (const float *)((const char *)mk->data + mk->byte_offset);
    for (int64_t b = 0; b < B; b++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                int64_t p = (b * H + y) * W + x;
                const float *in = src->data + p * C;
                const float *o = rgba + p * 4;
                if (memcmp(o, in, 3 * sizeof(float)) != 0) bad++;
                if (memcmp(&o[3], &alpha[p], sizeof(float)) != 0) bad++;
                if (fabsf(alpha[p] - expect(src, b, y, x)) > 1e-6f && bad++ == 0)
                    fprintf(stderr, "alpha[%lld,%lld,%lld] = %g, expected %g\n", (long long)b,
                            (long long)y, (long long)x, alpha[p], expect(src, b, y, x));
                if (!(alpha[p] >= 0.0f && alpha[p] <= 1.0f)) bad++;
            }
    fixture_release(out);
    return bad;
}

static float expect_plain(const test_image *src, int64_t b, int64_t y, int64_t x)
{
    int64_t C = src->shape[3];
    const float *px = src->data + ((b * src->shape[1] + y) * src->shape[2] + x) * C;
    float a = stub_alpha(px);
    return C == 4 ? a * clamp01(px[3]) : a;
}

static void test_photos(void)
{
    const char *photos[] = {"portrait_hair_kodim04.png", "animal_fur_chelsea.png",
                            "product_coffee.png"};
    for (size_t i = 0; i < 3; i++) {
        test_image img = fixture_photo(testdata, photos[i], 2, 3);
        DLManagedTensor *out[2];
        CHECK(fixture_run(ctx, &img.tensor, NULL, 1, NULL, out) == CUTOUT_OK);
        CHECK(check_outputs(out, &img, expect_plain) == 0);
        fixture_image_free(&img);
    }
    /* RGBA input: its alpha multiplies the prediction; RGB still preserved. */
    test_image rgba = fixture_photo(testdata, "rgba_bear_tuxpaint.png", 1, 4);
    DLManagedTensor *out[2];
    CHECK(fixture_run(ctx, &rgba.tensor, NULL, 1, NULL, out) == CUTOUT_OK);
    CHECK(check_outputs(out, &rgba, expect_plain) == 0);
    fixture_image_free(&rgba);
    CHECK(stub_live_tensors() == 0);
}

/* The same photo as uint8, float16, bfloat16 and through a strided view
 * with a byte_offset: RGB equals the float32 conversion exactly. */
static void test_dtypes_and_strides(void)
{
    test_image img = fixture_photo(testdata, "animal_fur_chelsea.png", 1, 3);
    int64_t n = img.shape[1] * img.shape[2] * 3;
    uint8_t *u8 = malloc((size_t)n);
    for (int64_t k = 0; k < n; k++) u8[k] = (uint8_t)lrintf(img.data[k] * 255.0f);
    DLTensor t = img.tensor;
    t.data = u8;
    t.dtype = (DLDataType){kDLUInt, 8, 1};
    DLManagedTensor *out[2];
    CHECK(fixture_run(ctx, &t, NULL, 1, NULL, out) == CUTOUT_OK);
    CHECK(check_outputs(out, &img, expect_plain) == 0); /* k / 255.0f == loaded values */

    /* bfloat16: the top half of each float32 of a value that bfloat16 holds. */
    uint16_t *bf = malloc((size_t)n * 2);
    test_image exact = fixture_blank(1, img.shape[1], img.shape[2], 3);
    for (int64_t k = 0; k < n; k++) {
        uint32_t bits;
        memcpy(&bits, &img.data[k], 4);
        bf[k] = (uint16_t)(bits >> 16);
        bits = (uint32_t)bf[k] << 16;
        memcpy(&exact.data[k], &bits, 4);
    }
    t.data = bf;
    t.dtype = (DLDataType){kDLBfloat, 16, 1};
    CHECK(fixture_run(ctx, &t, NULL, 1, NULL, out) == CUTOUT_OK);
    CHECK(check_outputs(out, &exact, expect_plain) == 0);

    /* float16 of 0.5 and 0.25 (exact in half precision). */
    uint16_t *h = malloc((size_t)n * 2);
    for (int64_t k = 0; k < n; k++) {
        h[k] = (k % 2) ? 0x3800 /* 0.5 */ : 0x3400 /* 0.25 */;
        exact.data[k] = (k % 2) ? 0.5f : 0.25f;
    }
    t.data = h;
    t.dtype = (DLDataType){kDLFloat, 16, 1};
    CHECK(fixture_run(ctx, &t, NULL, 1, NULL, out) == CUTOUT_OK);
    CHECK(check_outputs(out, &exact, expect_plain) == 0);

    /* Channels-first storage (C x H x W) seen through B x H x W x C strides,
     * behind a byte_offset of 64 bytes. */
    int64_t H = img.shape[1], W = img.shape[2];
    float *planar = malloc((size_t)(n + 16) * sizeof(float));
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++)
            for (int64_t c = 0; c < 3; c++) planar[16 + c * H * W + y * W + x] = img.data[(y * W + x) * 3 + c];
    int64_t strides[4] = {3 * H * W, W, 1, H * W};
    t = img.tensor;
    t.data = planar;
    t.byte_offset = 16 * sizeof(float);
    t.strides = strides;
    CHECK(fixture_run(ctx, &t, NULL, 1, NULL, out) == CUTOUT_OK);
    CHECK(check_outputs(out, &img, expect_plain) == 0);

    free(planar);
    free(h);
    free(bf);
    free(u8);
    fixture_image_free(&exact);
    fixture_image_free(&img);
}

static const test_image *guide_image;
static int64_t guide_batch; /* the batch the library is told the guide has */
static float expect_guided(const test_image *src, int64_t b, int64_t y, int64_t x)
{
    int64_t gb = guide_batch == 1 ? 0 : b;
    float g = guide_image->data[(gb * src->shape[1] + y) * src->shape[2] + x];
    return expect_plain(src, b, y, x) * clamp01(g);
}

static float expect_half(const test_image *src, int64_t b, int64_t y, int64_t x)
{
    return expect_plain(src, b, y, x) * 0.5f;
}

static void test_guide_mask(void)
{
    test_image img = fixture_photo(testdata, "portrait_hair_kodim04.png", 3, 3);
    int64_t H = img.shape[1], W = img.shape[2];
    /* Per item: left half kept in item 0, right half in item 1, and values
     * outside 0..1 in item 2 (clamped). */
    test_image guide = fixture_blank(3, H, W, 1);
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++) {
            guide.data[(0 * H + y) * W + x] = x < W / 2 ? 1.0f : 0.0f;
            guide.data[(1 * H + y) * W + x] = x < W / 2 ? 0.0f : 1.0f;
            guide.data[(2 * H + y) * W + x] = y < H / 2 ? 2.0f : -1.0f;
        }
    int64_t gshape[3] = {3, H, W};
    DLTensor g = guide.tensor;
    g.ndim = 3;
    g.shape = gshape;
    DLManagedTensor *out[2];
    guide_image = &guide;
    guide_batch = 3;
    CHECK(fixture_run(ctx, &img.tensor, &g, 2, NULL, out) == CUTOUT_OK);
    CHECK(check_outputs(out, &img, expect_guided) == 0);

    /* Batch 1 broadcasts to every item; H x W (rank 2) too. */
    gshape[0] = 1;
    guide_batch = 1;
    CHECK(fixture_run(ctx, &img.tensor, &g, 1, NULL, out) == CUTOUT_OK);
    CHECK(check_outputs(out, &img, expect_guided) == 0);
    int64_t hw[2] = {H, W};
    g.ndim = 2;
    g.shape = hw;
    CHECK(fixture_run(ctx, &img.tensor, &g, 3, NULL, out) == CUTOUT_OK);
    CHECK(check_outputs(out, &img, expect_guided) == 0);

    /* Another size is resized: a constant 0.5 guide of 7 x 5 halves alpha. */
    test_image small = fixture_blank(1, 7, 5, 1);
    for (int k = 0; k < 35; k++) small.data[k] = 0.5f;
    int64_t sshape[3] = {1, 7, 5};
    g = small.tensor;
    g.ndim = 3;
    g.shape = sshape;
    CHECK(fixture_run(ctx, &img.tensor, &g, 1, NULL, out) == CUTOUT_OK);
    CHECK(check_outputs(out, &img, expect_half) == 0);
    fixture_image_free(&small);
    fixture_image_free(&guide);
    fixture_image_free(&img);
}

static void test_batching_and_progress(void)
{
    test_image img = fixture_photo(testdata, "product_coffee.png", 5, 3);
    const int64_t sizes[] = {1, 2, 3, 5, 64};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        progress_log log = {.abort_after = -1};
        DLManagedTensor *out[2];
        stub_reset();
        CHECK(fixture_run(ctx, &img.tensor, NULL, sizes[s], &log, out) == CUTOUT_OK);
        fixture_release(out);
        /* One progress call per item, in order, with the batch as total. */
        CHECK(log.calls == 5);
        for (int64_t k = 0; k < log.calls && k < 5; k++)
            CHECK(log.done[k] == k + 1 && log.total[k] == 5);
        /* ceil(5 / batch_size) forward passes of batch_size items (the last
         * one holds the rest). */
        int64_t expected_calls = (5 + sizes[s] - 1) / sizes[s];
        CHECK(stub_predict_calls() == expected_calls);
        for (int64_t c = 0; c < expected_calls; c++) {
            int64_t want = 5 - c * sizes[s] < sizes[s] ? 5 - c * sizes[s] : sizes[s];
            CHECK(stub_predict_count(c) == want);
        }
        CHECK(log.abort_polls >= 5);
    }
    /* Out of memory for more than 2 items at once: the chunk of 5 is tried
     * at 2, then the rest keeps 2 (2 + 2 + 1), and the run succeeds. */
    progress_log log = {.abort_after = -1};
    DLManagedTensor *out[2];
    stub_reset();
    stub_oom_above(2);
    CHECK(fixture_run(ctx, &img.tensor, NULL, 5, &log, out) == CUTOUT_OK);
    fixture_release(out);
    CHECK(stub_predict_calls() == 4 && stub_predict_count(0) == 5 && stub_predict_count(1) == 2 &&
          stub_predict_count(2) == 2 && stub_predict_count(3) == 1);
    CHECK(log.calls == 5);
    stub_reset();
    fixture_image_free(&img);
    CHECK(stub_live_tensors() == 0);
}

static void test_abort(void)
{
    test_image img = fixture_photo(testdata, "animal_fur_chelsea.png", 4, 3);
    for (int64_t batch_size = 1; batch_size <= 4; batch_size++) {
        for (int64_t k = 0; k <= 3; k++) {
            progress_log log = {.abort_after = k};
            DLManagedTensor *out[2];
            cutout_status st = fixture_run(ctx, &img.tensor, NULL, batch_size, &log, out);
            CHECK(st == CUTOUT_CANCELLED);
            CHECK(strstr(cutout_last_error(), "cancelled") != NULL);
            CHECK(out[0] == NULL && out[1] == NULL);
            CHECK(log.calls == k); /* no progress after the abort was seen */
            CHECK(stub_live_tensors() == 0);
        }
    }
    fixture_image_free(&img);
}

static void test_failures_mid_batch(void)
{
    test_image img = fixture_photo(testdata, "product_coffee.png", 4, 3);
    DLManagedTensor *out[2];
    for (int64_t at = 1; at <= 2; at++) {
        stub_reset();
        stub_fail_predict_at(at);
        CHECK_ERROR(fixture_run(ctx, &img.tensor, NULL, 2, NULL, out), CUTOUT_ERR_INFERENCE,
                    "model output: expected 4 dims");
        CHECK(out[0] == NULL && out[1] == NULL && stub_live_tensors() == 0);
    }
    for (int64_t at = 1; at <= 2; at++) {
        stub_reset();
        stub_fail_alloc_at(at);
        CHECK_ERROR(fixture_run(ctx, &img.tensor, NULL, 2, NULL, out), CUTOUT_ERR_OUT_OF_MEMORY,
                    "out of memory");
        CHECK(out[0] == NULL && out[1] == NULL && stub_live_tensors() == 0);
    }
    stub_reset();
    /* The model loads once per context, however many runs use it. */
    CHECK(fixture_run(ctx, &img.tensor, NULL, 2, NULL, out) == CUTOUT_OK);
    fixture_release(out);
    CHECK(fixture_run(ctx, &img.tensor, NULL, 2, NULL, out) == CUTOUT_OK);
    fixture_release(out);
    CHECK(stub_models_loaded() == 0); /* loaded before the reset, not again */
    CHECK(cutout_last_error()[0] == '\0'); /* success clears the message */
    fixture_image_free(&img);
}

/* The precision input reaches the model loader; each precision is its own
 * prepared model, loaded once. */
static void test_precision(void)
{
    test_image img = fixture_photo(testdata, "product_coffee.png", 1, 3);
    DLManagedTensor *out[2];
    const char *asked[] = {"bf16", "fp16", "bf16"};
    const int64_t loads[] = {1, 2, 2};
    stub_reset();
    for (int k = 0; k < 3; k++) {
        cutout_input in[3] = {
            {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = &img.tensor},
            {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = "stub"},
            {.name = "precision", .kind = CUTOUT_VALUE_STRING, .s = asked[k]},
        };
        CHECK(cutout_node_run(ctx, "CutoutRemoveBackground", in, 3, NULL, out, 2) == CUTOUT_OK);
        fixture_release(out);
        CHECK(stub_models_loaded() == loads[k]);
    }
    CHECK(strcmp(stub_last_precision(), "fp16") == 0);
    cutout_input bad[3] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = &img.tensor},
        {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = "stub"},
        {.name = "precision", .kind = CUTOUT_VALUE_STRING, .s = "int4"},
    };
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", bad, 3, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT,
                "precision: expected one of \"auto\", \"fp32\", \"bf16\", \"fp16\", got \"int4\"");
    fixture_image_free(&img);
}

/* Runs the Advanced node on `img` with `temporal` and `skip_similar`, the
 * state `state` (may be NULL) and batch_size `bs`; returns the MASK
 * values (caller frees) or NULL on failure. */
static float *run_frames(cutout_temporal *state, const test_image *img, double temporal,
                         double skip, int64_t bs)
{
    cutout_input in[] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = &img->tensor},
        {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = "stub"},
        {.name = "batch_size", .kind = CUTOUT_VALUE_INT, .i = bs},
        {.name = "temporal", .kind = CUTOUT_VALUE_FLOAT, .f = temporal},
        {.name = "skip_similar", .kind = CUTOUT_VALUE_FLOAT, .f = skip},
    };
    cutout_run_params rp = cutout_run_default_params();
    rp.temporal = state;
    DLManagedTensor *out[3] = {NULL, NULL, NULL};
    if (cutout_node_run(ctx, "CutoutRemoveBackgroundAdvanced", in, 5, &rp, out, 3) != CUTOUT_OK) {
        fprintf(stderr, "run_frames: %s\n", cutout_last_error());
        return NULL;
    }
    const int64_t n = img->shape[0] * img->shape[1] * img->shape[2];
    float *mask = malloc((size_t)n * sizeof *mask);
    if (mask) memcpy(mask, out[1]->dl_tensor.data, (size_t)n * sizeof *mask);
    fixture_release(out);
    out[2]->deleter(out[2]);
    return mask;
}

/* Frames: each matte is blended with the previous smoothed one (the stub
 * has no motion gate), across chunks and, through a cutout_temporal,
 * across calls; near-identical frames reuse the last matte without a
 * forward pass; 0 leaves every frame on its own. */
static void test_temporal(void)
{
    test_image img = fixture_photo(testdata, "product_coffee.png", 1, 3);
    const int64_t h = img.shape[1], w = img.shape[2], plane = h * w;
    /* Three frames: the photo, its inverse, the photo again. */
    test_image frames = fixture_blank(3, h, w, 3);
    for (int64_t k = 0; k < plane * 3; k++) {
        frames.data[k] = img.data[k];
        frames.data[plane * 3 + k] = 1.0f - img.data[k];
        frames.data[2 * plane * 3 + k] = img.data[k];
    }
    float *plain = run_frames(NULL, &frames, 0.0, 0.0, 1);
    int bad = 0;
    for (int64_t bs = 1; bs <= 3; bs += 2) {
        float *smooth = run_frames(NULL, &frames, 0.5, 0.0, bs);
        CHECK(plain && smooth);
        for (int64_t k = 0; plain && smooth && k < plane; k++) {
            const float s0 = plain[k];
            const float s1 = plain[plane + k] + 0.5f * (s0 - plain[plane + k]);
            const float s2 = plain[2 * plane + k] + 0.5f * (s1 - plain[2 * plane + k]);
            bad += fabsf(smooth[k] - s0) > 1e-6f || fabsf(smooth[plane + k] - s1) > 1e-6f ||
                   fabsf(smooth[2 * plane + k] - s2) > 1e-6f;
        }
        free(smooth);
    }
    CHECK(bad == 0);

    /* The same frames in three calls of one frame each, through one state. */
    cutout_temporal *state = NULL;
    CHECK(cutout_temporal_create(&state) == CUTOUT_OK);
    float *last = NULL;
    for (int f = 0; f < 3; f++) {
        test_image one = fixture_blank(1, h, w, 3);
        memcpy(one.data, frames.data + f * plane * 3, (size_t)(plane * 3) * sizeof(float));
        free(last);
        last = run_frames(state, &one, 0.5, 0.0, 1);
        fixture_image_free(&one);
    }
    float *together = run_frames(NULL, &frames, 0.5, 0.0, 1);
    bad = 0;
    for (int64_t k = 0; last && together && k < plane; k++)
        bad += fabsf(last[k] - together[2 * plane + k]) > 1e-6f;
    CHECK(last && together && bad == 0);
    free(last);
    free(together);
    cutout_temporal_destroy(state);
    cutout_temporal_destroy(NULL);
    CHECK(cutout_temporal_create(NULL) == CUTOUT_ERR_INVALID_ARGUMENT);

    /* skip_similar: frame 2 equals frame 0 but not frame 1 (the last
     * predicted), so all three are predicted; identical frames are not. */
    stub_reset();
    free(run_frames(NULL, &frames, 0.0, 0.01, 1));
    CHECK(stub_predict_calls() == 3);
    test_image same = fixture_blank(3, h, w, 3);
    for (int f = 0; f < 3; f++) memcpy(same.data + f * plane * 3, img.data, (size_t)(plane * 3) * sizeof(float));
    stub_reset();
    float *reused = run_frames(NULL, &same, 0.0, 0.01, 1);
    CHECK(stub_predict_calls() == 1);
    bad = 0;
    for (int64_t k = 0; reused && plain && k < plane; k++)
        bad += reused[plane + k] != plain[k] || reused[2 * plane + k] != plain[k];
    CHECK(reused && bad == 0);
    free(reused);
    free(plain);
    fixture_image_free(&same);
    fixture_image_free(&frames);
    fixture_image_free(&img);
    CHECK(stub_live_tensors() == 0);
}

/* The library's one search rule, as hosts read it: the host's folders,
 * then CUTOUT_MODEL_PATH, then models/ beside the library, one up and in
 * ../share/cutout;
 * each once, without a trailing '/'. */
static void test_search_dirs(void)
{
    setenv("CUTOUT_MODEL_PATH", "/tmp/cutout-env-a:/tmp/cutout-host//::/tmp/cutout-env-b/", 1);
    const char *host[] = {"/tmp/cutout-host/", NULL, "/tmp/cutout-env-a"};
    cutout_context_params p = cutout_context_default_params();
    p.model_dirs = host;
    p.num_model_dirs = 3;
    cutout_context *c = NULL;
    CHECK(cutout_context_create(&p, &c) == CUTOUT_OK);
    unsetenv("CUTOUT_MODEL_PATH");
    const char *want[] = {"/tmp/cutout-host", "/tmp/cutout-env-a", "/tmp/cutout-env-b"};
    const int64_t n = cutout_context_model_dir_count(c);
    CHECK(n == 6);
    for (int64_t i = 0; i < 3 && i < n; i++) CHECK(strcmp(cutout_context_model_dir(c, i), want[i]) == 0);
    for (int64_t i = 3; i < n; i++) {
        const char *d = cutout_context_model_dir(c, i);
        CHECK(d && strlen(d) > 7 && strcmp(d + strlen(d) - 7, "/models") == 0);
    }
    CHECK(cutout_context_model_dir(c, n) == NULL && cutout_context_model_dir(c, -1) == NULL);
    CHECK(cutout_context_model_dir_count(NULL) == 0 && cutout_context_model_dir(NULL, 0) == NULL);
    cutout_context_destroy(c);
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
    test_photos();
    test_dtypes_and_strides();
    test_guide_mask();
    test_batching_and_progress();
    test_abort();
    test_failures_mid_batch();
    test_precision();
    test_search_dirs();
    test_temporal();
    cutout_context_destroy(ctx);
    CHECK(stub_live_tensors() == 0);
    return fixture_finish("test_run");
}
