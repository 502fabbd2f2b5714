/*
 * node_composite.c - CutoutCompositeBackground: a cutout (RGBA, or RGB plus
 * a MASK) over a solid colour, a vertical two-colour gradient or a
 * background image (resized to cover, centred), giving RGB B x H x W x 3
 * float32 on the image's device. A mask or background batch of 1 applies
 * to every item. Progress after each item, abort polled before each item;
 * on any failure no output is left behind. The pixel work is
 * cutout_shim_composite_item.
 */
#include <ctype.h>
#include <string.h>

#include "error.h"
#include "nodes.h"
#include "tensor_check.h"

const node_needs node_composite_needs[] = {
    {"image", SPEC_IMAGE},
    {"mask", SPEC_MASK},
    {"background", SPEC_COMBO},
    {"color", SPEC_STRING},
    {"color_bottom", SPEC_STRING},
    {"mask_convention", SPEC_COMBO},
    {"background_image", SPEC_IMAGE},
    {NULL, SPEC_IMAGE},
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

/* A batch of 1 or `batch` items. */
static cutout_status check_batch(const char *name, int64_t got, int64_t batch)
{
    if (got == 1 || got == batch) return CUTOUT_OK;
    return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                            "%s: batch of %lld does not match the image batch of %lld (expected "
                            "1 or %lld)",
                            name, (long long)got, (long long)batch, (long long)batch);
}

cutout_status node_composite_run(cutout_context *ctx, const bound_inputs *in,
                                 const cutout_run_params *run, DLManagedTensor **outputs)
{
    const DLTensor *image = inputs_get(in, "image")->tensor;
    const bound_value *mask_value = inputs_get(in, "mask");
    const DLTensor *mask = mask_value->present ? mask_value->tensor : NULL;
    const bound_value *bg_value = inputs_get(in, "background_image");
    const DLTensor *bg_image = bg_value->present ? bg_value->tensor : NULL;
    const char *kind = inputs_get(in, "background")->s;
    const char *convention = inputs_get(in, "mask_convention")->s;

    /* 1. Everything about the inputs, before any work. */
    cutout_shim_background bg;
    memset(&bg, 0, sizeof bg);
    bg.struct_size = sizeof bg;
    if (kind == NULL || strcmp(kind, "color") == 0)
        bg.kind = CUTOUT_SHIM_BACKGROUND_COLOR;
    else if (strcmp(kind, "gradient") == 0)
        bg.kind = CUTOUT_SHIM_BACKGROUND_GRADIENT;
    else if (strcmp(kind, "image") == 0)
        bg.kind = CUTOUT_SHIM_BACKGROUND_IMAGE;
    else
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "background: expected \"color\", \"gradient\" or \"image\", got "
                                "\"%s\"",
                                kind);
    bool transparent_is_one = false;
    if (convention != NULL && strcmp(convention, "LoadImage") == 0)
        transparent_is_one = true;
    else if (convention != NULL && strcmp(convention, "foreground = 1") != 0)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "mask_convention: expected \"foreground = 1\" or \"LoadImage\", "
                                "got \"%s\"",
                                convention);
    cutout_status st = CUTOUT_OK;
    if (bg.kind != CUTOUT_SHIM_BACKGROUND_IMAGE) {
        const char *top = inputs_get(in, "color")->s;
        if ((st = parse_color("color", top ? top : "#FFFFFF", bg.color_top)) != CUTOUT_OK)
            return st;
        const char *bottom = inputs_get(in, "color_bottom")->s;
        if ((st = parse_color("color_bottom", bottom ? bottom : "#000000", bg.color_bottom)) !=
            CUTOUT_OK)
            return st;
    } else if (bg_image == NULL) {
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "background_image: missing (expected an IMAGE when background is "
                                "\"image\")");
    }
    image_shape is, bs = {0, 0, 0, 0};
    mask_shape ms = {0, 0, 0};
    if ((st = tensor_check_image("image", image, &is)) != CUTOUT_OK) return st;
    if (mask && (st = tensor_check_mask("mask", mask, &ms)) != CUTOUT_OK) return st;
    if (mask && (st = check_batch("mask", ms.batch, is.batch)) != CUTOUT_OK) return st;
    if (!mask && is.channels != 4)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "mask: missing (expected an RGBA image or a MASK, got an image "
                                "with %lld channels and no mask)",
                                (long long)is.channels);
    const bool use_bg_image = bg.kind == CUTOUT_SHIM_BACKGROUND_IMAGE;
    if (use_bg_image) {
        if ((st = tensor_check_image("background_image", bg_image, &bs)) != CUTOUT_OK) return st;
        if ((st = check_batch("background_image", bs.batch, is.batch)) != CUTOUT_OK) return st;
    }
    if ((st = node_check_devices(ctx, image, mask)) != CUTOUT_OK) return st;
    if (use_bg_image && (st = node_check_devices(ctx, bg_image, NULL)) != CUTOUT_OK) return st;
    int64_t pixels;
    if (!tensor_mul_ok(is.height, is.width, &pixels) || !tensor_mul_ok(pixels, is.batch, &pixels))
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "image: too many pixels");
    if (image->device.device_type == kDLCPU &&
        (st = node_check_host_memory(&is, pixels)) != CUTOUT_OK)
        return st;
    if ((st = node_check_finite("image", image, is.batch)) != CUTOUT_OK) return st;
    if (mask && (st = node_check_finite("mask", mask, ms.batch)) != CUTOUT_OK) return st;
    if (use_bg_image && (st = node_check_finite("background_image", bg_image, bs.batch)) != CUTOUT_OK)
        return st;

    /* 2. The output, then one item at a time. */
    char err[1024] = "";
    DLManagedTensor *out = NULL;
    const int64_t dims[4] = {is.batch, is.height, is.width, 3};
    cutout_shim_status ss = cutout_shim_alloc_float32(image->device, 4, dims, &out, err, sizeof err);
    if (ss != CUTOUT_SHIM_OK) return node_shim_failed(ss, err);
    for (int64_t item = 0; st == CUTOUT_OK && item < is.batch; item++) {
        if ((st = node_check_abort(run, item, is.batch)) != CUTOUT_OK) break;
        ss = cutout_shim_composite_item(image, mask, item, ms.batch == 1 ? 0 : item,
                                        transparent_is_one, &bg, use_bg_image ? bg_image : NULL,
                                        bs.batch == 1 ? 0 : item, &out->dl_tensor, err,
                                        sizeof err);
        if (ss != CUTOUT_SHIM_OK) {
            st = node_shim_failed(ss, err);
            break;
        }
        if (run->progress) run->progress(item + 1, is.batch, run->progress_user);
    }
    if (st != CUTOUT_OK) {
        out->deleter(out);
        return st;
    }
    outputs[0] = out;
    return CUTOUT_OK;
}
