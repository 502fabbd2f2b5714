/* test_edges_validation.c - CutoutRemoveBackgroundAdvanced and
 * CutoutCompositeBackground with the stub shim: bad options get their
 * status and a message naming the input, with no outputs and nothing
 * allocated; the output layouts, the BOX, cropping and the MASK convention
 * come out as specified. */
#include <stdlib.h>

#include "fixture.h"

static cutout_context *ctx;
static const char *testdata;

#define MAX_IN 24

typedef struct call {
    cutout_input in[MAX_IN];
    size_t n;
} call;

static void add(call *c, cutout_input v) { c->in[c->n++] = v; }
#define STR(nm, v) add(&c, (cutout_input){.name = nm, .kind = CUTOUT_VALUE_STRING, .s = v})
#define INT(nm, v) add(&c, (cutout_input){.name = nm, .kind = CUTOUT_VALUE_INT, .i = v})
#define FLT(nm, v) add(&c, (cutout_input){.name = nm, .kind = CUTOUT_VALUE_FLOAT, .f = v})
#define BOOL(nm, v) add(&c, (cutout_input){.name = nm, .kind = CUTOUT_VALUE_BOOL, .b = v})
#define TENSOR(nm, t) add(&c, (cutout_input){.name = nm, .kind = CUTOUT_VALUE_TENSOR, .tensor = t})

static void release(DLManagedTensor **out, int n)
{
    for (int i = 0; i < n; i++)
        if (out[i]) out[i]->deleter(out[i]), out[i] = NULL;
}

/* Runs the advanced node and expects failure `want` with `text`. */
static void expect_failure(call *c, const char *node, int n_out, cutout_status want,
                           const char *text, int line)
{
    DLManagedTensor *out[3] = {NULL, NULL, NULL};
    cutout_status st = cutout_node_run(ctx, node, c->in, c->n, NULL, out, (size_t)n_out);
    fixture_checks++;
    if (st != want || !strstr(cutout_last_error(), text) || out[0] || out[1] || out[2] ||
        stub_live_tensors() != 0) {
        fixture_failures++;
        fprintf(stderr, "line %d: expected %s with \"%s\", got %s: \"%s\" (live %lld)\n", line,
                cutout_status_string(want), text, cutout_status_string(st), cutout_last_error(),
                (long long)stub_live_tensors());
    }
    release(out, 3);
}

static const char *const ADV = "CutoutRemoveBackgroundAdvanced";
static const char *const COMP = "CutoutCompositeBackground";

static void test_advanced_validation(void)
{
    test_image img = fixture_photo(testdata, "product_coffee.png", 1, 3);
    struct {
        const char *name;
        int kind; /* 0 int, 1 float, 2 string */
        int64_t i;
        double f;
        const char *s;
        const char *text;
    } cases[] = {
        {"process_resolution", 0, 100, 0, NULL, "process_resolution: expected 0"},
        {"process_resolution", 0, 300, 0, NULL, "in steps of 32, got 300"},
        {"threshold", 1, 0, 1.5, NULL, "threshold"},
        {"mask_grow", 0, 65, 0, NULL, "mask_grow"},
        {"mask_blur", 0, -1, 0, NULL, "mask_blur"},
        {"crop_padding", 0, -3, 0, NULL, "crop_padding"},
        {"fit", 2, 0, 0, "squash", "fit"},
        {"output", 2, 0, 0, "RGBX", "output"},
        {"foreground", 2, 0, 0, "guess", "foreground"},
        {"edge_refinement", 2, 0, 0, "sharp", "edge_refinement"},
        {"mask_convention", 2, 0, 0, "upside down", "mask_convention"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        call c = {.n = 0};
        TENSOR("image", &img.tensor);
        STR("model", "stub");
        if (cases[k].kind == 0) INT(cases[k].name, cases[k].i);
        if (cases[k].kind == 1) FLT(cases[k].name, cases[k].f);
        if (cases[k].kind == 2) STR(cases[k].name, cases[k].s);
        expect_failure(&c, ADV, 3, CUTOUT_ERR_INVALID_INPUT, cases[k].text, __LINE__);
    }
    /* Every value nodes.json allows (0, or 32..2048 in steps of 32) runs. */
    const int64_t allowed[] = {0, 32, 64, 224, 256, 2048};
    for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++) {
        call c = {.n = 0};
        TENSOR("image", &img.tensor);
        STR("model", "stub");
        INT("process_resolution", allowed[k]);
        DLManagedTensor *out[3] = {NULL, NULL, NULL};
        cutout_status st = cutout_node_run(ctx, ADV, c.in, c.n, NULL, out, 3);
        if (st != CUTOUT_OK) {
            fixture_failures++;
            fprintf(stderr, "process_resolution %lld: expected OK, got %s: %s\n",
                    (long long)allowed[k], cutout_status_string(st), cutout_last_error());
        }
        release(out, 3);
    }
    stub_reset(); /* the injected failure below counts allocations from here */
    call c = {.n = 0};
    TENSOR("image", &img.tensor);
    STR("model", "stub");
    expect_failure(&c, ADV, 2, CUTOUT_ERR_INVALID_ARGUMENT, "has 3 outputs, got room for 2",
                   __LINE__);
    stub_fail_alloc_at(2);
    expect_failure(&c, ADV, 3, CUTOUT_ERR_OUT_OF_MEMORY, "injected", __LINE__);
    stub_reset();
    fixture_image_free(&img);
}

