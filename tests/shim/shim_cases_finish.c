/* shim_cases_finish.c - finishing items: RGB and alpha bit for bit, input alpha, guides (per item, broadcast, resized), errors. */
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

/* ------------------------------------------------------------------------ */
/* Composition                                                               */

#define CH 16 /* compose test images are CH x CW */
#define CW 16

static float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

/* Random bits for a finite value of `dtype` (exponent not all ones). */
static uint32_t random_finite_bits(DLDataType dtype) {
    for (;;) {
        uint32_t r = (next_random() << 16) ^ next_random();
        if (dtype.code == kDLFloat && dtype.bits == 32 && ((r >> 23) & 255) != 255) return r;
        if (dtype.code == kDLFloat && dtype.bits == 16 && ((r >> 10) & 31) != 31) return r & 0xffff;
        if (dtype.code == kDLBfloat && ((r >> 7) & 255) != 255) return r & 0xffff;
        if (dtype.code == kDLUInt) return r & 255;
    }
}

/* The float32 an image element must become in out_image. */
static float expected_rgb(DLDataType dtype, const void *element) {
    if (dtype.code == kDLUInt) return (float)*(const uint8_t *)element / 255.0f;
    if (dtype.code == kDLFloat && dtype.bits == 32) {
        float f; /* may be misaligned */
        memcpy(&f, element, sizeof f);
        return f;
    }
    uint16_t h;
    memcpy(&h, element, sizeof h);
    if (dtype.code == kDLFloat) return half_to_float(h);
    return bits_float((uint32_t)h << 16); /* bfloat16 */
}

static void set_element(DLDataType dtype, void *element, uint32_t bits) {
    if (dtype.code == kDLUInt)
        *(uint8_t *)element = (uint8_t)bits;
    else if (dtype.bits == 32)
        memcpy(element, &bits, 4);
    else {
        uint16_t h = (uint16_t)bits;
        memcpy(element, &h, 2);
    }
}

/* Fills every element of a B x H x W x C image with random finite values
 * (uint8: all 256 values appear). */
static void fill_image(test_tensor *img) {
    int64_t idx[4];
    int64_t k = 0;
    for (idx[0] = 0; idx[0] < img->t.shape[0]; ++idx[0])
        for (idx[1] = 0; idx[1] < img->t.shape[1]; ++idx[1])
            for (idx[2] = 0; idx[2] < img->t.shape[2]; ++idx[2])
                for (idx[3] = 0; idx[3] < img->t.shape[3]; ++idx[3], ++k) {
                    uint32_t bits = img->t.dtype.code == kDLUInt ? (uint32_t)(k % 256)
                                                                 : random_finite_bits(img->t.dtype);
                    set_element(img->t.dtype, tt_at(img, idx), bits);
                }
}

/* alpha_out item values spread over -0.5..1.5 (so clamping shows). */
static void fill_alpha_item(test_tensor *alpha, int64_t item) {
    for (int64_t y = 0; y < CH; ++y)
        for (int64_t x = 0; x < CW; ++x)
            *f32_at3(alpha, item, y, x) = -0.5f + 2.0f * (float)(y * CW + x) / (CH * CW - 1);
}

/* Composes `item` of `img` (with `guide`, may be NULL) and checks: RGB
 * bit-identical, alpha channel == expected_alpha(y, x) bit-identical, MASK ==
 * alpha channel, other items untouched, input unchanged. `alpha_in` holds
 * the alpha_out values before the call. */
typedef float (*alpha_rule)(const test_tensor *img, const test_tensor *guide, int64_t item,
                            int64_t guide_item, float alpha_in, int64_t y, int64_t x);

