/*
 * cutout_shim.h - the pure-C boundary between the cutout plugin (C11) and
 * libtorch (C++17, shim/src only).
 *
 * Nothing in here names a libtorch type. Every function returns a
 * cutout_shim_status; on failure it writes a NUL-terminated message of the
 * form "<input>: <what went wrong> (expected X, got Y)" into the caller's
 * buffer `err` (capacity `err_cap`, may be 0 when `err` is NULL) and leaves
 * every output pointer NULL. No C++ exception ever crosses this boundary.
 *
 * The plugin validates shapes, dtypes, limits and parameters before calling
 * the shim; the shim re-checks what it relies on (it never trusts a model's
 * output) and reports anything unexpected as an error rather than crashing.
 *
 * Threading: every function may be called from any thread. A loaded model
 * may be used by several threads at once (forward passes run concurrently).
 * cutout_shim_set_num_threads() changes a process-wide setting.
 *
 * The unit tests link a stub implementation of this header written in C
 * (tests/c/stub_shim.c) so that the plugin can be tested without libtorch.
 */
#ifndef CUTOUT_SHIM_H
#define CUTOUT_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dlpack/dlpack.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status values mirror cutout_status in cutout.h (same numbers). */
typedef int32_t cutout_shim_status;
#define CUTOUT_SHIM_OK 0
#define CUTOUT_SHIM_CANCELLED 1
#define CUTOUT_SHIM_ERR_INVALID_ARGUMENT (-1)
#define CUTOUT_SHIM_ERR_INVALID_INPUT (-2)
#define CUTOUT_SHIM_ERR_MODEL_NOT_FOUND (-5)
#define CUTOUT_SHIM_ERR_MODEL_INVALID (-6)
#define CUTOUT_SHIM_ERR_DEVICE (-7)
#define CUTOUT_SHIM_ERR_OUT_OF_MEMORY (-8)
#define CUTOUT_SHIM_ERR_INFERENCE (-9)
#define CUTOUT_SHIM_ERR_INTERNAL (-12)

/* Polled between stages (pre-process, forward, post-process). Returning
 * true makes the running call stop and return CUTOUT_SHIM_CANCELLED. */
typedef bool (*cutout_shim_abort_fn)(void *user);

/* Opaque loaded model (a TorchScript module on one device, plus metadata). */
typedef struct cutout_shim_model cutout_shim_model;

/* What a model says about itself, read from the extra file
 * "cutout_meta.json" stored inside the TorchScript archive. Strings are
 * NUL-terminated copies owned by this struct (fixed buffers, no frees). */
typedef struct cutout_shim_model_info {
    char name[64];        /* e.g. "isnet" */
    char kind[32];        /* output kind; only "alpha" (B x 1 x S x S, 0..1) */
    char license[64];     /* SPDX id of the weights' licence, e.g. "MIT" */
    int64_t input_height; /* native input size, e.g. 1024 */
    int64_t input_width;
    float mean[3];        /* model input = (rgb01 - mean) / std */
    float std[3];
    char precision[8];    /* what the forward pass computes in: "fp32", "bf16", "fp16" */
} cutout_shim_model_info;

/* The library's own version string of libtorch it was compiled against,
 * e.g. "1.13.1". Static storage; never fails. */
const char *cutout_shim_torch_version(void);

/* Which devices this build can use: writes true/false for CUDA. */
cutout_shim_status cutout_shim_cuda_available(bool *available, char *err, size_t err_cap);

/* Sets libtorch's intra-op thread count (process-wide). n >= 1. */
cutout_shim_status cutout_shim_set_num_threads(int32_t n, char *err, size_t err_cap);

/* Loads a TorchScript model file onto `device` ("cpu", "cuda", "cuda:N").
 * Errors: MODEL_NOT_FOUND (no such file), MODEL_INVALID (not TorchScript,
 * no or bad metadata, unsupported kind), DEVICE (device unavailable).
 * On success *out owns the model; free it with cutout_shim_model_free. */
