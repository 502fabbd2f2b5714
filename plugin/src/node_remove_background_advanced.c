/*
 * node_remove_background_advanced.c - CutoutRemoveBackgroundAdvanced: the
 * batch loop (matte_batch.c) with the edge options: processing size and
 * fit, matte refinement, foreground colour, output layout, MASK polarity
 * and cropping to the subject. The pixel work is the shim's; this file
 * reads the options and orchestrates.
 *
 * Outputs: IMAGE (C = 4, or 3 for "RGB + MASK"), MASK, and BOX, an int64
 * B x 4 CPU tensor [x, y, w, h] of the output window inside the input.
 * On any failure no output is left behind.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "matte_batch.h"

/* ---- The BOX output: int64 B x 4 on the CPU, owned by the caller. ---- */

typedef struct box_tensor {
    DLManagedTensor managed;
    int64_t shape[2];
    int64_t data[]; /* batch x 4 */
} box_tensor;

static void box_tensor_delete(DLManagedTensor *self)
{
    free(self); /* `managed` is the first member of the allocation */
}

/* A B x 4 tensor holding `box` in every row. Errors: OUT_OF_MEMORY. */
static cutout_status box_tensor_new(int64_t batch, const int64_t box[4], DLManagedTensor **out)
{
    *out = NULL;
    int64_t elems, bytes;
    if (!tensor_mul_ok(batch, 4, &elems) || !tensor_mul_ok(elems, 8, &bytes) ||
        bytes > INT64_MAX - (int64_t)sizeof(box_tensor))
        return cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "BOX: a batch of %lld is too large",
                                (long long)batch);
    box_tensor *t = calloc(1, sizeof *t + (size_t)bytes);
    if (!t)
        return cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "BOX: out of memory for %lld items",
                                (long long)batch);
    for (int64_t b = 0; b < batch; b++) memcpy(&t->data[b * 4], box, 4 * sizeof box[0]);
    t->shape[0] = batch;
    t->shape[1] = 4;
    t->managed.dl_tensor.data = t->data;
    t->managed.dl_tensor.device = (DLDevice){kDLCPU, 0};
    t->managed.dl_tensor.ndim = 2;
    t->managed.dl_tensor.dtype = (DLDataType){kDLInt, 64, 1};
    t->managed.dl_tensor.shape = t->shape;
    t->managed.dl_tensor.strides = NULL;
    t->managed.dl_tensor.byte_offset = 0;
    t->managed.manager_ctx = NULL;
    t->managed.deleter = box_tensor_delete;
    *out = &t->managed;
    return CUTOUT_OK;
}

/* ---- Options ---- */

static const node_choice fit_choices[] = {{"auto", CUTOUT_SHIM_FIT_AUTO},
                                          {"balanced", CUTOUT_SHIM_FIT_BALANCED},
                                          {"letterbox", CUTOUT_SHIM_FIT_LETTERBOX},
                                          {"stretch", CUTOUT_SHIM_FIT_STRETCH},
                                          {NULL, 0}};
static const node_choice foreground_choices[] = {{"original", CUTOUT_SHIM_FOREGROUND_ORIGINAL},
                                                 {"estimate", CUTOUT_SHIM_FOREGROUND_ESTIMATE},
                                                 {NULL, 0}};
static const node_choice refinement_choices[] = {{"none", CUTOUT_SHIM_REFINE_NONE},
                                                 {"guided", CUTOUT_SHIM_REFINE_GUIDED},
                                                 {"matting", CUTOUT_SHIM_REFINE_MATTING},
                                                 {NULL, 0}};
static const node_choice mask_mode_choices[] = {{"restrict", CUTOUT_SHIM_MASK_RESTRICT},
                                                {"hint", CUTOUT_SHIM_MASK_HINT},
                                                {"trimap", CUTOUT_SHIM_MASK_TRIMAP},
                                                {NULL, 0}};
static const node_choice output_choices[] = {{"RGBA", CUTOUT_SHIM_OUTPUT_RGBA},
                                             {"RGB + MASK", CUTOUT_SHIM_OUTPUT_RGB},
                                             {"premultiplied RGBA", CUTOUT_SHIM_OUTPUT_PREMULTIPLIED},
                                             {NULL, 0}};

