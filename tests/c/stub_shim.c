/* stub_shim.c - a C implementation of cutout_shim.h for the unit tests. */
#include "stub_shim.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutout_shim.h"

#define STUB_MAGIC "cutout-stub-model"

struct cutout_shim_model {
    DLDevice device;
};

static atomic_llong live_tensors;
static atomic_llong predict_calls;
static atomic_llong models_loaded;
static atomic_llong alloc_calls;
static atomic_int num_threads;
static int64_t predict_counts[256];
static int64_t fail_predict_at;
static int64_t fail_alloc_at;
static int64_t oom_above;
static char last_precision[8];

const char *stub_last_precision(void) { return last_precision; }

int64_t stub_live_tensors(void) { return live_tensors; }
int64_t stub_predict_calls(void) { return predict_calls; }
int64_t stub_predict_count(int64_t call)
{
    return call >= 0 && call < 256 ? predict_counts[call] : -1;
}
int64_t stub_models_loaded(void) { return models_loaded; }
int32_t stub_num_threads(void) { return num_threads; }
void stub_fail_predict_at(int64_t call) { fail_predict_at = call; }
void stub_fail_alloc_at(int64_t n) { fail_alloc_at = n; }
void stub_oom_above(int64_t count) { oom_above = count; }
void stub_reset(void)
{
    predict_calls = 0;
    models_loaded = 0;
    alloc_calls = 0;
    fail_predict_at = 0;
    fail_alloc_at = 0;
    oom_above = 0;
    memset(predict_counts, 0, sizeof predict_counts);
}

static cutout_shim_status fail(cutout_shim_status st, char *err, size_t cap, const char *msg)
{
    if (err && cap) snprintf(err, cap, "%s", msg);
    return st;
}

const char *cutout_shim_torch_version(void) { return "stub"; }

cutout_shim_status cutout_shim_cuda_available(bool *available, char *err, size_t err_cap)
{
    (void)err;
    (void)err_cap;
    *available = false;
    return CUTOUT_SHIM_OK;
}

cutout_shim_status cutout_shim_set_num_threads(int32_t n, char *err, size_t err_cap)
{
    if (n < 1) return fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, err_cap, "expected >= 1");
    num_threads = n;
    return CUTOUT_SHIM_OK;
}

/* The stub "computes" in any precision; "auto" means fp32 here. */
cutout_shim_status cutout_shim_model_load(const char *path, DLDevice device,
                                          const cutout_shim_load_params *params,
                                          cutout_shim_model **out, cutout_shim_model_info *info,
                                          char *err, size_t err_cap)
{
    const char *precision = params ? params->precision : NULL;
    *out = NULL;
    const char *chosen = precision && strcmp(precision, "auto") != 0 ? precision : "fp32";
    if (strcmp(chosen, "fp32") && strcmp(chosen, "bf16") && strcmp(chosen, "fp16"))
        return fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, err_cap,
                    "precision: expected auto, fp32, bf16 or fp16");
    if (device.device_type != kDLCPU)
        return fail(CUTOUT_SHIM_ERR_DEVICE, err, err_cap, "the stub runs on cpu only");
    FILE *f = fopen(path, "rb");
    if (!f) return fail(CUTOUT_SHIM_ERR_MODEL_NOT_FOUND, err, err_cap, "cannot open the file");
    char head[64] = "";
    size_t n = fread(head, 1, strlen(STUB_MAGIC), f);
    fclose(f);
    if (n != strlen(STUB_MAGIC) || memcmp(head, STUB_MAGIC, n) != 0)
        return fail(CUTOUT_SHIM_ERR_MODEL_INVALID, err, err_cap,
                    "not a stub model (expected the first line \"" STUB_MAGIC "\")");
    cutout_shim_model *m = calloc(1, sizeof *m);
    if (!m) return fail(CUTOUT_SHIM_ERR_OUT_OF_MEMORY, err, err_cap, "out of memory");
    m->device = (DLDevice){kDLCPU, 0};
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "stub");
    snprintf(info->kind, sizeof info->kind, "alpha");
    snprintf(info->license, sizeof info->license, "MIT");
    info->input_height = info->input_width = 64;
    snprintf(info->precision, sizeof info->precision, "%s", chosen);
    if (precision && strcmp(precision, "auto") == 0)
        snprintf(info->precision_reason, sizeof info->precision_reason,
                 "auto: the stub computes in fp32 only");
    for (int c = 0; c < 3; c++) {
        info->mean[c] = 0.0f;
        info->std[c] = 1.0f;
    }
    models_loaded++;
    snprintf(last_precision, sizeof last_precision, "%s", chosen);
    *out = m;
    return CUTOUT_SHIM_OK;
}

