/*
 * node_remove_background_advanced.c - CutoutRemoveBackgroundAdvanced: the
 * basic node's flow (node_matte_batch: validate everything, predict each
 * chunk of batch_size items in one forward pass, finish every item, report
 * progress after each item, poll abort before each item and inside the
 * shim) with the edge options: processing size and fit, matte refinement, foreground colour,
 * output layout, MASK polarity and cropping to the subject. The pixel work
 * is the shim's (cutout_shim_predict_alpha_ex, cutout_shim_finish_item,
 * cutout_shim_subject_box, cutout_shim_crop); this file orchestrates.
 *
 * Outputs: IMAGE (C = 4, or 3 for "RGB + MASK"), MASK, and BOX, an int64
 * B x 4 CPU tensor [x, y, w, h] of the output window inside the input.
 * On any failure no output is left behind.
 */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "models.h"
#include "nodes.h"
#include "tensor_check.h"

const node_needs node_remove_background_advanced_needs[] = {
    {"image", SPEC_IMAGE},
    {"mask", SPEC_MASK},
    {"batch_size", SPEC_INT},
    {"model", SPEC_COMBO},
    {"precision", SPEC_COMBO},
    {"quality", SPEC_COMBO},
    {"process_resolution", SPEC_INT},
    {"fit", SPEC_COMBO},
    {"threshold", SPEC_FLOAT},
    {"mask_blur", SPEC_INT},
    {"mask_grow", SPEC_INT},
    {"invert_mask", SPEC_BOOLEAN},
    {"foreground", SPEC_COMBO},
    {"edge_refinement", SPEC_COMBO},
    {"output", SPEC_COMBO},
    {"mask_convention", SPEC_COMBO},
    {"crop_to_subject", SPEC_BOOLEAN},
    {"crop_padding", SPEC_INT},
    {NULL, SPEC_IMAGE},
};

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

static const char *const fit_options[] = {"auto", "balanced", "letterbox", "stretch"};
static const char *const foreground_options[] = {"original", "estimate"};
static const char *const refinement_options[] = {"none", "guided"};
static const char *const output_options[] = {"RGBA", "RGB + MASK", "premultiplied RGBA"};
static const char *const convention_options[] = {"foreground = 1", "LoadImage"};

typedef struct advanced_options {
    cutout_shim_predict_params predict;
    cutout_shim_finish_params finish;
    bool crop;
    int64_t crop_padding;
} advanced_options;

/* Reads and checks every option (beyond what the spec's ranges say, since
 * a host may ship its own nodes.json). Errors: INVALID_INPUT. */
static cutout_status read_options(const bound_inputs *in, advanced_options *o)
{
    memset(o, 0, sizeof *o);
    o->predict.struct_size = sizeof o->predict;
    o->finish.struct_size = sizeof o->finish;
    int choice;
    cutout_status st;

    const int64_t res = inputs_get(in, "process_resolution")->i;
    if (res != 0 && (res < 32 || res > 2048 || res % 32 != 0))
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "process_resolution: expected 0 (the model's native size) or "
                                "32..2048 in steps of 32, got %lld",
                                (long long)res);
    o->predict.process_height = o->predict.process_width = res;
    if ((st = node_combo_choice(in, "fit", fit_options, 4, &choice)) != CUTOUT_OK) return st;
    o->predict.fit = choice == 1   ? CUTOUT_SHIM_FIT_BALANCED
                     : choice == 2 ? CUTOUT_SHIM_FIT_LETTERBOX
                     : choice == 3 ? CUTOUT_SHIM_FIT_STRETCH
                                   : CUTOUT_SHIM_FIT_AUTO;

    const double threshold = inputs_get(in, "threshold")->f;
    if (!(threshold >= 0.0 && threshold <= 1.0))
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "threshold: expected 0..1 (0 = soft matte), got %g", threshold);
    o->finish.threshold = (float)threshold;
    const int64_t blur = inputs_get(in, "mask_blur")->i;
    if (blur < 0 || blur > 64)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "mask_blur: expected 0..64 px, got %lld", (long long)blur);
    o->finish.blur = (float)blur;
    const int64_t grow = inputs_get(in, "mask_grow")->i;
    if (grow < -64 || grow > 64)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "mask_grow: expected -64..64 px, got %lld", (long long)grow);
    o->finish.grow = (int32_t)grow;
    o->finish.invert = inputs_get(in, "invert_mask")->b;

    if ((st = node_combo_choice(in, "foreground", foreground_options, 2, &choice)) != CUTOUT_OK)
        return st;
    o->finish.foreground =
        choice == 1 ? CUTOUT_SHIM_FOREGROUND_ESTIMATE : CUTOUT_SHIM_FOREGROUND_ORIGINAL;
    if ((st = node_combo_choice(in, "edge_refinement", refinement_options, 2, &choice)) != CUTOUT_OK)
        return st;
    o->finish.edge_refinement = choice == 1 ? CUTOUT_SHIM_REFINE_GUIDED : CUTOUT_SHIM_REFINE_NONE;
    if ((st = node_combo_choice(in, "output", output_options, 3, &choice)) != CUTOUT_OK) return st;
    o->finish.output = choice == 1   ? CUTOUT_SHIM_OUTPUT_RGB
                       : choice == 2 ? CUTOUT_SHIM_OUTPUT_PREMULTIPLIED
                                     : CUTOUT_SHIM_OUTPUT_RGBA;
    if ((st = node_combo_choice(in, "mask_convention", convention_options, 2, &choice)) != CUTOUT_OK)
        return st;
    o->finish.mask_transparent_is_one = choice == 1;

    o->crop = inputs_get(in, "crop_to_subject")->b;
    o->crop_padding = inputs_get(in, "crop_padding")->i;
    if (o->crop_padding < 0)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "crop_padding: expected >= 0 px, got %lld",
                                (long long)o->crop_padding);
    return CUTOUT_OK;
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

    /* 1-3. Checks, outputs and the batch loop, as the basic node, with this
     *      node's processing size, matte steps and output layout. */
    const matte_steps steps = {&opt.predict, &opt.finish,
                               opt.finish.output == CUTOUT_SHIM_OUTPUT_RGB ? 3 : 4};
    image_shape is;
    DLManagedTensor *out_image = NULL, *out_mask = NULL, *out_box = NULL;
    st = node_matte_batch(ctx, in, run, &steps, &is, &out_image, &out_mask);
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
