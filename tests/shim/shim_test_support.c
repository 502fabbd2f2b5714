/* shim_test_support.c - see shim_test_support.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cutout_shim.h"
#include "cutout_shim_testing.h"
#include "png_read.h"
#include "shim_cases.h"
#include "shim_test_support.h"

/* ------------------------------------------------------------------------ */
/* Checks                                                                    */

int g_failures = 0;





void check_status_at(const char *file, int line, const char *what,
                            cutout_shim_status got, cutout_shim_status expected,
                            const char *err, const char *needle) {
    if (got != expected) {
        fprintf(stderr, "%s:%d: %s: expected status %d, got %d (\"%s\")\n", file, line,
                what, (int)expected, (int)got, err);
        ++g_failures;
        return;
    }
    if (expected == CUTOUT_SHIM_OK) {
        if (err[0] != '\0') {
            fprintf(stderr, "%s:%d: %s: success left a message \"%s\"\n", file, line, what,
                    err);
            ++g_failures;
        }
        return;
    }
    if (err[0] == '\0' || strchr(err, '\n') != NULL || strstr(err, "Exception raised from")) {
        fprintf(stderr, "%s:%d: %s: message is empty or not one line: \"%s\"\n", file, line,
                what, err);
        ++g_failures;
    }
    if (needle != NULL && strstr(err, needle) == NULL) {
        fprintf(stderr, "%s:%d: %s: message \"%s\" does not contain \"%s\"\n", file, line,
                what, err, needle);
        ++g_failures;
    }
    printf("  status %d as expected: %s\n", (int)got, err);
}

/* ------------------------------------------------------------------------ */
/* Test tensors                                                              */




size_t elem_size(DLDataType dtype) { return (size_t)dtype.bits / 8; }

void *xcalloc(size_t n) {
    void *p = calloc(1, n > 0 ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "test: out of memory for %zu bytes\n", n);
        exit(1);
    }
    return p;
}

/* Compact tensor (strides NULL) filled with zero bytes. */
test_tensor tt_compact(DLDataType dtype, int ndim, const int64_t *shape) {
    test_tensor x;
    memset(&x, 0, sizeof x);
    x.shape = xcalloc(6 * sizeof(int64_t));
    x.strides = xcalloc(6 * sizeof(int64_t));
    size_t n = 1;
    for (int i = 0; i < ndim; ++i) {
        x.shape[i] = shape[i];
        n *= (size_t)shape[i];
    }
    x.buffer_bytes = n * elem_size(dtype);
    x.t.data = xcalloc(x.buffer_bytes);
    x.t.device.device_type = kDLCPU;
    x.t.ndim = ndim;
    x.t.dtype = dtype;
    x.t.shape = x.shape;
    x.t.strides = NULL;
    return x;
}

/* Tensor with explicit strides (elements) and byte offset into a zeroed
 * buffer of buffer_elems elements. */
test_tensor tt_strided(DLDataType dtype, int ndim, const int64_t *shape,
                              const int64_t *strides, uint64_t byte_offset,
                              size_t buffer_elems) {
    test_tensor x;
    memset(&x, 0, sizeof x);
    x.shape = xcalloc(6 * sizeof(int64_t));
    x.strides = xcalloc(6 * sizeof(int64_t));
    for (int i = 0; i < ndim; ++i) {
        x.shape[i] = shape[i];
        x.strides[i] = strides[i];
    }
    x.buffer_bytes = buffer_elems * elem_size(dtype);
    x.t.data = xcalloc(x.buffer_bytes);
    x.t.device.device_type = kDLCPU;
    x.t.ndim = ndim;
    x.t.dtype = dtype;
    x.t.shape = x.shape;
    x.t.strides = x.strides;
    x.t.byte_offset = byte_offset;
    return x;
}

void tt_free(test_tensor *x) {
    free(x->t.data);
    free(x->shape);
    free(x->strides);
    x->t.data = NULL;
    x->shape = x->strides = NULL;
}

/* Element offset of idx (ndim entries), honouring strides. */
int64_t tt_offset(const test_tensor *x, const int64_t *idx) {
    int64_t off = 0, step = 1;
    for (int i = x->t.ndim - 1; i >= 0; --i) {
        int64_t stride = x->t.strides != NULL ? x->t.strides[i] : step;
        off += idx[i] * stride;
        step *= x->t.shape[i];
    }
    return off;
}

void *tt_at(const test_tensor *x, const int64_t *idx) {
    return (char *)x->t.data + x->t.byte_offset + (size_t)tt_offset(x, idx) * elem_size(x->t.dtype);
}

float *f32_at4(const test_tensor *x, int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t idx[4] = {a, b, c, d};
    return (float *)tt_at(x, idx);
}

float *f32_at3(const test_tensor *x, int64_t a, int64_t b, int64_t c) {
    int64_t idx[3] = {a, b, c};
    return (float *)tt_at(x, idx);
}

void fill_f32(test_tensor *x, float v) {
    float *p = x->t.data;
    for (size_t i = 0; i < x->buffer_bytes / sizeof(float); ++i) p[i] = v;
}

uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Exact IEEE half -> float (finite values, subnormals included). */
float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    int exponent = (h >> 10) & 31;
    uint32_t mantissa = h & 1023;
    float magnitude;
    if (exponent == 0)
        magnitude = ldexpf((float)mantissa, -24);
    else
        magnitude = ldexpf((float)(mantissa | 1024), exponent - 25);
    return bits_float(float_bits(magnitude) | sign);
}

