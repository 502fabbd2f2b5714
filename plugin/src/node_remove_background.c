/*
 * node_remove_background.c - CutoutRemoveBackground: validate everything,
 * then for each chunk of batch_size items predict the matte in one forward
 * pass and finish every item (RGB + alpha, guide mask, input alpha),
 * reporting progress after each item and polling abort before each item
 * and between the shim's stages.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "models.h"
#include "nodes.h"
#include "tensor_check.h"

const node_needs node_remove_background_needs[] = {
    {"image", SPEC_IMAGE},
    {"mask", SPEC_MASK},
    {"batch_size", SPEC_INT},
    {"model", SPEC_COMBO},
    {"precision", SPEC_COMBO},
    {"quality", SPEC_COMBO},
    {NULL, SPEC_IMAGE},
};

/* Index i of quality_options is the shim's quality i. */
static const char *const quality_options[] = {"fast", "best"};

cutout_status node_matte_batch(cutout_context *ctx, const bound_inputs *in,
                               const cutout_run_params *run, const matte_steps *steps,
                               image_shape *shape, DLManagedTensor **image_out,
                               DLManagedTensor **mask_out)
{
    const DLTensor *image = inputs_get(in, "image")->tensor;
    const bound_value *mask_value = inputs_get(in, "mask");
    const DLTensor *mask = mask_value->present ? mask_value->tensor : NULL;
    const int64_t batch_size = inputs_get(in, "batch_size")->i;
    const char *model_name = inputs_get(in, "model")->s;
    const char *precision = inputs_get(in, "precision")->s;
    *image_out = *mask_out = NULL;

    /* 1. Everything about the inputs, before any work. A host's own
     *    nodes.json may make model or batch_size optional without a
     *    default, or allow batch_size < 1: refuse those calls here. */
    if (precision == NULL) precision = "auto";
    /* The basic node has the model's own fit at its native size; the
     * Advanced node passes its choices in steps->predict. */
    cutout_shim_predict_params predict = {sizeof predict, 0, 0, CUTOUT_SHIM_FIT_AUTO,
                                          CUTOUT_SHIM_QUALITY_FAST};
    if (steps->predict) predict = *steps->predict;
    int quality;
    cutout_status qst = node_combo_choice(in, "quality", quality_options, 2, &quality);
    if (qst != CUTOUT_OK) return qst;
    predict.quality = quality == 1 ? CUTOUT_SHIM_QUALITY_BEST : CUTOUT_SHIM_QUALITY_FAST;
    if (model_name == NULL)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "model: required input missing (expected a model name; the "
                                "node's spec gives no default)");
    if (!inputs_get(in, "batch_size")->present)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "batch_size: required input missing (expected an integer >= 1; "
                                "the node's spec gives no default)");
    if (batch_size < 1)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "batch_size: expected an integer >= 1, got %lld",
                                (long long)batch_size);
    image_shape is;
    mask_shape ms = {0, 0, 0};
    cutout_status st = tensor_check_image("image", image, &is);
    if (st == CUTOUT_OK && mask) st = tensor_check_mask("mask", mask, &ms);
    if (st != CUTOUT_OK) return st;
    if (mask && ms.batch != 1 && ms.batch != is.batch)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "mask: batch of %lld does not match the image batch of %lld "
                                "(expected 1 or %lld)",
                                (long long)ms.batch, (long long)is.batch, (long long)is.batch);
    int64_t pixels, out_elems;
    if (!tensor_mul_ok(is.height, is.width, &pixels) ||
        !tensor_mul_ok(pixels, is.batch, &out_elems) || !tensor_mul_ok(out_elems, 16, &out_elems))
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "image: batch of %lld images of %lld x %lld needs more than 2^63 "
                                "bytes of output",
                                (long long)is.batch, (long long)is.height, (long long)is.width);
    if ((st = node_check_devices(ctx, image, mask)) != CUTOUT_OK) return st;
    if (image->device.device_type == kDLCPU &&
        (st = node_check_host_memory(&is, out_elems / 16)) != CUTOUT_OK)
        return st;
    if ((st = node_check_finite("image", image, is.batch)) != CUTOUT_OK) return st;
    if (mask && (st = node_check_finite("mask", mask, ms.batch)) != CUTOUT_OK) return st;
    const loaded_model *model = NULL;
    if ((st = models_get(ctx, model_name, precision, &model)) != CUTOUT_OK) return st;

    /* 2. Outputs: IMAGE B x H x W x channels and MASK B x H x W, float32,
     *    on the image's device. The predicted alpha is written straight
     *    into MASK and finished there. */
    char err[1024] = "";
    DLManagedTensor *out_image = NULL, *out_mask = NULL;
    const int64_t image_dims[4] = {is.batch, is.height, is.width, steps->channels};
    const int64_t mask_dims[3] = {is.batch, is.height, is.width};
    cutout_shim_status ss = cutout_shim_alloc_float32(image->device, 4, image_dims, &out_image,
                                                      err, sizeof err);
    if (ss == CUTOUT_SHIM_OK)
        ss = cutout_shim_alloc_float32(image->device, 3, mask_dims, &out_mask, err, sizeof err);
    if (ss != CUTOUT_SHIM_OK) {
        node_release(&out_image);
        return node_shim_failed(ss, err);
    }

    /* 3. The batch loop: one forward pass per chunk, then each item. */
    for (int64_t first = 0; st == CUTOUT_OK && first < is.batch; first += batch_size) {
        int64_t count = is.batch - first < batch_size ? is.batch - first : batch_size;
        if ((st = node_check_abort(run, first, is.batch)) != CUTOUT_OK) break;
        ss = cutout_shim_predict_alpha_ex(model->model, image, first, count, &predict,
                                          &out_mask->dl_tensor, run->should_abort,
                                          run->abort_user, err, sizeof err);
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
        for (int64_t item = first; item < first + count; item++) {
            if (item > first && (st = node_check_abort(run, item, is.batch)) != CUTOUT_OK) break;
            const int64_t guide_item = ms.batch == 1 ? 0 : item;
            ss = steps->finish
                     ? cutout_shim_finish_item(image, mask, item, guide_item, steps->finish,
                                               &out_mask->dl_tensor, &out_image->dl_tensor, err,
                                               sizeof err)
                     : cutout_shim_compose_item(image, mask, item, guide_item,
                                                &out_mask->dl_tensor, &out_image->dl_tensor, err,
                                                sizeof err);
            if (ss != CUTOUT_SHIM_OK) {
                st = node_shim_failed(ss, err);
                break;
            }
            if (run->progress) run->progress(item + 1, is.batch, run->progress_user);
        }
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

cutout_status node_remove_background_run(cutout_context *ctx, const bound_inputs *in,
                                         const cutout_run_params *run, DLManagedTensor **outputs)
{
    const matte_steps basic = {NULL, NULL, 4};
    image_shape shape;
    return node_matte_batch(ctx, in, run, &basic, &shape, &outputs[0], &outputs[1]);
}
