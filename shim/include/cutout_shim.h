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
 * What only tests need is in cutout_shim_testing.h.
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
    char precision_reason[256]; /* why "auto" chose `precision` (one sentence);
                                   "" when the precision was asked for by name */
} cutout_shim_model_info;

/* The library's own version string of libtorch it was compiled against,
 * e.g. "1.13.1". Static storage; never fails. */
const char *cutout_shim_torch_version(void);

/* Which devices this build can use: writes true/false for CUDA. */
cutout_shim_status cutout_shim_cuda_available(bool *available, char *err, size_t err_cap);

/* Sets libtorch's intra-op thread count (process-wide). n >= 1. */
cutout_shim_status cutout_shim_set_num_threads(int32_t n, char *err, size_t err_cap);

/* How a model is loaded and run; NULL means every field's default.
 * precision: "fp32", "bf16", "fp16", or "auto" (fp16 on CUDA, fp32 on a
 *   CPU without native bf16; on a CPU with it, whichever of fp32 and bf16
 *   ran one of the model's convolutions faster, timed once per process);
 *   NULL means "fp32". The weights are
 *   converted and laid out for it once, at load.
 * cpu_shared_passes: on a CPU, the items of a predict call share one
 *   forward pass, as they always do on CUDA (default: one pass per item).
 * no_direct_convolutions: keep libtorch's own bf16 convolutions instead of
 *   the shim's direct oneDNN ones (which a build may not have). */
typedef struct cutout_shim_load_params {
    size_t struct_size; /* sizeof(cutout_shim_load_params) */
    const char *precision;
    bool cpu_shared_passes;
    bool no_direct_convolutions;
} cutout_shim_load_params;

/* Loads a TorchScript model file onto `device` (CPU, or CUDA device N).
 * info->precision says which precision was chosen, info->precision_reason
 * why "auto" chose it. Thread-safe for different models; a first "auto"
 * load on the CPU waits for any other's timing.
 * Errors: MODEL_NOT_FOUND (no such file), MODEL_INVALID (not TorchScript,
 * no or bad metadata, unsupported kind), DEVICE (device unavailable, or
 * the precision is not supported there), INVALID_ARGUMENT (unknown
 * precision, bad struct_size). On success *out owns the model; free it
 * with cutout_shim_model_free. */
cutout_shim_status cutout_shim_model_load(const char *path, DLDevice device,
                                          const cutout_shim_load_params *params,
                                          cutout_shim_model **out,
                                          cutout_shim_model_info *info,
                                          char *err, size_t err_cap);

/* Frees a model; NULL is a no-op. The caller guarantees no call is using it. */
void cutout_shim_model_free(cutout_shim_model *model);

/* Allocates a float32 tensor of the given compact shape on `device`, with
 * undefined contents (not zero-filled: every node overwrites all of it).
 * The caller writes every element before handing the tensor on, and
 * releases it on any failure. On success the caller owns *out and calls
 * (*out)->deleter(*out) exactly once. Thread-safe. Errors: OUT_OF_MEMORY,
 * DEVICE. */
cutout_shim_status cutout_shim_alloc_float32(DLDevice device, int32_t ndim,
                                             const int64_t *shape,
                                             DLManagedTensor **out,
                                             char *err, size_t err_cap);

/* Counts non-finite values (NaN, +-Inf) in the B x ... tensor `t` of any
 * dtype, strides and device, in one pass: *nonfinite is their number and
 * *first_item the first item holding one (-1 when there is none). */
cutout_shim_status cutout_shim_find_nonfinite(const DLTensor *t, int64_t *nonfinite,
                                              int64_t *first_item, char *err,
                                              size_t err_cap);

/* The smallest and largest value of `t` (any dtype, strides and device) as
 * the nodes read it: uint8 divided by 255, floats as they are.
 * Errors: INVALID_INPUT (no values), INVALID_ARGUMENT. */
cutout_shim_status cutout_shim_value_range(const DLTensor *t, double *low, double *high,
                                           char *err, size_t err_cap);

/* Edge limits the finishing step can do (the node specs' ranges must lie
 * within them; the library checks that when a context is created). */
#define CUTOUT_SHIM_GROW_MAX 64           /* |grow| in px */
#define CUTOUT_SHIM_BLUR_MAX 256          /* blur radius in px */
#define CUTOUT_SHIM_BAND_MAX 64           /* mask_band in px */
#define CUTOUT_SHIM_DESPECKLE_MAX 4194304 /* despeckle area in px (the pixel limit) */
#define CUTOUT_SHIM_PROCESS_SIZE_MIN 16   /* model input side, when not native (0) */
#define CUTOUT_SHIM_PROCESS_SIZE_MAX 8192

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

