/*
 * shim_cases_frames.c - cutout_shim_predict_frames on the tiny model and
 * the test photo: the previous matte follows a scene moving by a known
 * whole-pixel step (the smoothing is recomputed here with the true motion),
 * still frames under noise flicker less, a scene cut and strength 0 leave
 * the model's mattes as they are, and bad arguments get their one-line
 * errors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shim_cases.h"
#include "shim_test_support.h"

#define FRAMES 6
#define STEP 2 /* pixels right a frame */

/* Frame t of the photo moved right by t * STEP pixels, the left edge
 * repeated, and with noise of +-noise levels when noise > 0. */
static void make_frames(const photo *p, test_tensor *frames, int noise, bool moving) {
    const int64_t h = p->height, w = p->width;
    for (int64_t t = 0; t < FRAMES; ++t)
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
                int64_t sx = moving ? x - t * STEP : x;
                if (sx < 0) sx = 0;
                for (int c = 0; c < 3; ++c) {
                    int v = p->rgb[(y * w + sx) * 3 + c];
                    if (noise > 0) v += (int)(next_random() % (uint32_t)(2 * noise + 1)) - noise;
                    ((uint8_t *)frames->t.data)[((t * h + y) * w + x) * 3 + c] =
                        (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
}

/* Mean |a[i] - b[j]| over H x W, away from a border of `border` pixels. */
static double mean_diff(const test_tensor *a, int64_t i, const test_tensor *b, int64_t j,
                        int64_t border) {
    const int64_t h = a->t.shape[1], w = a->t.shape[2];
    double sum = 0.0;
    int64_t n = 0;
    for (int64_t y = border; y < h - border; ++y)
        for (int64_t x = border; x < w - border; ++x, ++n)
            sum += fabs((double)*f32_at3(a, i, y, x) - (double)*f32_at3(b, j, y, x));
    return n ? sum / (double)n : 0.0;
}

static cutout_shim_status run_frames(cutout_shim_model *model, const test_tensor *frames,
                                     float strength, test_tensor *alpha, char *err, size_t cap) {
    cutout_shim_temporal *state = NULL;
    cutout_shim_status s = cutout_shim_temporal_new(&state, err, cap);
    if (s != CUTOUT_SHIM_OK) return s;
    cutout_shim_temporal_params params = {sizeof params, strength, 0.0f, 0.0f};
    /* Two chunks: the state carries from the first to the second. */
    s = cutout_shim_predict_frames(model, state, &params, &frames->t, 0, FRAMES / 2, NULL,
                                   &alpha->t, NULL, NULL, err, cap);
    if (s == CUTOUT_SHIM_OK)
        s = cutout_shim_predict_frames(model, state, &params, &frames->t, FRAMES / 2,
                                       FRAMES - FRAMES / 2, NULL, &alpha->t, NULL, NULL, err, cap);
    cutout_shim_temporal_free(state);
    return s;
}

int case_frames(void) {
    char err[512];
    photo p = load_photo();
    cutout_shim_model *model = load_model("tiny_valid.pt");
    const int64_t h = p.height, w = p.width;
    int64_t fshape[4] = {FRAMES, h, w, 3}, ashape[3] = {FRAMES, h, w};
    test_tensor frames = tt_compact(U8, 4, fshape);
    test_tensor plain = tt_compact(F32, 3, ashape), smooth = tt_compact(F32, 3, ashape);

    /* Moving by whole pixels, where the motion is found exactly: each
     * smoothed matte is the model's blended with the last smoothed one
     * moved STEP pixels right (weight 0.8 where the model is unsure), as
     * computed here; blending it unmoved would trail the subject. */
    make_frames(&p, &frames, 0, true);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &frames.t, 0, FRAMES, NULL, &plain.t, NULL, NULL,
                                           err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK_STATUS(run_frames(model, &frames, 0.8f, &smooth, err, sizeof err), CUTOUT_SHIM_OK, err,
                 NULL);
    test_tensor expected = tt_compact(F32, 3, ashape), unmoved = tt_compact(F32, 3, ashape);
    for (int64_t t = 0; t < FRAMES; ++t) {
        for (int64_t y = 0; y < h; ++y)
            for (int64_t x = 0; x < w; ++x) {
                const float a = *f32_at3(&plain, t, y, x);
                float e = a, u = a;
                if (t > 0) {
                    const float sure = powf(fabsf(2.0f * a - 1.0f), 16.0f);
                    const float keep = 0.8f * (1.0f - sure);
                    const int64_t sx = x - STEP < 0 ? 0 : x - STEP;
                    e = a + keep * (*f32_at3(&expected, t - 1, y, sx) - a);
                    u = a + keep * (*f32_at3(&smooth, t - 1, y, x) - a);
                }
                *f32_at3(&expected, t, y, x) = e;
                *f32_at3(&unmoved, t, y, x) = u;
            }
        CHECK(in_unit_range(&smooth, t), "frame %lld: alpha outside 0..1", (long long)t);
        const int64_t border = 8 + STEP * t;
        const double off = mean_diff(&smooth, t, &expected, t, border);
        const double trail = mean_diff(&unmoved, t, &expected, t, border);
        printf("  moving frame %lld: mean |smoothed - expected| %.6f (blended unmoved: %.6f)\n",
               (long long)t, off, trail);
        CHECK(t == 0 ? off == 0.0 : off < 1e-3 && off < 0.1 * trail,
              "frame %lld: the smoothed matte is %g from the one moved along the motion (unmoved: %g)",
              (long long)t, off, trail);
    }
    tt_free(&expected);
    tt_free(&unmoved);

    /* Strength 0 leaves every matte as the model made it. */
    CHECK_STATUS(run_frames(model, &frames, 0.0f, &smooth, err, sizeof err), CUTOUT_SHIM_OK, err,
                 NULL);
    for (int64_t t = 0; t < FRAMES; ++t)
        CHECK(mean_diff(&smooth, t, &plain, t, 0) == 0.0, "strength 0 changed frame %lld",
              (long long)t);

    /* Still frames under noise: the mattes change less from frame to frame. */
    make_frames(&p, &frames, 6, false);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &frames.t, 0, FRAMES, NULL, &plain.t, NULL, NULL,
                                           err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK_STATUS(run_frames(model, &frames, 0.8f, &smooth, err, sizeof err), CUTOUT_SHIM_OK, err,
                 NULL);
    double flicker_plain = 0.0, flicker_smooth = 0.0;
    for (int64_t t = 1; t < FRAMES; ++t) {
        flicker_plain += mean_diff(&plain, t, &plain, t - 1, 0);
        flicker_smooth += mean_diff(&smooth, t, &smooth, t - 1, 0);
    }
    printf("  still, noisy: frame-to-frame change %.5f per frame, smoothed %.5f\n",
           flicker_plain / (FRAMES - 1), flicker_smooth / (FRAMES - 1));
    CHECK(flicker_smooth < 0.7 * flicker_plain, "noise flicker only fell from %g to %g",
          flicker_plain, flicker_smooth);

    /* A scene cut (the negative of the photo) starts afresh. */
    for (size_t i = 0; i < (size_t)(h * w * 3); ++i) {
        uint8_t *last = (uint8_t *)frames.t.data + (size_t)(FRAMES - 1) * (size_t)(h * w * 3);
        last[i] = (uint8_t)(255 - last[i]);
    }
    CHECK_STATUS(cutout_shim_predict_alpha(model, &frames.t, 0, FRAMES, NULL, &plain.t, NULL, NULL,
                                           err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK_STATUS(run_frames(model, &frames, 0.8f, &smooth, err, sizeof err), CUTOUT_SHIM_OK, err,
                 NULL);
    CHECK(mean_diff(&smooth, FRAMES - 1, &plain, FRAMES - 1, 0) == 0.0,
          "the frame after a scene cut was blended with the one before");

    /* Bad arguments. */
    cutout_shim_temporal *state = NULL;
    CHECK_STATUS(cutout_shim_temporal_new(&state, err, sizeof err), CUTOUT_SHIM_OK, err, NULL);
    cutout_shim_temporal_params bad = {sizeof bad, 1.5f, 0.0f, 0.0f};
    CHECK_STATUS(cutout_shim_predict_frames(model, state, &bad, &frames.t, 0, 1, NULL, &smooth.t,
                                            NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "temporal");
    cutout_shim_temporal_params good = {sizeof good, 0.5f, 0.0f, 0.0f};
    CHECK_STATUS(cutout_shim_predict_frames(model, NULL, &good, &frames.t, 0, 1, NULL, &smooth.t,
                                            NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "state");
    cutout_shim_temporal_free(state);

    tt_free(&frames);
    tt_free(&plain);
    tt_free(&smooth);
    cutout_shim_model_free(model);
    free_photo(&p);
    return 0;
}
