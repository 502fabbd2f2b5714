/*
 * test_shim.c - tests of the libtorch shim (cutout_shim.h) on tiny
 * TorchScript models written by make_tiny_models.py and on a real photo.
 *
 * Usage: test_shim CASE MODELS_DIR PHOTO_PNG
 * Each CASE is one ctest test; see the table at the end of this file.
 * Exit status: 0 all checks passed, 1 a check failed, 77 skipped.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
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

/* ------------------------------------------------------------------------ */
/* Checks                                                                    */

static int g_failures = 0;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,        \
                    __LINE__, #cond);                                     \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
            ++g_failures;                                                 \
        }                                                                 \
    } while (0)

/* Checks a status and, for failures, that the message is one line that
 * contains `needle` (when not NULL). */
#define CHECK_STATUS(status, expected, err, needle)                           \
    check_status_at(__FILE__, __LINE__, #status, (status), (expected), (err), \
                    (needle))

static void check_status_at(const char *file, int line, const char *what,
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

static const DLDevice CPU = {kDLCPU, 0};
static const DLDataType F32 = {kDLFloat, 32, 1};
static const DLDataType F16 = {kDLFloat, 16, 1};
static const DLDataType BF16 = {kDLBfloat, 16, 1};
static const DLDataType U8 = {kDLUInt, 8, 1};
static const DLDataType I32 = {kDLInt, 32, 1};

/* A DLTensor on the CPU that owns its buffer, shape and strides (all on the
 * heap, so the struct may be copied and returned by value). */
typedef struct test_tensor {
    DLTensor t;
    int64_t *shape;   /* 6 entries */
    int64_t *strides; /* 6 entries */
    size_t buffer_bytes;
} test_tensor;

static size_t elem_size(DLDataType dtype) { return (size_t)dtype.bits / 8; }

static void *xcalloc(size_t n) {
    void *p = calloc(1, n > 0 ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "test: out of memory for %zu bytes\n", n);
        exit(1);
    }
    return p;
}

/* Compact tensor (strides NULL) filled with zero bytes. */
static test_tensor tt_compact(DLDataType dtype, int ndim, const int64_t *shape) {
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
static test_tensor tt_strided(DLDataType dtype, int ndim, const int64_t *shape,
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

static void tt_free(test_tensor *x) {
    free(x->t.data);
    free(x->shape);
    free(x->strides);
    x->t.data = NULL;
    x->shape = x->strides = NULL;
}

/* Element offset of idx (ndim entries), honouring strides. */
static int64_t tt_offset(const test_tensor *x, const int64_t *idx) {
    int64_t off = 0, step = 1;
    for (int i = x->t.ndim - 1; i >= 0; --i) {
        int64_t stride = x->t.strides != NULL ? x->t.strides[i] : step;
        off += idx[i] * stride;
        step *= x->t.shape[i];
    }
    return off;
}

static void *tt_at(const test_tensor *x, const int64_t *idx) {
    return (char *)x->t.data + x->t.byte_offset + (size_t)tt_offset(x, idx) * elem_size(x->t.dtype);
}

static float *f32_at4(const test_tensor *x, int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t idx[4] = {a, b, c, d};
    return (float *)tt_at(x, idx);
}

static float *f32_at3(const test_tensor *x, int64_t a, int64_t b, int64_t c) {
    int64_t idx[3] = {a, b, c};
    return (float *)tt_at(x, idx);
}

static void fill_f32(test_tensor *x, float v) {
    float *p = x->t.data;
    for (size_t i = 0; i < x->buffer_bytes / sizeof(float); ++i) p[i] = v;
}

static uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Exact IEEE half -> float (finite values, subnormals included). */
static float half_to_float(uint16_t h) {
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
static uint16_t float_to_half(float f) {
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
static uint32_t g_rng = 12345u;
static uint32_t next_random(void) {
    g_rng = g_rng * 1664525u + 1013904223u;
    return g_rng >> 8;
}

/* ------------------------------------------------------------------------ */
/* Fixtures                                                                  */

static const char *g_models_dir;
static const char *g_photo_path;

static char *model_path(const char *name) {
    static char buf[4][4096];
    static int next = 0;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", g_models_dir, name);
    return p;
}

static float *read_floats(const char *name, size_t count) {
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

typedef struct photo {
    uint8_t *rgb; /* H x W x 3 */
    int64_t height, width;
    float *expected_alpha;      /* H x W */
    int64_t crop_y, crop_x, crop_h, crop_w;
    float *expected_crop_alpha; /* crop_h x crop_w */
    int64_t native_y, native_x, native_side; /* a crop of the model's input size */
    float *expected_native_alpha;
} photo;

static photo load_photo(void) {
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

static void free_photo(photo *p) {
    free(p->rgb);
    free(p->expected_alpha);
    free(p->expected_crop_alpha);
    free(p->expected_native_alpha);
}

/* B x H x W x 3 uint8 tensor with the photo in every item. */
static test_tensor photo_batch_u8(const photo *p, int64_t batch) {
    int64_t shape[4] = {batch, p->height, p->width, 3};
    test_tensor x = tt_compact(U8, 4, shape);
    size_t item = (size_t)(p->height * p->width * 3);
    for (int64_t b = 0; b < batch; ++b) memcpy((uint8_t *)x.t.data + b * item, p->rgb, item);
    return x;
}

static cutout_shim_model *load_model(const char *name) {
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
static double max_diff(const test_tensor *alpha, int64_t item, const float *expected) {
    int64_t h = alpha->t.shape[1], w = alpha->t.shape[2];
    double worst = 0;
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
            double d = fabs((double)*f32_at3(alpha, item, y, x) - expected[y * w + x]);
            if (!(d <= worst)) worst = d; /* NaN counts as worst */
        }
    return worst;
}

static bool item_all_equal(const test_tensor *t, int64_t item, float v) {
    int64_t n = 1;
    for (int i = 1; i < t->t.ndim; ++i) n *= t->t.shape[i];
    const float *p = (const float *)t->t.data + item * n;
    for (int64_t i = 0; i < n; ++i)
        if (float_bits(p[i]) != float_bits(v)) return false;
    return true;
}

static bool in_unit_range(const test_tensor *alpha, int64_t item) {
    int64_t n = alpha->t.shape[1] * alpha->t.shape[2];
    const float *p = (const float *)alpha->t.data + item * n;
    for (int64_t i = 0; i < n; ++i)
        if (!(p[i] >= 0.0f && p[i] <= 1.0f)) return false;
    return true;
}

#define PREDICTION_TOLERANCE 2e-5
#define SENTINEL (-7.0f)
/* Load parameters asking for precision `p`. */
#define PRECISION(p) (&(cutout_shim_load_params){sizeof(cutout_shim_load_params), (p), false, false})

/* ------------------------------------------------------------------------ */
/* Cases                                                                     */

static int case_version(void) {
    char err[256];
    const char *v = cutout_shim_torch_version();
    int major = -1, minor = -1, patch = -1;
    CHECK(v != NULL && sscanf(v, "%d.%d.%d", &major, &minor, &patch) == 3,
          "torch version \"%s\" is not N.N.N", v ? v : "(null)");
    CHECK(major >= 1, "torch major version %d", major);
    printf("  libtorch %s\n", v);

    bool cuda = true;
    CHECK_STATUS(cutout_shim_cuda_available(&cuda, err, sizeof err), CUTOUT_SHIM_OK, err, NULL);
    printf("  cuda available: %s\n", cuda ? "yes" : "no");
    CHECK_STATUS(cutout_shim_cuda_available(NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "available");

    CHECK_STATUS(cutout_shim_set_num_threads(0, err, sizeof err), CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                 err, "got 0");
    CHECK_STATUS(cutout_shim_set_num_threads(-3, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "got -3");
    CHECK_STATUS(cutout_shim_set_num_threads(2, err, sizeof err), CUTOUT_SHIM_OK, err, NULL);
    return 0;
}

static int case_load(void) {
    char err[512];
    cutout_shim_model_info info;
    memset(&info, 0x5a, sizeof info);
    cutout_shim_model *model = (cutout_shim_model *)&info; /* must become the model */
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), CPU, NULL, &model, &info, err,
                                        sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK(model != NULL && model != (cutout_shim_model *)&info, "no model");
    CHECK(strcmp(info.name, "tiny") == 0, "name \"%.64s\"", info.name);
    CHECK(strcmp(info.kind, "alpha") == 0, "kind \"%.32s\"", info.kind);
    CHECK(strcmp(info.license, "CC0-1.0") == 0, "license \"%.64s\"", info.license);
    CHECK(info.input_height == 64 && info.input_width == 64, "input %lldx%lld",
          (long long)info.input_height, (long long)info.input_width);
    CHECK(info.mean[0] == 0.485f && info.mean[1] == 0.456f && info.mean[2] == 0.406f,
          "mean %g %g %g", info.mean[0], info.mean[1], info.mean[2]);
    CHECK(info.std[0] == 0.229f && info.std[1] == 0.224f && info.std[2] == 0.225f,
          "std %g %g %g", info.std[0], info.std[1], info.std[2]);
    DLDevice d = cutout_shim_model_device(model);
    CHECK(d.device_type == kDLCPU && d.device_id == 0, "device %d:%d", (int)d.device_type,
          (int)d.device_id);
    cutout_shim_model_free(model);

    /* NULL info is allowed. */
    model = NULL;
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), CPU, NULL, &model, NULL, err,
                                        sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK(model != NULL, "no model");
    cutout_shim_model_free(model);
    cutout_shim_model_free(NULL);
    d = cutout_shim_model_device(NULL);
    CHECK(d.device_type == kDLCPU, "NULL model device");

    /* API misuse. */
    model = (cutout_shim_model *)&info;
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), (DLDevice){kDLOpenCL, 0},
                                        NULL, &model, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "device");
    CHECK(model == NULL, "output not NULL after a failure");
    const cutout_shim_load_params short_params = {sizeof(size_t), "fp32", false, false};
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), CPU, &short_params, &model,
                                        NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "struct_size too small");
    CHECK_STATUS(cutout_shim_model_load(NULL, CPU, NULL, &model, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "path");
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), CPU, NULL, NULL, NULL, err,
                                        sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "out");
    return 0;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "%s: cannot write\n", path);
        exit(1);
    }
}

