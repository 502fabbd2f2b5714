/*
 * size_math.h - overflow-checked size arithmetic for buffer allocations.
 *
 * Every multiplication that sizes an allocation in the cutout command goes
 * through these helpers, so an absurd image header can never make a buffer
 * smaller than the code that fills it believes it is.
 */
#ifndef CUTOUT_CLI_SIZE_MATH_H
#define CUTOUT_CLI_SIZE_MATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* *out = a * b; false (and *out untouched) if it does not fit in size_t. */
static inline bool size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* *out = a * b * c * d for non-negative int64 factors; false when a factor
 * is negative or the product does not fit in size_t. */
static inline bool size_mul4(int64_t a, int64_t b, int64_t c, int64_t d, size_t *out)
{
    size_t r;
    if (a < 0 || b < 0 || c < 0 || d < 0)
        return false;
    if ((uint64_t)a > SIZE_MAX || (uint64_t)b > SIZE_MAX || (uint64_t)c > SIZE_MAX ||
        (uint64_t)d > SIZE_MAX)
        return false;
    if (!size_mul((size_t)a, (size_t)b, &r) || !size_mul(r, (size_t)c, &r) ||
        !size_mul(r, (size_t)d, &r))
        return false;
    *out = r;
    return true;
}

#endif /* CUTOUT_CLI_SIZE_MATH_H */
