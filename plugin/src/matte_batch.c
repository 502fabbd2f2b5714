/* matte_batch.c - see matte_batch.h. */
#include "matte_batch.h"

#include <stdio.h>

#include "error.h"
#include "models.h"
#include "node_inputs.h"

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

    /* 3. The batch loop: per chunk, one call predicts its mattes and one
     *    finishes its items. */
    node_progress progress = {run, is.batch, 0, -1};
    for (int64_t first = 0; st == CUTOUT_OK && first < is.batch; first += batch_size) {
        const int64_t count = is.batch - first < batch_size ? is.batch - first : batch_size;
        if ((st = node_check_abort(run, first, is.batch)) != CUTOUT_OK) break;
        ss = cutout_shim_predict_alpha(model->model, t.image, first, count, &predict,
                                       &out_mask->dl_tensor, run->should_abort, run->abort_user,
                                       err, sizeof err);
        if (ss == CUTOUT_SHIM_CANCELLED) {
            st = cutout_error_set(CUTOUT_CANCELLED, "cancelled during items %lld..%lld of %lld",
                                  (long long)first + 1, (long long)(first + count),
                                  (long long)is.batch);
            break;
        }
        if (ss != CUTOUT_SHIM_OK) {
            st = node_shim_failed(ss, err);
            break;
        }
        progress.chunk_end = first + count;
        ss = cutout_shim_finish_items(t.image, t.mask, first, count, steps->finish,
                                      &out_mask->dl_tensor, &out_image->dl_tensor, node_item_done,
                                      &progress, err, sizeof err);
        if (ss != CUTOUT_SHIM_OK) st = node_items_failed(ss, err, &progress);
    }
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
