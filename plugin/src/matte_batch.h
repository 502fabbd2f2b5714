/*
 * matte_batch.h - the batch loop both Remove Background nodes run.
 */
#ifndef CUTOUT_MATTE_BATCH_H
#define CUTOUT_MATTE_BATCH_H

#include "nodes.h"

/* The inputs matte_batch_run reads, first in both Remove Background
 * nodes' tables (nodes.h). */
#define MATTE_BATCH_INPUTS                              \
    NODE_TENSOR("image", SPEC_IMAGE),                   \
    NODE_TENSOR("mask", SPEC_MASK),                     \
    NODE_INT("batch_size", 1, INT64_MAX, 1),            \
    NODE_MODELS("model"),                               \
    NODE_COMBO("precision", node_precision_choices),    \
    NODE_COMBO("quality", node_quality_choices)

/* How a Remove Background node predicts and finishes its mattes. */
typedef struct matte_steps {
    cutout_shim_predict_params predict;      /* quality is read from the inputs */
    const cutout_shim_finish_params *finish; /* NULL: RGBA with the input's RGB */
    int64_t channels;                        /* of the IMAGE output: 3 or 4 */
    /* NULL, or frames: reuse a near-identical frame's matte and smooth each
     * matte with the previous one's, between prediction and finishing. */
    const cutout_shim_temporal_params *temporal;
} matte_steps;

/* Checks every common input (image, mask, batch_size, model, precision,
 * quality) before any work, allocates IMAGE (B x H x W x channels) and
 * MASK (B x H x W) once on the image's device, and runs the batch loop:
 * per chunk of batch_size items one shim call predicts them (for frames,
 * reusing a near-identical frame's matte and smoothing, in the same call)
 * and one finishes them; progress after each item, abort polled before
 * each item and inside the shim. With a finish mask_mode of hint or
 * trimap, the mask must be given at the image's size (and a trimap hold
 * values in 0..1): checked before any work. A chunk that runs out of
 * memory is tried again at half its size (and later chunks keep that
 * size). The state carried between frames is run->temporal's, or this
 * call's own. On success the caller owns *image_out and *mask_out and
 * *shape is the image's; on any other status both are NULL and nothing
 * stays allocated. Thread-safe for distinct outputs.
 * Errors: those of node_prepare_tensors and models_get, the shim's,
 * CANCELLED. */
cutout_status matte_batch_run(cutout_context *ctx, const bound_inputs *in,
                              const cutout_run_params *run, const matte_steps *steps,
                              image_shape *shape, DLManagedTensor **image_out,
                              DLManagedTensor **mask_out);

#endif /* CUTOUT_MATTE_BATCH_H */