/* Predicts the alpha matte of items [first, first+count) of `image`
 * (B x H x W x C, C = 3 or 4, any supported dtype/strides/device; only RGB
 * is read), and writes it into the same items of `alpha_out` (B x H x W
 * float32, compact, on the image's device), values in 0..1, resized back to
 * H x W bilinearly. `params` gives the processing size, fit and quality
 * (NULL: native size, stretch, fast). Letterbox and balanced pad with the
 * model's mean colour (0 after normalisation). With QUALITY_BEST the mirror
 * image goes through the model too, in letterbox (in stretch when the fit
 * is letterbox), and the two mattes are averaged at the image's size.
 * On CUDA the items and views share one forward pass; on a CPU each has
 * its own unless the model was loaded with cpu_shared_passes.
 * `abort` may be NULL; it is polled before each pass's pre-processing,
 * before the pass and after it.
 * Errors: INVALID_INPUT, INVALID_ARGUMENT (a size outside the limits
 * above, an unknown fit or quality), DEVICE, OUT_OF_MEMORY, INFERENCE (the
 * model failed or returned something other than a finite B x 1 x S x S
 * tensor), CANCELLED. */
cutout_shim_status cutout_shim_predict_alpha(cutout_shim_model *model,
                                             const DLTensor *image,
                                             int64_t first, int64_t count,
                                             const cutout_shim_predict_params *params,
                                             DLTensor *alpha_out,
                                             cutout_shim_abort_fn abort,
                                             void *abort_user,
                                             char *err, size_t err_cap);

/* Called after each item of a chunk is finished; returning false stops
 * the call, which then returns CUTOUT_SHIM_CANCELLED. */
typedef bool (*cutout_shim_item_fn)(void *user, int64_t item);

/* ------------------------------------------------------------------------
 * Edges: processing resolution, matte refinement, foreground colour,
 * output layouts, cropping and compositing (CutoutRemoveBackgroundAdvanced,
 * CutoutCompositeBackground). All pixel work runs as libtorch ops on the
 * tensors' own device; nothing is rounded to 8 bits.
 * ------------------------------------------------------------------------ */

#define CUTOUT_SHIM_FOREGROUND_ORIGINAL 0 /* RGB = the input's RGB */
#define CUTOUT_SHIM_FOREGROUND_ESTIMATE 1 /* RGB of 0 < alpha < 1 = estimated foreground */

#define CUTOUT_SHIM_REFINE_NONE 0
#define CUTOUT_SHIM_REFINE_GUIDED 1 /* guided filter, the image's colour as guide */
#define CUTOUT_SHIM_REFINE_MATTING 2 /* alpha solved from the image where the matte is soft */

#define CUTOUT_SHIM_MASK_RESTRICT 0 /* alpha x guide */
#define CUTOUT_SHIM_MASK_HINT 1     /* guide = a coarse selection; its edge band is solved */
#define CUTOUT_SHIM_MASK_TRIMAP 2   /* guide = 0 / 1 / between (unknown, solved) */

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
    int32_t mask_mode;      /* CUTOUT_SHIM_MASK_*: what the guide means */
    int32_t mask_band;      /* MASK_HINT: px on each side of the guide's edge, 1..BAND_MAX */
    int64_t despeckle;      /* px: islands and holes smaller than this go; 0 = off */
    cutout_shim_abort_fn abort; /* polled between matting iterations; may be NULL */
    void *abort_user;
} cutout_shim_finish_params;

/* Finishes items [first, first+count) of a run. On entry alpha_inout holds
 * each item's predicted matte; the steps are, in this order:
 *   alpha  = clamp(alpha, 0, 1)
 *            x image[item, :, :, 3]            (when C = 4, clamped to 0..1)
 *   the guide (when guide != NULL; B x H' x W' or H' x W' of any dtype, a
 *   batch of 1 or an H' x W' guide applying to every item), by mask_mode:
 *     RESTRICT  alpha x guide, the guide resized bilinearly to H x W when
 *               its size differs, values clamped to 0..1
 *     HINT      the guide (H x W) is a coarse selection (>= 0.5): alpha is
 *               1 inside it and 0 outside, and in a band of mask_band px on
 *               each side of its edge solved from the image (matting.hpp),
 *               pulled towards the predicted alpha
 *     TRIMAP    the guide (H x W, values in 0..1) is 0 background, 1
 *               foreground, unknown between; the unknown is solved so
 *   edge refinement (GUIDED: guided filter; MATTING: alpha solved where
 *   the matte is soft or at its edge), threshold, despeckle, grow/shrink,
 *   blur, invert
 *   RGB    = input RGB (float32, uint8 divided by 255), or the estimated
 *            foreground where 0 < alpha < 1
 *   out_image[item] = RGB + alpha, RGB only, or RGB x alpha + alpha
 *   alpha_inout[item] = alpha, or 1 - alpha (mask_transparent_is_one)
 * `params` NULL means the defaults: no refinement, original RGB, RGBA.
 * out_image is B x H x W x 4 (x 3 for OUTPUT_RGB) float32 compact on the
 * image's device. `on_item` (may be NULL) is called after each item;
 * params->abort between matting iterations.
 * Errors: INVALID_ARGUMENT (params, items), INVALID_INPUT (a guide of
 * another size than the image, or none, for HINT and TRIMAP; a trimap with
 * values outside 0..1), DEVICE, OUT_OF_MEMORY, CANCELLED (on_item returned
 * false, or abort true). */