static void *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = xcalloc((size_t)size);
    if (fread(data, 1, (size_t)size, f) != (size_t)size) exit(1);
    fclose(f);
    *n = (size_t)size;
    return data;
}

/* Loading `path` fails with `expected`, leaves the output NULL, and the
 * message names the path and contains `needle`. */
static void expect_load_failure(const char *path, cutout_shim_status expected,
                                const char *needle) {
    char err[1024];
    cutout_shim_model *model = (cutout_shim_model *)err;
    cutout_shim_status s = cutout_shim_model_load(path, CPU, NULL, &model, NULL, err, sizeof err);
    CHECK_STATUS(s, expected, err, needle);
    CHECK(strstr(err, path) != NULL, "message \"%s\" does not name the path %s", err, path);
    CHECK(model == NULL, "output not NULL after a failure for %s", path);
    if (s == CUTOUT_SHIM_OK) cutout_shim_model_free(model);
}

static int case_bad_files(void) {
    /* Files that are not TorchScript, made here. */
    char missing[4096], empty[4096], random_bytes[4096], truncated[4096];
    snprintf(missing, sizeof missing, "%s/no_such_model.pt", g_models_dir);
    snprintf(empty, sizeof empty, "%s/empty.pt", g_models_dir);
    snprintf(random_bytes, sizeof random_bytes, "%s/random_bytes.pt", g_models_dir);
    snprintf(truncated, sizeof truncated, "%s/truncated.pt", g_models_dir);
    remove(missing);
    write_file(empty, "", 0);
    uint8_t noise[4096];
    for (size_t i = 0; i < sizeof noise; ++i) noise[i] = (uint8_t)next_random();
    write_file(random_bytes, noise, sizeof noise);
    size_t n = 0;
    void *valid = read_file(model_path("tiny_valid.pt"), &n);
    write_file(truncated, valid, n / 2);
    free(valid);

    expect_load_failure(missing, CUTOUT_SHIM_ERR_MODEL_NOT_FOUND, "no such file");
    expect_load_failure(g_models_dir, CUTOUT_SHIM_ERR_MODEL_INVALID, "not a regular file");
    expect_load_failure(empty, CUTOUT_SHIM_ERR_MODEL_INVALID, "empty file");
    expect_load_failure(random_bytes, CUTOUT_SHIM_ERR_MODEL_INVALID, "not a loadable TorchScript");
    expect_load_failure(truncated, CUTOUT_SHIM_ERR_MODEL_INVALID, "not a loadable TorchScript");
    expect_load_failure(model_path("zip_not_a_model.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "not a loadable TorchScript");
    expect_load_failure(model_path("tiny_no_meta.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "no metadata (expected an extra file cutout_meta.json");
    expect_load_failure(model_path("tiny_meta_not_json.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "is not a JSON object");
    expect_load_failure(model_path("tiny_meta_format_2.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"format\" (expected 1, got 2");
    expect_load_failure(model_path("tiny_meta_kind_depth.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"kind\" (expected \"alpha\", got \"depth\")");
    expect_load_failure(model_path("tiny_meta_no_name.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "has no \"name\"");
    expect_load_failure(model_path("tiny_meta_size_0.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"input_height\" out of range (expected an integer 1..8192, got 0)");
    expect_load_failure(model_path("tiny_meta_size_9000.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"input_width\" out of range (expected an integer 1..8192, got 9000)");
    expect_load_failure(model_path("tiny_meta_size_fraction.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "got 63.5)");
    expect_load_failure(model_path("tiny_meta_std_0.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"std\"[1] is out of range (expected a finite number > 0, got 0)");
    expect_load_failure(model_path("tiny_meta_mean_2.pt"), CUTOUT_SHIM_ERR_MODEL_INVALID,
                        "\"mean\" is not an array of 3 numbers (got 2 elements)");
    remove(empty);
    remove(random_bytes);
    remove(truncated);
    return 0;
}

static bool count_polls(void *user) {
    ++*(int *)user;
    return false;
}

/* Items 1..2 of `image` (three copies of the photo): on a CPU each item has
 * its own forward pass (3 abort polls each); a model loaded with
 * cpu_shared_passes gives both one pass (3 polls), the path CUDA takes, with the same
 * mattes. Also with letterbox at another processing size, whose padding
 * and cropping back run per pass. */
static void check_batched_passes(cutout_shim_model *model, const test_tensor *image,
                                 const photo *p) {
    char err[512];
    const cutout_shim_load_params shared = {sizeof shared, NULL, true, false};
    cutout_shim_model *shared_model = NULL;
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), CPU, &shared, &shared_model,
                                        NULL, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    if (shared_model == NULL) return;
    int64_t ashape[3] = {3, p->height, p->width};
    test_tensor single = tt_compact(F32, 3, ashape);
    test_tensor batched = tt_compact(F32, 3, ashape);
    const cutout_shim_predict_params letterbox = {sizeof letterbox, 48, 40,
                                                  CUTOUT_SHIM_FIT_LETTERBOX, CUTOUT_SHIM_QUALITY_FAST};
    for (int fit = 0; fit < 2; ++fit) {
        const cutout_shim_predict_params *params = fit ? &letterbox : NULL;
        const char *label = fit ? "letterbox 48 x 40" : "native size";
        int single_polls = 0, batched_polls = 0;
        fill_f32(&single, SENTINEL);
        fill_f32(&batched, SENTINEL);
        CHECK_STATUS(cutout_shim_predict_alpha(model, &image->t, 1, 2, params, &single.t,
                                                  count_polls, &single_polls, err, sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        CHECK_STATUS(cutout_shim_predict_alpha(shared_model, &image->t, 1, 2, params, &batched.t,
                                                  count_polls, &batched_polls, err, sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        CHECK(single_polls == 6, "%s: one pass per item: expected 6 polls, got %d", label,
              single_polls);
        CHECK(batched_polls == 3, "%s: one pass for both: expected 3 polls, got %d", label,
              batched_polls);
        double d = 0;
        for (int64_t item = 1; item <= 2; ++item)
            d = fmax(d, max_diff(&batched, item, f32_at3(&single, item, 0, 0)));
        printf("  %s, 2 items: max |one pass - a pass each| = %.3g\n", label, d);
        CHECK(d <= 1e-6, "%s: the batched pass differs from per-item passes by %g", label, d);
        if (!fit) {
            d = fmax(max_diff(&batched, 1, p->expected_alpha),
                     max_diff(&batched, 2, p->expected_alpha));
            CHECK(d <= PREDICTION_TOLERANCE, "batched pass differs from the reference by %g", d);
        }
        CHECK(item_all_equal(&batched, 0, SENTINEL) && item_all_equal(&single, 0, SENTINEL),
              "%s: item 0 was written", label);
    }
    tt_free(&single);
    tt_free(&batched);
    cutout_shim_model_free(shared_model);
}

static int case_predict_photo(void) {
    char err[512];
    photo p = load_photo();
    cutout_shim_model *model = load_model("tiny_valid.pt");
    int64_t h = p.height, w = p.width;

    /* Batch of 3 photos; predict only item 1, then items 1..2. */
    test_tensor image = photo_batch_u8(&p, 3);
    int64_t ashape[3] = {3, h, w};
    test_tensor alpha = tt_compact(F32, 3, ashape);
    fill_f32(&alpha, SENTINEL);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 1, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    double d = max_diff(&alpha, 1, p.expected_alpha);
    printf("  uint8 photo %lldx%lld: max |shim - python| = %.3g\n", (long long)h, (long long)w, d);
    CHECK(d <= PREDICTION_TOLERANCE, "item 1 differs from the Python reference by %g", d);
    CHECK(in_unit_range(&alpha, 1), "alpha outside 0..1");
    CHECK(item_all_equal(&alpha, 0, SENTINEL) && item_all_equal(&alpha, 2, SENTINEL),
          "items outside [first, first+count) were written");

    fill_f32(&alpha, SENTINEL);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 1, 2, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = fmax(max_diff(&alpha, 1, p.expected_alpha), max_diff(&alpha, 2, p.expected_alpha));
    CHECK(d <= PREDICTION_TOLERANCE, "batch of 2 differs from the reference by %g", d);
    CHECK(item_all_equal(&alpha, 0, SENTINEL), "item 0 was written");
    check_batched_passes(model, &image, &p);

    /* The same photo as float32 (v / 255), float16 and RGBA float32. */
    int64_t shape4[4] = {1, h, w, 4};
    int64_t shape3[4] = {1, h, w, 3};
    uint16_t half_of[256]; /* half of v / 255, searched once per value */
    for (int v = 0; v < 256; ++v) half_of[v] = float_to_half((float)v / 255.0f);
    test_tensor f32 = tt_compact(F32, 4, shape3);
    test_tensor f16 = tt_compact(F16, 4, shape3);
    test_tensor rgba = tt_compact(F32, 4, shape4);
    for (int64_t i = 0; i < h * w; ++i)
        for (int c = 0; c < 4; ++c) {
            float v = c < 3 ? (float)p.rgb[i * 3 + c] / 255.0f : 0.25f;
            if (c < 3) ((float *)f32.t.data)[i * 3 + c] = v;
            if (c < 3) ((uint16_t *)f16.t.data)[i * 3 + c] = half_of[p.rgb[i * 3 + c]];
            ((float *)rgba.t.data)[i * 4 + c] = v;
        }
    test_tensor alpha1 = tt_compact(F32, 3, ashape); /* first item used */
    alpha1.shape[0] = 1;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &f32.t, 0, 1, NULL, &alpha1.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = max_diff(&alpha1, 0, p.expected_alpha);
    CHECK(d <= PREDICTION_TOLERANCE, "float32 input differs from the reference by %g", d);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &rgba.t, 0, 1, NULL, &alpha1.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = max_diff(&alpha1, 0, p.expected_alpha);
    CHECK(d <= PREDICTION_TOLERANCE, "RGBA input (alpha must be ignored) differs by %g", d);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &f16.t, 0, 1, NULL, &alpha1.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = max_diff(&alpha1, 0, p.expected_alpha);
    printf("  float16 photo: max |shim - python| = %.3g\n", d);
    CHECK(d <= 2e-3, "float16 input differs from the reference by %g", d);

    /* Misuse: items out of range, wrong alpha_out, wrong channels. */
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 2, 2, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "got first 2, count 2");
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 0, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "count 0");
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha1.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "alpha_out: shape does not match the image");
    CHECK_STATUS(cutout_shim_predict_alpha(NULL, &image.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "model");
    CHECK_STATUS(cutout_shim_predict_alpha(model, NULL, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: tensor is NULL");
    int64_t two_channels[4] = {3, h, w / 3 * 2, 2}; /* same bytes, C = 2 */
    image.t.shape = two_channels;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "expected C = 3 or 4");
    image.t.shape = image.shape;

    tt_free(&image);
    tt_free(&alpha);
    tt_free(&alpha1);
    tt_free(&f32);
    tt_free(&f16);
    tt_free(&rgba);
    cutout_shim_model_free(model);
    free_photo(&p);
    return 0;
}

static int case_predict_strided(void) {
    char err[512];
    photo p = load_photo();
    cutout_shim_model *model = load_model("tiny_valid.pt");
    int64_t h = p.height, w = p.width;

    /* The crop as a view into the full uint8 photo: not contiguous, with a
     * byte offset. Smaller than the model input, so it is upscaled. */
    test_tensor full = photo_batch_u8(&p, 1);
    DLTensor crop = full.t;
    int64_t crop_shape[4] = {1, p.crop_h, p.crop_w, 3};
    int64_t crop_strides[4] = {h * w * 3, w * 3, 3, 1};
    crop.shape = crop_shape;
    crop.strides = crop_strides;
    crop.byte_offset = (uint64_t)((p.crop_y * w + p.crop_x) * 3);
    int64_t cshape[3] = {1, p.crop_h, p.crop_w};
    test_tensor calpha = tt_compact(F32, 3, cshape);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &crop, 0, 1, NULL, &calpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    double d = max_diff(&calpha, 0, p.expected_crop_alpha);
    printf("  strided uint8 crop %lldx%lld: max |shim - python| = %.3g\n", (long long)p.crop_h,
           (long long)p.crop_w, d);
    CHECK(d <= PREDICTION_TOLERANCE, "crop differs from the reference by %g", d);

    /* A crop of exactly the model's input size: no resizing either way. */
    int64_t native_shape[4] = {1, p.native_side, p.native_side, 3};
    crop.shape = native_shape;
    crop.byte_offset = (uint64_t)((p.native_y * w + p.native_x) * 3);
    int64_t nshape[3] = {1, p.native_side, p.native_side};
    test_tensor nalpha = tt_compact(F32, 3, nshape);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &crop, 0, 1, NULL, &nalpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = max_diff(&nalpha, 0, p.expected_native_alpha);
    printf("  strided uint8 crop of the input size: max |shim - python| = %.3g\n", d);
    CHECK(d <= PREDICTION_TOLERANCE, "native-size crop differs from the reference by %g", d);
    tt_free(&nalpha);

    /* float32 planes in memory (C x H x W) seen as B x H x W x C, after a
     * 16-byte header. */
    int64_t pshape[4] = {1, h, w, 3};
    int64_t pstrides[4] = {3 * h * w, w, 1, h * w};
    test_tensor planar = tt_strided(F32, 4, pshape, pstrides, 16, (size_t)(3 * h * w + 4));
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c)
                *f32_at4(&planar, 0, y, x, c) = (float)p.rgb[(y * w + x) * 3 + c] / 255.0f;
    int64_t ashape[3] = {1, h, w};
    test_tensor alpha = tt_compact(F32, 3, ashape);
    CHECK_STATUS(cutout_shim_predict_alpha(model, &planar.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    d = max_diff(&alpha, 0, p.expected_alpha);
    CHECK(d <= PREDICTION_TOLERANCE, "planar float32 differs from the reference by %g", d);

    /* The input is never written. */
    test_tensor again = photo_batch_u8(&p, 1);
    CHECK(memcmp(full.t.data, again.t.data, full.buffer_bytes) == 0, "input was modified");

    /* Non-compact alpha_out is refused. */
    int64_t astrides[3] = {h * w, 1, h};
    alpha.t.strides = astrides;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &planar.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "alpha_out: not compact");
    alpha.t.strides = NULL;

    tt_free(&full);
    tt_free(&again);
    tt_free(&calpha);
    tt_free(&planar);
    tt_free(&alpha);
    cutout_shim_model_free(model);
    free_photo(&p);
    return 0;
}

/* Models returning a tuple or list whose first element is the matte give
 * the valid model's result; a dict is refused. */
static int case_model_outputs(void) {
    char err[512];
    photo p = load_photo();
    test_tensor image = photo_batch_u8(&p, 1);
    int64_t ashape[3] = {1, p.height, p.width};
    test_tensor alpha = tt_compact(F32, 3, ashape);
    const char *accepted[] = {"tiny_tuple.pt", "tiny_list.pt"};
    for (int i = 0; i < 2; ++i) {
        cutout_shim_model *model = load_model(accepted[i]);
        fill_f32(&alpha, SENTINEL);
        CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                               sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        double d = max_diff(&alpha, 0, p.expected_alpha);
        CHECK(d <= PREDICTION_TOLERANCE, "%s differs from the reference by %g", accepted[i], d);
        cutout_shim_model_free(model);
    }

    struct {
        const char *model;
        const char *needle;
    } refused[] = {
        {"tiny_dict.pt", "model output: expected a tensor B x 1 x H x W (or a tuple/list starting "
                         "with one), got GenericDict"},
        {"tiny_wrong_rank.pt", "model output: expected 4 dims B x 1 x H x W, got 3 dims [1,64,64]"},
        {"tiny_two_channels.pt", "model output: wrong shape (expected [1,1,H,W], got [1,2,64,64])"},
        {"tiny_nan.pt", "model output: not finite (expected all values finite, got 1 NaN/Inf of "
                        "4096)"},
        {"tiny_uint8.pt", "model output: wrong dtype (expected a floating-point tensor, got uint8)"},
        {"tiny_fails.pt", "model forward: "},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; ++i) {
        cutout_shim_model *model = load_model(refused[i].model);
        fill_f32(&alpha, SENTINEL);
        CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                               sizeof err),
                     CUTOUT_SHIM_ERR_INFERENCE, err, refused[i].needle);
        CHECK(item_all_equal(&alpha, 0, SENTINEL), "%s: alpha_out written on failure",
              refused[i].model);
        if (strcmp(refused[i].model, "tiny_fails.pt") == 0)
            CHECK(strstr(err, "4 channels") != NULL,
                  "forward failure message does not say what failed: \"%s\"", err);
        cutout_shim_model_free(model);
    }
    tt_free(&image);
    tt_free(&alpha);
    free_photo(&p);
    return 0;
}

typedef struct abort_state {
    int polls;
    int abort_at; /* 1-based poll that returns true; 0 = never */
} abort_state;

static bool abort_at_poll(void *user) {
    abort_state *s = user;
    return ++s->polls == s->abort_at;
}

static int case_abort(void) {
    char err[512];
    photo p = load_photo();
    cutout_shim_model *model = load_model("tiny_valid.pt");
    test_tensor image = photo_batch_u8(&p, 1);
    int64_t ashape[3] = {1, p.height, p.width};
    test_tensor alpha = tt_compact(F32, 3, ashape);

    abort_state never = {0, 0};
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha.t, abort_at_poll, &never,
                                           err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK(never.polls == 3, "expected 3 polls (before pre-process, before and after forward), got %d",
          never.polls);
    const char *stages[] = {"before pre-processing", "before the forward pass",
                            "after the forward pass"};
    for (int at = 1; at <= 3; ++at) {
        abort_state s = {0, at};
        fill_f32(&alpha, SENTINEL);
        CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &alpha.t, abort_at_poll, &s,
                                               err, sizeof err),
                     CUTOUT_SHIM_CANCELLED, err, stages[at - 1]);
        CHECK(s.polls == at, "kept polling after the abort (%d polls)", s.polls);
        CHECK(item_all_equal(&alpha, 0, SENTINEL), "alpha_out written after a cancel");
    }
    tt_free(&image);
    tt_free(&alpha);
    cutout_shim_model_free(model);
    free_photo(&p);
    return 0;
}

static int case_device(void) {
    char err[512];
    bool cuda = false;
    CHECK_STATUS(cutout_shim_cuda_available(&cuda, err, sizeof err), CUTOUT_SHIM_OK, err, NULL);
    cutout_shim_model *model = NULL;
    if (!cuda) {
        CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), (DLDevice){kDLCUDA, 0}, NULL, &model, NULL, err,
                                            sizeof err),
                     CUTOUT_SHIM_ERR_DEVICE, err, "CUDA is not available");
        CHECK(model == NULL, "output not NULL after a failure");
        CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), (DLDevice){kDLCUDA, 1}, NULL, &model, NULL,
                                            err, sizeof err),
                     CUTOUT_SHIM_ERR_DEVICE, err, "got cuda:1");
    }
    CHECK_STATUS(cutout_shim_model_load(model_path("tiny_valid.pt"), (DLDevice){kDLCUDA, 99}, NULL, &model, NULL, err,
                                        sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "cuda:99");

    /* Tensors on a device the model or image is not on. Their data is never
     * touched, so a dummy pointer is enough. */
    model = load_model("tiny_valid.pt");
    int64_t ishape[4] = {1, 8, 8, 3}, ashape[3] = {1, 8, 8}, oshape[4] = {1, 8, 8, 4};
    test_tensor image = tt_compact(F32, 4, ishape);
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);
    test_tensor guide = tt_compact(F32, 3, ashape);
    DLTensor cuda_image = image.t;
    cuda_image.device.device_type = kDLCUDA;
    cuda_image.device.device_id = 0;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &cuda_image, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "image: on cuda:0 but the model runs on cpu");
    DLTensor cuda_alpha = alpha.t;
    cuda_alpha.device.device_type = kDLCUDA;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &image.t, 0, 1, NULL, &cuda_alpha, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "alpha_out: on cuda:0 but the image is on cpu");
    CHECK_STATUS(cutout_shim_finish_items(&image.t, NULL, 0, 1, NULL, &cuda_alpha, &out.t, NULL, NULL, err,
                                          sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "alpha_out: on cuda:0 but the image is on cpu");
    DLTensor cuda_guide = guide.t;
    cuda_guide.device.device_type = kDLCUDA;
    CHECK_STATUS(cutout_shim_finish_items(&image.t, &cuda_guide, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err,
                                          sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "guide: on cuda:0 but the image is on cpu");
    DLTensor opencl = image.t;
    opencl.device.device_type = kDLOpenCL;
    CHECK_STATUS(cutout_shim_predict_alpha(model, &opencl, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                           sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "image: unsupported DLPack device");
    if (!cuda) {
        int64_t n = -1, first_bad = 0;
        CHECK_STATUS(cutout_shim_find_nonfinite(&cuda_image, &n, &first_bad, err, sizeof err),
                     CUTOUT_SHIM_ERR_DEVICE, err, "CUDA is not available");
        DLDevice dev = {kDLCUDA, 0};
        DLManagedTensor *m = (DLManagedTensor *)err;
        int64_t shape[1] = {4};
        CHECK_STATUS(cutout_shim_alloc_float32(dev, 1, shape, &m, err, sizeof err),
                     CUTOUT_SHIM_ERR_DEVICE, err, "CUDA is not available");
        CHECK(m == NULL, "output not NULL after a failure");
    }
    tt_free(&image);
    tt_free(&alpha);
    tt_free(&out);
    tt_free(&guide);
    cutout_shim_model_free(model);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Composition                                                               */

#define CH 16 /* compose test images are CH x CW */
#define CW 16

static float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

/* Random bits for a finite value of `dtype` (exponent not all ones). */
static uint32_t random_finite_bits(DLDataType dtype) {
    for (;;) {
        uint32_t r = (next_random() << 16) ^ next_random();
        if (dtype.code == kDLFloat && dtype.bits == 32 && ((r >> 23) & 255) != 255) return r;
        if (dtype.code == kDLFloat && dtype.bits == 16 && ((r >> 10) & 31) != 31) return r & 0xffff;
        if (dtype.code == kDLBfloat && ((r >> 7) & 255) != 255) return r & 0xffff;
        if (dtype.code == kDLUInt) return r & 255;
    }
}

/* The float32 an image element must become in out_image. */
static float expected_rgb(DLDataType dtype, const void *element) {
    if (dtype.code == kDLUInt) return (float)*(const uint8_t *)element / 255.0f;
    if (dtype.code == kDLFloat && dtype.bits == 32) {
        float f; /* may be misaligned */
        memcpy(&f, element, sizeof f);
        return f;
    }
    uint16_t h;
    memcpy(&h, element, sizeof h);
    if (dtype.code == kDLFloat) return half_to_float(h);
    return bits_float((uint32_t)h << 16); /* bfloat16 */
}

static void set_element(DLDataType dtype, void *element, uint32_t bits) {
    if (dtype.code == kDLUInt)
        *(uint8_t *)element = (uint8_t)bits;
    else if (dtype.bits == 32)
        memcpy(element, &bits, 4);
    else {
        uint16_t h = (uint16_t)bits;
        memcpy(element, &h, 2);
    }
}

/* Fills every element of a B x H x W x C image with random finite values
 * (uint8: all 256 values appear). */
static void fill_image(test_tensor *img) {
    int64_t idx[4];
    int64_t k = 0;
    for (idx[0] = 0; idx[0] < img->t.shape[0]; ++idx[0])
        for (idx[1] = 0; idx[1] < img->t.shape[1]; ++idx[1])
            for (idx[2] = 0; idx[2] < img->t.shape[2]; ++idx[2])
                for (idx[3] = 0; idx[3] < img->t.shape[3]; ++idx[3], ++k) {
                    uint32_t bits = img->t.dtype.code == kDLUInt ? (uint32_t)(k % 256)
                                                                 : random_finite_bits(img->t.dtype);
                    set_element(img->t.dtype, tt_at(img, idx), bits);
                }
}

/* alpha_out item values spread over -0.5..1.5 (so clamping shows). */
static void fill_alpha_item(test_tensor *alpha, int64_t item) {
    for (int64_t y = 0; y < CH; ++y)
        for (int64_t x = 0; x < CW; ++x)
            *f32_at3(alpha, item, y, x) = -0.5f + 2.0f * (float)(y * CW + x) / (CH * CW - 1);
}

/* Composes `item` of `img` (with `guide`, may be NULL) and checks: RGB
 * bit-identical, alpha channel == expected_alpha(y, x) bit-identical, MASK ==
 * alpha channel, other items untouched, input unchanged. `alpha_in` holds
 * the alpha_out values before the call. */
typedef float (*alpha_rule)(const test_tensor *img, const test_tensor *guide, int64_t item,
                            int64_t guide_item, float alpha_in, int64_t y, int64_t x);

static void check_compose(const char *label, test_tensor *img, const test_tensor *guide,
                          int64_t item, alpha_rule rule) {
    char err[512];
    /* A guide batch of one, or a 2-dim guide, applies to every item. */
    const int64_t guide_item = guide && guide->t.ndim == 3 && guide->t.shape[0] > 1 ? item : 0;
    int64_t b = img->t.shape[0];
    int64_t ashape[3] = {b, CH, CW}, oshape[4] = {b, CH, CW, 4};
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);
    fill_f32(&alpha, SENTINEL);
    fill_f32(&out, SENTINEL);
    fill_alpha_item(&alpha, item);
    float alpha_in[CH * CW];
    memcpy(alpha_in, f32_at3(&alpha, item, 0, 0), sizeof alpha_in);
    void *before = xcalloc(img->buffer_bytes);
    memcpy(before, img->t.data, img->buffer_bytes);

    CHECK_STATUS(cutout_shim_finish_items(&img->t, guide ? &guide->t : NULL, item, 1, NULL,
                                          &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    int rgb_bad = 0, alpha_bad = 0, mask_bad = 0;
    size_t esize = elem_size(img->t.dtype);
    (void)esize;
    for (int64_t y = 0; y < CH; ++y)
        for (int64_t x = 0; x < CW; ++x) {
            for (int64_t c = 0; c < 3; ++c) {
                int64_t idx[4] = {item, y, x, c};
                float want = expected_rgb(img->t.dtype, tt_at(img, idx));
                if (float_bits(*f32_at4(&out, item, y, x, c)) != float_bits(want)) {
                    if (rgb_bad++ == 0)
                        fprintf(stderr, "  %s: rgb (%lld,%lld,%lld) is %.9g, want %.9g\n", label,
                                (long long)y, (long long)x, (long long)c,
                                *f32_at4(&out, item, y, x, c), want);
                }
            }
            float want = rule(img, guide, item, guide_item, alpha_in[y * CW + x], y, x);
            float got = *f32_at4(&out, item, y, x, 3);
            if (float_bits(got) != float_bits(want)) {
                if (alpha_bad++ == 0)
                    fprintf(stderr, "  %s: alpha (%lld,%lld) is %.9g, want %.9g\n", label,
                            (long long)y, (long long)x, got, want);
            }
            if (float_bits(*f32_at3(&alpha, item, y, x)) != float_bits(got)) ++mask_bad;
        }
    CHECK(rgb_bad == 0, "%s: %d RGB values are not bit-identical to the input", label, rgb_bad);
    CHECK(alpha_bad == 0, "%s: %d alpha values differ from the expected product", label,
          alpha_bad);
    CHECK(mask_bad == 0, "%s: %d alpha_out values differ from the alpha channel", label,
          mask_bad);
    for (int64_t other = 0; other < b; ++other)
        if (other != item)
            CHECK(item_all_equal(&alpha, other, SENTINEL) && item_all_equal(&out, other, SENTINEL),
                  "%s: item %lld was written", label, (long long)other);
    CHECK(memcmp(before, img->t.data, img->buffer_bytes) == 0, "%s: input modified", label);
    free(before);
    tt_free(&alpha);
    tt_free(&out);
}

static float rule_alpha_only(const test_tensor *img, const test_tensor *guide, int64_t item,
                             int64_t guide_item, float alpha_in, int64_t y, int64_t x) {
    (void)img, (void)guide, (void)item, (void)guide_item, (void)y, (void)x;
    return clamp01(alpha_in);
}

static float input_alpha(const test_tensor *img, int64_t item, int64_t y, int64_t x) {
    int64_t idx[4] = {item, y, x, 3};
    return clamp01(expected_rgb(img->t.dtype, tt_at(img, idx)));
}

static float guide_value(const test_tensor *guide, int64_t guide_item, int64_t y, int64_t x) {
    int64_t idx3[3] = {guide_item, y, x}, idx2[2] = {y, x};
    const void *e = tt_at(guide, guide->t.ndim == 3 ? idx3 : idx2);
    if (guide->t.dtype.code == kDLInt) return clamp01((float)*(const int32_t *)e);
    return clamp01(expected_rgb(guide->t.dtype, e));
}

static float rule_input_alpha(const test_tensor *img, const test_tensor *guide, int64_t item,
                              int64_t guide_item, float alpha_in, int64_t y, int64_t x) {
    (void)guide, (void)guide_item;
    return clamp01(alpha_in) * input_alpha(img, item, y, x);
}

static float rule_guide(const test_tensor *img, const test_tensor *guide, int64_t item,
                        int64_t guide_item, float alpha_in, int64_t y, int64_t x) {
    float a = clamp01(alpha_in);
    if (img->t.shape[3] == 4) a = a * input_alpha(img, item, y, x);
    return a * guide_value(guide, guide_item, y, x);
}

static int case_compose_rgb(void) {
    const DLDataType types[] = {U8, F32, F16, BF16};
    const char *names[] = {"uint8", "float32", "float16", "bfloat16"};
    int64_t shape[4] = {2, CH, CW, 3};
    for (int i = 0; i < 4; ++i) {
        test_tensor img = tt_compact(types[i], 4, shape);
        fill_image(&img);
        check_compose(names[i], &img, NULL, 1, rule_alpha_only);
        check_compose(names[i], &img, NULL, 0, rule_alpha_only);
        tt_free(&img);
    }
    /* Non-contiguous: pixels 5 elements apart, padded rows and items, and a
     * byte offset (odd for uint8, so nothing may assume alignment). */
    int64_t strides[4] = {CH * CW * 5 + 7 * CW, CW * 5 + 3, 5, 1};
    size_t elems = (size_t)(2 * strides[0] + 16);
    test_tensor f = tt_strided(F32, 4, shape, strides, 12, elems);
    fill_image(&f);
    check_compose("strided float32", &f, NULL, 1, rule_alpha_only);
    tt_free(&f);
    test_tensor u = tt_strided(U8, 4, shape, strides, 3, elems);
    fill_image(&u);
    check_compose("strided uint8", &u, NULL, 1, rule_alpha_only);
    tt_free(&u);
    /* Misaligned data: float32 and bfloat16 elements at odd addresses. */
    test_tensor mf = tt_strided(F32, 4, shape, strides, 2, elems);
    fill_image(&mf);
    check_compose("misaligned float32", &mf, NULL, 1, rule_alpha_only);
    tt_free(&mf);
    test_tensor mb = tt_strided(BF16, 4, shape, strides, 1, elems);
    fill_image(&mb);
    check_compose("misaligned bfloat16", &mb, NULL, 0, rule_alpha_only);
    tt_free(&mb);
    /* Channel planes (C x H x W in memory) seen as B x H x W x C. */
    int64_t planar_strides[4] = {CH * CW * 3, CW, 1, CH * CW};
    test_tensor planar = tt_strided(F16, 4, shape, planar_strides, 0, (size_t)(2 * CH * CW * 3));
    fill_image(&planar);
    check_compose("planar float16", &planar, NULL, 1, rule_alpha_only);
    tt_free(&planar);
    return 0;
}

/* Every uint8 value v becomes exactly (float)v / 255.0f. */
static int case_compose_uint8_exact(void) {
    char err[256];
    int64_t shape[4] = {1, 1, 256, 3}, ashape[3] = {1, 1, 256}, oshape[4] = {1, 1, 256, 4};
    test_tensor img = tt_compact(U8, 4, shape);
    for (int v = 0; v < 256; ++v)
        for (int c = 0; c < 3; ++c) ((uint8_t *)img.t.data)[v * 3 + c] = (uint8_t)v;
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    int bad = 0;
    for (int v = 0; v < 256; ++v)
        for (int c = 0; c < 3; ++c)
            if (float_bits(((float *)out.t.data)[v * 4 + c]) != float_bits((float)v / 255.0f))
                ++bad;
    CHECK(bad == 0, "%d uint8 values are not exactly v / 255.0f", bad);
    tt_free(&img);
    tt_free(&alpha);
    tt_free(&out);
    return 0;
}

static int case_compose_alpha(void) {
    /* Input alpha (C = 4) multiplies; values outside 0..1 are clamped. */
    int64_t shape4[4] = {2, CH, CW, 4};
    test_tensor f = tt_compact(F32, 4, shape4);
    for (int64_t i = 0; i < 2 * CH * CW * 4; ++i)
        ((float *)f.t.data)[i] = -0.25f + 1.5f * (float)(next_random() % 1001) / 1000.0f;
    check_compose("rgba float32", &f, NULL, 1, rule_input_alpha);
    test_tensor u = tt_compact(U8, 4, shape4);
    fill_image(&u);
    check_compose("rgba uint8", &u, NULL, 0, rule_input_alpha);

    /* Guide of the image's size: per item, broadcast from a batch of one,
     * 2-dim, uint8, int32, and together with C = 4. */
    int64_t gshape3[3] = {2, CH, CW}, gshape1[3] = {1, CH, CW}, gshape2[2] = {CH, CW};
    test_tensor g2 = tt_compact(F32, 3, gshape3);
    for (int64_t i = 0; i < 2 * CH * CW; ++i)
        ((float *)g2.t.data)[i] = -1.0f + 3.0f * (float)(next_random() % 1001) / 1000.0f;
    int64_t shape3[4] = {2, CH, CW, 3};
    test_tensor rgb = tt_compact(F32, 4, shape3);
    fill_image(&rgb);
    check_compose("guide item 1", &rgb, &g2, 1, rule_guide);
    test_tensor g1 = tt_compact(F32, 3, gshape1);
    memcpy(g1.t.data, g2.t.data, (size_t)(CH * CW) * sizeof(float));
    check_compose("guide batch of one", &rgb, &g1, 1, rule_guide);
    test_tensor g0 = tt_compact(F32, 2, gshape2);
    memcpy(g0.t.data, g2.t.data, (size_t)(CH * CW) * sizeof(float));
    check_compose("2-dim guide", &rgb, &g0, 1, rule_guide);
    test_tensor gu = tt_compact(U8, 2, gshape2);
    for (int64_t i = 0; i < CH * CW; ++i) ((uint8_t *)gu.t.data)[i] = (uint8_t)(i * 7);
    check_compose("uint8 guide", &rgb, &gu, 0, rule_guide);
    test_tensor gi = tt_compact(I32, 2, gshape2);
    for (int64_t i = 0; i < CH * CW; ++i) ((int32_t *)gi.t.data)[i] = (int32_t)(i % 3) - 1;
    check_compose("int32 guide", &rgb, &gi, 1, rule_guide);
    check_compose("rgba uint8 with guide", &u, &g2, 1, rule_guide);

    tt_free(&f);
    tt_free(&u);
    tt_free(&g2);
    tt_free(&rgb);
    tt_free(&g1);
    tt_free(&g0);
    tt_free(&gu);
    tt_free(&gi);
    return 0;
}

/* A guide of another size is resized bilinearly to H x W. */
static int case_compose_guide_resize(void) {
    char err[256];
    int64_t shape[4] = {1, CH, CW, 3}, ashape[3] = {1, CH, CW}, oshape[4] = {1, CH, CW, 4};
    test_tensor img = tt_compact(F32, 4, shape);
    fill_image(&img);
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);

    /* Constant guides, smaller (upscaled) and larger (downscaled): the result
     * is the constant times the alpha. */
    const int64_t sizes[2][2] = {{5, 6}, {40, 33}};
    for (int s = 0; s < 2; ++s) {
        int64_t gshape[3] = {1, sizes[s][0], sizes[s][1]};
        test_tensor g = tt_compact(F32, 3, gshape);
        fill_f32(&g, 0.25f);
        fill_alpha_item(&alpha, 0);
        CHECK_STATUS(cutout_shim_finish_items(&img.t, &g.t, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err,
                                              sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        double worst = 0;
        for (int64_t i = 0; i < CH * CW; ++i) {
            float a_in = -0.5f + 2.0f * (float)i / (CH * CW - 1);
            double d = fabs(((float *)out.t.data)[i * 4 + 3] - clamp01(a_in) * 0.25);
            if (!(d <= worst)) worst = d;
            CHECK(float_bits(((float *)out.t.data)[i * 4 + 3]) ==
                      float_bits(((float *)alpha.t.data)[i]),
                  "alpha_out differs from the alpha channel at %lld", (long long)i);
        }
        CHECK(worst <= 1e-6, "constant guide %lldx%lld: alpha off by %g", (long long)sizes[s][0],
              (long long)sizes[s][1], worst);
        tt_free(&g);
    }

    /* A step guide 8 x 32 (0 on the left half, 255 on the right, uint8):
     * after resizing, each row rises from 0 to 1 without overshoot. */
    int64_t sshape[2] = {8, 32};
    test_tensor step = tt_compact(U8, 2, sshape);
    for (int64_t y = 0; y < 8; ++y)
        for (int64_t x = 0; x < 32; ++x) ((uint8_t *)step.t.data)[y * 32 + x] = x < 16 ? 0 : 255;
    fill_f32(&alpha, 1.0f);
    CHECK_STATUS(cutout_shim_finish_items(&img.t, &step.t, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err,
                                          sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    for (int64_t y = 0; y < CH; ++y) {
        const float *row = (const float *)alpha.t.data + y * CW;
        CHECK(fabsf(row[0]) <= 1e-6f && fabsf(row[CW - 1] - 1.0f) <= 1e-6f,
              "row %lld: ends are %g and %g, want 0 and 1", (long long)y, row[0], row[CW - 1]);
        bool rising = true, blended = false;
        for (int64_t x = 1; x < CW; ++x) rising = rising && row[x] >= row[x - 1];
        for (int64_t x = 0; x < CW; ++x) blended = blended || (row[x] > 0.01f && row[x] < 0.99f);
        CHECK(rising && blended, "row %lld is not a smooth rise from 0 to 1", (long long)y);
    }
    tt_free(&step);
    tt_free(&img);
    tt_free(&alpha);
    tt_free(&out);
    return 0;
}

static int case_compose_errors(void) {
    char err[512];
    int64_t shape[4] = {2, CH, CW, 3}, ashape[3] = {2, CH, CW}, oshape[4] = {2, CH, CW, 4};
    test_tensor img = tt_compact(F32, 4, shape);
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);
    test_tensor guide = tt_compact(F32, 3, ashape);

    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 2, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "got first 2, count 1");
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, -1, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "items: out of range");
    int64_t shape3[4] = {3, CH, CW, 3}, ashape3[3] = {3, CH, CW}, oshape3[4] = {3, CH, CW, 4};
    test_tensor img3 = tt_compact(F32, 4, shape3);
    test_tensor alpha3 = tt_compact(F32, 3, ashape3);
    test_tensor out3 = tt_compact(F32, 4, oshape3);
    CHECK_STATUS(cutout_shim_finish_items(&img3.t, &guide.t, 0, 3, NULL, &alpha3.t, &out3.t, NULL,
                                          NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "guide: batch of 2 does not match the image");
    tt_free(&img3);
    tt_free(&alpha3);
    tt_free(&out3);
    CHECK_STATUS(cutout_shim_finish_items(NULL, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: tensor is NULL");
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, NULL, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "out_image: tensor is NULL");

    /* Wrong output shapes, dtype, layout. */
    int64_t small[4] = {2, CH, CW - 1, 4};
    out.t.shape = small;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err,
                 "out_image: shape does not match the image (expected [2,16,16,4], got [2,16,15,4])");
    out.t.shape = out.shape;
    out.t.dtype = F16;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "out_image: wrong dtype (expected float32, got float16)");
    out.t.dtype = F32;
    int64_t ostrides[4] = {CH * CW * 4, CW * 4, 1, CH * CW * 2};
    out.t.strides = ostrides;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "out_image: not compact");
    out.t.strides = NULL;
    alpha.t.ndim = 2;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "alpha_out: expected 3 dims B x H x W, got 2 dims");
    alpha.t.ndim = 3;

    /* Bad images. */
    img.t.ndim = 3;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: expected 4 dims B x H x W x C, got 3 dims [2,16,16]");
    img.t.ndim = 4;
    img.t.dtype = I32;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: unsupported dtype (expected float32, float16, bfloat16 or uint8, got int32)");
    DLDataType complex = {kDLComplex, 64, 1};
    img.t.dtype = complex;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: unsupported dtype (expected float16/32/64, bfloat16, uint8 or int8/16/32/64, got complex64)");
    DLDataType lanes = {kDLFloat, 32, 2};
    img.t.dtype = lanes;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "got float32x2)");
    img.t.dtype = F32;
    int64_t negative[4] = {CH * CW * 3, -CW * 3, 3, 1};
    img.t.strides = negative;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: negative stride (expected strides >= 0, got [768,-48,3,1])");
    int64_t huge[4] = {INT64_MAX / 2, 1, 1, 3};
    img.t.strides = huge;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: strides overflow");
    img.t.strides = NULL;
    void *data = img.t.data;
    img.t.data = NULL;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "image: data is NULL");
    img.t.data = data;

    /* Bad guides. */
    guide.t.ndim = 1;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, &guide.t, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err,
                                          sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "guide: expected 3 dims B x H x W or 2 dims H x W, got 1 dims [2]");
    guide.t.ndim = 3;
    int64_t empty[3] = {2, 0, CW};
    guide.t.shape = empty;
    CHECK_STATUS(cutout_shim_finish_items(&img.t, &guide.t, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err,
                                          sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "guide: empty");
    guide.t.shape = guide.shape;

    tt_free(&img);
    tt_free(&alpha);
    tt_free(&out);
    tt_free(&guide);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Allocation, non-finite counts, messages, threads                          */

static int case_alloc(void) {
    char err[512];
    DLDevice cpu = {kDLCPU, 0};
    int64_t shape[3] = {2, 3, 5};
    DLManagedTensor *m = NULL;
    CHECK_STATUS(cutout_shim_alloc_float32(cpu, 3, shape, &m, err, sizeof err), CUTOUT_SHIM_OK,
                 err, NULL);
    CHECK(m != NULL && m->deleter != NULL, "no tensor or no deleter");
    if (m != NULL) {
        DLTensor *t = &m->dl_tensor;
        CHECK(t->ndim == 3 && t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 5,
              "wrong shape");
        CHECK(t->dtype.code == kDLFloat && t->dtype.bits == 32 && t->dtype.lanes == 1,
              "wrong dtype");
        CHECK(t->device.device_type == kDLCPU, "wrong device");
        CHECK(t->strides == NULL ||
                  (t->strides[0] == 15 && t->strides[1] == 5 && t->strides[2] == 1),
              "not compact");
        float *v = (float *)((char *)t->data + t->byte_offset);
        for (int i = 0; i < 30; ++i) v[i] = (float)i; /* every element writable */
        bool kept = true;
        for (int i = 0; i < 30; ++i) kept = kept && v[i] == (float)i;
        CHECK(kept, "written values not kept");
        m->deleter(m);
    }
    /* A scalar and an empty tensor. */
    CHECK_STATUS(cutout_shim_alloc_float32(cpu, 0, NULL, &m, err, sizeof err), CUTOUT_SHIM_OK,
                 err, NULL);
    if (m != NULL) m->deleter(m);
    int64_t empty[2] = {0, 4};
    CHECK_STATUS(cutout_shim_alloc_float32(cpu, 2, empty, &m, err, sizeof err), CUTOUT_SHIM_OK,
                 err, NULL);
    if (m != NULL) m->deleter(m);

    int64_t negative[2] = {2, -1};
    m = (DLManagedTensor *)err;
    CHECK_STATUS(cutout_shim_alloc_float32(cpu, 2, negative, &m, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "shape: negative size (got [2,-1])");
    CHECK(m == NULL, "output not NULL after a failure");
    CHECK_STATUS(cutout_shim_alloc_float32(cpu, 2, NULL, &m, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "NULL shape");
    CHECK_STATUS(cutout_shim_alloc_float32(cpu, 1, shape, NULL, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "out");
    int64_t overflow[2] = {INT64_MAX / 2, 3};
    CHECK_STATUS(cutout_shim_alloc_float32(cpu, 2, overflow, &m, err, sizeof err),
                 CUTOUT_SHIM_ERR_OUT_OF_MEMORY, err, "size overflows");
    /* 4 TiB: more than any test machine has; the allocator refuses it. */
    int64_t too_big[2] = {1 << 20, 1 << 20};
    CHECK_STATUS(cutout_shim_alloc_float32(cpu, 2, too_big, &m, err, sizeof err),
                 CUTOUT_SHIM_ERR_OUT_OF_MEMORY, err, NULL);
    CHECK(m == NULL, "output not NULL after a failure");
    DLDevice opencl = {kDLOpenCL, 0};
    CHECK_STATUS(cutout_shim_alloc_float32(opencl, 1, shape, &m, err, sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "device: unsupported DLPack device");
    return 0;
}

static int case_count_nonfinite(void) {
    char err[256];
    int64_t shape[3] = {3, 4, 5};
    test_tensor f = tt_compact(F32, 3, shape);
    int64_t n = -1, first = -2;
    CHECK_STATUS(cutout_shim_find_nonfinite(&f.t, &n, &first, err, sizeof err), CUTOUT_SHIM_OK,
                 err, NULL);
    CHECK(n == 0 && first == -1, "all finite: expected 0 and item -1, got %lld and %lld",
          (long long)n, (long long)first);
    float *v = f.t.data;
    v[20 + 3] = NAN;
    v[20 + 7] = INFINITY;
    v[20 + 19] = -INFINITY;
    v[40 + 0] = NAN;
    CHECK_STATUS(cutout_shim_find_nonfinite(&f.t, &n, &first, err, sizeof err), CUTOUT_SHIM_OK,
                 err, NULL);
    CHECK(n == 4 && first == 1, "all items: expected 4 in item 1 first, got %lld in %lld",
          (long long)n, (long long)first);

    /* Strided (every other element of a 3 x 4 x 10 buffer). */
    int64_t strides[3] = {40, 10, 2};
    test_tensor s = tt_strided(F32, 3, shape, strides, 4, 120);
    float *sv = s.t.data;
    sv[1 + 80 + 2 * 3] = NAN;  /* item 2, element 3 */
    sv[1 + 40 + 1] = INFINITY; /* byte offset 4 = element 1; odd index: skipped by the view */
    CHECK_STATUS(cutout_shim_find_nonfinite(&s.t, &n, &first, err, sizeof err), CUTOUT_SHIM_OK,
                 err, NULL);
    CHECK(n == 1 && first == 2, "strided: expected 1 in item 2, got %lld in %lld", (long long)n,
          (long long)first);

    /* float16 with an infinity; uint8 and int32 are always finite. */
    test_tensor h = tt_compact(F16, 3, shape);
    ((uint16_t *)h.t.data)[5] = 0x7c00;
    ((uint16_t *)h.t.data)[6] = 0x7e00;
    CHECK_STATUS(cutout_shim_find_nonfinite(&h.t, &n, &first, err, sizeof err), CUTOUT_SHIM_OK,
                 err, NULL);
    CHECK(n == 2 && first == 0, "float16: expected 2 in item 0, got %lld in %lld", (long long)n,
          (long long)first);
    test_tensor u = tt_compact(U8, 3, shape);
    memset(u.t.data, 255, u.buffer_bytes);
    n = -1;
    CHECK_STATUS(cutout_shim_find_nonfinite(&u.t, &n, &first, err, sizeof err), CUTOUT_SHIM_OK,
                 err, NULL);
    CHECK(n == 0 && first == -1, "uint8: expected 0, got %lld", (long long)n);

    CHECK_STATUS(cutout_shim_find_nonfinite(&f.t, NULL, &first, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err, "nonfinite");
    f.t.ndim = 0;
    CHECK_STATUS(cutout_shim_find_nonfinite(&f.t, &n, &first, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_INPUT, err, "expected at least 1 dim");
    tt_free(&f);
    tt_free(&s);
    tt_free(&h);
    tt_free(&u);
    return 0;
}

/* Messages are truncated to the buffer and always NUL-terminated; a NULL
 * buffer is fine. */
static int case_messages(void) {
    char full[512], small[8];
    const char *missing = "no/such/dir/model.pt";
    cutout_shim_model *model = NULL;
    CHECK_STATUS(cutout_shim_model_load(missing, CPU, NULL, &model, NULL, full, sizeof full),
                 CUTOUT_SHIM_ERR_MODEL_NOT_FOUND, full, missing);
    memset(small, 'x', sizeof small);
    CHECK(cutout_shim_model_load(missing, CPU, NULL, &model, NULL, small, sizeof small) ==
              CUTOUT_SHIM_ERR_MODEL_NOT_FOUND,
          "status with a small buffer");
    CHECK(small[7] == '\0' && strncmp(small, full, 7) == 0, "truncation: \"%.8s\"", small);
    memset(small, 'x', sizeof small);
    CHECK(cutout_shim_model_load(missing, CPU, NULL, &model, NULL, small, 1) ==
              CUTOUT_SHIM_ERR_MODEL_NOT_FOUND,
          "status with a 1-byte buffer");
    CHECK(small[0] == '\0' && small[1] == 'x', "1-byte buffer not just NUL-terminated");
    memset(small, 'x', sizeof small);
    CHECK(cutout_shim_model_load(missing, CPU, NULL, &model, NULL, small, 0) ==
              CUTOUT_SHIM_ERR_MODEL_NOT_FOUND,
          "status with a 0-byte buffer");
    CHECK(small[0] == 'x', "0-byte buffer was written");
    CHECK(cutout_shim_model_load(missing, CPU, NULL, &model, NULL, NULL, 0) ==
              CUTOUT_SHIM_ERR_MODEL_NOT_FOUND,
          "status with a NULL buffer");
    CHECK(cutout_shim_set_num_threads(0, NULL, 0) == CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
          "status with a NULL buffer");

    /* A libtorch error (zip reader) reaches the caller as one line, without
     * libtorch's backtrace; success clears the buffer. */
    char zip_path[4096];
    snprintf(zip_path, sizeof zip_path, "%s", model_path("zip_not_a_model.pt"));
    CHECK_STATUS(cutout_shim_model_load(zip_path, CPU, NULL, &model, NULL, full, sizeof full),
                 CUTOUT_SHIM_ERR_MODEL_INVALID, full, zip_path);
    bool cuda = false;
    CHECK_STATUS(cutout_shim_cuda_available(&cuda, full, sizeof full), CUTOUT_SHIM_OK, full,
                 NULL);
    return 0;
}

typedef struct worker {
    cutout_shim_model *model;
    const photo *p;
    int failures;
} worker;

static void *worker_run(void *arg) {
    worker *w = arg;
    char err[512];
    test_tensor image = photo_batch_u8(w->p, 1);
    int64_t ashape[3] = {1, w->p->height, w->p->width};
    int64_t oshape[4] = {1, w->p->height, w->p->width, 4};
    test_tensor alpha = tt_compact(F32, 3, ashape);
    test_tensor out = tt_compact(F32, 4, oshape);
    for (int round = 0; round < 4; ++round) {
        fill_f32(&alpha, SENTINEL);
        if (cutout_shim_predict_alpha(w->model, &image.t, 0, 1, NULL, &alpha.t, NULL, NULL, err,
                                      sizeof err) != CUTOUT_SHIM_OK) {
            fprintf(stderr, "  thread: predict failed: %s\n", err);
            ++w->failures;
            continue;
        }
        double d = max_diff(&alpha, 0, w->p->expected_alpha);
        if (!(d <= PREDICTION_TOLERANCE)) {
            fprintf(stderr, "  thread: result differs from the reference by %g\n", d);
            ++w->failures;
        }
        if (cutout_shim_finish_items(&image.t, NULL, 0, 1, NULL, &alpha.t, &out.t, NULL, NULL, err, sizeof err) !=
            CUTOUT_SHIM_OK) {
            fprintf(stderr, "  thread: compose failed: %s\n", err);
            ++w->failures;
        }
        d = max_diff(&alpha, 0, w->p->expected_alpha);
        if (!(d <= PREDICTION_TOLERANCE)) ++w->failures;
    }
    tt_free(&image);
    tt_free(&alpha);
    tt_free(&out);
    return NULL;
}

/* Several threads predict and compose with one model at the same time and
 * all get the single-threaded result. */
static int case_threads(void) {
    char err[256];
    photo p = load_photo();
    cutout_shim_model *model = load_model("tiny_valid.pt");
    CHECK_STATUS(cutout_shim_set_num_threads(2, err, sizeof err), CUTOUT_SHIM_OK, err, NULL);
    enum { N = 4 };
    pthread_t threads[N];
    worker workers[N];
    for (int i = 0; i < N; ++i) {
        workers[i].model = model;
        workers[i].p = &p;
        workers[i].failures = 0;
        CHECK(pthread_create(&threads[i], NULL, worker_run, &workers[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < N; ++i) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].failures == 0, "thread %d: %d failures", i, workers[i].failures);
    }
    cutout_shim_model_free(model);
    free_photo(&p);
    return 0;
}

/* ------------------------------------------------------------------------ */

static int case_precision(void);
static int case_bf16_close(void);

static const struct {
    const char *name;
    int (*run)(void);
} CASES[] = {
    {"version", case_version},
    {"load", case_load},
    {"bad_files", case_bad_files},
    {"predict_photo", case_predict_photo},
    {"predict_strided", case_predict_strided},
    {"model_outputs", case_model_outputs},
    {"abort", case_abort},
    {"device", case_device},
    {"compose_rgb", case_compose_rgb},
    {"compose_uint8_exact", case_compose_uint8_exact},
    {"compose_alpha", case_compose_alpha},
    {"compose_guide_resize", case_compose_guide_resize},
    {"compose_errors", case_compose_errors},
    {"alloc", case_alloc},
    {"count_nonfinite", case_count_nonfinite},
    {"messages", case_messages},
    {"threads", case_threads},
    {"precision", case_precision},
    {"bf16_close", case_bf16_close},
};

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s CASE MODELS_DIR PHOTO_PNG\n", argv[0]);
        return 2;
    }
    g_models_dir = argv[2];
    g_photo_path = argv[3];
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; ++i) {
        if (strcmp(CASES[i].name, argv[1]) != 0) continue;
        int rc = CASES[i].run();
        if (rc == 77) return 77;
        if (g_failures > 0) {
            fprintf(stderr, "%s: %d check(s) failed\n", argv[1], g_failures);
            return 1;
        }
        printf("%s: ok\n", argv[1]);
        return 0;
    }
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
}

/* ------------------------------------------------------------------------ */
/* Precision: resolution, refusal, and bf16 staying close to fp32. */

/* Whether /proc/cpuinfo lists `flag` (" amx_bf16", " avx512_bf16"), read
 * independently of the shim's cpuid check. */
static bool cpuinfo_has(const char *flag) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "flags", 5) == 0) found = strstr(line, flag) != NULL;
    if (f != NULL) fclose(f);
    return found;
}

/* Whether oneDNN's ISA cap, when set, is one of the n `below` ISAs. */
static bool cap_is_one_of(const char *const *below, size_t n) {
    const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
    if (cap == NULL || *cap == '\0') cap = getenv("DNNL_MAX_CPU_ISA");
    for (size_t i = 0; cap != NULL && i < n; ++i)
        if (strcasecmp(cap, below[i]) == 0) return true;
    return false;
}

static const char *const kBelowBf16[] = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2",
                                         "AVX512_CORE", "AVX512_CORE_VNNI"};
static const char *const kBelowAmx[] = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2",
                                        "AVX512_CORE", "AVX512_CORE_VNNI", "AVX512_CORE_BF16",
                                        "AVX512_CORE_FP16", "AVX10_1_512"};

/* Whether "auto" must pick bf16 here: AMX-BF16, not held below AMX. */
static bool expect_auto_bf16(void) {
    return cpuinfo_has(" amx_bf16") && !cap_is_one_of(kBelowAmx, sizeof kBelowAmx / sizeof kBelowAmx[0]);
}

/* Whether the shim must run bf16 here: the CPU has it (AMX-BF16 or
 * AVX512-BF16) and oneDNN's ISA cap, when set, is not below
 * AVX512_CORE_BF16 (the shim then refuses bf16, as on an AVX2 CPU). */
static bool expect_native_bf16(void) {
    return (cpuinfo_has(" amx_bf16") || cpuinfo_has(" avx512_bf16")) &&
           !cap_is_one_of(kBelowBf16, sizeof kBelowBf16 / sizeof kBelowBf16[0]);
}

static int case_precision(void) {
    char err[512];
    cutout_shim_model_info info;
    cutout_shim_model *model = NULL;
    const char *path = model_path("tiny_valid.pt");

    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION(NULL), &model, &info, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK(strcmp(info.precision, "fp32") == 0, "NULL precision: got %s", info.precision);
    cutout_shim_model_free(model);

    const bool native = expect_native_bf16();
    if (native) {
        CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("bf16"), &model, &info, err,
                                                      sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        CHECK(strcmp(info.precision, "bf16") == 0, "bf16: got %s", info.precision);
        cutout_shim_model_free(model);
    } else {
        model = NULL;
        CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("bf16"), &model, &info, err,
                                                      sizeof err),
                     CUTOUT_SHIM_ERR_DEVICE, err,
                     "precision: bf16 needs a CPU with AVX512-BF16 or AMX-BF16");
        CHECK(model == NULL, "bf16 refused but a model came back");
    }

    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("auto"), &model, &info, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    const char *expected = expect_auto_bf16() ? "bf16" : "fp32";
    CHECK(strcmp(info.precision, expected) == 0, "auto on this cpu: expected %s, got %s", expected,
          info.precision);
    cutout_shim_model_free(model);

    model = NULL;
    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("fp16"), &model, &info, err, sizeof err),
                 CUTOUT_SHIM_ERR_DEVICE, err, "precision: fp16 is not supported on cpu");
    CHECK(model == NULL, "fp16 refused but a model came back");
    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("int8"), &model, &info, err, sizeof err),
                 CUTOUT_SHIM_ERR_INVALID_ARGUMENT, err,
                 "precision: expected auto, fp32, bf16 or fp16, got 'int8'");
    CHECK(model == NULL, "int8 refused but a model came back");
    return 0;
}

