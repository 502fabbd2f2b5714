/* shim_cases_runtime.c - allocation, the NaN/Inf check, message buffers, and threads. */
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
/* Allocation, non-finite counts, messages, threads                          */

int case_alloc(void) {
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

int case_count_nonfinite(void) {
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
int case_messages(void) {
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
int case_threads(void) {
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
