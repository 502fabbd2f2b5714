/*
 * test_matte_ops.c - the edge operations of the shim (matte_ops.cpp) on a
 * real RGBA cut-out with exact alpha (ctest label "torch", no model).
 *
 * Usage: test_matte_ops CUTOUT_RGBA_PNG
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutout_shim.h"
#include "edge_test.h"
#include "png_read.h"

static cutout_shim_finish_params defaults(void)
{
    cutout_shim_finish_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    return p;
}

static double area(const float *a, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += a[i];
    return s;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_matte_ops CUTOUT_RGBA_PNG\n");
        return 2;
    }
    int64_t h = 0, w = 0;
    unsigned char *bytes = png_read_rgba(argv[1], &h, &w);
    if (!bytes) return 1;
    const int64_t n = h * w;
    float *rgba = malloc((size_t)n * 4 * sizeof(float));
    float *rgb = malloc((size_t)n * 3 * sizeof(float));
    float *alpha = malloc((size_t)n * sizeof(float));
    float *out4 = calloc((size_t)n * 4, sizeof(float));
    float *out3 = calloc((size_t)n * 3, sizeof(float));
    float *solid = malloc((size_t)n * sizeof(float));
    if (!rgba || !rgb || !alpha || !out4 || !out3 || !solid) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int64_t i = 0; i < n * 4; i++) rgba[i] = (float)bytes[i] / 255.0f;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) rgb[i * 3 + k] = rgba[i * 4 + k];

    int64_t s4[4] = {1, h, w, 4}, s3[4] = {1, h, w, 3}, sm[3] = {1, h, w};
    DLTensor t_rgba = tensor(rgba, 4, s4), t_rgb = tensor(rgb, 4, s3);
    DLTensor t_alpha = tensor(alpha, 3, sm), t_out4 = tensor(out4, 4, s4);
    DLTensor t_out3 = tensor(out3, 4, s3);
    char err[512];
    cutout_shim_finish_params p = defaults();

    /* The exact alpha, cut at 0.5: a solid subject, only 0 and 1. */
    for (int64_t i = 0; i < n; i++) alpha[i] = 1.0f;
    p.threshold = 0.5f;
    cutout_shim_status st =
        cutout_shim_finish_items(&t_rgba, NULL, 0, 1, &p, &t_alpha, &t_out4, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK, "threshold: %s", err);
    int64_t other = 0;
    for (int64_t i = 0; i < n; i++) other += alpha[i] != 0.0f && alpha[i] != 1.0f;
    CHECK(other == 0, "threshold: %lld values other than 0 and 1", (long long)other);
    memcpy(solid, alpha, (size_t)n * sizeof(float));
    const double solid_area = area(solid, n);
    CHECK(solid_area > 0.05 * (double)n, "the cut-out has no solid subject (%g px)", solid_area);

    /* Grow by 4 then shrink by 4 (about 1% of the size) keeps the area within 2%. */
    p = defaults();
    p.grow = 4;
    st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_alpha, &t_out4, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK, "grow: %s", err);
    const double grown = area(alpha, n);
    CHECK(grown > solid_area * 1.02, "grow 4: area %g not above %g", grown, solid_area);
    p.grow = -4;
    st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_alpha, &t_out4, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK, "shrink: %s", err);
    const double closed = area(alpha, n);
    CHECK(fabs(closed - solid_area) <= 0.02 * solid_area,
          "grow 4 then shrink 4: area %g, solid subject %g (more than 2%% apart)", closed,
          solid_area);

    /* Invert twice is the identity; premultiplied RGB = straight RGB x alpha;
     * RGB output has 3 channels with the straight RGB. */
    memcpy(alpha, solid, (size_t)n * sizeof(float));
    p = defaults();
    p.invert = true;
    p.blur = 3.0f;
    st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_alpha, &t_out4, NULL, NULL, err, sizeof err);
    p.blur = 0.0f;
    float *once = malloc((size_t)n * sizeof(float));
    memcpy(once, alpha, (size_t)n * sizeof(float));
    if (st == CUTOUT_SHIM_OK)
        st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_alpha, &t_out4, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK, "invert: %s", err);
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        /* once = 1 - blur(solid); twice = 1 - once */
        double d = fabs((double)alpha[i] - (1.0 - (double)once[i]));
        worst = d > worst ? d : worst;
    }
    CHECK(worst < 1e-6, "invert twice: differs by %g", worst);

    memcpy(alpha, once, (size_t)n * sizeof(float));
    p = defaults();
    p.output = CUTOUT_SHIM_OUTPUT_PREMULTIPLIED;
    st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_alpha, &t_out4, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK, "premultiplied: %s", err);
    worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            double d = fabs((double)out4[i * 4 + k] - (double)rgb[i * 3 + k] * out4[i * 4 + 3]);
            worst = d > worst ? d : worst;
        }
    CHECK(worst < 1e-6, "premultiplied: RGB differs from RGB x alpha by %g", worst);
    p.output = CUTOUT_SHIM_OUTPUT_RGB;
    st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_alpha, &t_out4, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_ERR_INVALID_INPUT, "RGB output into 4 channels: status %d", st);
    st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_alpha, &t_out3, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK && memcmp(out3, rgb, (size_t)n * 3 * sizeof(float)) == 0,
          "RGB output: not the straight RGB (%s)", err);

    /* Foreground estimate and guided refinement keep opaque pixels' colour
     * and give values in 0..1. */
    for (int64_t i = 0; i < n; i++) alpha[i] = 1.0f;
    p = defaults();
    p.foreground = CUTOUT_SHIM_FOREGROUND_ESTIMATE;
    p.edge_refinement = CUTOUT_SHIM_REFINE_GUIDED;
    st = cutout_shim_finish_items(&t_rgba, NULL, 0, 1, &p, &t_alpha, &t_out4, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK, "estimate + guided: %s", err);
    int64_t changed_opaque = 0, out_of_range = 0;
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) out_of_range += !(out4[i * 4 + k] >= 0.0f && out4[i * 4 + k] <= 1.0f);
        if (out4[i * 4 + 3] == 1.0f)
            for (int k = 0; k < 3; k++) changed_opaque += out4[i * 4 + k] != rgb[i * 3 + k];
    }
    CHECK(out_of_range == 0, "estimate + guided: %lld values outside 0..1", (long long)out_of_range);
    CHECK(changed_opaque == 0, "estimate: %lld opaque colour values changed", (long long)changed_opaque);

    /* The subject box holds every pixel of the solid subject. */
    memcpy(alpha, solid, (size_t)n * sizeof(float));
    int64_t box[4];
    st = cutout_shim_subject_box(&t_alpha, false, box, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_OK, "subject_box: %s", err);
    int64_t outside = 0;
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            if (solid[y * w + x] > 0.0f)
                outside += x < box[0] || y < box[1] || x >= box[0] + box[2] || y >= box[1] + box[3];
    CHECK(outside == 0 && box[2] > 0 && box[3] > 0, "subject_box: %lld pixels outside", (long long)outside);

    /* Bad parameters are refused with a message naming them. */
    p = defaults();
    p.grow = 65;
    st = cutout_shim_finish_items(&t_rgb, NULL, 0, 1, &p, &t_alpha, &t_out4, NULL, NULL, err, sizeof err);
    CHECK(st == CUTOUT_SHIM_ERR_INVALID_ARGUMENT && strstr(err, "mask_grow"), "grow 65: %d %s", st, err);

    free(bytes), free(rgba), free(rgb), free(alpha), free(out4), free(out3), free(solid), free(once);
    if (failures) fprintf(stderr, "test_matte_ops: %d checks failed\n", failures);
    return failures ? 1 : 0;
}