cutout_shim_status cutout_shim_finish_items(const DLTensor *image, const DLTensor *guide,
                                            int64_t first, int64_t count,
                                            const cutout_shim_finish_params *params,
                                            DLTensor *alpha_inout, DLTensor *out_image,
                                            cutout_shim_item_fn on_item, void *on_item_user,
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

/* For every item of `image`: out_rgb[item] = rgb x alpha + background x
 * (1 - alpha), where rgb and alpha come from image[item] (C = 4), or rgb
 * from image[item] (C = 3 or 4) and alpha from the mask (B x H' x W' or
 * H' x W', a batch of 1 applying to every item, resized bilinearly when
 * its size differs; mask_transparent_is_one flips it), when mask != NULL.
 * The background is bg->kind; for IMAGE it is the item's `background`
 * (B x H' x W' x C, C = 3 or 4, RGB used; a batch of 1 applies to every
 * item). out_rgb is B x H x W x 3 float32 compact on the image's device.
 * `on_item` (may be NULL) is called after each item.
 * Errors: INVALID_ARGUMENT, INVALID_INPUT (e.g. C = 3 and no mask), DEVICE,
 * OUT_OF_MEMORY, CANCELLED (on_item returned false). */
cutout_shim_status cutout_shim_composite(const DLTensor *image, const DLTensor *mask,
                                         bool mask_transparent_is_one,
                                         const cutout_shim_background *bg,
                                         const DLTensor *background, DLTensor *out_rgb,
                                         cutout_shim_item_fn on_item, void *on_item_user,
                                         char *err, size_t err_cap);

/* ------------------------------------------------------------------------
 * Frame batches: temporal smoothing of consecutive mattes.
 * ------------------------------------------------------------------------ */

/* What is carried from one frame to the next: the last frame's colour and
 * luminance (at reduced sizes), its smoothed and its predicted matte, and
 * the thresholded matte. Its memory is a few planes of one frame, whatever the
 * number of frames. Not thread-safe: one run at a time uses it. */
typedef struct cutout_shim_temporal cutout_shim_temporal;

typedef struct cutout_shim_temporal_params {
    size_t struct_size; /* sizeof(cutout_shim_temporal_params) */
    float strength;     /* 0..CUTOUT_SHIM_TEMPORAL_MAX: weight of the last smoothed
                           matte, moved along the motion, where the motion is trusted
                           and the model unsure; 0 leaves the mattes as they are */
    float threshold;    /* the finishing threshold (0 = soft); > 0: hysteresis around it */
    float skip_below;   /* > 0: a frame whose mean |luminance difference| to the last
                           predicted frame is below it reuses that frame's matte */
} cutout_shim_temporal_params;

#define CUTOUT_SHIM_TEMPORAL_MAX 0.95 /* a weight of 1 would never follow the model */
#define CUTOUT_SHIM_SKIP_MAX 0.25   /* beyond it, unrelated frames would be "similar" */

/* A fresh state (no frame seen). The caller owns *out and frees it with
 * cutout_shim_temporal_free. Errors: OUT_OF_MEMORY. */
cutout_shim_status cutout_shim_temporal_new(cutout_shim_temporal **out, char *err, size_t err_cap);

/* Frees a state; NULL is a no-op. */
void cutout_shim_temporal_free(cutout_shim_temporal *state);

/* Predicts items [first, first+count) of `image` as consecutive frames of
 * one video and smooths their mattes, in order, into the same items of
 * `alpha_out` (B x H x W float32, as cutout_shim_predict_alpha writes it),
 * carrying `state` on. The whole chunk crosses the boundary once.
 * - Skipping: with temporal->skip_below > 0, a frame whose mean luminance
 *   difference to the last frame that went through the model is below the
 *   bound takes that frame's matte instead of a forward pass; the others go
 *   through the model in runs, as cutout_shim_predict_alpha does them.
 * - Smoothing: per pixel, the matte is a blend of the model's and the last
 *   smoothed one moved along the motion the frames show: each subject (a
 *   connected region of the last matte) moves by an affine motion fitted to
 *   its own pixels, the rest by a dense flow on the reduced luminance. The
 *   moved one weighs `strength` where the chosen motion explains the
 *   subject's pixels nearby and the model is unsure, and nothing where the
 *   motion fails or the model is sure. A frame whose luminance changes as a whole
 *   (a scene cut) or whose size differs starts afresh. With a threshold the
 *   0/1 matte flips only once the smoothed value passes the threshold by a
 *   margin (hysteresis).
 * The state changes only once every frame has its matte, so a chunk the
 * model failed on (out of memory, cancelled) may be tried again. `abort` is polled as in
 * cutout_shim_predict_alpha. Errors: those of cutout_shim_predict_alpha,
 * and INVALID_ARGUMENT for a NULL state or temporal parameters out of range. */
cutout_shim_status cutout_shim_predict_frames(cutout_shim_model *model,
                                              cutout_shim_temporal *state,
                                              const cutout_shim_temporal_params *temporal,
                                              const DLTensor *image, int64_t first, int64_t count,
                                              const cutout_shim_predict_params *params,
                                              DLTensor *alpha_out,
                                              cutout_shim_abort_fn abort, void *abort_user,
                                              char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* CUTOUT_SHIM_H */
