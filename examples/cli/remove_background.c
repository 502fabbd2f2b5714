/*
 * remove_background.c - see remove_background.h.
 */
#include "remove_background.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "size_math.h"

static cutout_status fail(cutout_status status, char *err, size_t err_cap, const char *fmt,
                          ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
    return status;
}

void remove_background_result_free(remove_background_result *r)
{
    free(r->rgba);
    free(r->mask);
    r->rgba = NULL;
    r->mask = NULL;
}

/* Checks that an output is a CPU float32 tensor of the expected shape. */
static bool output_is(const DLTensor *t, int32_t ndim, const int64_t *shape)
{
    if (t->data == NULL || t->ndim != ndim || t->device.device_type != kDLCPU ||
        t->dtype.code != kDLFloat || t->dtype.bits != 32 || t->dtype.lanes != 1)
        return false;
    for (int32_t d = 0; d < ndim; d++)
        if (t->shape[d] != shape[d])
            return false;
    return true;
}

/* Element strides of t (explicit ones, or row-major when NULL). */
static void strides_of(const DLTensor *t, int64_t *strides)
{
    int64_t step = 1;
    for (int32_t d = t->ndim - 1; d >= 0; d--) {
        strides[d] = t->strides != NULL ? t->strides[d] : step;
        step *= t->shape[d];
    }
}

/* Copies batch item `b` of a float tensor [B, H, W(, C)] to 8-bit. */
static void item_to_u8(const DLTensor *t, int64_t b, uint8_t *dst)
{
    int64_t s[4] = {0, 0, 0, 0};
    strides_of(t, s);
    int64_t h = t->shape[1], w = t->shape[2], c = t->ndim == 4 ? t->shape[3] : 1;
    const float *base = (const float *)((const char *)t->data + t->byte_offset);
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            for (int64_t k = 0; k < c; k++)
                *dst++ = image_unit_to_u8(base[b * s[0] + y * s[1] + x * s[2] + k * s[3]]);
}

/* A compact CPU float32 tensor over `data`. */
static DLTensor cpu_tensor(float *data, int32_t ndim, int64_t *shape)
{
    DLTensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.device.device_type = kDLCPU;
    t.ndim = ndim;
    t.dtype.code = kDLFloat;
    t.dtype.bits = 32;
    t.dtype.lanes = 1;
    t.shape = shape;
    t.strides = NULL; /* compact row-major */
    return t;
}

#define MAX_INPUTS (CLI_MAX_SETTINGS + 4)

typedef struct input_set {
    cutout_input items[MAX_INPUTS];
    size_t n;
} input_set;

static cutout_input *add_input(input_set *s, const char *name, cutout_value_kind kind)
{
    cutout_input *in = &s->items[s->n++];
    memset(in, 0, sizeof *in);
    in->name = name;
    in->kind = kind;
    return in;
}

static void add_string(input_set *s, const char *name, const char *v)
{
    add_input(s, name, CUTOUT_VALUE_STRING)->s = v;
}

/* The library's message for a failed call. */
static cutout_status library_failed(cutout_status status, char *err, size_t err_cap)
{
    const char *msg = cutout_last_error();
    return fail(status, err, err_cap, "%s", msg[0] != '\0' ? msg : cutout_status_string(status));
}

static void release_all(DLManagedTensor **outs, int n)
{
    for (int k = 0; k < n; k++)
        if (outs[k] != NULL && outs[k]->deleter != NULL) {
            outs[k]->deleter(outs[k]);
            outs[k] = NULL;
        }
}

/* Puts the RGBA cutouts `rgba` over the background of `o` (colour or
 * image); *out receives the RGB composite. */
