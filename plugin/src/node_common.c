/*
 * node_common.c - what every node implementation shares: shim failures as
 * statuses, releasing outputs, polling abort, and the input checks that
 * need more than the spec (devices, NaN/Inf, host memory). See nodes.h.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "nodes.h"
#include "tensor_check.h"

/* A shim status is returned as the public status of the same value: each
 * pair is tied here, so renumbering either side fails the build. */
_Static_assert(CUTOUT_SHIM_OK == CUTOUT_OK, "shim status OK");
_Static_assert(CUTOUT_SHIM_CANCELLED == CUTOUT_CANCELLED, "shim status CANCELLED");
_Static_assert(CUTOUT_SHIM_ERR_INVALID_ARGUMENT == CUTOUT_ERR_INVALID_ARGUMENT,
               "shim status INVALID_ARGUMENT");
_Static_assert(CUTOUT_SHIM_ERR_INVALID_INPUT == CUTOUT_ERR_INVALID_INPUT, "shim status INVALID_INPUT");
_Static_assert(CUTOUT_SHIM_ERR_MODEL_NOT_FOUND == CUTOUT_ERR_MODEL_NOT_FOUND,
               "shim status MODEL_NOT_FOUND");
_Static_assert(CUTOUT_SHIM_ERR_MODEL_INVALID == CUTOUT_ERR_MODEL_INVALID, "shim status MODEL_INVALID");
_Static_assert(CUTOUT_SHIM_ERR_DEVICE == CUTOUT_ERR_DEVICE, "shim status DEVICE");
_Static_assert(CUTOUT_SHIM_ERR_OUT_OF_MEMORY == CUTOUT_ERR_OUT_OF_MEMORY, "shim status OUT_OF_MEMORY");
_Static_assert(CUTOUT_SHIM_ERR_INFERENCE == CUTOUT_ERR_INFERENCE, "shim status INFERENCE");
_Static_assert(CUTOUT_SHIM_ERR_INTERNAL == CUTOUT_ERR_INTERNAL, "shim status INTERNAL");

/* A shim failure: its message already names the input. */
cutout_status node_shim_failed(cutout_shim_status st, const char *err)
{
    return cutout_error_set_text((cutout_status)st, err[0] ? err : "shim: failed without a message");
}

/* CPU device ids carry no meaning (DLPack producers may leave any value). */
static bool same_device(DLDevice a, DLDevice b)
{
    return a.device_type == b.device_type &&
           (a.device_type == kDLCPU || a.device_id == b.device_id);
}

/* The image must live where the context computes, and the mask beside it. */
cutout_status node_check_devices(const cutout_context *ctx, const DLTensor *image,
                                 const DLTensor *mask)
{
    char a[32], b[32];
    if (!same_device(image->device, ctx->device))
        return cutout_error_set(CUTOUT_ERR_DEVICE,
                                "image: on %s, but this context runs on %s (create a context "
                                "with device \"%s\" or move the image)",
                                tensor_device_name(image->device, a, sizeof a), ctx->device_name,
                                tensor_device_name(image->device, b, sizeof b));
    if (mask && !same_device(mask->device, image->device))
        return cutout_error_set(CUTOUT_ERR_DEVICE, "mask: on %s, but the image is on %s",
                                tensor_device_name(mask->device, a, sizeof a),
                                tensor_device_name(image->device, b, sizeof b));
    return CUTOUT_OK;
}

/* NaN or Inf anywhere is refused before any work, naming the first item. */
cutout_status node_check_finite(const char *name, const DLTensor *t, int64_t batch)
{
    char err[1024] = "";
    int64_t bad = 0;
    cutout_shim_status st = cutout_shim_count_nonfinite(t, 0, batch, &bad, err, sizeof err);
    if (st != CUTOUT_SHIM_OK) return node_shim_failed(st, err);
    if (bad == 0) return CUTOUT_OK;
    int64_t item = 0;
    for (int64_t b = 0; b < batch; b++) {
        int64_t here = 0;
        st = cutout_shim_count_nonfinite(t, b, 1, &here, err, sizeof err);
        if (st != CUTOUT_SHIM_OK) return node_shim_failed(st, err);
        if (here > 0) {
            item = b;
            break;
        }
    }
    return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                            "%s: expected finite values, got %lld NaN or Inf values (first in "
                            "item %lld)",
                            name, (long long)bad, (long long)item);
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

/* Outputs that could never fit in host memory are refused before any
 * allocation: allocating them would only let the system kill the host. */
cutout_status node_check_host_memory(const image_shape *is, int64_t batch_pixels)
{
    int64_t output_bytes; /* IMAGE (16 bytes a pixel) and MASK (4) */
    if (!tensor_mul_ok(batch_pixels, 20, &output_bytes)) output_bytes = INT64_MAX;
    int64_t available = memory_available();
    if (available < 0 || output_bytes <= available) return CUTOUT_OK;
    return cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY,
                            "image: a batch of %lld images of %lld x %lld needs %lld MiB of "
                            "outputs, more than the %lld MiB of memory available (expected a "
                            "smaller batch)",
                            (long long)is->batch, (long long)is->height, (long long)is->width,
                            (long long)(output_bytes >> 20), (long long)(available >> 20));
}

cutout_status node_check_abort(const cutout_run_params *run, int64_t item, int64_t batch)
{
    if (!run->should_abort || !run->should_abort(run->abort_user)) return CUTOUT_OK;
    return cutout_error_set(CUTOUT_CANCELLED, "cancelled before item %lld of %lld",
                            (long long)item + 1, (long long)batch);
}

void node_release(DLManagedTensor **t)
{
    if (*t) {
        if ((*t)->deleter) (*t)->deleter(*t);
        *t = NULL;
    }
}

/* Index of `value` among `options` (n of them), or -1. */
static int option_index(const char *value, const char *const *options, int n)
{
    for (int i = 0; value && i < n; i++)
        if (strcmp(value, options[i]) == 0) return i;
    return -1;
}

/* Beyond the spec's own check: a host's nodes.json may offer values this
 * library does not know. */
cutout_status node_combo_choice(const bound_inputs *in, const char *name,
                                const char *const *options, int n, int *out)
{
    const char *value = inputs_get(in, name)->s;
    *out = option_index(value ? value : options[0], options, n);
    if (*out >= 0) return CUTOUT_OK;
    char expected[256] = "";
    for (int i = 0; i < n; i++) {
        strncat(expected, i == 0 ? "\"" : ", \"", sizeof expected - strlen(expected) - 1);
        strncat(expected, options[i], sizeof expected - strlen(expected) - 1);
        strncat(expected, "\"", sizeof expected - strlen(expected) - 1);
    }
    return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "%s: expected one of %s, got \"%s\"", name,
                            expected, value);
}