/* Nearest half (round to nearest even) of a float in the half range; used to
 * build float16 images from 0..1 values. */
uint16_t float_to_half(float f) {
    for (uint32_t h = 0;; ++h) { /* 0..1 only: search the 15360 codes */
        float lo = half_to_float((uint16_t)h), hi = half_to_float((uint16_t)(h + 1));
        if (f <= lo) return (uint16_t)h;
        if (f < hi) {
            float dl = f - lo, dh = hi - f;
            if (dl < dh || (dl == dh && (h % 2) == 0)) return (uint16_t)h;
            return (uint16_t)(h + 1);
        }
    }
}

/* Deterministic pseudo-random numbers. */
uint32_t g_rng = 12345u;
uint32_t next_random(void) {
    g_rng = g_rng * 1664525u + 1013904223u;
    return g_rng >> 8;
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                  */

const char *g_models_dir;
const char *g_photo_path;

char *model_path(const char *name) {
    static char buf[4][4096];
    static int next = 0;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", g_models_dir, name);
    return p;
}

float *read_floats(const char *name, size_t count) {
    const char *path = model_path(name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    float *v = xcalloc(count * sizeof(float));
    size_t got = fread(v, sizeof(float), count, f);
    int extra = fgetc(f);
    fclose(f);
    if (got != count || extra != EOF) {
        fprintf(stderr, "%s: expected %zu floats\n", path, count);
        exit(1);
    }
    return v;
}



photo load_photo(void) {
    photo p;
    memset(&p, 0, sizeof p);
    p.rgb = png_read_rgb(g_photo_path, &p.height, &p.width);
    if (p.rgb == NULL) exit(1);
    const char *path = model_path("expected.txt");
    FILE *f = fopen(path, "r");
    long long h = 0, w = 0, y = 0, x = 0, ch = 0, cw = 0, ny = 0, nx = 0, nh = 0, nw = 0;
    if (f == NULL ||
        fscanf(f, "%lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &h, &w, &y, &x, &ch, &cw,
               &ny, &nx, &nh, &nw) != 10 ||
        nh != nw) {
        fprintf(stderr, "%s: cannot read the expected sizes\n", path);
        exit(1);
    }
    fclose(f);
    if (h != p.height || w != p.width) {
        fprintf(stderr, "photo is %lldx%lld but the reference was made for %lldx%lld\n",
                (long long)p.height, (long long)p.width, h, w);
        exit(1);
    }
    p.crop_y = y;
    p.crop_x = x;
    p.crop_h = ch;
    p.crop_w = cw;
    p.expected_alpha = read_floats("expected_photo_alpha.f32", (size_t)(h * w));
    p.expected_crop_alpha = read_floats("expected_crop_alpha.f32", (size_t)(ch * cw));
    p.native_y = ny;
    p.native_x = nx;
    p.native_side = nh;
    p.expected_native_alpha = read_floats("expected_native_alpha.f32", (size_t)(nh * nw));
    return p;
}

void free_photo(photo *p) {
    free(p->rgb);
    free(p->expected_alpha);
    free(p->expected_crop_alpha);
    free(p->expected_native_alpha);
}

/* B x H x W x 3 uint8 tensor with the photo in every item. */
test_tensor photo_batch_u8(const photo *p, int64_t batch) {
    int64_t shape[4] = {batch, p->height, p->width, 3};
    test_tensor x = tt_compact(U8, 4, shape);
    size_t item = (size_t)(p->height * p->width * 3);
    for (int64_t b = 0; b < batch; ++b) memcpy((uint8_t *)x.t.data + b * item, p->rgb, item);
    return x;
}

cutout_shim_model *load_model(const char *name) {
    char err[512];
    cutout_shim_model *model = NULL;
    cutout_shim_status s = cutout_shim_model_load(model_path(name), CPU, NULL, &model, NULL, err,
                                                  sizeof err);
    if (s != CUTOUT_SHIM_OK || model == NULL) {
        fprintf(stderr, "cannot load %s: %d %s\n", name, (int)s, err);
        exit(1);
    }
    return model;
}

/* Largest |alpha_out[item] - expected| over H x W. */
double max_diff(const test_tensor *alpha, int64_t item, const float *expected) {
    int64_t h = alpha->t.shape[1], w = alpha->t.shape[2];
    double worst = 0;
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
            double d = fabs((double)*f32_at3(alpha, item, y, x) - expected[y * w + x]);
            if (!(d <= worst)) worst = d; /* NaN counts as worst */
        }
    return worst;
}

bool item_all_equal(const test_tensor *t, int64_t item, float v) {
    int64_t n = 1;
    for (int i = 1; i < t->t.ndim; ++i) n *= t->t.shape[i];
    const float *p = (const float *)t->t.data + item * n;
    for (int64_t i = 0; i < n; ++i)
        if (float_bits(p[i]) != float_bits(v)) return false;
    return true;
}

bool in_unit_range(const test_tensor *alpha, int64_t item) {
    int64_t n = alpha->t.shape[1] * alpha->t.shape[2];
    const float *p = (const float *)alpha->t.data + item * n;
    for (int64_t i = 0; i < n; ++i)
        if (!(p[i] >= 0.0f && p[i] <= 1.0f)) return false;
    return true;
}
