/*
 * edge_test.h - what the C tests of the finishing step share: a failure
 * counter with CHECK, and compact CPU float32 tensors over test buffers.
 * Single-threaded test programs only.
 */
#ifndef CUTOUT_EDGE_TEST_H
#define CUTOUT_EDGE_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cutout_shim.h"

static int failures;

#define CHECK(cond, ...)                                              \
    do {                                                              \
        if (!(cond)) {                                                \
            fprintf(stderr, "line %d: ", __LINE__);                   \
            fprintf(stderr, __VA_ARGS__);                             \
            fprintf(stderr, "\n");                                    \
            failures++;                                               \
        }                                                             \
    } while (0)

/* A compact CPU float32 tensor over `data` (not owned). */
static inline DLTensor tensor(float *data, int32_t ndim, int64_t *shape)
{
    DLTensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.device.device_type = kDLCPU;
    t.ndim = ndim;
    t.dtype = (DLDataType){kDLFloat, 32, 1};
    t.shape = shape;
    return t;
}

#endif /* CUTOUT_EDGE_TEST_H */
