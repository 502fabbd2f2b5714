/*
 * remove_background.c - see remove_background.h.
 */
#include "remove_background.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "size_math.h"

static cutout_status fail(cutout_status status, char *err, size_t err_cap, const char *fmt,
                          ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
    return status;
}

void remove_background_result_free(remove_background_result *r)
{
    free(r->rgba);
    free(r->mask);
    r->rgba = NULL;
    r->mask = NULL;
}

/* Checks that an output is a CPU float32 tensor of the expected shape. */
static bool output_is(const DLTensor *t, int32_t ndim, const int64_t *shape)
{
    if (t->data == NULL || t->ndim != ndim || t->device.device_type != kDLCPU ||
        t->dtype.code != kDLFloat || t->dtype.bits != 32 || t->dtype.lanes != 1)
        return false;
    for (int32_t d = 0; d < ndim; d++)
        if (t->shape[d] != shape[d])
            return false;
    return true;
}

/* Element strides of t (explicit ones, or row-major when NULL). */
static void strides_of(const DLTensor *t, int64_t *strides)
{
    int64_t step = 1;
    for (int32_t d = t->ndim - 1; d >= 0; d--) {
        strides[d] = t->strides != NULL ? t->strides[d] : step;
        step *= t->shape[d];
    }
}

/* Copies batch item `b` of a float tensor [B, H, W(, C)] to 8-bit. */
static void item_to_u8(const DLTensor *t, int64_t b, uint8_t *dst)
{
    int64_t s[4] = {0, 0, 0, 0};
    strides_of(t, s);
    int64_t h = t->shape[1], w = t->shape[2], c = t->ndim == 4 ? t->shape[3] : 1;
    const float *base = (const float *)((const char *)t->data + t->byte_offset);
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            for (int64_t k = 0; k < c; k++)
                *dst++ = image_unit_to_u8(base[b * s[0] + y * s[1] + x * s[2] + k * s[3]]);
}

cutout_status remove_background_run(cutout_context *ctx, const char *model,
                                    int64_t batch_size, const image_f32 *const *images,
                                    int64_t count, const cutout_run_params *run,
                                    bool want_rgba, remove_background_result *results,
                                    char *err, size_t err_cap)
{
    for (int64_t i = 0; i < count; i++)
        results[i].rgba = results[i].mask = NULL;
    const image_f32 *first = images[0];
    int64_t h = first->height, w = first->width, c = first->channels;
    size_t image_bytes, batch_bytes, rgba_bytes, mask_bytes;
    if (!size_mul4(h, w, c, sizeof(float), &image_bytes) ||
        !size_mul(image_bytes, (size_t)count, &batch_bytes) ||
        !size_mul4(h, w, 4, 1, &rgba_bytes) || !size_mul4(h, w, 1, 1, &mask_bytes))
        return fail(CUTOUT_ERR_OUT_OF_MEMORY, err, err_cap,
                    "image: %lld images of %lld x %lld do not fit in memory",
                    (long long)count, (long long)h, (long long)w);

    /* One image is used in place; a batch is packed into one buffer. */
    float *data = first->pixels;
    float *packed = NULL;
    if (count > 1) {
        packed = malloc(batch_bytes);
        if (packed == NULL)
            return fail(CUTOUT_ERR_OUT_OF_MEMORY, err, err_cap,
                        "out of memory packing %lld images of %lld x %lld", (long long)count,
                        (long long)h, (long long)w);
        for (int64_t i = 0; i < count; i++)
            memcpy((char *)packed + (size_t)i * image_bytes, images[i]->pixels, image_bytes);
        data = packed;
    }

    int64_t shape[4] = {count, h, w, c};
    DLTensor image;
    memset(&image, 0, sizeof image);
    image.data = data;
    image.device.device_type = kDLCPU;
    image.device.device_id = 0;
    image.ndim = 4;
    image.dtype.code = kDLFloat;
    image.dtype.bits = 32;
    image.dtype.lanes = 1;
    image.shape = shape;
    image.strides = NULL; /* compact row-major */
    image.byte_offset = 0;

    cutout_input inputs[3];
    memset(inputs, 0, sizeof inputs);
    inputs[0].name = "image";
    inputs[0].kind = CUTOUT_VALUE_TENSOR;
    inputs[0].tensor = &image;
    inputs[1].name = "model";
    inputs[1].kind = CUTOUT_VALUE_STRING;
    inputs[1].s = model;
    inputs[2].name = "batch_size";
    inputs[2].kind = CUTOUT_VALUE_INT;
    inputs[2].i = batch_size;

    DLManagedTensor *outs[2] = {NULL, NULL};
    cutout_status status =
        cutout_node_run(ctx, "CutoutRemoveBackground", inputs, 3, run, outs, 2);
    free(packed);
    if (status != CUTOUT_OK) {
        const char *msg = cutout_last_error();
        fail(status, err, err_cap, "%s", msg[0] != '\0' ? msg : cutout_status_string(status));
    } else {
        int64_t rgba_shape[4] = {count, h, w, 4};
        if (outs[0] == NULL || outs[1] == NULL || !output_is(&outs[0]->dl_tensor, 4, rgba_shape) ||
            !output_is(&outs[1]->dl_tensor, 3, rgba_shape))
            status = fail(CUTOUT_ERR_INTERNAL, err, err_cap,
                          "unexpected node outputs (expected CPU float32 IMAGE %lld x %lld x "
                          "%lld x 4 and MASK %lld x %lld x %lld)",
                          (long long)count, (long long)h, (long long)w, (long long)count,
                          (long long)h, (long long)w);
    }
    for (int64_t i = 0; status == CUTOUT_OK && i < count; i++) {
        results[i].rgba = want_rgba ? malloc(rgba_bytes) : NULL;
        results[i].mask = malloc(mask_bytes);
        if ((want_rgba && results[i].rgba == NULL) || results[i].mask == NULL) {
            status = fail(CUTOUT_ERR_OUT_OF_MEMORY, err, err_cap,
                          "out of memory converting the result");
            break;
        }
        if (want_rgba)
            item_to_u8(&outs[0]->dl_tensor, i, results[i].rgba);
        item_to_u8(&outs[1]->dl_tensor, i, results[i].mask);
    }
    if (status != CUTOUT_OK)
        for (int64_t i = 0; i < count; i++)
            remove_background_result_free(&results[i]);
    for (int k = 0; k < 2; k++)
        if (outs[k] != NULL && outs[k]->deleter != NULL)
            outs[k]->deleter(outs[k]);
    return status;
}