void cutout_shim_model_free(cutout_shim_model *model) { free(model); }

typedef struct stub_tensor {
    DLManagedTensor managed;
    int64_t shape[8];
} stub_tensor;

static void stub_delete(DLManagedTensor *self)
{
    stub_tensor *t = (stub_tensor *)self;
    free(t->managed.dl_tensor.data);
    free(t);
    live_tensors--;
}

cutout_shim_status cutout_shim_alloc_float32(DLDevice device, int32_t ndim, const int64_t *shape,
                                             DLManagedTensor **out, char *err, size_t err_cap)
{
    *out = NULL;
    long long call = ++alloc_calls;
    if (fail_alloc_at && call == fail_alloc_at)
        return fail(CUTOUT_SHIM_ERR_OUT_OF_MEMORY, err, err_cap, "output: out of memory (injected)");
    if (device.device_type != kDLCPU)
        return fail(CUTOUT_SHIM_ERR_DEVICE, err, err_cap, "the stub allocates on cpu only");
    if (ndim < 1 || ndim > 8) return fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, err_cap, "ndim");
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && count > SIZE_MAX / 4 / (size_t)shape[i]))
            return fail(CUTOUT_SHIM_ERR_OUT_OF_MEMORY, err, err_cap, "output: too large");
        count *= (size_t)shape[i];
    }
    stub_tensor *t = calloc(1, sizeof *t);
    float *data = t ? malloc((count ? count : 1) * sizeof(float)) : NULL;
    if (!data) {
        free(t);
        return fail(CUTOUT_SHIM_ERR_OUT_OF_MEMORY, err, err_cap, "output: out of memory");
    }
    /* Like the real shim's, the contents are undefined: NaN everywhere, so
     * an element the plugin forgets to write shows in the tests' checks. */
    memset(data, 0xff, (count ? count : 1) * sizeof(float));
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->managed.dl_tensor = (DLTensor){
        .data = data, .device = device, .ndim = ndim, .dtype = {kDLFloat, 32, 1},
        .shape = t->shape, .strides = NULL, .byte_offset = 0};
    t->managed.deleter = stub_delete;
    live_tensors++;
    *out = &t->managed;
    return CUTOUT_SHIM_OK;
}

/* ---- element access over any strides and the supported dtypes ---- */

static int64_t stride_of(const DLTensor *t, int dim)
{
    if (t->strides) return t->strides[dim];
    int64_t s = 1;
    for (int j = dim + 1; j < t->ndim; j++) s *= t->shape[j];
    return s;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023;
    float v;
    if (exp == 0)
        v = ldexpf((float)man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 1024), (int)exp - 25);
    return sign ? -v : v;
}

/* Reads element at `index` (ndim entries) as float; uint8 is divided by 255. */
static float read_at(const DLTensor *t, const int64_t *index)
{
    int64_t offset = 0;
    for (int d = 0; d < t->ndim; d++) offset += index[d] * stride_of(t, d);
    /* Inputs may be unaligned: every load goes through memcpy. */
    const char *at = (const char *)t->data + t->byte_offset + offset * (t->dtype.bits / 8);
    if (t->dtype.code == kDLUInt) return (float)*(const uint8_t *)at / 255.0f;
    if (t->dtype.bits == 16) {
        uint16_t half;
        memcpy(&half, at, sizeof half);
        if (t->dtype.code == kDLFloat) return half_to_float(half);
        uint32_t bits = (uint32_t)half << 16; /* bfloat16 */
        float v;
        memcpy(&v, &bits, sizeof v);
        return v;
    }
    float v;
    memcpy(&v, at, sizeof v);
    return v;
}

