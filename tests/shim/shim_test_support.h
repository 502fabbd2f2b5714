/*
 * shim_test_support.h - what the shim test cases share: checks, test
 * tensors, the tiny models and the photo with its reference mattes.
 * Single-threaded use, except where a case says otherwise. Each
 * function's contract is written beside it in shim_test_support.c.
 */
#ifndef CUTOUT_SHIM_TEST_SUPPORT_H
#define CUTOUT_SHIM_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cutout_shim.h"

extern int g_failures;
extern const char *g_models_dir; /* MODELS_DIR of the command line */
extern const char *g_photo_path; /* PHOTO_PNG of the command line */
extern uint32_t g_rng;

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

static const DLDevice CPU = {kDLCPU, 0};
static const DLDataType F32 = {kDLFloat, 32, 1};
static const DLDataType F16 = {kDLFloat, 16, 1};
static const DLDataType BF16 = {kDLBfloat, 16, 1};
static const DLDataType U8 = {kDLUInt, 8, 1};
static const DLDataType I32 = {kDLInt, 32, 1};

#define PREDICTION_TOLERANCE 2e-5
#define SENTINEL (-7.0f)
/* Load parameters asking for precision `p`. */
#define PRECISION(p) (&(cutout_shim_load_params){sizeof(cutout_shim_load_params), (p), false, false})

/* A DLTensor on the CPU that owns its buffer, shape and strides (all on the
 * heap, so the struct may be copied and returned by value). */
typedef struct test_tensor {
    DLTensor t;
    int64_t *shape;   /* 6 entries */
    int64_t *strides; /* 6 entries */
    size_t buffer_bytes;
} test_tensor;

typedef struct photo {
    uint8_t *rgb; /* H x W x 3 */
    int64_t height, width;
    float *expected_alpha;      /* H x W */
    int64_t crop_y, crop_x, crop_h, crop_w;
    float *expected_crop_alpha; /* crop_h x crop_w */
    int64_t native_y, native_x, native_side; /* a crop of the model's input size */
    float *expected_native_alpha;
} photo;

void check_status_at(const char *file, int line, const char *what, cutout_shim_status got, cutout_shim_status expected, const char *err, const char *needle);
size_t elem_size(DLDataType dtype);
void *xcalloc(size_t n);
test_tensor tt_compact(DLDataType dtype, int ndim, const int64_t *shape);
test_tensor tt_strided(DLDataType dtype, int ndim, const int64_t *shape, const int64_t *strides, uint64_t byte_offset, size_t buffer_elems);
void tt_free(test_tensor *x);
int64_t tt_offset(const test_tensor *x, const int64_t *idx);
void *tt_at(const test_tensor *x, const int64_t *idx);
float *f32_at4(const test_tensor *x, int64_t a, int64_t b, int64_t c, int64_t d);
float *f32_at3(const test_tensor *x, int64_t a, int64_t b, int64_t c);
void fill_f32(test_tensor *x, float v);
uint32_t float_bits(float f);
float bits_float(uint32_t u);
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
uint32_t next_random(void);
char *model_path(const char *name);
float *read_floats(const char *name, size_t count);
photo load_photo(void);
void free_photo(photo *p);
test_tensor photo_batch_u8(const photo *p, int64_t batch);
cutout_shim_model *load_model(const char *name);
double max_diff(const test_tensor *alpha, int64_t item, const float *expected);
bool item_all_equal(const test_tensor *t, int64_t item, float v);
bool in_unit_range(const test_tensor *alpha, int64_t item);

#endif /* CUTOUT_SHIM_TEST_SUPPORT_H */