/* The photo through the tiny model in bf16: close to fp32 (mean and max
 * difference) and to the Python float32 reference, yet not bit-identical
 * (so the forward pass really ran in bf16). */
static int case_bf16_close(void) {
    char err[512];
    if (!expect_native_bf16()) {
        printf("skipped: no native bf16 here (case precision checks that bf16 is refused)\n");
        return 77;
    }
    photo p = load_photo();
    cutout_shim_model *m32 = NULL, *m16 = NULL;
    const char *path = model_path("tiny_valid.pt");
    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("fp32"), &m32, NULL, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    CHECK_STATUS(cutout_shim_model_load(path, CPU, PRECISION("bf16"), &m16, NULL, err, sizeof err),
                 CUTOUT_SHIM_OK, err, NULL);
    test_tensor image = photo_batch_u8(&p, 1);
    int64_t ashape[3] = {1, p.height, p.width};
    test_tensor a32 = tt_compact(F32, 3, ashape), a16 = tt_compact(F32, 3, ashape);
    fill_f32(&a32, SENTINEL);
    fill_f32(&a16, SENTINEL);
    /* Twice each: the second call runs on reused (cached) buffers. */
    for (int round = 0; round < 2; ++round) {
        CHECK_STATUS(cutout_shim_predict_alpha(m32, &image.t, 0, 1, NULL, &a32.t, NULL, NULL, err, sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
        CHECK_STATUS(cutout_shim_predict_alpha(m16, &image.t, 0, 1, NULL, &a16.t, NULL, NULL, err, sizeof err),
                     CUTOUT_SHIM_OK, err, NULL);
    }
    double sum = 0, worst = 0;
    int64_t n = p.height * p.width;
    for (int64_t y = 0; y < p.height; ++y)
        for (int64_t x = 0; x < p.width; ++x) {
            double d = fabs((double)*f32_at3(&a16, 0, y, x) - *f32_at3(&a32, 0, y, x));
            sum += d;
            if (!(d <= worst)) worst = d;
        }
    double to_reference = max_diff(&a16, 0, p.expected_alpha);
    fprintf(stderr, "  bf16 vs fp32: mean %.3g, max %.3g; bf16 vs reference max %.3g\n",
            sum / (double)n, worst, to_reference);
    CHECK(sum / (double)n <= 2e-3, "bf16 mean difference from fp32 %g > 2e-3", sum / (double)n);
    CHECK(worst <= 2e-2, "bf16 max difference from fp32 %g > 2e-2", worst);
    CHECK(to_reference <= 2e-2, "bf16 max difference from the reference %g > 2e-2", to_reference);
    CHECK(worst > 0, "bf16 result is identical to fp32: the forward pass did not run in bf16");
    tt_free(&image);
    tt_free(&a32);
    tt_free(&a16);
    cutout_shim_model_free(m32);
    cutout_shim_model_free(m16);
    free_photo(&p);
    return 0;
}