static float *float_at(DLTensor *t, const int64_t *index)
{
    int64_t offset = 0;
    for (int d = 0; d < t->ndim; d++) offset += index[d] * stride_of(t, d);
    return (float *)((char *)t->data + t->byte_offset) + offset;
}

static float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

cutout_shim_status cutout_shim_value_range(const DLTensor *t, double *low, double *high,
                                           char *err, size_t err_cap)
{
    int64_t total = 1, index[8] = {0};
    for (int d = 0; d < t->ndim; d++) total *= t->shape[d];
    if (total == 0) return fail(CUTOUT_SHIM_ERR_INVALID_INPUT, err, err_cap, "tensor: empty");
    *low = INFINITY;
    *high = -INFINITY;
    for (int64_t k = 0; k < total; k++) {
        int64_t rest = k;
        for (int d = t->ndim - 1; d >= 0; d--) {
            index[d] = rest % t->shape[d];
            rest /= t->shape[d];
        }
        const double v = read_at(t, index);
        if (v < *low) *low = v;
        if (v > *high) *high = v;
    }
    return CUTOUT_SHIM_OK;
}

cutout_shim_status cutout_shim_find_nonfinite(const DLTensor *t, int64_t *nonfinite,
                                              int64_t *first_item, char *err, size_t err_cap)
{
    (void)err;
    (void)err_cap;
    *nonfinite = 0;
    *first_item = -1;
    if (t->dtype.code == kDLUInt) return CUTOUT_SHIM_OK;
    /* An H x W mask is one item. */
    const int64_t items = t->ndim == 2 ? 1 : t->shape[0];
    int64_t index[8] = {0}, total = 1;
    for (int d = t->ndim == 2 ? 0 : 1; d < t->ndim; d++) total *= t->shape[d];
    for (int64_t b = 0; b < items; b++) {
        for (int64_t k = 0; k < total; k++) {
            int64_t rest = k;
            for (int d = t->ndim - 1; d >= (t->ndim == 2 ? 0 : 1); d--) {
                index[d] = rest % t->shape[d];
                rest /= t->shape[d];
            }
            if (t->ndim != 2) index[0] = b;
            if (!isfinite(read_at(t, index))) {
                if (*first_item < 0) *first_item = b;
                (*nonfinite)++;
            }
        }
    }
    return CUTOUT_SHIM_OK;
}

cutout_shim_status cutout_shim_predict_alpha(cutout_shim_model *model, const DLTensor *image,
                                             int64_t first, int64_t count,
                                             const cutout_shim_predict_params *params,
                                             DLTensor *alpha_out, cutout_shim_abort_fn abort,
                                             void *abort_user, char *err, size_t err_cap)
{
    (void)model;
    if (params && (params->struct_size < sizeof *params ||
                   (params->fit != CUTOUT_SHIM_FIT_STRETCH &&
                    params->fit != CUTOUT_SHIM_FIT_LETTERBOX &&
                    params->fit != CUTOUT_SHIM_FIT_AUTO &&
                    params->fit != CUTOUT_SHIM_FIT_BALANCED) ||
                   (params->quality != CUTOUT_SHIM_QUALITY_FAST &&
                    params->quality != CUTOUT_SHIM_QUALITY_BEST)))
        return fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, err_cap, "predict params: bad");
    long long call = ++predict_calls;
    if (call <= 256) predict_counts[call - 1] = count;
    if (abort && abort(abort_user)) return fail(CUTOUT_SHIM_CANCELLED, err, err_cap, "cancelled");
    if (oom_above && count > oom_above)
        return fail(CUTOUT_SHIM_ERR_OUT_OF_MEMORY, err, err_cap,
                    "predict_alpha: out of memory (injected)");
    if (fail_predict_at && call == fail_predict_at)
        return fail(CUTOUT_SHIM_ERR_INFERENCE, err, err_cap,
                    "model output: expected 4 dims B x 1 x H x W, got 3 dims (injected)");
    for (int64_t b = first; b < first + count; b++)
        for (int64_t y = 0; y < image->shape[1]; y++)
            for (int64_t x = 0; x < image->shape[2]; x++) {
                float sum = 0.0f;
                for (int64_t c = 0; c < 3; c++) sum += read_at(image, (int64_t[]){b, y, x, c});
                *float_at(alpha_out, (int64_t[]){b, y, x}) = clamp01(sum / 3.0f);
            }
    if (abort && abort(abort_user)) return fail(CUTOUT_SHIM_CANCELLED, err, err_cap, "cancelled");
    return CUTOUT_SHIM_OK;
}

