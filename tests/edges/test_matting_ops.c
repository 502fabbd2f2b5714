/*
 * test_matting_ops.c - the mask modes (hint, trimap), the matting solver
 * and despeckle of the shim's finishing step (matting.cpp, despeckle.cpp),
 * on the real RGBA cut-out composited exactly over a colour gradient, and
 * on small drawn mattes (ctest label "torch", no model).
 *
 * Usage: test_matting_ops CUTOUT_RGBA_PNG
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutout_shim.h"
#include "edge_test.h"
#include "png_read.h"

static cutout_shim_finish_params params(int32_t mode)
{
    cutout_shim_finish_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.mask_mode = mode;
    p.mask_band = 6;
    return p;
}

/* Mean |a - truth| over the pixels where `where` is set (all when NULL). */
static double mae(const float *a, const float *truth, const bool *where, int64_t n)
{
    double s = 0.0;
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++)
        if (!where || where[i]) {
            s += fabs((double)a[i] - truth[i]);
            count++;
        }
    return count ? s / (double)count : 0.0;
}

static bool stop_now(void *user)
{
    (void)user;
    return true;
}

/* The drawn 40 x 40 matte: a 20 x 20 square with a 2 x 2 hole, three 2 x 2
 * specks and one 6 x 6 blob outside it. */
static void draw_specks(float *a)
{
    memset(a, 0, 40 * 40 * sizeof *a);
    for (int y = 10; y < 30; y++)
        for (int x = 10; x < 30; x++) a[y * 40 + x] = 1.0f;
    for (int y = 19; y < 21; y++)
        for (int x = 19; x < 21; x++) a[y * 40 + x] = 0.0f;
    const int specks[3][2] = {{2, 2}, {2, 35}, {35, 3}};
    for (int k = 0; k < 3; k++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 2; x++) a[(specks[k][0] + y) * 40 + specks[k][1] + x] = 1.0f;
    for (int y = 33; y < 39; y++)
        for (int x = 32; x < 38; x++) a[y * 40 + x] = 1.0f;
}

