/* tensor_check.c - DLTensor descriptor validation (never reads the data). */
#include "tensor_check.h"

#include <stdio.h>
#include <string.h>

#include "error.h"

bool tensor_mul_ok(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0) return false;
    if (a != 0 && b > INT64_MAX / a) return false;
    *out = a * b;
    return true;
}

const char *tensor_dtype_name(DLDataType dtype, char *buf, size_t cap)
{
    const char *base = "unknown";
    switch (dtype.code) {
    case kDLFloat: base = "float"; break;
    case kDLInt: base = "int"; break;
    case kDLUInt: base = "uint"; break;
    case kDLBfloat: base = "bfloat"; break;
    default: break;
    }
    if (dtype.lanes == 1)
        snprintf(buf, cap, "%s%u", base, (unsigned)dtype.bits);
    else
        snprintf(buf, cap, "%s%u x %u lanes", base, (unsigned)dtype.bits, (unsigned)dtype.lanes);
    return buf;
}

const char *tensor_device_name(DLDevice device, char *buf, size_t cap)
{
    switch (device.device_type) {
    case kDLCPU: snprintf(buf, cap, "cpu"); break;
    case kDLCUDA: snprintf(buf, cap, "cuda:%d", device.device_id); break;
    case kDLCUDAHost: snprintf(buf, cap, "cuda_host"); break;
    default: snprintf(buf, cap, "device type %d", (int)device.device_type); break;
    }
    return buf;
}

static bool dtype_supported(DLDataType d)
{
    if (d.lanes != 1) return false;
    return (d.code == kDLFloat && (d.bits == 32 || d.bits == 16)) ||
           (d.code == kDLBfloat && d.bits == 16) || (d.code == kDLUInt && d.bits == 8);
}

static const char *shape_text(const DLTensor *t, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? " x " : "",
                                 (long long)t->shape[i]);
    return buf;
}

/* Everything but the rank-specific layout. */
static cutout_status check_common(const char *name, const DLTensor *t, int min_rank,
                                  int max_rank, const char *layout)
{
    char a[64], b[128];
    if (t == NULL)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "%s: tensor is NULL", name);
    if (t->ndim < min_rank || t->ndim > max_rank)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "%s: expected %s, got %d dims", name,
                                layout, t->ndim);
    if (t->shape == NULL)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "%s: shape pointer is NULL", name);
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] <= 0)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                    "%s: expected %s with every dim > 0, got %s", name, layout,
                                    shape_text(t, b, sizeof b));
    if (!dtype_supported(t->dtype))
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "%s: expected dtype float32, float16, bfloat16 or uint8, got %s",
                                name, tensor_dtype_name(t->dtype, a, sizeof a));
    if (t->device.device_type != kDLCPU && t->device.device_type != kDLCUDA)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "%s: expected a cpu or cuda tensor, got %s",
                                name, tensor_device_name(t->device, a, sizeof a));
    if (t->data == NULL)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "%s: data pointer is NULL", name);

    /* The furthest element must be addressable without int64 overflow. */
    int64_t extent = 0, step;
    int64_t elem_bytes = t->dtype.bits / 8;
    for (int i = 0; i < t->ndim; i++) {
        int64_t stride;
        if (t->strides) {
            stride = t->strides[i];
        } else {
            stride = 1;
            for (int j = i + 1; j < t->ndim; j++)
                if (!tensor_mul_ok(stride, t->shape[j], &stride)) stride = -1;
        }
        if (t->strides && stride < 0)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                    "%s: expected non-negative strides, got stride %lld in dim %d",
                                    name, (long long)stride, i);
        if (stride < 0 || !tensor_mul_ok(t->shape[i] - 1, stride, &step) ||
            extent > INT64_MAX - step)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                    "%s: shape %s with these strides spans more than 2^63 elements",
                                    name, shape_text(t, b, sizeof b));
        extent += step;
    }
    if (extent == INT64_MAX || !tensor_mul_ok(extent + 1, elem_bytes, &step) ||
        t->byte_offset > (uint64_t)(INT64_MAX - step))
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "%s: byte_offset %llu plus the tensor's extent overflows", name,
                                (unsigned long long)t->byte_offset);
    return CUTOUT_OK;
}

static cutout_status check_pixels(const char *name, int64_t h, int64_t w)
{
    int64_t pixels;
    if (!tensor_mul_ok(h, w, &pixels) || pixels > CUTOUT_MAX_PIXELS)
        return cutout_error_set(CUTOUT_ERR_LIMIT,
                                "%s: %lld x %lld (H x W) is over the limit of %lld pixels per "
                                "image (expected H x W <= %lld, e.g. 2048 x 2048)",
                                name, (long long)h, (long long)w, (long long)CUTOUT_MAX_PIXELS,
                                (long long)CUTOUT_MAX_PIXELS);
    return CUTOUT_OK;
}

cutout_status tensor_check_image(const char *name, const DLTensor *t, image_shape *out)
{
    cutout_status st = check_common(name, t, 4, 4, "4 dims B x H x W x C");
    if (st != CUTOUT_OK) return st;
    if (t->shape[3] != 3 && t->shape[3] != 4)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "%s: expected C = 3 (RGB) or 4 (RGBA) channels in B x H x W x C, "
                                "got C = %lld",
                                name, (long long)t->shape[3]);
    if ((st = check_pixels(name, t->shape[1], t->shape[2])) != CUTOUT_OK) return st;
    out->batch = t->shape[0];
    out->height = t->shape[1];
    out->width = t->shape[2];
    out->channels = t->shape[3];
    return CUTOUT_OK;
}

cutout_status tensor_check_mask(const char *name, const DLTensor *t, mask_shape *out)
{
    cutout_status st = check_common(name, t, 2, 3, "2 dims H x W or 3 dims B x H x W");
    if (st != CUTOUT_OK) return st;
    int first = t->ndim - 2;
    if ((st = check_pixels(name, t->shape[first], t->shape[first + 1])) != CUTOUT_OK) return st;
    out->batch = t->ndim == 3 ? t->shape[0] : 1;
    out->height = t->shape[first];
    out->width = t->shape[first + 1];
    return CUTOUT_OK;
}