/* Guide value at output pixel (y, x): bilinear, half-pixel centres. */
static float guide_at(const DLTensor *g, int64_t item, int64_t y, int64_t x, int64_t h, int64_t w)
{
    int first = g->ndim - 2;
    int64_t gh = g->shape[first], gw = g->shape[first + 1];
    float fy = ((float)y + 0.5f) * (float)gh / (float)h - 0.5f;
    float fx = ((float)x + 0.5f) * (float)gw / (float)w - 0.5f;
    fy = fy < 0 ? 0 : fy;
    fx = fx < 0 ? 0 : fx;
    int64_t y0 = (int64_t)fy, x0 = (int64_t)fx;
    int64_t y1 = y0 + 1 < gh ? y0 + 1 : gh - 1, x1 = x0 + 1 < gw ? x0 + 1 : gw - 1;
    if (y0 > gh - 1) y0 = gh - 1;
    if (x0 > gw - 1) x0 = gw - 1;
    float ty = fy - (float)y0, tx = fx - (float)x0;
    int64_t i00[3], i01[3], i10[3], i11[3];
    int k = 0;
    if (g->ndim == 3) i00[k] = i01[k] = i10[k] = i11[k] = item, k++;
    i00[k] = y0, i00[k + 1] = x0;
    i01[k] = y0, i01[k + 1] = x1;
    i10[k] = y1, i10[k + 1] = x0;
    i11[k] = y1, i11[k + 1] = x1;
    float top = read_at(g, i00) * (1 - tx) + read_at(g, i01) * tx;
    float bottom = read_at(g, i10) * (1 - tx) + read_at(g, i11) * tx;
    return clamp01(top * (1 - ty) + bottom * ty);
}

/* ---- Edges (advanced nodes). The stub runs the per-pixel steps the unit
 * tests check exactly (threshold, invert, output layouts, MASK polarity,
 * crop, colour backgrounds); guided refinement, grow, blur and foreground
 * estimation are left as the identity here and tested on the real shim. */

/* The item of a guide or mask for image item `item`: a batch of 1 (or an
 * H x W one) applies to every item. */
static int64_t mask_item_of(const DLTensor *m, int64_t item)
{
    return m->ndim == 3 && m->shape[0] > 1 ? item : 0;
}

/* The stub's finish multiplies by the guide whatever mask_mode says (the
 * matting solve of hint and trimap is the real shim's) and ignores edge
 * refinement and despeckle: the plugin's plumbing is what it tests. */