static cutout_status composite(cutout_context *ctx, const cli_options *o,
                               const image_f32 *background, DLTensor *rgba,
                               const cutout_run_params *run, DLManagedTensor **out, char *err,
                               size_t err_cap)
{
    input_set in;
    in.n = 0;
    add_input(&in, "image", CUTOUT_VALUE_TENSOR)->tensor = rgba;
    int64_t bg_shape[4] = {1, 0, 0, 0};
    DLTensor bg;
    if (background != NULL) {
        bg_shape[1] = background->height;
        bg_shape[2] = background->width;
        bg_shape[3] = background->channels;
        bg = cpu_tensor(background->pixels, 4, bg_shape);
        add_string(&in, "background", "image");
        add_input(&in, "background_image", CUTOUT_VALUE_TENSOR)->tensor = &bg;
    } else {
        add_string(&in, "background", "color");
        add_string(&in, "color", o->bg_color);
    }
    cutout_status status =
        cutout_node_run(ctx, "CutoutCompositeBackground", in.items, in.n, run, out, 1);
    return status == CUTOUT_OK ? status : library_failed(status, err, err_cap);
}

/* Packs `count` images of one size into a count x H x W x C tensor over
 * *packed (NULL for a single image, used in place). */
static cutout_status pack_batch(const image_f32 *const *images, int64_t count, int64_t *shape,
                                DLTensor *image, float **packed, char *err, size_t err_cap)
{
    const image_f32 *first = images[0];
    int64_t h = first->height, w = first->width, c = first->channels;
    size_t image_bytes, batch_bytes;
    *packed = NULL;
    if (!size_mul4(h, w, c, sizeof(float), &image_bytes) ||
        !size_mul(image_bytes, (size_t)count, &batch_bytes))
        return fail(CUTOUT_ERR_OUT_OF_MEMORY, err, err_cap,
                    "image: %lld images of %lld x %lld do not fit in memory",
                    (long long)count, (long long)h, (long long)w);
    float *data = first->pixels;
    if (count > 1) {
        *packed = malloc(batch_bytes);
        if (*packed == NULL)
            return fail(CUTOUT_ERR_OUT_OF_MEMORY, err, err_cap,
                        "out of memory packing %lld images of %lld x %lld", (long long)count,
                        (long long)h, (long long)w);
        for (int64_t i = 0; i < count; i++)
            memcpy((char *)*packed + (size_t)i * image_bytes, images[i]->pixels, image_bytes);
        data = *packed;
    }
    shape[0] = count;
    shape[1] = h;
    shape[2] = w;
    shape[3] = c;
    *image = cpu_tensor(data, 4, shape);
    return CUTOUT_OK;
}

/* The node's inputs: the image and the node inputs the command line set
 * (the library fills in the defaults of the rest). */
static void bind_inputs(const cli_options *o, DLTensor *image, input_set *in)
{
    in->n = 0;
    add_input(in, "image", CUTOUT_VALUE_TENSOR)->tensor = image;
    for (int k = 0; k < o->num_settings && in->n < MAX_INPUTS; k++) {
        const cli_setting *s = &o->settings[k];
        cutout_input *v = add_input(in, s->input, s->kind);
        v->i = s->i;
        v->f = s->f;
        v->b = s->b;
        v->s = s->s;
    }
}

/* Checks the node's IMAGE and MASK against the input's count x h x w
 * (smaller only when cropped) and returns their height and width. */
static cutout_status check_outputs(DLManagedTensor *const *outs, int64_t count, int64_t h,
                                   int64_t w, bool cropped, int64_t *oh, int64_t *ow, char *err,
                                   size_t err_cap)
{
    const DLTensor *t = &outs[0]->dl_tensor;
    *oh = t->ndim == 4 ? t->shape[1] : 0;
    *ow = t->ndim == 4 ? t->shape[2] : 0;
    int64_t rgba_shape[4] = {count, *oh, *ow, 4};
    if (*oh < 1 || *ow < 1 || *oh > h || *ow > w || (!cropped && (*oh != h || *ow != w)) ||
        outs[1] == NULL || !output_is(t, 4, rgba_shape) ||
        !output_is(&outs[1]->dl_tensor, 3, rgba_shape))
        return fail(CUTOUT_ERR_INTERNAL, err, err_cap,
                    "unexpected node outputs (expected CPU float32 IMAGE %lld x %lld x "
                    "%lld x 4 and MASK %lld x %lld x %lld, at most that size when "
                    "cropped)",
                    (long long)count, (long long)h, (long long)w, (long long)count,
                    (long long)h, (long long)w);
    return CUTOUT_OK;
}