const node_input node_remove_background_advanced_inputs[] = {
    MATTE_BATCH_INPUTS,
    NODE_SIZE("process_resolution", CUTOUT_SHIM_PROCESS_SIZE_MIN, CUTOUT_SHIM_PROCESS_SIZE_MAX),
    NODE_COMBO("fit", fit_choices),
    NODE_FLOAT("threshold", 0.0, 1.0),
    NODE_INT("mask_blur", 0, CUTOUT_SHIM_BLUR_MAX, 1),
    NODE_INT("mask_grow", -CUTOUT_SHIM_GROW_MAX, CUTOUT_SHIM_GROW_MAX, 1),
    NODE_BOOLEAN("invert_mask"),
    NODE_COMBO("foreground", foreground_choices),
    NODE_COMBO("edge_refinement", refinement_choices),
    NODE_COMBO("mask_mode", mask_mode_choices),
    NODE_INT("mask_band", 1, CUTOUT_SHIM_BAND_MAX, 1),
    NODE_INT("despeckle", 0, CUTOUT_SHIM_DESPECKLE_MAX, 1),
    NODE_COMBO("output", output_choices),
    NODE_COMBO("mask_convention", node_mask_convention_choices),
    NODE_BOOLEAN("crop_to_subject"),
    NODE_INT("crop_padding", 0, INT64_MAX, 1),
    NODE_FLOAT("temporal", 0.0, CUTOUT_SHIM_TEMPORAL_MAX),
    NODE_FLOAT("skip_similar", 0.0, CUTOUT_SHIM_SKIP_MAX),
    NODE_END,
};

typedef struct advanced_options {
    cutout_shim_predict_params predict;
    cutout_shim_finish_params finish;
    cutout_shim_temporal_params temporal;
    bool crop;
    int64_t crop_padding;
} advanced_options;

/* Reads every option; their values were checked against the spec when the
 * inputs were bound, and the spec against this file when the context was
 * created. Errors: INTERNAL (an option with no implementation). */
static cutout_status read_options(const bound_inputs *in, advanced_options *o)
{
    memset(o, 0, sizeof *o);
    o->predict.struct_size = sizeof o->predict;
    o->finish.struct_size = sizeof o->finish;
    o->predict.process_height = o->predict.process_width =
        inputs_get(in, "process_resolution")->i;
    o->finish.threshold = (float)inputs_get(in, "threshold")->f;
    o->finish.blur = (float)inputs_get(in, "mask_blur")->i;
    o->finish.grow = (int32_t)inputs_get(in, "mask_grow")->i;
    o->finish.invert = inputs_get(in, "invert_mask")->b;
    o->finish.mask_band = (int32_t)inputs_get(in, "mask_band")->i;
    o->finish.despeckle = inputs_get(in, "despeckle")->i;
    o->crop = inputs_get(in, "crop_to_subject")->b;
    o->crop_padding = inputs_get(in, "crop_padding")->i;
    o->temporal.struct_size = sizeof o->temporal;
    o->temporal.strength = (float)inputs_get(in, "temporal")->f;
    o->temporal.skip_below = (float)inputs_get(in, "skip_similar")->f;
    o->temporal.threshold = o->finish.threshold;
    int32_t convention = 0;
    cutout_status st = node_choice_of(in, "fit", fit_choices, &o->predict.fit);
    if (st == CUTOUT_OK)
        st = node_choice_of(in, "foreground", foreground_choices, &o->finish.foreground);
    if (st == CUTOUT_OK)
        st = node_choice_of(in, "edge_refinement", refinement_choices, &o->finish.edge_refinement);
    if (st == CUTOUT_OK)
        st = node_choice_of(in, "mask_mode", mask_mode_choices, &o->finish.mask_mode);
    if (st == CUTOUT_OK) st = node_choice_of(in, "output", output_choices, &o->finish.output);
    if (st == CUTOUT_OK)
        st = node_choice_of(in, "mask_convention", node_mask_convention_choices, &convention);
    o->finish.mask_transparent_is_one = convention == 1;
    return st;
}