cutout_shim_status cutout_shim_finish_items(const DLTensor *image, const DLTensor *guide,
                                            int64_t first, int64_t count,
                                            const cutout_shim_finish_params *params,
                                            DLTensor *alpha_inout, DLTensor *out_image,
                                            cutout_shim_item_fn on_item, void *on_item_user,
                                            char *err, size_t err_cap)
{
    cutout_shim_finish_params plain;
    memset(&plain, 0, sizeof plain);
    plain.struct_size = sizeof plain;
    const cutout_shim_finish_params *p = params ? params : &plain;
    if (p->struct_size < sizeof *p)
        return fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, err_cap, "params: bad");
    int64_t h = image->shape[1], w = image->shape[2], c = image->shape[3];
    int64_t oc = out_image->shape[3];
    if (oc != (p->output == CUTOUT_SHIM_OUTPUT_RGB ? 3 : 4))
        return fail(CUTOUT_SHIM_ERR_INVALID_INPUT, err, err_cap, "out_image: wrong channels");
    for (int64_t item = first; item < first + count; item++) {
    const int64_t guide_item = guide ? mask_item_of(guide, item) : 0;
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            float *a = float_at(alpha_inout, (int64_t[]){item, y, x});
            float alpha = clamp01(*a);
            if (c == 4) alpha *= clamp01(read_at(image, (int64_t[]){item, y, x, 3}));
            if (guide) alpha *= guide_at(guide, guide_item, y, x, h, w);
            if (p->threshold > 0.0f) alpha = alpha >= p->threshold ? 1.0f : 0.0f;
            if (p->invert) alpha = 1.0f - alpha;
            for (int64_t k = 0; k < 3; k++) {
                float v = read_at(image, (int64_t[]){item, y, x, k});
                if (p->output == CUTOUT_SHIM_OUTPUT_PREMULTIPLIED) v *= alpha;
                *float_at(out_image, (int64_t[]){item, y, x, k}) = v;
            }
            if (oc == 4) *float_at(out_image, (int64_t[]){item, y, x, 3}) = alpha;
            *a = p->mask_transparent_is_one ? 1.0f - alpha : alpha;
        }
    if (on_item && !on_item(on_item_user, item))
        return fail(CUTOUT_SHIM_CANCELLED, err, err_cap, "stopped by on_item");
    }
    return CUTOUT_SHIM_OK;
}

cutout_shim_status cutout_shim_subject_box(const DLTensor *alpha, bool transparent_is_one,
                                           int64_t box[4], char *err, size_t err_cap)
{
    (void)err;
    (void)err_cap;
    int64_t x0 = INT64_MAX, y0 = INT64_MAX, x1 = -1, y1 = -1;
    for (int64_t b = 0; b < alpha->shape[0]; b++)
        for (int64_t y = 0; y < alpha->shape[1]; y++)
            for (int64_t x = 0; x < alpha->shape[2]; x++) {
                float v = read_at(alpha, (int64_t[]){b, y, x});
                if (transparent_is_one ? !(v < 254.0f / 255.0f) : !(v > 1.0f / 255.0f)) continue;
                x0 = x < x0 ? x : x0;
                y0 = y < y0 ? y : y0;
                x1 = x > x1 ? x : x1;
                y1 = y > y1 ? y : y1;
            }
    box[0] = box[1] = box[2] = box[3] = 0;
    if (x1 >= 0) {
        box[0] = x0;
        box[1] = y0;
        box[2] = x1 - x0 + 1;
        box[3] = y1 - y0 + 1;
    }
    return CUTOUT_SHIM_OK;
}

cutout_shim_status cutout_shim_crop(const DLTensor *src, int64_t x, int64_t y, int64_t w,
                                    int64_t h, DLManagedTensor **out, char *err, size_t err_cap)
{
    *out = NULL;
    if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > src->shape[2] || y + h > src->shape[1])
        return fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, err_cap, "crop window: outside");
    int64_t shape[4] = {src->shape[0], h, w, src->ndim == 4 ? src->shape[3] : 1};
    cutout_shim_status st = cutout_shim_alloc_float32(src->device, src->ndim, shape, out, err,
                                                      err_cap);
    if (st != CUTOUT_SHIM_OK) return st;
    for (int64_t b = 0; b < shape[0]; b++)
        for (int64_t yy = 0; yy < h; yy++)
            for (int64_t xx = 0; xx < w; xx++)
                for (int64_t k = 0; k < shape[3]; k++) {
                    int64_t from[4] = {b, y + yy, x + xx, k}, to[4] = {b, yy, xx, k};
                    *float_at(&(*out)->dl_tensor, to) = read_at(src, from);
                }
    return CUTOUT_SHIM_OK;
}

