/*
 * tensor_check.h - validation of borrowed DLTensor descriptors.
 *
 * These functions only read the descriptor (never the data), so they are
 * safe on any pointer values a host may pass, and run before any work.
 * Each failure sets the thread's error message, naming the input.
 */
#ifndef CUTOUT_TENSOR_CHECK_H
#define CUTOUT_TENSOR_CHECK_H

#include <stdint.h>

#include "cutout.h"

/* Shape of a checked IMAGE: B x H x W x C. */
typedef struct image_shape {
    int64_t batch, height, width, channels;
} image_shape;

/* Shape of a checked MASK: B x H x W (batch 1 when the tensor is H x W). */
typedef struct mask_shape {
    int64_t batch, height, width;
} mask_shape;

/* Checks an IMAGE: rank 4, every dim > 0, C = 3 or 4, dtype float32 /
 * float16 / bfloat16 / uint8 with one lane, device CPU or CUDA, non-NULL
 * data, non-negative strides, addressable extent, H x W <= the pixel limit.
 * Errors: INVALID_INPUT, LIMIT (pixel limit). */
cutout_status tensor_check_image(const char *name, const DLTensor *t, image_shape *out);

/* Checks a MASK: rank 2 (H x W) or 3 (B x H x W), otherwise as above.
 * Errors: INVALID_INPUT, LIMIT. */
cutout_status tensor_check_mask(const char *name, const DLTensor *t, mask_shape *out);

/* "float32", "uint8", ... for messages; static storage. */
const char *tensor_dtype_name(DLDataType dtype, char *buf, size_t cap);

/* "cpu", "cuda:0", ... into buf. */
const char *tensor_device_name(DLDevice device, char *buf, size_t cap);

/* a * b into *out; false on int64 overflow or a negative operand. */
bool tensor_mul_ok(int64_t a, int64_t b, int64_t *out);

#endif /* CUTOUT_TENSOR_CHECK_H */