/* The crop window: the subject's box grown by `pad` and clipped to the
 * image; the whole image when there is no subject. */
static void crop_window(const int64_t subject[4], int64_t pad, int64_t height, int64_t width,
                        int64_t box[4])
{
    if (subject[2] <= 0 || subject[3] <= 0) {
        box[0] = box[1] = 0;
        box[2] = width;
        box[3] = height;
        return;
    }
    if (pad > width + height) pad = width + height; /* no overflow below */
    int64_t x0 = subject[0] - pad, y0 = subject[1] - pad;
    int64_t x1 = subject[0] + subject[2] + pad, y1 = subject[1] + subject[3] + pad;
    x0 = x0 < 0 ? 0 : x0;
    y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > width ? width : x1;
    y1 = y1 > height ? height : y1;
    box[0] = x0;
    box[1] = y0;
    box[2] = x1 - x0;
    box[3] = y1 - y0;
}

/* Replaces *t by its crop to `box`. Errors: the shim's. */
static cutout_status crop_in_place(DLManagedTensor **t, const int64_t box[4])
{
    char err[1024] = "";
    DLManagedTensor *cropped = NULL;
    cutout_shim_status ss =
        cutout_shim_crop(&(*t)->dl_tensor, box[0], box[1], box[2], box[3], &cropped, err, sizeof err);
    if (ss != CUTOUT_SHIM_OK) return node_shim_failed(ss, err);
    node_release(t);
    *t = cropped;
    return CUTOUT_OK;
}

cutout_status node_remove_background_advanced_run(cutout_context *ctx, const bound_inputs *in,
                                                  const cutout_run_params *run,
                                                  DLManagedTensor **outputs)
{
    advanced_options opt;
    cutout_status st = read_options(in, &opt);
    if (st != CUTOUT_OK) return st;
    /* Cancel reaches the matting solver between its iterations. */
    opt.finish.abort = run ? run->should_abort : NULL;
    opt.finish.abort_user = run ? run->abort_user : NULL;

    /* 1-3. Checks, outputs and the batch loop, as the basic node, with this
     *      node's processing size, matte steps and output layout. */
    const bool frames = opt.temporal.strength > 0.0f || opt.temporal.skip_below > 0.0f;
    const matte_steps steps = {opt.predict, &opt.finish,
                               opt.finish.output == CUTOUT_SHIM_OUTPUT_RGB ? 3 : 4,
                               frames ? &opt.temporal : NULL};
    image_shape is;
    DLManagedTensor *out_image = NULL, *out_mask = NULL, *out_box = NULL;
    st = matte_batch_run(ctx, in, run, &steps, &is, &out_image, &out_mask);
    if (st != CUTOUT_OK) return st;

    /* 4. The box, and the crop to it. */
    char err[1024] = "";
    int64_t box[4] = {0, 0, is.width, is.height};
    if (opt.crop) {
        int64_t subject[4];
        cutout_shim_status ss = cutout_shim_subject_box(
            &out_mask->dl_tensor, opt.finish.mask_transparent_is_one, subject, err, sizeof err);
        if (ss != CUTOUT_SHIM_OK) st = node_shim_failed(ss, err);
        if (st == CUTOUT_OK) crop_window(subject, opt.crop_padding, is.height, is.width, box);
        bool whole = box[0] == 0 && box[1] == 0 && box[2] == is.width && box[3] == is.height;
        if (st == CUTOUT_OK && !whole) st = crop_in_place(&out_image, box);
        if (st == CUTOUT_OK && !whole) st = crop_in_place(&out_mask, box);
    }
    if (st == CUTOUT_OK) st = box_tensor_new(is.batch, box, &out_box);
    if (st != CUTOUT_OK) {
        node_release(&out_image);
        node_release(&out_mask);
        node_release(&out_box);
        return st;
    }
    outputs[0] = out_image;
    outputs[1] = out_mask;
    outputs[2] = out_box;
    return CUTOUT_OK;
}