cutout_shim_status cutout_shim_composite(const DLTensor *image, const DLTensor *mask,
                                         bool mask_transparent_is_one,
                                         const cutout_shim_background *bg,
                                         const DLTensor *background, DLTensor *out_rgb,
                                         cutout_shim_item_fn on_item, void *on_item_user,
                                         char *err, size_t err_cap)
{
    if (!bg || bg->struct_size < sizeof *bg)
        return fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, err_cap, "background params: bad");
    int64_t h = image->shape[1], w = image->shape[2], c = image->shape[3];
    if (!mask && c != 4)
        return fail(CUTOUT_SHIM_ERR_INVALID_INPUT, err, err_cap, "mask: missing");
    for (int64_t item = 0; item < image->shape[0]; item++) {
    const int64_t mask_item = mask ? mask_item_of(mask, item) : 0;
    const int64_t background_item = background && background->shape[0] > 1 ? item : 0;
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++) {
            float a = mask ? guide_at(mask, mask_item, y, x, h, w)
                           : clamp01(read_at(image, (int64_t[]){item, y, x, 3}));
            if (mask && mask_transparent_is_one) a = 1.0f - a;
            float t = h > 1 ? (float)y / (float)(h - 1) : 0.0f;
            for (int64_t k = 0; k < 3; k++) {
                float back = bg->color_top[k];
                if (bg->kind == CUTOUT_SHIM_BACKGROUND_GRADIENT)
                    back = bg->color_top[k] * (1.0f - t) + bg->color_bottom[k] * t;
                else if (bg->kind == CUTOUT_SHIM_BACKGROUND_IMAGE && background)
                    back = read_at(background, (int64_t[]){background_item,
                                                           y * background->shape[1] / h,
                                                           x * background->shape[2] / w, k});
                float v = read_at(image, (int64_t[]){item, y, x, k});
                *float_at(out_rgb, (int64_t[]){item, y, x, k}) = v * a + back * (1.0f - a);
            }
        }
    if (on_item && !on_item(on_item_user, item))
        return fail(CUTOUT_SHIM_CANCELLED, err, err_cap, "stopped by on_item");
    }
    return CUTOUT_SHIM_OK;
}

/* ---- Frames. The stub's smoothing is a plain blend with the previous
 * smoothed matte (no motion gate), and a frame is "similar" when the mean
 * |RGB difference| to the last predicted frame is below the bound: enough
 * for the plugin's plumbing (state across chunks and calls, reuse, reset
 * on a size change) to be tested exactly. */

struct cutout_shim_temporal {
    int64_t h, w;        /* 0 before the first frame */
    float *smoothed;     /* h x w */
    float *predicted;    /* h x w */
    float *frame;        /* h x w x 3, the last predicted frame */
};

cutout_shim_status cutout_shim_temporal_new(cutout_shim_temporal **out, char *err, size_t err_cap)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return fail(CUTOUT_SHIM_ERR_OUT_OF_MEMORY, err, err_cap, "temporal: out of memory");
    return CUTOUT_SHIM_OK;
}

void cutout_shim_temporal_free(cutout_shim_temporal *s)
{
    if (!s) return;
    free(s->smoothed);
    free(s->predicted);
    free(s->frame);
    free(s);
}

static bool stub_temporal_params_ok(const cutout_shim_temporal_params *p)
{
    return p && p->struct_size >= sizeof *p && p->strength >= 0.0f &&
           p->strength <= CUTOUT_SHIM_TEMPORAL_MAX && p->skip_below >= 0.0f &&
           p->skip_below <= CUTOUT_SHIM_SKIP_MAX;
}

/* Whether `item` takes the last predicted matte (written into alpha_out). */
static bool stub_reuse(cutout_shim_temporal *s, const cutout_shim_temporal_params *p,
                       const DLTensor *image, int64_t item, DLTensor *alpha_out)
{
    const int64_t h = image->shape[1], w = image->shape[2];
    if (p->skip_below <= 0.0f || !s->frame || s->h != h || s->w != w) return false;
    double diff = 0.0;
    for (int64_t y = 0; y < h; y++)
        for (int64_t x = 0; x < w; x++)
            for (int64_t c = 0; c < 3; c++)
                diff += fabsf(read_at(image, (int64_t[]){item, y, x, c}) - s->frame[(y * w + x) * 3 + c]);
    if (!(diff / (double)(h * w * 3) < p->skip_below)) return false;
    for (int64_t k = 0; k < h * w; k++) *float_at(alpha_out, (int64_t[]){item, k / w, k % w}) = s->predicted[k];
    return true;
}

