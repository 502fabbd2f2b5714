/*
 * node_composite.c - CutoutCompositeBackground: a cutout (RGBA, or RGB plus
 * a MASK) over a solid colour, a vertical two-colour gradient or a
 * background image (resized to cover, centred), giving RGB B x H x W x 3
 * float32 on the image's device. A mask or background batch of 1 applies
 * to every item. Progress after each item, abort polled before each item;
 * on any failure no output is left behind. The pixel work is
 * cutout_shim_composite.
 */
#include <ctype.h>
#include <string.h>

#include "error.h"
#include "node_inputs.h"
#include "nodes.h"

static const node_choice background_choices[] = {{"color", CUTOUT_SHIM_BACKGROUND_COLOR},
                                                 {"gradient", CUTOUT_SHIM_BACKGROUND_GRADIENT},
                                                 {"image", CUTOUT_SHIM_BACKGROUND_IMAGE},
                                                 {NULL, 0}};

const node_input node_composite_inputs[] = {
    NODE_TENSOR("image", SPEC_IMAGE),
    NODE_TENSOR("mask", SPEC_MASK),
    NODE_COMBO("background", background_choices),
    NODE_STRING("color"),
    NODE_STRING("color_bottom"),
    NODE_COMBO("mask_convention", node_mask_convention_choices),
    NODE_TENSOR("background_image", SPEC_IMAGE),
    NODE_END,
};

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Parses "#RRGGBB" (the '#' optional) into rgb 0..1.
 * Errors: INVALID_INPUT naming `name`. */
static cutout_status parse_color(const char *name, const char *text, float rgb[3])
{
    const char *s = text ? text : "";
    if (*s == '#') s++;
    bool ok = strlen(s) == 6;
    for (int i = 0; ok && i < 3; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        ok = hi >= 0 && lo >= 0;
        if (ok) rgb[i] = (float)(hi * 16 + lo) / 255.0f;
    }
    if (ok) return CUTOUT_OK;
    return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                            "%s: expected a colour \"#RRGGBB\" (6 hex digits), got \"%.64s\"", name,
                            text ? text : "");
}

cutout_status node_composite_run(cutout_context *ctx, const bound_inputs *in,
                                 const cutout_run_params *run, DLManagedTensor **outputs)
{
    /* 1. Everything about the inputs, before any work. */
    cutout_shim_background bg;
    memset(&bg, 0, sizeof bg);
    bg.struct_size = sizeof bg;
    int32_t convention = 0;
    cutout_status st = node_choice_of(in, "background", background_choices, &bg.kind);
    if (st == CUTOUT_OK)
        st = node_choice_of(in, "mask_convention", node_mask_convention_choices, &convention);
    const bool use_bg_image = bg.kind == CUTOUT_SHIM_BACKGROUND_IMAGE;
    if (st == CUTOUT_OK && !use_bg_image) {
        st = parse_color("color", inputs_get(in, "color")->s, bg.color_top);
        if (st == CUTOUT_OK)
            st = parse_color("color_bottom", inputs_get(in, "color_bottom")->s, bg.color_bottom);
    }
    node_tensors t;
    if (st == CUTOUT_OK)
        st = node_prepare_tensors(ctx, in, use_bg_image ? "background_image" : NULL,
                                  3 * (int64_t)sizeof(float), &t);
    if (st != CUTOUT_OK) return st;
    if (!t.mask && t.image_shape.channels != 4)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "mask: missing (expected an RGBA image or a MASK, got an image "
                                "with %lld channels and no mask)",
                                (long long)t.image_shape.channels);

    /* 2. The output, then every item in one shim call. */
    const image_shape is = t.image_shape;
    if ((st = node_check_abort(run, 0, is.batch)) != CUTOUT_OK) return st;
    char err[1024] = "";
    DLManagedTensor *out = NULL;
    const int64_t dims[4] = {is.batch, is.height, is.width, 3};
    cutout_shim_status ss = cutout_shim_alloc_float32(t.image->device, 4, dims, &out, err, sizeof err);
    if (ss != CUTOUT_SHIM_OK) return node_shim_failed(ss, err);
    node_progress progress = {run, is.batch, is.batch, -1};
    ss = cutout_shim_composite(t.image, t.mask, convention == 1, &bg, t.background,
                               &out->dl_tensor, node_item_done, &progress, err, sizeof err);
    if (ss != CUTOUT_SHIM_OK) {
        node_release(&out);
        return node_items_failed(ss, err, &progress);
    }
    outputs[0] = out;
    return CUTOUT_OK;
}