cutout_shim_status cutout_shim_model_load(const char *path, const char *device,
                                          cutout_shim_model **out,
                                          cutout_shim_model_info *info,
                                          char *err, size_t err_cap);

/* As cutout_shim_model_load, computing in `precision`: "fp32", "bf16",
 * "fp16", or "auto" (bf16 on a CPU with AMX or AVX512-BF16, fp16 on CUDA,
 * fp32 elsewhere); NULL means "fp32". The weights are converted and laid out
 * for that precision once, here. info->precision says what was chosen.
 * Errors: as cutout_shim_model_load, plus INVALID_ARGUMENT (unknown
 * precision) and DEVICE (the precision is not supported on the device). */
cutout_shim_status cutout_shim_model_load_precision(const char *path, const char *device,
                                                    const char *precision,
                                                    cutout_shim_model **out,
                                                    cutout_shim_model_info *info,
                                                    char *err, size_t err_cap);

/* Frees a model; NULL is a no-op. The caller guarantees no call is using it. */
void cutout_shim_model_free(cutout_shim_model *model);

/* The device the model lives on. */
DLDevice cutout_shim_model_device(const cutout_shim_model *model);

/* Allocates a zero-filled float32 tensor of the given compact shape on
 * `device`. On success the caller owns *out and calls (*out)->deleter(*out)
 * exactly once. Errors: OUT_OF_MEMORY, DEVICE. */
cutout_shim_status cutout_shim_alloc_float32(DLDevice device, int32_t ndim,
                                             const int64_t *shape,
                                             DLManagedTensor **out,
                                             char *err, size_t err_cap);

/* Counts non-finite values (NaN, +-Inf) in items [first, first+count) of a
 * B x ... tensor of any dtype, strides and device. */
cutout_shim_status cutout_shim_count_nonfinite(const DLTensor *t, int64_t first,
                                               int64_t count, int64_t *nonfinite,
                                               char *err, size_t err_cap);

/* Predicts the alpha matte of items [first, first+count) of `image`
 * (B x H x W x C, C = 3 or 4, any supported dtype/strides/device; only RGB
 * is read), in one forward pass, and writes it into the same items of
 * `alpha_out` (B x H x W float32, compact, on the image's device), values in
 * 0..1, resized back to H x W bilinearly. `abort` may be NULL.
 * Errors: INVALID_INPUT, DEVICE, OUT_OF_MEMORY, INFERENCE (the model failed
 * or returned something other than a finite B x 1 x S x S tensor),
 * CANCELLED. */
cutout_shim_status cutout_shim_predict_alpha(cutout_shim_model *model,
                                             const DLTensor *image,
                                             int64_t first, int64_t count,
                                             DLTensor *alpha_out,
                                             cutout_shim_abort_fn abort,
                                             void *abort_user,
                                             char *err, size_t err_cap);

/* Finishes one batch item `item`:
 *   alpha = clamp(alpha_out[item], 0, 1)
 *         x image[item, :, :, 3]            (when C = 4, clamped to 0..1)
 *         x resize(guide[guide_item])       (when guide != NULL; guide is
 *           B x H' x W' or H' x W' of any dtype, resized bilinearly to H x W
 *           when its size differs, values clamped to 0..1)
 *   out_image[item] = (image RGB as float32, uint8 divided by 255, alpha)
 *   alpha_out[item] = alpha   (so the MASK equals the alpha channel exactly)
 * out_image is B x H x W x 4 float32 compact on the image's device.
 * Errors: INVALID_INPUT, DEVICE, OUT_OF_MEMORY. */
cutout_shim_status cutout_shim_compose_item(const DLTensor *image,
                                            const DLTensor *guide,
                                            int64_t item, int64_t guide_item,
                                            DLTensor *alpha_out,
                                            DLTensor *out_image,
                                            char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* CUTOUT_SHIM_H */
