/*
 * fuzz_tensor.h - DLTensor descriptors made from fuzz bytes, the documented
 * rules they must meet (tensor_check.h), and input buffers filled with
 * values: shared by the fuzz targets that call cutout_node_run.
 *
 * read_tensor() decodes any ndim, shape, strides, byte_offset, dtype,
 * device and NULL pointers. descriptor_ok() tells, independently of the
 * library, whether IMAGE/MASK rules accept it and how many bytes a reader
 * may touch; a target then points an accepted descriptor at a real buffer
 * of exactly that size (fill_buffer) and a refused one at a tiny buffer the
 * library must never read. Header-only (static inline functions).
 */
#ifndef CUTOUT_FUZZ_TENSOR_H
#define CUTOUT_FUZZ_TENSOR_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "cutout.h"
#include "fuzz_bytes.h"

#define MAX_DIMS 16
#define SMALL_BUFFER 64          /* what a refused descriptor points at */
#define BUFFER_CAP (1 << 20)     /* largest input buffer a target makes */
#define WORK_CAP (1 << 14)       /* largest element count the stub may walk */

typedef struct tensor_case {
    DLTensor t;
    int64_t shape[MAX_DIMS];
    int64_t strides[MAX_DIMS];
    uint8_t *buffer;     /* what t.data points into (NULL when t.data is) */
    size_t buffer_bytes;
    int64_t elements;    /* addressed elements, when valid */
} tensor_case;

/* ------------------------------------------------------------------------ */
/* Reading a descriptor                                                      */

static inline void read_tensor(fuzz_bytes *r, tensor_case *c, int usual_rank)
{
    memset(c, 0, sizeof *c);
    uint8_t flags = fuzz_u8(r);
    uint8_t rank = fuzz_u8(r);
    c->t.ndim = rank < 160 ? usual_rank : (int32_t)(rank % 12) - 2; /* -2 .. 9 */
    int dims = c->t.ndim < 0 ? 0 : c->t.ndim;
    for (int i = 0; i < MAX_DIMS; i++) c->shape[i] = 1;
    for (int i = 0; i < dims; i++) c->shape[i] = fuzz_size(r);
    bool compact[MAX_DIMS];
    for (int i = 0; i < dims; i++) {
        uint8_t sel = fuzz_u8(r);
        compact[i] = sel < 96;
        if (sel >= 96 && sel < 224)
            c->strides[i] = (int64_t)((sel - 96) % 40) - 8; /* -8 .. 31: overlaps, transposes */
        else if (sel >= 224)
            c->strides[i] = fuzz_size(r);
    }
    /* "compact" entries get the row-major stride of that dim. */
    int64_t step = 1;
    for (int i = dims - 1; i >= 0; i--) {
        if (compact[i]) c->strides[i] = step;
        if (c->shape[i] < 0 || __builtin_mul_overflow(step, c->shape[i], &step)) step = INT64_MAX;
    }
    c->t.shape = (flags & 0x07) == 0x07 ? NULL : c->shape;
    c->t.strides = (flags & 0x08) ? c->strides : NULL;

    static const DLDataType usual[] = {
        {kDLFloat, 32, 1}, {kDLUInt, 8, 1}, {kDLFloat, 16, 1}, {kDLBfloat, 16, 1}};
    static const uint8_t odd_bits[] = {8, 16, 32, 64, 0, 1, 7, 128, 24};
    uint8_t code = fuzz_u8(r);
    if (code < 208) {
        c->t.dtype = usual[code % 4];
    } else {
        c->t.dtype.code = (uint8_t)(fuzz_u8(r) % 8);
        c->t.dtype.bits = odd_bits[fuzz_u8(r) % sizeof odd_bits];
        uint8_t lanes = fuzz_u8(r);
        c->t.dtype.lanes = lanes < 128 ? 1 : lanes;
    }

    uint8_t dev = fuzz_u8(r);
    if (dev < 208) {
        c->t.device = (DLDevice){kDLCPU, 0};
    } else if (dev < 224) {
        c->t.device = (DLDevice){kDLCPU, (int32_t)(dev % 4)}; /* CPU ids mean nothing */
    } else if (dev < 240) {
        c->t.device = (DLDevice){kDLCUDA, (int32_t)(dev % 3) - 1};
    } else {
        c->t.device = (DLDevice){(DLDeviceType)(dev % 16), 0};
    }

    /* Offsets stay multiples of the element size: the stub shim reads
     * elements with typed loads. (Unaligned data goes through the real
     * library in tests/reliability.) */
    uint8_t offset = fuzz_u8(r);
    uint64_t elem = c->t.dtype.bits / 8 ? c->t.dtype.bits / 8 : 1;
    if (offset < 240)
        c->t.byte_offset = (uint64_t)(offset % 16) * elem;
    else
        c->t.byte_offset = (uint64_t)fuzz_size(r) * elem; /* wraps for the huge ones */
    c->t.data = (flags & 0x30) == 0x30 ? NULL : (void *)1; /* set to a buffer later */
}

