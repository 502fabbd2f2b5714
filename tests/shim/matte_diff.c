/* matte_diff.c - see matte_diff.h. */
#include "matte_diff.h"

#include <math.h>

matte_diff matte_diff_of(const float *a, const float *b, int64_t n)
{
    double sum = 0, max = 0, inter = 0, uni = 0;
    for (int64_t i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - b[i]);
        sum += d;
        if (d > max) max = d;
        inter += (a[i] >= 0.5f) && (b[i] >= 0.5f);
        uni += (a[i] >= 0.5f) || (b[i] >= 0.5f);
    }
    matte_diff r = {n > 0 ? sum / (double)n : 0.0, max, uni > 0 ? inter / uni : 1.0};
    return r;
}
