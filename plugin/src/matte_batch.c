/* matte_batch.c - see matte_batch.h. */
#include "matte_batch.h"

#include <stdio.h>

#include "error.h"
#include "models.h"
#include "node_inputs.h"
#include "temporal.h"

/* Predicts items [first, first + count) of the image into out_mask; frames
 * (a temporal state) are also smoothed there, in one call per chunk.
 * Errors: the shim's, CANCELLED. */
static cutout_status predict_chunk(const loaded_model *model, const node_tensors *t,
                                   const cutout_run_params *run, const matte_steps *steps,
                                   const cutout_shim_predict_params *predict,
                                   cutout_shim_temporal *state, int64_t first, int64_t count,
                                   DLManagedTensor *out_mask)
{
    char err[1024] = "";
    cutout_shim_status ss =
        state ? cutout_shim_predict_frames(model->model, state, steps->temporal, t->image, first,
                                           count, predict, &out_mask->dl_tensor, run->should_abort,
                                           run->abort_user, err, sizeof err)
              : cutout_shim_predict_alpha(model->model, t->image, first, count, predict,
                                          &out_mask->dl_tensor, run->should_abort, run->abort_user,
                                          err, sizeof err);
    if (ss == CUTOUT_SHIM_CANCELLED)
        return cutout_error_set(CUTOUT_CANCELLED, "cancelled during items %lld..%lld of %lld",
                                (long long)first + 1, (long long)(first + count),
                                (long long)t->image_shape.batch);
    if (ss != CUTOUT_SHIM_OK) return node_shim_failed(ss, err);
    return CUTOUT_OK;
}

/* A mask that hint and trimap read pixel for pixel: present, at the
 * image's size, and for a trimap within 0..1. Errors: INVALID_INPUT. */
static cutout_status check_mask_for_mode(const node_tensors *t, int32_t mode)
{
    const char *name = mode == CUTOUT_SHIM_MASK_HINT ? "hint" : "trimap";
    if (!t->mask)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "mask: mask_mode %s needs a mask (got none)",
                                name);
    const image_shape is = t->image_shape;
    const mask_shape ms = t->mask_shape;
    if (ms.height != is.height || ms.width != is.width)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "mask: mask_mode %s needs the image's size %lld x %lld (got %lld x "
                                "%lld)",
                                name, (long long)is.height, (long long)is.width,
                                (long long)ms.height, (long long)ms.width);
    if (mode != CUTOUT_SHIM_MASK_TRIMAP) return CUTOUT_OK;
    char err[1024] = "";
    double low = 0.0, high = 0.0;
    cutout_shim_status ss = cutout_shim_value_range(t->mask, &low, &high, err, sizeof err);
    if (ss != CUTOUT_SHIM_OK) return node_shim_failed(ss, err);
    if (low < 0.0 || high > 1.0)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "mask: a trimap holds 0 (background), 1 (foreground) and values "
                                "between (unknown); expected 0..1, got %g..%g",
                                low, high);
    return CUTOUT_OK;
}

cutout_status matte_batch_run(cutout_context *ctx, const bound_inputs *in,
                              const cutout_run_params *run, const matte_steps *steps,
                              image_shape *shape, DLManagedTensor **image_out,
                              DLManagedTensor **mask_out)
{
    *image_out = *mask_out = NULL;
    const int64_t batch_size = inputs_get(in, "batch_size")->i;
    const char *model_name = inputs_get(in, "model")->s;
    const char *precision = inputs_get(in, "precision")->s;

    /* 1. Everything about the inputs, before any work. */
    cutout_shim_predict_params predict = steps->predict;
    cutout_status st = node_choice_of(in, "quality", node_quality_choices, &predict.quality);
    node_tensors t;
    if (st == CUTOUT_OK)
        st = node_prepare_tensors(ctx, in, NULL, (steps->channels + 1) * (int64_t)sizeof(float),
                                  &t);
    const int32_t mask_mode = steps->finish ? steps->finish->mask_mode : CUTOUT_SHIM_MASK_RESTRICT;
    if (st == CUTOUT_OK && mask_mode != CUTOUT_SHIM_MASK_RESTRICT)
        st = check_mask_for_mode(&t, mask_mode);
    const loaded_model *model = NULL;
    if (st == CUTOUT_OK) st = models_get(ctx, model_name, precision, &model);
    if (st != CUTOUT_OK) return st;
    const image_shape is = t.image_shape;

    /* 2. Outputs, allocated once. The predicted alpha is written straight
     *    into MASK and finished there. */
    char err[1024] = "";
    DLManagedTensor *out_image = NULL, *out_mask = NULL;
    const int64_t image_dims[4] = {is.batch, is.height, is.width, steps->channels};
    const int64_t mask_dims[3] = {is.batch, is.height, is.width};
    cutout_shim_status ss = cutout_shim_alloc_float32(t.image->device, 4, image_dims, &out_image,
                                                      err, sizeof err);
    if (ss == CUTOUT_SHIM_OK)
        ss = cutout_shim_alloc_float32(t.image->device, 3, mask_dims, &out_mask, err, sizeof err);
    if (ss != CUTOUT_SHIM_OK) {
        node_release(&out_image);
        return node_shim_failed(ss, err);
    }

    /* The frames' state: the host's, or this call's own. */
    cutout_shim_temporal *own_state = NULL, *state = NULL;
    if (steps->temporal) {
        state = run->temporal ? run->temporal->state : NULL;
        if (!state) {
            ss = cutout_shim_temporal_new(&own_state, err, sizeof err);
            if (ss != CUTOUT_SHIM_OK) st = node_shim_failed(ss, err);
            state = own_state;
        }
    }

    /* 3. The batch loop: per chunk, one call predicts the mattes (and, for
     *    frames, smooths them), then one call finishes its items. */
    node_progress progress = {run, is.batch, 0, -1};
    int64_t chunk = batch_size;
    for (int64_t first = 0, count = 0; st == CUTOUT_OK && first < is.batch; first += count) {
        count = is.batch - first < chunk ? is.batch - first : chunk;
        if ((st = node_check_abort(run, first, is.batch)) != CUTOUT_OK) break;
        st = predict_chunk(model, &t, run, steps, &predict, state, first, count, out_mask);
        /* A chunk the device has no memory for is tried again at half the
         * size, and the rest of the batch keeps that size. */
        if (st == CUTOUT_ERR_OUT_OF_MEMORY && count > 1) {
            chunk = count / 2;
            count = 0;
            st = CUTOUT_OK;
            continue;
        }
        if (st != CUTOUT_OK) break;
        progress.chunk_end = first + count;
        ss = cutout_shim_finish_items(t.image, t.mask, first, count, steps->finish,
                                      &out_mask->dl_tensor, &out_image->dl_tensor, node_item_done,
                                      &progress, err, sizeof err);
        if (ss != CUTOUT_SHIM_OK) st = node_items_failed(ss, err, &progress);
    }
    cutout_shim_temporal_free(own_state);
    if (st != CUTOUT_OK) {
        node_release(&out_image);
        node_release(&out_mask);
        return st;
    }
    *shape = is;
    *image_out = out_image;
    *mask_out = out_mask;
    return CUTOUT_OK;
}
