/*
 * test_cancel_loop.c - cancel at every stage of a batch, 1000 times in a
 * loop: the abort callback says "stop" at its k-th poll, for every k from
 * the first poll (before the first item) to past the last one (the call
 * then completes), with batch sizes 1, 2 and 3 over 3 images, cycling.
 *
 * Each cancelled call must return CUTOUT_CANCELLED with a message, no
 * outputs, no poll after the one that said stop, no progress report after
 * it, and (stub) no tensor left allocated. Completed calls must give the
 * same outputs as the first, uncancelled call. The resident set size after
 * the loop must be within RSS_SLACK of its size after the warm-up: one
 * leaked output pair per call would add about 160 MiB.
 *
 * Usage: test_cancel_loop PHOTO_DIR MODEL_DIR MODEL_NAME [ITERATIONS]
 */
#include <stdlib.h>

#include "reliability_support.h"

#define ITEMS 3
#define CROP_H 48
#define CROP_W 64
#define WARM_UP 100
#define RSS_SLACK ((int64_t)8 << 20)

/* AddressSanitizer keeps freed memory in quarantine (256 MiB), so RSS
 * grows by design there; LeakSanitizer checks leaks in that build. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_CHECKED 0
#endif
#endif
#ifndef RSS_CHECKED
#define RSS_CHECKED 1
#endif

typedef struct abort_log {
    int64_t polls;
    int64_t stop_at; /* poll number that returns true; 0 = never */
    bool said_stop;
    int64_t polls_after_stop;
    int64_t progress_calls;
    int64_t progress_after_stop;
    int64_t last_done;
    bool progress_in_order;
} abort_log;

static bool should_abort(void *user)
{
    abort_log *log = user;
    if (log->said_stop) log->polls_after_stop++;
    log->polls++;
    if (log->stop_at > 0 && log->polls == log->stop_at) log->said_stop = true;
    return log->said_stop;
}

static void progress(int64_t done, int64_t total, void *user)
{
    abort_log *log = user;
    if (log->said_stop) log->progress_after_stop++;
    if (done != log->last_done + 1 || total != ITEMS) log->progress_in_order = false;
    log->last_done = done;
    log->progress_calls++;
}

/* Runs with callbacks that say stop at poll `stop_at` (0: never). */
static cutout_status run_stopping_at(cutout_context *ctx, const DLTensor *image,
                                     const char *model, int64_t batch_size, int64_t stop_at,
                                     abort_log *log, DLManagedTensor *out[2])
{
    memset(log, 0, sizeof *log);
    log->stop_at = stop_at;
    log->progress_in_order = true;
    cutout_run_params run = cutout_run_default_params();
    run.should_abort = should_abort;
    run.abort_user = log;
    run.progress = progress;
    run.progress_user = log;
    return rel_run(ctx, image, NULL, model, batch_size, &run, out);
}

static bool same_outputs(DLManagedTensor *a[2], DLManagedTensor *b[2])
{
    size_t pixels = (size_t)(ITEMS * CROP_H * CROP_W);
    return memcmp(a[0]->dl_tensor.data, b[0]->dl_tensor.data, pixels * 16) == 0 &&
           memcmp(a[1]->dl_tensor.data, b[1]->dl_tensor.data, pixels * 4) == 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PHOTO_DIR MODEL_DIR MODEL_NAME [ITERATIONS]\n", argv[0]);
        return 2;
    }
    const char *model = argv[3];
    int iterations = argc > 4 ? atoi(argv[4]) : 1000;
    if (iterations <= WARM_UP) {
        fprintf(stderr, "ITERATIONS: expected more than %d, got %d\n", WARM_UP, iterations);
        return 2;
    }
    cutout_context *ctx = rel_context(argv[2]);

    /* A batch of 48 x 64 crops of three different photos. */
    const char *files[ITEMS] = {"product_coffee.png", "animal_fur_chelsea.png",
                                "portrait_astronaut.png"};
    rel_image packed = rel_blank(ITEMS, CROP_H, CROP_W, 3);
    for (int i = 0; i < ITEMS; i++) {
        rel_image full = rel_photo(argv[1], files[i], 1, 3);
        int64_t W = full.shape[2];
        for (int64_t y = 0; y < CROP_H; y++)
            memcpy(&packed.data[((int64_t)i * CROP_H + y) * CROP_W * 3],
                   &full.data[((y + 100) * W + 150) * 3], CROP_W * 3 * sizeof(float));
        rel_image_free(&full);
    }

    /* Reference outputs and the number of polls of a complete call, per
     * batch size. */
    DLManagedTensor *reference[3][2];
    int64_t polls[3];
    for (int bs = 1; bs <= 3; bs++) {
        abort_log log;
        cutout_status st =
            run_stopping_at(ctx, &packed.tensor, model, bs, 0, &log, reference[bs - 1]);
        if (st != CUTOUT_OK) {
            fprintf(stderr, "reference run: %s: %s\n", cutout_status_string(st),
                    cutout_last_error());
            return 1;
        }
        polls[bs - 1] = log.polls;
        REL_CHECK(log.progress_calls == ITEMS && log.progress_in_order, "progress of a full run");
    }
    printf("abort polls in a complete call of %d items: %lld (batch_size 1), %lld (2), %lld (3)\n",
           ITEMS, (long long)polls[0], (long long)polls[1], (long long)polls[2]);

