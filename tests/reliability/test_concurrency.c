/*
 * test_concurrency.c - four threads sharing one cutout_context, each on
 * its own photos, get bit-for-bit the outputs of serial calls (float32),
 * while a fifth thread sends bad inputs and checks that its errors (and
 * only its errors) show up in its own cutout_last_error(). Also: the first
 * use of a model from four threads at once loads it once and works, and
 * contexts created on four threads at once (good and broken specs) behave
 * as when created alone.
 *
 * Built against the stub library (ctest label unit; also the test the
 * ThreadSanitizer build runs) and against the real library with the tiny
 * model (label torch).
 *
 * Usage: test_concurrency PHOTO_DIR MODEL_DIR MODEL_NAME
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "reliability_support.h"

#define THREADS 4
#define ROUNDS 3

static const char *g_model;
static cutout_context *g_ctx;

/* Different photos, sizes, channel counts and batch sizes per job. */
typedef struct job {
    const char *file;
    int channels;
    int64_t batch;
    int64_t batch_size;
    rel_image image;
    rel_image guide;  /* B x H x W, or empty */
    float *expected_rgba; /* from the serial run */
    float *expected_mask;
    size_t pixels;    /* B * H * W */
} job;

static job g_jobs[THREADS] = {
    {.file = "animal_fur_chelsea.png", .channels = 3, .batch = 2, .batch_size = 1},
    {.file = "product_coffee.png", .channels = 3, .batch = 3, .batch_size = 2},
    {.file = "rgba_bear_tuxpaint.png", .channels = 4, .batch = 1, .batch_size = 1},
    {.file = "portrait_astronaut.png", .channels = 3, .batch = 2, .batch_size = 2},
};

static cutout_status run_job(cutout_context *ctx, const job *j, DLManagedTensor *out[2])
{
    const DLTensor *guide = j->guide.data ? &j->guide.tensor : NULL;
    return rel_run(ctx, &j->image.tensor, guide, g_model, j->batch_size, NULL, out);
}

static float *copy_floats(const DLTensor *t, size_t count)
{
    float *copy = malloc(count * sizeof(float));
    if (copy == NULL) exit(2);
    memcpy(copy, (const char *)t->data + t->byte_offset, count * sizeof(float));
    return copy;
}

/* Returns the number of float32 values that differ bit for bit. */
static size_t differences(const DLManagedTensor *const out[2], const job *j)
{
    size_t bad = 0;
    const float *rgba = (const float *)((const char *)out[0]->dl_tensor.data + out[0]->dl_tensor.byte_offset);
    const float *mask = (const float *)((const char *)out[1]->dl_tensor.data + out[1]->dl_tensor.byte_offset);
    for (size_t k = 0; k < j->pixels * 4; k++) bad += memcmp(&rgba[k], &j->expected_rgba[k], 4) != 0;
    for (size_t k = 0; k < j->pixels; k++) bad += memcmp(&mask[k], &j->expected_mask[k], 4) != 0;
    return bad;
}

typedef struct worker {
    int index;
    size_t mismatches;
    int failures;
    char first_error[256];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int round = 0; round < ROUNDS; round++) {
        /* Each thread walks the jobs from its own starting point, so every
         * pairing of jobs runs at the same time at some point. */
        const job *j = &g_jobs[(w->index + round) % THREADS];
        DLManagedTensor *out[2];
        cutout_status st = run_job(g_ctx, j, out);
        if (st != CUTOUT_OK) {
            if (w->failures++ == 0)
                snprintf(w->first_error, sizeof w->first_error, "%s: %s",
                         cutout_status_string(st), cutout_last_error());
            continue;
        }
        if (cutout_last_error()[0] != '\0' && w->failures++ == 0)
            snprintf(w->first_error, sizeof w->first_error, "success left a message: %s",
                     cutout_last_error());
        w->mismatches += differences((const DLManagedTensor *const *)out, j);
        rel_release(out);
    }
    return NULL;
}

/* Sends a bad input again and again; its message must always be its own. */
static atomic_int g_stop_bad;
static void *send_bad_inputs(void *arg)
{
    int *wrong = arg;
    int64_t shape[4] = {1, 8, 8, 5}; /* 5 channels */
    float pixels[8 * 8 * 5] = {0};
    DLTensor bad = {.data = pixels, .device = {kDLCPU, 0}, .ndim = 4,
                    .dtype = {kDLFloat, 32, 1}, .shape = shape};
    for (int i = 0; i < 200 || !g_stop_bad; i++) {
        DLManagedTensor *out[2];
        cutout_status st = rel_run(g_ctx, &bad, NULL, g_model, 1, NULL, out);
        if (st != CUTOUT_ERR_INVALID_INPUT || strstr(cutout_last_error(), "got C = 5") == NULL ||
            out[0] != NULL || out[1] != NULL)
            (*wrong)++;
        if (i > 100000) break;
    }
    return NULL;
}

typedef struct first_use {
    pthread_barrier_t *start;
    cutout_context *ctx;
    const job *j;
    cutout_status status;
    size_t mismatches;
} first_use;

static void *use_fresh_context(void *arg)
{
    first_use *f = arg;
    pthread_barrier_wait(f->start);
    DLManagedTensor *out[2];
    f->status = run_job(f->ctx, f->j, out);
    if (f->status == CUTOUT_OK) {
        f->mismatches = differences((const DLManagedTensor *const *)out, f->j);
        rel_release(out);
    }
    return NULL;
}

/* Contexts created and destroyed on several threads at once: good specs
 * work, a broken one always gets the message it gets when alone. */
static const char *g_model_dir;
static const char *const BROKEN_SPEC = "{\"schema_version\": 1, \"nodes\": [ {\"id\": } ] }";
static char g_broken_message[1024];

