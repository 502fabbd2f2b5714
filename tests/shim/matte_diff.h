/*
 * matte_diff.h - how far one matte is from another, as the bf16 quality
 * test and the benchmark's --photos table measure it.
 */
#ifndef CUTOUT_TEST_MATTE_DIFF_H
#define CUTOUT_TEST_MATTE_DIFF_H

#include <stdint.h>

typedef struct matte_diff {
    double mean; /* mean |a - b| */
    double max;  /* max |a - b| */
    double iou;  /* IoU of (a >= 0.5) and (b >= 0.5); 1 when both are empty */
} matte_diff;

/* Compares the n values of two mattes. Pure; thread-safe. */
matte_diff matte_diff_of(const float *a, const float *b, int64_t n);

#endif