/* Blends items [first, first + count) with the smoothed matte; reused[i]
 * tells whether item first + i took the last predicted matte. */
static cutout_shim_status stub_smooth(cutout_shim_temporal *s, const cutout_shim_temporal_params *p,
                                      const DLTensor *image, int64_t first, int64_t count,
                                      const bool *reused, DLTensor *alpha, char *err,
                                      size_t err_cap)
{
    const int64_t h = image->shape[1], w = image->shape[2];
    if (s->h != h || s->w != w) {
        free(s->smoothed);
        free(s->predicted);
        free(s->frame);
        s->smoothed = malloc((size_t)(h * w) * sizeof(float));
        s->predicted = malloc((size_t)(h * w) * sizeof(float));
        s->frame = malloc((size_t)(h * w * 3) * sizeof(float));
        if (!s->smoothed || !s->predicted || !s->frame) {
            s->h = s->w = 0;
            return fail(CUTOUT_SHIM_ERR_OUT_OF_MEMORY, err, err_cap, "temporal: out of memory");
        }
        s->h = h;
        s->w = w;
        /* A new frame size starts afresh from the first item's own matte. */
        if (count > 0)
            for (int64_t k = 0; k < h * w; k++)
                s->smoothed[k] = clamp01(*float_at(alpha, (int64_t[]){first, k / w, k % w}));
    }
    for (int64_t item = first; item < first + count; item++) {
        for (int64_t k = 0; k < h * w; k++) {
            float *a = float_at(alpha, (int64_t[]){item, k / w, k % w});
            const float predicted = clamp01(*a);
            *a = predicted + p->strength * (s->smoothed[k] - predicted);
            s->smoothed[k] = *a;
            if (!reused[item - first]) s->predicted[k] = predicted;
        }
        if (!reused[item - first])
            for (int64_t k = 0; k < h * w * 3; k++)
                s->frame[k] = read_at(image, (int64_t[]){item, k / 3 / w, (k / 3) % w, k % 3});
    }
    return CUTOUT_SHIM_OK;
}

cutout_shim_status cutout_shim_predict_frames(cutout_shim_model *model, cutout_shim_temporal *s,
                                              const cutout_shim_temporal_params *p,
                                              const DLTensor *image, int64_t first, int64_t count,
                                              const cutout_shim_predict_params *params,
                                              DLTensor *alpha, cutout_shim_abort_fn abort,
                                              void *abort_user, char *err, size_t err_cap)
{
    if (!s || !stub_temporal_params_ok(p))
        return fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, err_cap, "temporal params: bad");
    bool *reused = calloc((size_t)count + 1, sizeof *reused);
    if (!reused) return fail(CUTOUT_SHIM_ERR_OUT_OF_MEMORY, err, err_cap, "frames: out of memory");
    /* As the real shim: judged against the state the chunk found, the
     * others through the model in runs. */
    int64_t run_start = first;
    cutout_shim_status st = CUTOUT_SHIM_OK;
    for (int64_t item = first; item <= first + count && st == CUTOUT_SHIM_OK; item++) {
        if (item < first + count) {
            reused[item - first] = stub_reuse(s, p, image, item, alpha);
            if (!reused[item - first]) continue;
        }
        if (item > run_start)
            st = cutout_shim_predict_alpha(model, image, run_start, item - run_start, params, alpha,
                                           abort, abort_user, err, err_cap);
        run_start = item + 1;
    }
    if (st == CUTOUT_SHIM_OK) st = stub_smooth(s, p, image, first, count, reused, alpha, err, err_cap);
    free(reused);
    return st;
}