static void *create_contexts(void *arg)
{
    int *wrong = arg;
    const char *dirs[] = {g_model_dir};
    for (int i = 0; i < 20; i++) {
        cutout_context_params p = cutout_context_default_params();
        p.model_dirs = dirs;
        p.num_model_dirs = 1;
        p.num_threads = 1;
        cutout_context *ctx = NULL;
        if (cutout_context_create(&p, &ctx) != CUTOUT_OK || cutout_context_model_count(ctx) < 1)
            (*wrong)++;
        cutout_context_destroy(ctx);
        p.nodes_json = BROKEN_SPEC;
        ctx = NULL;
        if (cutout_context_create(&p, &ctx) != CUTOUT_ERR_SPEC || ctx != NULL ||
            strcmp(cutout_last_error(), g_broken_message) != 0)
            (*wrong)++;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PHOTO_DIR MODEL_DIR MODEL_NAME\n", argv[0]);
        return 2;
    }
    g_model = argv[3];
    g_ctx = rel_context(argv[2]);

    /* Serial reference runs. Job 1 also gets a guide mask. */
    for (int i = 0; i < THREADS; i++) {
        job *j = &g_jobs[i];
        j->image = rel_photo(argv[1], j->file, j->batch, j->channels);
        j->pixels = (size_t)(j->image.shape[0] * j->image.shape[1] * j->image.shape[2]);
        if (i == 1) {
            j->guide = rel_blank(j->batch, j->image.shape[1], j->image.shape[2], 1);
            for (size_t k = 0; k < j->pixels; k++) j->guide.data[k] = (float)(k % 7) / 6.0f;
            j->guide.tensor.ndim = 3;
        }
        DLManagedTensor *out[2];
        cutout_status st = run_job(g_ctx, j, out);
        if (st != CUTOUT_OK) {
            fprintf(stderr, "serial run of %s: %s: %s\n", j->file, cutout_status_string(st),
                    cutout_last_error());
            return 1;
        }
        j->expected_rgba = copy_floats(&out[0]->dl_tensor, j->pixels * 4);
        j->expected_mask = copy_floats(&out[1]->dl_tensor, j->pixels);
        rel_release(out);
    }

    /* Four workers on one context, plus one thread with bad inputs. */
    pthread_t threads[THREADS], bad_thread;
    worker workers[THREADS];
    int wrong_messages = 0;
    g_stop_bad = 0;
    REL_CHECK(pthread_create(&bad_thread, NULL, send_bad_inputs, &wrong_messages) == 0, "pthread_create");
    for (int i = 0; i < THREADS; i++) {
        memset(&workers[i], 0, sizeof workers[i]);
        workers[i].index = i;
        REL_CHECK(pthread_create(&threads[i], NULL, work, &workers[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        REL_CHECK(workers[i].failures == 0, "thread %d: %d failed calls, first: %s", i,
                  workers[i].failures, workers[i].first_error);
        REL_CHECK(workers[i].mismatches == 0,
                  "thread %d: %zu output values differ from the serial run", i,
                  workers[i].mismatches);
    }
    g_stop_bad = 1;
    pthread_join(bad_thread, NULL);
    REL_CHECK(wrong_messages == 0, "%d bad-input calls got another status or message",
              wrong_messages);

    /* A fresh context: four threads use the model first at the same moment. */
    cutout_context *fresh = rel_context(argv[2]);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    first_use uses[THREADS];
#ifdef RELIABILITY_STUB
    stub_reset();
#endif
    for (int i = 0; i < THREADS; i++) {
        uses[i] = (first_use){.start = &start, .ctx = fresh, .j = &g_jobs[i]};
        REL_CHECK(pthread_create(&threads[i], NULL, use_fresh_context, &uses[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        REL_CHECK(uses[i].status == CUTOUT_OK && uses[i].mismatches == 0,
                  "first use on thread %d: %s, %zu values differ", i,
                  cutout_status_string(uses[i].status), uses[i].mismatches);
    }
#ifdef RELIABILITY_STUB
    REL_CHECK(stub_models_loaded() == 1, "the model was loaded %lld times",
              (long long)stub_models_loaded());
    REL_CHECK(stub_live_tensors() == 0, "%lld tensors left", (long long)stub_live_tensors());
#endif
    pthread_barrier_destroy(&start);
    cutout_context_destroy(fresh);

    /* Contexts made on four threads at once. */
    g_model_dir = argv[2];
    cutout_context_params broken = cutout_context_default_params();
    broken.nodes_json = BROKEN_SPEC;
    cutout_context *none = NULL;
    REL_CHECK(cutout_context_create(&broken, &none) == CUTOUT_ERR_SPEC, "broken spec accepted");
    snprintf(g_broken_message, sizeof g_broken_message, "%s", cutout_last_error());
    REL_CHECK(strstr(g_broken_message, "nodes.json: not valid JSON (parse error near byte ") != NULL,
              "message: %s", g_broken_message);
    int wrong_contexts[THREADS] = {0};
    for (int i = 0; i < THREADS; i++)
        REL_CHECK(pthread_create(&threads[i], NULL, create_contexts, &wrong_contexts[i]) == 0,
                  "pthread_create");
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        REL_CHECK(wrong_contexts[i] == 0, "thread %d: %d context creations went wrong", i,
                  wrong_contexts[i]);
    }

    for (int i = 0; i < THREADS; i++) {
        rel_image_free(&g_jobs[i].image);
        rel_image_free(&g_jobs[i].guide);
        free(g_jobs[i].expected_rgba);
        free(g_jobs[i].expected_mask);
    }
    cutout_context_destroy(g_ctx);
    return rel_finish("test_concurrency");
}