/* Converts the float pixels (channels 3 or 4; NULL without want_rgba) and
 * the mask of every item to the 8-bit results. */
static cutout_status to_results(const DLTensor *pixels, const DLTensor *mask, int64_t count,
                                int64_t oh, int64_t ow, int channels, bool want_rgba,
                                remove_background_result *results, char *err, size_t err_cap)
{
    size_t rgba_bytes = 0, mask_bytes = 0;
    if (!size_mul4(oh, ow, channels, 1, &rgba_bytes) || !size_mul4(oh, ow, 1, 1, &mask_bytes))
        return fail(CUTOUT_ERR_OUT_OF_MEMORY, err, err_cap, "result too large");
    for (int64_t i = 0; i < count; i++) {
        results[i].width = ow;
        results[i].height = oh;
        results[i].channels = channels;
        results[i].rgba = want_rgba ? malloc(rgba_bytes) : NULL;
        results[i].mask = malloc(mask_bytes);
        if ((want_rgba && results[i].rgba == NULL) || results[i].mask == NULL)
            return fail(CUTOUT_ERR_OUT_OF_MEMORY, err, err_cap,
                        "out of memory converting the result");
        if (want_rgba)
            item_to_u8(pixels, i, results[i].rgba);
        item_to_u8(mask, i, results[i].mask);
    }
    return CUTOUT_OK;
}

cutout_status remove_background_run(cutout_context *ctx, const cli_options *o,
                                    const image_f32 *background, const image_f32 *const *images,
                                    int64_t count, const cutout_run_params *run,
                                    bool want_rgba, remove_background_result *results,
                                    char *err, size_t err_cap)
{
    for (int64_t i = 0; i < count; i++)
        memset(&results[i], 0, sizeof results[i]);
    int64_t shape[4];
    DLTensor image;
    float *packed = NULL;
    cutout_status status = pack_batch(images, count, shape, &image, &packed, err, err_cap);
    if (status != CUTOUT_OK)
        return status;

    const bool advanced = options_want_advanced(o);
    input_set in;
    bind_inputs(o, &image, &in);
    DLManagedTensor *outs[4] = {NULL, NULL, NULL, NULL}; /* IMAGE, MASK, BOX, composite */
    status = cutout_node_run(ctx, advanced ? "CutoutRemoveBackgroundAdvanced" : "CutoutRemoveBackground",
                             in.items, in.n, run, outs, advanced ? 3 : 2);
    free(packed);
    int64_t oh = 0, ow = 0;
    if (status != CUTOUT_OK)
        library_failed(status, err, err_cap);
    else
        status = check_outputs(outs, count, shape[1], shape[2], options_bool(o, "crop_to_subject"), &oh, &ow, err, err_cap);

    const bool over_background = o->bg_color != NULL || background != NULL;
    const DLTensor *pixels = status == CUTOUT_OK ? &outs[0]->dl_tensor : NULL;
    if (status == CUTOUT_OK && want_rgba && over_background) {
        status = composite(ctx, o, background, &outs[0]->dl_tensor, run, &outs[3], err, err_cap);
        int64_t rgb_shape[4] = {count, oh, ow, 3};
        if (status == CUTOUT_OK && !output_is(&outs[3]->dl_tensor, 4, rgb_shape))
            status = fail(CUTOUT_ERR_INTERNAL, err, err_cap,
                          "unexpected composite output (expected CPU float32 %lld x %lld x "
                          "%lld x 3)",
                          (long long)count, (long long)oh, (long long)ow);
        if (status == CUTOUT_OK) pixels = &outs[3]->dl_tensor;
    }
    if (status == CUTOUT_OK)
        status = to_results(pixels, &outs[1]->dl_tensor, count, oh, ow, over_background ? 3 : 4,
                            want_rgba, results, err, err_cap);
    if (status != CUTOUT_OK)
        for (int64_t i = 0; i < count; i++)
            remove_background_result_free(&results[i]);
    release_all(outs, 4);
    return status;
}