#ifdef RELIABILITY_STUB
    const int64_t live_references = stub_live_tensors(); /* the reference outputs */
#endif
    int64_t rss_after_warm_up = 0;
    int cancelled = 0, completed = 0;
    for (int i = 0; i < iterations; i++) {
        int bs = 1 + i % 3;
        int64_t stop_at = 1 + (i / 3) % (polls[bs - 1] + 1); /* polls + 1: never stops */
        abort_log log;
        DLManagedTensor *out[2];
        cutout_status st = run_stopping_at(ctx, &packed.tensor, model, bs, stop_at, &log, out);

        if (stop_at <= polls[bs - 1]) {
            cancelled++;
            REL_CHECK(st == CUTOUT_CANCELLED && out[0] == NULL && out[1] == NULL &&
                          strstr(cutout_last_error(), "cancelled") != NULL,
                      "iteration %d (batch_size %d, stop at poll %lld): %s: %s", i, bs,
                      (long long)stop_at, cutout_status_string(st), cutout_last_error());
            REL_CHECK(log.polls == stop_at && log.polls_after_stop == 0 &&
                          log.progress_after_stop == 0 && log.progress_in_order,
                      "iteration %d: %lld polls (stop at %lld), %lld progress calls after stop",
                      i, (long long)log.polls, (long long)stop_at,
                      (long long)log.progress_after_stop);
            if (st == CUTOUT_OK) rel_release(out);
        } else {
            completed++;
            REL_CHECK(st == CUTOUT_OK && log.progress_calls == ITEMS,
                      "iteration %d (batch_size %d, never stopped): %s: %s", i, bs,
                      cutout_status_string(st), cutout_last_error());
            if (st == CUTOUT_OK) {
                REL_CHECK(same_outputs(out, reference[bs - 1]),
                          "iteration %d: outputs differ from the reference", i);
                rel_release(out);
            }
        }
#ifdef RELIABILITY_STUB
        REL_CHECK(stub_live_tensors() == live_references, "iteration %d: %lld tensors left", i,
                  (long long)(stub_live_tensors() - live_references));
#endif
        if (i + 1 == WARM_UP) rss_after_warm_up = rel_rss_bytes();
    }
    int64_t rss_end = rel_rss_bytes();
    printf("%d calls: %d cancelled, %d completed; RSS after %d calls %.1f MiB, after %d calls "
           "%.1f MiB (%+.2f MiB)\n",
           iterations, cancelled, completed, WARM_UP, (double)rss_after_warm_up / 1048576.0,
           iterations, (double)rss_end / 1048576.0,
           (double)(rss_end - rss_after_warm_up) / 1048576.0);
    if (RSS_CHECKED)
        REL_CHECK(rss_end - rss_after_warm_up < RSS_SLACK, "RSS grew by %.1f MiB",
                  (double)(rss_end - rss_after_warm_up) / 1048576.0);
    else
        printf("RSS not checked: AddressSanitizer's quarantine holds freed memory\n");

    for (int bs = 0; bs < 3; bs++) rel_release(reference[bs]);
#ifdef RELIABILITY_STUB
    REL_CHECK(stub_live_tensors() == 0, "%lld tensors left at the end",
              (long long)stub_live_tensors());
#endif
    rel_image_free(&packed);
    cutout_context_destroy(ctx);
    return rel_finish("test_cancel_loop");
}