static void test_despeckle(void)
{
    enum { N = 40 * 40 };
    static float rgb[N * 3], a[N], out[N * 4], first[N];
    for (int i = 0; i < N * 3; i++) rgb[i] = 0.5f;
    int64_t s3[4] = {1, 40, 40, 3}, s4[4] = {1, 40, 40, 4}, sm[3] = {1, 40, 40};
    DLTensor t_rgb = tensor(rgb, 4, s3), t_a = tensor(a, 3, sm), t_out = tensor(out, 4, s4);
    char err[512];
    cutout_shim_finish_params p = params(CUTOUT_SHIM_MASK_RESTRICT);
    p.despeckle = 10;
    for (int run = 0; run < 2; run++) {
        draw_specks(a);
        CHECK(cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_a, &t_out, NULL, NULL, err,
                                       sizeof err) == CUTOUT_SHIM_OK, "despeckle: %s", err);
        if (run == 0) memcpy(first, a, sizeof a);
    }
    CHECK(memcmp(first, a, sizeof a) == 0, "despeckle: two runs differ");
    CHECK(a[2 * 40 + 2] == 0.0f && a[2 * 40 + 35] == 0.0f && a[35 * 40 + 3] == 0.0f,
          "despeckle 10: a 4 px speck is left");
    CHECK(a[19 * 40 + 19] == 1.0f && a[20 * 40 + 20] == 1.0f, "despeckle 10: the 4 px hole is left");
    CHECK(a[35 * 40 + 35] == 1.0f && a[12 * 40 + 12] == 1.0f,
          "despeckle 10: the 36 px blob or the square went");
    p.despeckle = 0;
    draw_specks(a);
    memcpy(first, a, sizeof a);
    CHECK(cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_a, &t_out, NULL, NULL, err,
                                   sizeof err) == CUTOUT_SHIM_OK, "despeckle 0: %s", err);
    CHECK(memcmp(first, a, sizeof a) == 0, "despeckle 0 changed the matte");
    p.despeckle = -1;
    CHECK(cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_a, &t_out, NULL, NULL, err,
                                   sizeof err) == CUTOUT_SHIM_ERR_INVALID_ARGUMENT &&
              strstr(err, "despeckle: out of range"),
          "despeckle -1: %s", err);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_matting_ops CUTOUT_RGBA_PNG\n");
        return 2;
    }
    int64_t h = 0, w = 0;
    unsigned char *bytes = png_read_rgba(argv[1], &h, &w);
    if (!bytes) return 1;
    const int64_t n = h * w;
    float *rgb = malloc((size_t)n * 3 * sizeof(float));
    float *truth = malloc((size_t)n * sizeof(float));
    float *guide = malloc((size_t)n * sizeof(float));
    float *a = malloc((size_t)n * sizeof(float));
    float *out = malloc((size_t)n * 4 * sizeof(float));
    bool *band = calloc((size_t)n, sizeof(bool));
    if (!rgb || !truth || !guide || !a || !out || !band) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    /* I = F a + B (1 - a) over a colour gradient B: the truth is exact. */
    for (int64_t i = 0; i < n; i++) {
        const double y = (double)(i / w) / (double)h, x = (double)(i % w) / (double)w;
        const double background[3] = {0.2 + 0.6 * x, 0.7 - 0.4 * y, 0.35};
        truth[i] = (float)bytes[i * 4 + 3] / 255.0f;
        for (int k = 0; k < 3; k++)
            rgb[i * 3 + k] = (float)((double)bytes[i * 4 + k] / 255.0 * truth[i] +
                                     background[k] * (1.0 - truth[i]));
    }
    int64_t s3[4] = {1, h, w, 3}, s4[4] = {1, h, w, 4}, sm[3] = {1, h, w};
    DLTensor t_rgb = tensor(rgb, 4, s3), t_a = tensor(a, 3, sm), t_out = tensor(out, 4, s4);
    DLTensor t_guide = tensor(guide, 3, sm);
    char err[512];

    /* trimap: the true alpha's band of partial and edge pixels unknown (the
     * matte going in is a flat 0.5 there), everything else known. */
    for (int64_t i = 0; i < n; i++) {
        band[i] = truth[i] > 0.02f && truth[i] < 0.98f;
        guide[i] = band[i] ? 0.5f : (truth[i] >= 0.5f ? 1.0f : 0.0f);
        a[i] = 0.5f;
    }
    cutout_shim_finish_params p = params(CUTOUT_SHIM_MASK_TRIMAP);
    cutout_shim_status st = cutout_shim_finish_items(&t_rgb, &t_guide, 0, 1, &p, &t_a, &t_out,
                                                     NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK, "trimap: %s", err);
    float *flat = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) flat[i] = 0.5f;
    const double solved = mae(a, truth, band, n), before = mae(flat, truth, band, n);
    printf("trimap: MAE in the unknown band %.4f (a flat 0.5 there: %.4f)\n", solved, before);
    CHECK(solved < 0.5 * before, "trimap: MAE %g in the band, not below half of %g", solved, before);
    int64_t moved = 0;
    for (int64_t i = 0; i < n; i++) moved += !band[i] && a[i] != guide[i];
    CHECK(moved == 0, "trimap: %lld known pixels changed", (long long)moved);

    /* A trimap with no unknown pixel is the mask itself. */
    for (int64_t i = 0; i < n; i++) {
        guide[i] = truth[i] >= 0.5f ? 1.0f : 0.0f;
        a[i] = 0.3f;
    }
    st = cutout_shim_finish_items(&t_rgb, &t_guide, 0, 1, &p, &t_a, &t_out, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK && memcmp(a, guide, (size_t)n * sizeof(float)) == 0,
          "a 0/1 trimap is not kept as it is: %s", err);

    /* hint: the truth at 0.5 shrunk by 3 px (a selection that misses the
     * edge), a band of 6 px: the matte must be much nearer the truth than
     * the selection (0.60 of it when this bar was set), with the model's
 * matte going in 0 everywhere. */
    for (int64_t i = 0; i < n; i++) {
        const int64_t y = i / w, x = i % w;
        bool inside = true;
        for (int64_t dy = -3; dy <= 3 && inside; dy++)
            for (int64_t dx = -3; dx <= 3 && inside; dx++) {
                const int64_t yy = y + dy, xx = x + dx;
                inside = yy >= 0 && yy < h && xx >= 0 && xx < w && truth[yy * w + xx] >= 0.5f;
            }
        guide[i] = inside ? 1.0f : 0.0f;
        a[i] = 0.0f;
    }
    const double selection = mae(guide, truth, NULL, n);
    p = params(CUTOUT_SHIM_MASK_HINT);
    st = cutout_shim_finish_items(&t_rgb, &t_guide, 0, 1, &p, &t_a, &t_out, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK, "hint: %s", err);
    const double hinted = mae(a, truth, NULL, n);
    printf("hint: MAE %.4f (the selection: %.4f)\n", hinted, selection);
    CHECK(hinted < 0.75 * selection, "hint: MAE %g not 25%% below the selection's %g", hinted, selection);

    /* edge_refinement matting on a blurred truth: sharper and nearer it. */
    p = params(CUTOUT_SHIM_MASK_RESTRICT);
    p.edge_refinement = CUTOUT_SHIM_REFINE_MATTING;
    for (int64_t i = 0; i < n; i++) {
        const int64_t y = i / w, x = i % w;
        double s = 0.0;
        int count = 0;
        for (int64_t dy = -2; dy <= 2; dy++)
            for (int64_t dx = -2; dx <= 2; dx++) {
                const int64_t yy = y + dy, xx = x + dx;
                if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                    s += truth[yy * w + xx];
                    count++;
                }
            }
        guide[i] = (float)(s / count); /* kept as the blurred matte */
        a[i] = guide[i];
    }
    const double blurred = mae(guide, truth, NULL, n);
    st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_a, &t_out, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK, "matting: %s", err);
    const double refined = mae(a, truth, NULL, n);
    printf("edge_refinement matting: MAE %.4f (the blurred matte: %.4f)\n", refined, blurred);
    CHECK(refined < blurred, "matting: MAE %g not below the blurred matte's %g", refined, blurred);

    /* Cancel reaches the solver; the matte is then not written. */
    for (int64_t i = 0; i < n; i++) a[i] = guide[i];
    p.abort = stop_now;
    st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_a, &t_out, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_CANCELLED && strstr(err, "matting: cancelled"), "cancel: %d %s", st, err);

    /* Bad values. */
    p = params(7);
    st = cutout_shim_finish_items(&t_rgb, &t_guide, 0, 1, &p, &t_a, &t_out, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_ERR_INVALID_ARGUMENT && strstr(err, "mask_mode: unknown"), "mode 7: %s", err);
    p = params(CUTOUT_SHIM_MASK_HINT);
    p.mask_band = 0;
    st = cutout_shim_finish_items(&t_rgb, &t_guide, 0, 1, &p, &t_a, &t_out, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_ERR_INVALID_ARGUMENT && strstr(err, "mask_band: out of range"),
          "band 0: %s", err);
    p = params(CUTOUT_SHIM_MASK_HINT);
    st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_a, &t_out, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_ERR_INVALID_INPUT && strstr(err, "mask_mode hint needs one"),
          "hint without a guide: %s", err);
    guide[0] = 1.5f;
    p = params(CUTOUT_SHIM_MASK_TRIMAP);
    st = cutout_shim_finish_items(&t_rgb, &t_guide, 0, 1, &p, &t_a, &t_out, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_ERR_INVALID_INPUT && strstr(err, "a trimap holds 0"), "trimap 1.5: %s", err);
    int64_t small[3] = {1, 4, 4};
    t_guide.shape = small;
    st = cutout_shim_finish_items(&t_rgb, &t_guide, 0, 1, &p, &t_a, &t_out, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_ERR_INVALID_INPUT && strstr(err, "needs the image's size"),
          "a 4 x 4 trimap: %s", err);

    test_despeckle();
    free(bytes), free(rgb), free(truth), free(guide), free(a), free(out), free(band), free(flat);
    if (failures) fprintf(stderr, "%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
