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
    char fit[16];         /* the fit the model was trained with, "stretch" or
                             "letterbox"; "" when its metadata names none */
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

/* Allocates a float32 tensor of the given compact shape on `device`, with
 * undefined contents (not zero-filled: at the pixel limit that would be a
 * pass over 84 MB that every node then overwrites). The caller writes every
 * element before handing the tensor on, and releases it on any failure.
 * On success the caller owns *out and calls (*out)->deleter(*out) exactly
 * once. Thread-safe. Errors: OUT_OF_MEMORY, DEVICE. */
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
 * is read), and writes it into the same items of `alpha_out` (B x H x W
 * float32, compact, on the image's device), values in 0..1, resized back to
 * H x W bilinearly. On CUDA the items share one forward pass; on a CPU each
 * item has its own (as fast there, and far less memory; the environment
 * variable CUTOUT_CPU_BATCHED_PASSES=1 makes a CPU share one pass too).
 * `abort` may be NULL; it is polled before each pass's pre-processing,
 * before the pass and after it.
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

/* ------------------------------------------------------------------------
 * Edges: processing resolution, matte refinement, foreground colour,
 * output layouts, cropping and compositing (CutoutRemoveBackgroundAdvanced,
 * CutoutCompositeBackground). All pixel work runs as libtorch ops on the
 * tensors' own device; nothing is rounded to 8 bits.
 * ------------------------------------------------------------------------ */

/* How the image is fed to the model. */
#define CUTOUT_SHIM_FIT_STRETCH 0   /* resize to the processing size, ignoring aspect */
#define CUTOUT_SHIM_FIT_LETTERBOX 1 /* keep the aspect ratio, pad, crop the matte back */
#define CUTOUT_SHIM_FIT_AUTO 2      /* the model's own fit (info.fit), balanced if it names none */
#define CUTOUT_SHIM_FIT_BALANCED 3  /* keep the square root of the aspect ratio, pad less */

/* How many views of each image the matte is the mean of. */
#define CUTOUT_SHIM_QUALITY_FAST 0 /* the image in the fit's view: one forward pass */
#define CUTOUT_SHIM_QUALITY_BEST 1 /* also the mirror image in a second fit: two passes */

typedef struct cutout_shim_predict_params {
    size_t struct_size;     /* sizeof(cutout_shim_predict_params) */
    int64_t process_height; /* model input size; 0 = the model's native size */
    int64_t process_width;
    int32_t fit;            /* CUTOUT_SHIM_FIT_* */
    int32_t quality;        /* CUTOUT_SHIM_QUALITY_* */
} cutout_shim_predict_params;

/* As cutout_shim_predict_alpha, at the processing size, fit and quality of
 * `params` (NULL = native size, stretch, fast: exactly
 * cutout_shim_predict_alpha). Letterbox and balanced pad with the model's
 * mean colour (0 after normalisation). With QUALITY_BEST the mirror image
 * goes through the model too, in letterbox (in stretch when the fit is
 * letterbox), and the two mattes are averaged at the
 * image's size: on a CPU one pass after the other, elsewhere both in one
 * batch; abort is polled between passes.
 * Errors: as cutout_shim_predict_alpha, plus INVALID_ARGUMENT (a size
 * outside 16..8192, an unknown fit or quality). */
cutout_shim_status cutout_shim_predict_alpha_ex(cutout_shim_model *model,
                                                const DLTensor *image,
                                                int64_t first, int64_t count,
                                                const cutout_shim_predict_params *params,
                                                DLTensor *alpha_out,
                                                cutout_shim_abort_fn abort,
                                                void *abort_user,
                                                char *err, size_t err_cap);

#define CUTOUT_SHIM_FOREGROUND_ORIGINAL 0 /* RGB = the input's RGB */
#define CUTOUT_SHIM_FOREGROUND_ESTIMATE 1 /* RGB of 0 < alpha < 1 = estimated foreground */

#define CUTOUT_SHIM_REFINE_NONE 0
#define CUTOUT_SHIM_REFINE_GUIDED 1 /* guided filter, the image's colour as guide */

#define CUTOUT_SHIM_OUTPUT_RGBA 0          /* B x H x W x 4, straight alpha */
#define CUTOUT_SHIM_OUTPUT_RGB 1           /* B x H x W x 3 (straight RGB), alpha in the MASK */
#define CUTOUT_SHIM_OUTPUT_PREMULTIPLIED 2 /* B x H x W x 4, RGB x alpha */

typedef struct cutout_shim_finish_params {
    size_t struct_size;     /* sizeof(cutout_shim_finish_params) */
    int32_t edge_refinement;/* CUTOUT_SHIM_REFINE_* */
    float threshold;        /* 0 = soft; > 0: alpha >= threshold -> 1, else 0 */
    int32_t grow;           /* px, -64..64: dilate (> 0) or erode (< 0), square element */
    float blur;             /* Gaussian radius in px (sigma = radius / 2); 0 = none */
    bool invert;            /* alpha -> 1 - alpha (keep the background instead) */
    int32_t foreground;     /* CUTOUT_SHIM_FOREGROUND_* */
    int32_t output;         /* CUTOUT_SHIM_OUTPUT_* */
    bool mask_transparent_is_one; /* MASK = 1 - alpha (LoadImage convention) */
} cutout_shim_finish_params;

/* Finishes item `item` of an advanced run. On entry alpha_inout[item] holds
 * the predicted matte; the steps are, in this order:
 *   alpha  = clamp(alpha, 0, 1) x input alpha (C = 4) x resized guide
 *            (exactly as cutout_shim_compose_item)
 *   guided filter (edge_refinement), threshold, grow/shrink, blur, invert
 *   RGB    = input RGB, or the estimated foreground where 0 < alpha < 1
 *   out_image[item] = RGB + alpha, RGB only, or RGB x alpha + alpha
 *   alpha_inout[item] = alpha, or 1 - alpha (mask_transparent_is_one)
 * out_image is B x H x W x 4 (x 3 for OUTPUT_RGB) float32 compact on the
 * image's device. Errors: INVALID_ARGUMENT (params), INVALID_INPUT, DEVICE,
 * OUT_OF_MEMORY. */
cutout_shim_status cutout_shim_finish_item(const DLTensor *image, const DLTensor *guide,
                                           int64_t item, int64_t guide_item,
                                           const cutout_shim_finish_params *params,
                                           DLTensor *alpha_inout, DLTensor *out_image,
                                           char *err, size_t err_cap);

/* The union bounding box [x, y, w, h] of all pixels of `alpha` (B x H x W
 * float32, any device) whose alpha exceeds 1/255 (whose value is below
 * 254/255 when transparent_is_one), over all items. box = {0, 0, 0, 0}
 * when no pixel qualifies. Errors: INVALID_INPUT, INVALID_ARGUMENT. */
cutout_shim_status cutout_shim_subject_box(const DLTensor *alpha, bool transparent_is_one,
                                           int64_t box[4], char *err, size_t err_cap);

/* Copies the window [x, x + w) x [y, y + h) of dims 1 and 2 of `src`
 * (B x H x W or B x H x W x C float32) into a new compact float32 tensor
 * on src's device, owned by the caller (call (*out)->deleter(*out) once).
 * Errors: INVALID_ARGUMENT (window outside src), INVALID_INPUT,
 * OUT_OF_MEMORY. */
cutout_shim_status cutout_shim_crop(const DLTensor *src, int64_t x, int64_t y, int64_t w,
                                    int64_t h, DLManagedTensor **out, char *err,
                                    size_t err_cap);

#define CUTOUT_SHIM_BACKGROUND_COLOR 0    /* color_top everywhere */
#define CUTOUT_SHIM_BACKGROUND_GRADIENT 1 /* color_top at the top row .. color_bottom at the bottom */
#define CUTOUT_SHIM_BACKGROUND_IMAGE 2    /* `background` resized to cover, centred */

typedef struct cutout_shim_background {
    size_t struct_size; /* sizeof(cutout_shim_background) */
    int32_t kind;       /* CUTOUT_SHIM_BACKGROUND_* */
    float color_top[3]; /* RGB 0..1 */
    float color_bottom[3];
} cutout_shim_background;

/* out_rgb[item] = rgb x alpha + background x (1 - alpha), where rgb and
 * alpha come from image[item] (C = 4), or rgb from image[item] (C = 3 or 4)
 * and alpha from mask[mask_item] (B x H' x W' or H' x W', resized
 * bilinearly when its size differs; mask_transparent_is_one flips it),
 * when mask != NULL. The background is bg->kind; for IMAGE it is
 * background[background_item] (B x H' x W' x C, C = 3 or 4, RGB used).
 * out_rgb is B x H x W x 3 float32 compact on the image's device.
 * Errors: INVALID_ARGUMENT, INVALID_INPUT (e.g. C = 3 and no mask), DEVICE,
 * OUT_OF_MEMORY. */
cutout_shim_status cutout_shim_composite_item(const DLTensor *image, const DLTensor *mask,
                                              int64_t item, int64_t mask_item,
                                              bool mask_transparent_is_one,
                                              const cutout_shim_background *bg,
                                              const DLTensor *background,
                                              int64_t background_item, DLTensor *out_rgb,
                                              char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* CUTOUT_SHIM_H */
