/*
 * node_remove_background.c - CutoutRemoveBackground: the batch loop
 * (matte_batch.c) at the model's native size and own fit, giving RGBA with
 * the input's RGB and the MASK.
 */
#include "matte_batch.h"

const node_input node_remove_background_inputs[] = {
    MATTE_BATCH_INPUTS,
    NODE_END,
};

cutout_status node_remove_background_run(cutout_context *ctx, const bound_inputs *in,
                                         const cutout_run_params *run, DLManagedTensor **outputs)
{
    const matte_steps basic = {
        {sizeof(cutout_shim_predict_params), 0, 0, CUTOUT_SHIM_FIT_AUTO, CUTOUT_SHIM_QUALITY_FAST},
        NULL,
        4,
        NULL,
    };
    image_shape shape;
    return matte_batch_run(ctx, in, run, &basic, &shape, &outputs[0], &outputs[1]);
}