static void check_compose(const char *label, test_tensor *img, const test_tensor *guide,
                          int64_t item, alpha_rule rule) {
    char err[512];
    /* A guide batch of one, or a 2-dim guide, applies to every item. */
    const int64_t guide_item = guide && guide->t.ndim == 3 && guide->t.shape[0] > 1 ? item : 0;
    int64_t b = img->t.shape[0];
    int64_t ashape[3] = {b, CH, CW}, oshape[4] = {b, CH, CW, 4};
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);
    fill_f32(&alpha, SENTINEL);
    fill_f32(&out, SENTINEL);
    fill_alpha_item(&alpha, item);
    float alpha_in[CH * CW];
    memcpy(alpha_in, f32_at3(&alpha, item, 0, 0), sizeof alpha_in);
    void *before = xcalloc(img->buffer_bytes);
    memcpy(before, img->t.data, img->buffer_bytes);

    CHECK_STATUS(cutout_shim_finish_items(&img->t, guide ? &guide->t : NULL, item, 1, NULL,
                                          &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    int rgb_bad = 0, alpha_bad = 0, mask_bad = 0;
    size_t esize = elem_size(img->t.dtype);
    (void)esize;
    for (int64_t y = 0; y < CH; ++y)
        for (int64_t x = 0; x < CW; ++x) {
            for (int64_t c = 0; c < 3; ++c) {
                int64_t idx[4] = {item, y, x, c};
                float want = expected_rgb(img->t.dtype, tt_at(img, idx));
                if (float_bits(*f32_at4(&out, item, y, x, c)) != float_bits(want)) {
                    if (rgb_bad++ == 0)
                        fprintf(stderr, "  %s: rgb (%lld,%lld,%lld) is %.9g, want %.9g\n", label,
                                (long long)y, (long long)x, (long long)c,
                                *f32_at4(&out, item, y, x, c), want);
                }
            }
            float want = rule(img, guide, item, guide_item, alpha_in[y * CW + x], y, x);
            float got = *f32_at4(&out, item, y, x, 3);
            if (float_bits(got) != float_bits(want)) {
                if (alpha_bad++ == 0)
                    fprintf(stderr, "  %s: alpha (%lld,%lld) is %.9g, want %.9g\n", label,
                            (long long)y, (long long)x, got, want);
            }
            if (float_bits(*f32_at3(&alpha, item, y, x)) != float_bits(got)) ++mask_bad;
        }
    CHECK(rgb_bad == 0, "%s: %d RGB values are not bit-identical to the input", label, rgb_bad);
    CHECK(alpha_bad == 0, "%s: %d alpha values differ from the expected product", label,
          alpha_bad);
    CHECK(mask_bad == 0, "%s: %d alpha_out values differ from the alpha channel", label,
          mask_bad);
    for (int64_t other = 0; other < b; ++other)
        if (other != item)
            CHECK(item_all_equal(&alpha, other, SENTINEL) && item_all_equal(&out, other, SENTINEL),
                  "%s: item %lld was written", label, (long long)other);
    CHECK(memcmp(before, img->t.data, img->buffer_bytes) == 0, "%s: input modified", label);
    free(before);
    tt_free(&alpha);
    tt_free(&out);
}

static float rule_alpha_only(const test_tensor *img, const test_tensor *guide, int64_t item,
                             int64_t guide_item, float alpha_in, int64_t y, int64_t x) {
    (void)img, (void)guide, (void)item, (void)guide_item, (void)y, (void)x;
    return clamp01(alpha_in);
}

static float input_alpha(const test_tensor *img, int64_t item, int64_t y, int64_t x) {
    int64_t idx[4] = {item, y, x, 3};
    return clamp01(expected_rgb(img->t.dtype, tt_at(img, idx)));
}

static float guide_value(const test_tensor *guide, int64_t guide_item, int64_t y, int64_t x) {
    int64_t idx3[3] = {guide_item, y, x}, idx2[2] = {y, x};
    const void *e = tt_at(guide, guide->t.ndim == 3 ? idx3 : idx2);
    if (guide->t.dtype.code == kDLInt) return clamp01((float)*(const int32_t *)e);
    return clamp01(expected_rgb(guide->t.dtype, e));
}

static float rule_input_alpha(const test_tensor *img, const test_tensor *guide, int64_t item,
                              int64_t guide_item, float alpha_in, int64_t y, int64_t x) {
    (void)guide, (void)guide_item;
    return clamp01(alpha_in) * input_alpha(img, item, y, x);
}

static float rule_guide(const test_tensor *img, const test_tensor *guide, int64_t item,
                        int64_t guide_item, float alpha_in, int64_t y, int64_t x) {
    float a = clamp01(alpha_in);
    if (img->t.shape[3] == 4) a = a * input_alpha(img, item, y, x);
    return a * guide_value(guide, guide_item, y, x);
}

int case_compose_rgb(void) {
    const DLDataType types[] = {U8, F32, F16, BF16};
    const char *names[] = {"uint8", "float32", "float16", "bfloat16"};
    int64_t shape[4] = {2, CH, CW, 3};
    for (int i = 0; i < 4; ++i) {
        test_tensor img = tt_compact(types[i], 4, shape);
        fill_image(&img);
        check_compose(names[i], &img, NULL, 1, rule_alpha_only);
        check_compose(names[i], &img, NULL, 0, rule_alpha_only);
        tt_free(&img);
    }
    /* Non-contiguous: pixels 5 elements apart, padded rows and items, and a
     * byte offset (odd for uint8, so nothing may assume alignment). */
    int64_t strides[4] = {CH * CW * 5 + 7 * CW, CW * 5 + 3, 5, 1};
    size_t elems = (size_t)(2 * strides[0] + 16);
    test_tensor f = tt_strided(F32, 4, shape, strides, 12, elems);
    fill_image(&f);
    check_compose("strided float32", &f, NULL, 1, rule_alpha_only);
    tt_free(&f);
    test_tensor u = tt_strided(U8, 4, shape, strides, 3, elems);
    fill_image(&u);
    check_compose("strided uint8", &u, NULL, 1, rule_alpha_only);
    tt_free(&u);
    /* Misaligned data: float32 and bfloat16 elements at odd addresses. */
    test_tensor mf = tt_strided(F32, 4, shape, strides, 2, elems);
    fill_image(&mf);
    check_compose("misaligned float32", &mf, NULL, 1, rule_alpha_only);
    tt_free(&mf);
    test_tensor mb = tt_strided(BF16, 4, shape, strides, 1, elems);
    fill_image(&mb);
    check_compose("misaligned bfloat16", &mb, NULL, 0, rule_alpha_only);
    tt_free(&mb);
    /* Channel planes (C x H x W in memory) seen as B x H x W x C. */
    int64_t planar_strides[4] = {CH * CW * 3, CW, 1, CH * CW};
    test_tensor planar = tt_strided(F16, 4, shape, planar_strides, 0, (size_t)(2 * CH * CW * 3));
    fill_image(&planar);
    check_compose("planar float16", &planar, NULL, 1, rule_alpha_only);
    tt_free(&planar);
    return 0;
}

/* Every uint8 value v becomes exactly (float)v / 255.0f. */
int case_compose_uint8_exact(void) {
    char err[256];
    int64_t shape[4] = {1, 1, 256, 3}, ashape[3] = {1, 1, 256}, oshape[4] = {1, 1, 256, 4};
    test_tensor img = tt_compact(U8, 4, shape);
    for (int v = 0; v < 256; ++v)
        for (int c = 0; c < 3; ++c) ((uint8_t *)img.t.data)[v * 3 + c] = (uint8_t)v;
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    int bad = 0;
    for (int v = 0; v < 256; ++v)
        for (int c = 0; c < 3; ++c)
            if (float_bits(((float *)out.t.data)[v * 4 + c]) != float_bits((float)v / 255.0f))
                ++bad;
    CHECK(bad == 0, "%d uint8 values are not exactly v / 255.0f", bad);
    tt_free(&img);
    tt_free(&alpha);
    tt_free(&out);
    return 0;
}

int case_compose_alpha(void) {
    /* Input alpha (C = 4) multiplies; values outside 0..1 are clamped. */
    int64_t shape4[4] = {2, CH, CW, 4};
    test_tensor f = tt_compact(F32, 4, shape4);
    for (int64_t i = 0; i < 2 * CH * CW * 4; ++i)
        ((float *)f.t.data)[i] = -0.25f + 1.5f * (float)(next_random() % 1001) / 1000.0f;
    check_compose("rgba float32", &f, NULL, 1, rule_input_alpha);
    test_tensor u = tt_compact(U8, 4, shape4);
    fill_image(&u);
    check_compose("rgba uint8", &u, NULL, 0, rule_input_alpha);

    /* Guide of the image's size: per item, broadcast from a batch of one,
     * 2-dim, uint8, int32, and together with C = 4. */
    int64_t gshape3[3] = {2, CH, CW}, gshape1[3] = {1, CH, CW}, gshape2[2] = {CH, CW};
    test_tensor g2 = tt_compact(F32, 3, gshape3);
    for (int64_t i = 0; i < 2 * CH * CW; ++i)
        ((float *)g2.t.data)[i] = -1.0f + 3.0f * (float)(next_random() % 1001) / 1000.0f;
    int64_t shape3[4] = {2, CH, CW, 3};
    test_tensor rgb = tt_compact(F32, 4, shape3);
    fill_image(&rgb);
    check_compose("guide item 1", &rgb, &g2, 1, rule_guide);
    test_tensor g1 = tt_compact(F32, 3, gshape1);
    memcpy(g1.t.data, g2.t.data, (size_t)(CH * CW) * sizeof(float));
    check_compose("guide batch of one", &rgb, &g1, 1, rule_guide);
    test_tensor g0 = tt_compact(F32, 2, gshape2);
    memcpy(g0.t.data, g2.t.data, (size_t)(CH * CW) * sizeof(float));
    check_compose("2-dim guide", &rgb, &g0, 1, rule_guide);
    test_tensor gu = tt_compact(U8, 2, gshape2);
    for (int64_t i = 0; i < CH * CW; ++i) ((uint8_t *)gu.t.data)[i] = (uint8_t)(i * 7);
    check_compose("uint8 guide", &rgb, &gu, 0, rule_guide);
    test_tensor gi = tt_compact(I32, 2, gshape2);
    for (int64_t i = 0; i < CH * CW; ++i) ((int32_t *)gi.t.data)[i] = (int32_t)(i % 3) - 1;
    check_compose("int32 guide", &rgb, &gi, 1, rule_guide);
    check_compose("rgba uint8 with guide", &u, &g2, 1, rule_guide);

    tt_free(&f);
    tt_free(&u);
    tt_free(&g2);
    tt_free(&rgb);
    tt_free(&g1);
    tt_free(&g0);
    tt_free(&gu);
    tt_free(&gi);
    return 0;
}

/* A guide of another size is resized bilinearly to H x W. */
int case_compose_guide_resize(void) {
    char err[256];
    int64_t shape[4] = {1, CH, CW, 3}, ashape[3] = {1, CH, CW}, oshape[4] = {1, CH, CW, 4};
    test_tensor img = tt_compact(F32, 4, shape);
    fill_image(&img);
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);

    /* Constant guides, smaller (upscaled) and larger (downscaled): the result
     * is the constant times the alpha. */
    const int64_t sizes[2][2] = {{5, 6}, {40, 33}};
    for (int s = 0; s < 2; ++s) {
        int64_t gshape[3] = {1, sizes[s][0], sizes[s][1]};
        test_tensor g = tt_compact(F32, 3, gshape);
        fill_f32(&g, 0.25f);
        fill_alpha_item(&alpha, 0);
        CHECK_STATUS(cutout_shim_finish_items(&img.t, &g.t, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err,
                                              sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        double worst = 0;
        for (int64_t i = 0; i < CH * CW; ++i) {
            float a_in = -0.5f + 2.0f * (float)i / (CH * CW - 1);
            double d = fabs(((float *)out.t.data)[i * 4 + 3] - clamp01(a_in) * 0.25);
            if (!(d <= worst)) worst = d;
            CHECK(float_bits(((float *)out.t.data)[i * 4 + 3]) ==
                      float_bits(((float *)alpha.t.data)[i]),
                  "alpha_out differs from the alpha channel at %lld", (long long)i);
        }
        CHECK(worst <= 1e-6, "constant guide %lldx%lld: alpha off by %g", (long long)sizes[s][0],
              (long long)sizes[s][1], worst);
        tt_free(&g);
    }

    /* A step guide 8 x 32 (0 on the left half, 255 on the right, uint8):
     * after resizing, each row rises from 0 to 1 without overshoot. */
    int64_t sshape[2] = {8, 32};
    test_tensor step = tt_compact(U8, 2, sshape);
    for (int64_t y = 0; y < 8; ++y)
        for (int64_t x = 0; x < 32; ++x) ((uint8_t *)step.t.data)[y * 32 + x] = x < 16 ? 0 : 255;
    fill_f32(&alpha, 1.0f);
    CHECK_STATUS(cutout_shim_finish_items(&img.t, &step.t, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err,
                                          sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    for (int64_t y = 0; y < CH; ++y) {
        const float *row = (const float *)alpha.t.data + y * CW;
        CHECK(fabsf(row[0]) <= 1e-6f && fabsf(row[CW - 1] - 1.0f) <= 1e-6f,
              "row %lld: ends are %g and %g, want 0 and 1", (long long)y, row[0], row[CW - 1]);
        bool rising = true, blended = false;
        for (int64_t x = 1; x < CW; ++x) rising = rising && row[x] >= row[x - 1];
        for (int64_t x = 0; x < CW; ++x) blended = blended || (row[x] > 0.01f && row[x] < 0.99f);
        CHECK(rising && blended, "row %lld is not a smooth rise from 0 to 1", (long long)y);
    }
    tt_free(&step);
    tt_free(&img);
    tt_free(&alpha);
    tt_free(&out);
    return 0;
}

int case_compose_errors(void) {
    char err[512];
    int64_t shape[4] = {2, CH, CW, 3}, ashape[3] = {2, CH, CW}, oshape[4] = {2, CH, CW, 4};
    test_tensor img = tt_compact(F32, 4, shape);
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);
    test_tensor guide = tt_compact(F32, 3, ashape);

    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 2, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "got first 2, count 1");
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, -1, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "items: out of range");
    int64_t shape3[4] = {3, CH, CW, 3}, ashape3[3] = {3, CH, CW}, oshape3[4] = {3, CH, CW, 4};
    test_tensor img3 = tt_compact(F32, 4, shape3);
    test_tensor alpha3 = tt_compact(F32, 3, ashape3);
    test_tensor out3 = tt_compact(F32, 4, oshape3);
    CHECK_STATUS(cutout_shim_finish_items(&img3.t, &guide.t, 0, 3, NULL, &alpha3.t, &out3.t, NULL,
                                          NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "guide: batch of 2 does not match the image");
    tt_free(&img3);
    tt_free(&alpha3);
    tt_free(&out3);
    CHECK_STATUS(cutout_shim_finish_items(NULL, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: tensor is NULL");
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, NULL, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "out_image: tensor is NULL");

    /* Wrong output shapes, dtype, layout. */
    int64_t small[4] = {2, CH, CW - 1, 4};
    out.t.shape = small;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err,
                 "out_image: shape does not match the image (expected [2,16,16,4], got [2,16,15,4])");
    out.t.shape = out.shape;
    out.t.dtype = F16;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "out_image: wrong dtype (expected float32, got float16)");
    out.t.dtype = F32;
    int64_t ostrides[4] = {CH * CW * 4, CW * 4, 1, CH * CW * 2};
    out.t.strides = ostrides;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "out_image: not compact");
    out.t.strides = NULL;
    alpha.t.ndim = 2;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "alpha_out: expected 3 dims B x H x W, got 2 dims");
    alpha.t.ndim = 3;

    /* Bad images. */
    img.t.ndim = 3;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: expected 4 dims B x H x W x C, got 3 dims [2,16,16]");
    img.t.ndim = 4;
    img.t.dtype = I32;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: unsupported dtype (expected float32, float16, bfloat16 or uint8, got int32)");
    DLDataType complex = {kDLComplex, 64, 1};
    img.t.dtype = complex;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: unsupported dtype (expected float16/32/64, bfloat16, uint8 or int8/16/32/64, got complex64)");
    DLDataType lanes = {kDLFloat, 32, 2};
    img.t.dtype = lanes;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "got float32x2)");
    img.t.dtype = F32;
    int64_t negative[4] = {CH * CW * 3, -CW * 3, 3, 1};
    img.t.strides = negative;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: negative stride (expected strides >= 0, got [768,-48,3,1])");
    int64_t huge[4] = {INT64_MAX / 2, 1, 1, 3};
    img.t.strides = huge;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: strides overflow");
    img.t.strides = NULL;
    void *data = img.t.data;
    img.t.data = NULL;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: data is NULL");
    img.t.data = data;

    /* Bad guides. */
    guide.t.ndim = 1;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, &guide.t, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err,
                                          sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "guide: expected 3 dims B x H x W or 2 dims H x W, got 1 dims [2]");
    guide.t.ndim = 3;
    int64_t empty[3] = {2, 0, CW};
    guide.t.shape = empty;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, &guide.t, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err,
                                          sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "guide: empty");
    guide.t.shape = guide.shape;

    tt_free(&img);
    tt_free(&alpha);
    tt_free(&out);
    tt_free(&guide);
    return 0;
}