/* ------------------------------------------------------------------------ */
/* The rules, as documented, decided independently of the library           */

static inline bool dtype_ok(DLDataType d)
{
    return d.lanes == 1 && ((d.code == kDLFloat && (d.bits == 32 || d.bits == 16)) ||
                            (d.code == kDLBfloat && d.bits == 16) ||
                            (d.code == kDLUInt && d.bits == 8));
}

static inline int64_t stride_at(const tensor_case *c, int i)
{
    if (c->t.strides) return c->strides[i];
    int64_t s = 1;
    for (int j = i + 1; j < c->t.ndim; j++)
        if (__builtin_mul_overflow(s, c->shape[j], &s)) return -1;
    return s;
}

/* Checks one descriptor: rank in min..max, dims > 0, dtype, device type,
 * data, strides >= 0, addressable extent. Fills buffer_bytes (the bytes a
 * reader needs from t.data) and elements. Image also: C = 3 or 4. The
 * pixel limit is left to the caller (it gives another status). */
static inline bool descriptor_ok(tensor_case *c, int min_rank, int max_rank, bool image)
{
    const DLTensor *t = &c->t;
    if (t->ndim < min_rank || t->ndim > max_rank || t->shape == NULL) return false;
    for (int i = 0; i < t->ndim; i++)
        if (c->shape[i] <= 0) return false;
    if (!dtype_ok(t->dtype)) return false;
    if (t->device.device_type != kDLCPU && t->device.device_type != kDLCUDA) return false;
    if (t->data == NULL) return false;
    int64_t extent = 0, elements = 1;
    for (int i = 0; i < t->ndim; i++) {
        int64_t s = stride_at(c, i), reach;
        if (s < 0 || __builtin_mul_overflow(c->shape[i] - 1, s, &reach) ||
            __builtin_add_overflow(extent, reach, &extent))
            return false;
        if (__builtin_mul_overflow(elements, c->shape[i], &elements)) elements = INT64_MAX;
    }
    int64_t bytes;
    if (__builtin_add_overflow(extent, 1, &bytes) ||
        __builtin_mul_overflow(bytes, (int64_t)(t->dtype.bits / 8), &bytes) ||
        t->byte_offset > (uint64_t)INT64_MAX ||
        __builtin_add_overflow(bytes, (int64_t)t->byte_offset, &bytes))
        return false;
    if (image && c->shape[3] != 3 && c->shape[3] != 4) return false;
    c->buffer_bytes = (size_t)bytes;
    c->elements = elements;
    return true;
}

static inline bool within_pixel_limit(int64_t h, int64_t w)
{
    int64_t pixels;
    return !__builtin_mul_overflow(h, w, &pixels) && pixels <= CUTOUT_MAX_PIXELS;
}

/* ------------------------------------------------------------------------ */
/* Data                                                                      */

