/* node_inputs.c - see node_inputs.h. */
#include "node_inputs.h"

#include <stdio.h>
#include <unistd.h>

#include "error.h"
#include "nodes.h"

/* CPU device ids carry no meaning (DLPack producers may leave any value). */
static bool same_device(DLDevice a, DLDevice b)
{
    return a.device_type == b.device_type &&
           (a.device_type == kDLCPU || a.device_id == b.device_id);
}

static cutout_status check_devices(const cutout_context *ctx, const node_tensors *t,
                                   const char *background_name)
{
    char a[32], b[32];
    const DLTensor *image = t->image;
    if (!same_device(image->device, ctx->device))
        return cutout_error_set(CUTOUT_ERR_DEVICE,
                                "image: on %s, but this context runs on %s (create a context "
                                "with device \"%s\" or move the image)",
                                tensor_device_name(image->device, a, sizeof a), ctx->device_name,
                                tensor_device_name(image->device, b, sizeof b));
    const struct {
        const char *name;
        const DLTensor *tensor;
    } others[] = {{"mask", t->mask}, {background_name, t->background}};
    for (size_t i = 0; i < 2; i++)
        if (others[i].tensor && !same_device(others[i].tensor->device, image->device))
            return cutout_error_set(CUTOUT_ERR_DEVICE, "%s: on %s, but the image is on %s",
                                    others[i].name,
                                    tensor_device_name(others[i].tensor->device, a, sizeof a),
                                    tensor_device_name(image->device, b, sizeof b));
    return CUTOUT_OK;
}

/* A batch of 1 or the image's. */
static cutout_status check_batch(const char *name, int64_t got, int64_t batch)
{
    if (got == 1 || got == batch) return CUTOUT_OK;
    return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                            "%s: batch of %lld does not match the image batch of %lld (expected "
                            "1 or %lld)",
                            name, (long long)got, (long long)batch, (long long)batch);
}

/* Bytes the system can still hand out (MemAvailable), else its physical
 * memory; -1 when neither is known. */
static int64_t memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f != NULL) {
        char line[128];
        long long kib;
        while (fgets(line, sizeof line, f) != NULL) {
            if (sscanf(line, "MemAvailable: %lld kB", &kib) == 1 && kib > 0 &&
                kib < INT64_MAX / 1024) {
                fclose(f);
                return (int64_t)kib * 1024;
            }
        }
        fclose(f);
    }
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int64_t bytes;
    return pages > 0 && page > 0 && tensor_mul_ok(pages, page, &bytes) ? bytes : -1;
}

/* Outputs that could never fit are refused before any allocation:
 * allocating them would only let the system kill the host. */
static cutout_status check_output_size(const DLTensor *image, const image_shape *is,
                                       int64_t bytes_per_pixel)
{
    int64_t pixels, bytes;
    if (!tensor_mul_ok(is->height, is->width, &pixels) ||
        !tensor_mul_ok(pixels, is->batch, &pixels) ||
        !tensor_mul_ok(pixels, bytes_per_pixel, &bytes))
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "image: a batch of %lld images of %lld x %lld needs more than "
                                "2^63 bytes of outputs",
                                (long long)is->batch, (long long)is->height, (long long)is->width);
    if (image->device.device_type != kDLCPU) return CUTOUT_OK;
    int64_t available = memory_available();
    if (available < 0 || bytes <= available) return CUTOUT_OK;
    return cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY,
                            "image: a batch of %lld images of %lld x %lld needs %lld MiB of "
                            "outputs, more than the %lld MiB of memory available (expected a "
                            "smaller batch)",
                            (long long)is->batch, (long long)is->height, (long long)is->width,
                            (long long)(bytes >> 20), (long long)(available >> 20));
}

/* NaN or Inf anywhere is refused before any work, naming the first item. */
static cutout_status check_finite(const char *name, const DLTensor *t)
{
    char err[1024] = "";
    int64_t bad = 0, item = -1;
    cutout_shim_status st = cutout_shim_find_nonfinite(t, &bad, &item, err, sizeof err);
    if (st != CUTOUT_SHIM_OK) return node_shim_failed(st, err);
    if (bad == 0) return CUTOUT_OK;
    return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                            "%s: expected finite values, got %lld NaN or Inf values (first in "
                            "item %lld)",
                            name, (long long)bad, (long long)item);
}

cutout_status node_prepare_tensors(const cutout_context *ctx, const bound_inputs *in,
                                   const char *background_name, int64_t output_bytes_per_pixel,
                                   node_tensors *out)
{
    *out = (node_tensors){0};
    const bound_value *mask = inputs_get(in, "mask");
    out->image = inputs_get(in, "image")->tensor;
    out->mask = mask->present ? mask->tensor : NULL;
    if (background_name) {
        const bound_value *bg = inputs_get(in, background_name);
        if (!bg->present)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                    "%s: missing (expected an IMAGE when background is \"image\")",
                                    background_name);
        out->background = bg->tensor;
    }
    cutout_status st = tensor_check_image("image", out->image, &out->image_shape);
    const int64_t batch = out->image_shape.batch;
    if (st == CUTOUT_OK && out->mask && (st = tensor_check_mask("mask", out->mask,
                                                                &out->mask_shape)) == CUTOUT_OK)
        st = check_batch("mask", out->mask_shape.batch, batch);
    if (st == CUTOUT_OK && out->background &&
        (st = tensor_check_image(background_name, out->background, &out->background_shape)) ==
            CUTOUT_OK)
        st = check_batch(background_name, out->background_shape.batch, batch);
    if (st == CUTOUT_OK) st = check_devices(ctx, out, background_name);
    if (st == CUTOUT_OK) st = check_output_size(out->image, &out->image_shape, output_bytes_per_pixel);
    if (st == CUTOUT_OK) st = check_finite("image", out->image);
    if (st == CUTOUT_OK && out->mask) st = check_finite("mask", out->mask);
    if (st == CUTOUT_OK && out->background) st = check_finite(background_name, out->background);
    return st;
}