static void test_advanced_outputs(void)
{
    test_image img = fixture_photo(testdata, "product_coffee.png", 2, 3);
    const int64_t h = img.shape[1], w = img.shape[2];
    /* RGB + MASK, LoadImage convention, threshold: C = 3, MASK = 1 - (0/1). */
    call c = {.n = 0};
    TENSOR("image", &img.tensor);
    STR("model", "stub");
    STR("output", "RGB + MASK");
    STR("mask_convention", "LoadImage");
    FLT("threshold", 0.5);
    DLManagedTensor *out[3] = {NULL, NULL, NULL};
    cutout_status st = cutout_node_run(ctx, ADV, c.in, c.n, NULL, out, 3);
    CHECK(st == CUTOUT_OK);
    if (st == CUTOUT_OK) {
        CHECK(out[0]->dl_tensor.ndim == 4 && out[0]->dl_tensor.shape[3] == 3);
        const float *m = out[1]->dl_tensor.data;
        const float *rgb = out[0]->dl_tensor.data;
        int64_t wrong = 0;
        for (int64_t i = 0; i < 2 * h * w; i++) {
            float mean = (img.data[i * 3] + img.data[i * 3 + 1] + img.data[i * 3 + 2]) / 3.0f;
            float alpha = mean >= 0.5f ? 1.0f : 0.0f;
            wrong += m[i] != 1.0f - alpha || rgb[i * 3] != img.data[i * 3];
        }
        CHECK(wrong == 0);
        const int64_t *box = out[2]->dl_tensor.data;
        CHECK(out[2]->dl_tensor.dtype.code == kDLInt && out[2]->dl_tensor.shape[0] == 2 &&
              out[2]->dl_tensor.shape[1] == 4);
        CHECK(box[0] == 0 && box[1] == 0 && box[2] == w && box[3] == h);
    }
    release(out, 3);
    /* Crop: outputs shrink to the box, the box holds every pixel with alpha. */
    c.n = 0;
    TENSOR("image", &img.tensor);
    STR("model", "stub");
    FLT("threshold", 0.9);
    BOOL("crop_to_subject", true);
    INT("crop_padding", 2);
    st = cutout_node_run(ctx, ADV, c.in, c.n, NULL, out, 3);
    CHECK(st == CUTOUT_OK);
    if (st == CUTOUT_OK) {
        const int64_t *box = out[2]->dl_tensor.data;
        CHECK(box[2] > 0 && box[3] > 0 && (box[2] < w || box[3] < h));
        CHECK(out[0]->dl_tensor.shape[1] == box[3] && out[0]->dl_tensor.shape[2] == box[2]);
        CHECK(out[1]->dl_tensor.shape[1] == box[3] && out[1]->dl_tensor.shape[2] == box[2]);
        int64_t outside = 0;
        for (int64_t b = 0; b < 2; b++)
            for (int64_t y = 0; y < h; y++)
                for (int64_t x = 0; x < w; x++) {
                    const float *p = &img.data[((b * h + y) * w + x) * 3];
                    bool subject = (p[0] + p[1] + p[2]) / 3.0f >= 0.9f;
                    outside += subject && (x < box[0] || y < box[1] || x >= box[0] + box[2] ||
                                           y >= box[1] + box[3]);
                }
        CHECK(outside == 0);
    }
    release(out, 3);
    CHECK(stub_live_tensors() == 0);
    fixture_image_free(&img);
}

static void test_composite(void)
{
    test_image rgb = fixture_photo(testdata, "product_coffee.png", 1, 3);
    test_image rgba = fixture_photo(testdata, "rgba_bear_tuxpaint.png", 1, 4);
    call c = {.n = 0};
    TENSOR("image", &rgb.tensor);
    expect_failure(&c, COMP, 1, CUTOUT_ERR_INVALID_INPUT, "mask: missing", __LINE__);
    c.n = 0;
    TENSOR("image", &rgba.tensor);
    STR("color", "#12345");
    expect_failure(&c, COMP, 1, CUTOUT_ERR_INVALID_INPUT, "color: expected a colour", __LINE__);
    c.n = 0;
    TENSOR("image", &rgba.tensor);
    STR("background", "image");
    expect_failure(&c, COMP, 1, CUTOUT_ERR_INVALID_INPUT, "background_image: missing", __LINE__);

    c.n = 0;
    TENSOR("image", &rgba.tensor);
    STR("color", "#FF0000");
    DLManagedTensor *out[1] = {NULL};
    cutout_status st = cutout_node_run(ctx, COMP, c.in, c.n, NULL, out, 1);
    CHECK(st == CUTOUT_OK);
    if (st == CUTOUT_OK) {
        CHECK(out[0]->dl_tensor.shape[3] == 3);
        const float *o = out[0]->dl_tensor.data;
        int64_t n = rgba.shape[1] * rgba.shape[2], wrong = 0;
        for (int64_t i = 0; i < n; i++) {
            const float *p = &rgba.data[i * 4];
            if (p[3] == 1.0f) wrong += o[i * 3] != p[0] || o[i * 3 + 1] != p[1];
            if (p[3] == 0.0f) wrong += o[i * 3] != 1.0f || o[i * 3 + 1] != 0.0f;
        }
        CHECK(wrong == 0);
    }
    release(out, 1);
    CHECK(stub_live_tensors() == 0);
    fixture_image_free(&rgb);
    fixture_image_free(&rgba);
}

int main(int argc, char **argv)
{
    testdata = argc > 1 ? argv[1] : "tests/data/photos";
    if (fixture_context(NULL, &ctx) != CUTOUT_OK) {
        fprintf(stderr, "context: %s\n", cutout_last_error());
        return 1;
    }
    test_advanced_validation();
    test_advanced_outputs();
    test_composite();
    cutout_context_destroy(ctx);
    fixture_cleanup();
    return fixture_finish("test_edges_validation");
}