static inline float half_to_float(uint16_t h)
{
    int exponent = (h >> 10) & 31, mantissa = h & 1023;
    float magnitude;
    if (exponent == 0)
        magnitude = ldexpf((float)mantissa, -24);
    else if (exponent == 31)
        magnitude = mantissa ? NAN : INFINITY;
    else
        magnitude = ldexpf((float)(mantissa | 1024), exponent - 25);
    return (h & 0x8000) ? -magnitude : magnitude;
}

/* Element at byte position `at` of the buffer, as float32 (uint8 / 255). */
static inline float element_value(const tensor_case *c, size_t at)
{
    const uint8_t *p = c->buffer + at;
    if (c->t.dtype.code == kDLUInt) return (float)p[0] / 255.0f;
    uint16_t h;
    if (c->t.dtype.bits == 16) {
        memcpy(&h, p, 2);
        if (c->t.dtype.code == kDLBfloat) {
            uint32_t bits = (uint32_t)h << 16;
            float v;
            memcpy(&v, &bits, 4);
            return v;
        }
        return half_to_float(h);
    }
    float v;
    memcpy(&v, p, 4);
    return v;
}

/* Byte position of element `index` (ndim entries). */
static inline size_t element_at(const tensor_case *c, const int64_t *index)
{
    int64_t offset = 0;
    for (int d = 0; d < c->t.ndim; d++) offset += index[d] * stride_at(c, d);
    return (size_t)c->t.byte_offset + (size_t)offset * (c->t.dtype.bits / 8);
}

/* One stored value for fill mode `mode` from one fuzz byte: 0 raw bytes,
 * 1 values in 0..1, 2 the same with NaN, +-Inf, -0.5 and 1e30 mixed in. */
static inline void store_value(const tensor_case *c, uint8_t *dst, uint8_t b, uint8_t mode)
{
    size_t elem = c->t.dtype.bits / 8;
    if (c->t.dtype.code == kDLUInt || mode == 0) {
        memset(dst, b, elem);
        return;
    }
    float v = (float)b / 250.0f;
    uint16_t half = (uint16_t)(b * 60); /* 0 .. 0.97 as float16 bits */
    if (mode == 2 && b >= 251) {
        static const float specials[] = {1.0e30f, -0.5f, -INFINITY, INFINITY, NAN};
        static const uint16_t half_specials[] = {0x7bff, 0xb800, 0xfc00, 0x7c00, 0x7e00};
        v = specials[b - 251];
        half = half_specials[b - 251];
    }
    uint32_t bits;
    memcpy(&bits, &v, 4);
    if (elem == 4) {
        memcpy(dst, &bits, 4);
    } else if (c->t.dtype.code == kDLBfloat) {
        uint16_t top = (uint16_t)(bits >> 16);
        memcpy(dst, &top, 2);
    } else {
        memcpy(dst, &half, 2);
    }
}

static inline void fill_buffer(tensor_case *c, const uint8_t *bytes, size_t n, uint8_t mode)
{
    size_t elem = c->t.dtype.bits / 8;
    size_t count = (c->buffer_bytes - (size_t)c->t.byte_offset) / elem;
    memset(c->buffer, 0xA5, c->buffer_bytes);
    for (size_t k = 0; k < count; k++) {
        uint8_t b = n ? bytes[k % n] : (uint8_t)(k * 37);
        store_value(c, c->buffer + c->t.byte_offset + k * elem, b, mode);
    }
}

/* True when an addressed element of a float tensor is NaN or +-Inf. */
static inline bool any_nonfinite(const tensor_case *c)
{
    if (c->t.dtype.code == kDLUInt) return false;
    int64_t index[MAX_DIMS] = {0};
    for (int64_t k = 0; k < c->elements; k++) {
        int64_t rest = k;
        for (int d = c->t.ndim - 1; d >= 0; d--) {
            index[d] = rest % c->shape[d];
            rest /= c->shape[d];
        }
        if (!isfinite(element_value(c, element_at(c, index)))) return true;
    }
    return false;
}

#endif /* CUTOUT_FUZZ_TENSOR_H */
