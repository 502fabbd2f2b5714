/*
 * bench_cutout.c - speed and memory of CutoutRemoveBackground through the
 * public C API, interleaved with onnxruntime-node on the original ONNX model.
 * Run on demand (not a test); see benchmarks/RESULTS.md.
 *
 * Usage:
 *   bench_cutout MODELS_DIR [options]
 *     --precisions auto,fp32,bf16   what to time (default auto,fp32)
 *     --sizes 512,1024,2048         square input sides (default 512,1024,2048)
 *     --batches 1,8                 images per call (default 1,8)
 *     --reps N                      timed rounds, medians reported (default 3)
 *     --ort NODE_MODULES_DIR:MODEL.onnx   an onnxruntime to interleave (repeatable)
 *     --photos DIR                  mask difference of each precision vs fp32
 *     --rss-calls N                 VmRSS over N calls of 1 image at 1024 (auto)
 *     --rss-batch B                 peak RSS of one call of B images at 1024 (auto)
 *     --batch-size S                the node's batch_size for --rss-batch (default B)
 *     --cpu-shared-passes 0|1       context parameter cpu_shared_passes (default 0)
 *     --no-direct-convolutions 0|1  context parameter no_direct_convolutions (default 0)
 * Threads: 2 (CUTOUT_BENCH_THREADS overrides) for cutout and onnxruntime.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <cutout.h>

#include "matte_diff.h"
#include "png_read.h"

#define MAX_LIST 8
#define MAX_ORT 4

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what) {
    fprintf(stderr, "bench_cutout: %s: %s\n", what, cutout_last_error());
    exit(1);
}

/* kB from /proc/self/status of a field like "VmRSS:" or "VmHWM:". */
static long status_kb(const char *field) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0) kb = atol(line + strlen(field));
    if (f != NULL) fclose(f);
    return kb;
}

static void print_machine(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192], model[256] = "?";
    bool flags_done = false;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0 && model[0] == '?')
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
        if (strncmp(line, "flags", 5) == 0 && !flags_done) {
            const char *want[] = {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16",
                                  "amx_int8", "amx_tile", "avx512_fp16"};
            printf("ISA flags:");
            for (size_t i = 0; i < sizeof want / sizeof want[0]; ++i) {
                char pat[64];
                snprintf(pat, sizeof pat, " %s ", want[i]);
                if (strstr(line, pat) != NULL) printf(" %s", want[i]);
            }
            printf("\n");
            flags_done = true;
        }
    }
    if (f != NULL) fclose(f);
    model[strcspn(model, "\n")] = 0;
    printf("CPU: %s, %ld cores online; libtorch %s; cutout %s\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), cutout_torch_version(), cutout_version_string());
}

static int split_list(char *text, char **items) {
    int n = 0;
    for (char *tok = strtok(text, ","); tok != NULL && n < MAX_LIST; tok = strtok(NULL, ","))
        items[n++] = tok;
    return n;
}

/* ---- one call, with its stages timed through the callbacks ---- */

typedef struct stage_clock {
    double marks[4 * 64]; /* times of the abort polls, in order (see stage_times) */
    int n;
} stage_clock;

static bool mark_abort(void *user) {
    stage_clock *c = user;
    if (c->n < (int)(sizeof c->marks / sizeof c->marks[0])) c->marks[c->n++] = now_s();
    return false;
}

typedef struct call_time {
    double total, pre, forward, post, other;
    double to_first_poll; /* checks, model lookup (or load), outputs */
} call_time;

/* Splits one call's time into its stages from the abort polls. For each
 * chunk of `chunk` items the plugin polls once before it; then the shim
 * polls three times per forward pass (before pre-processing, before the
 * pass, after it), with one pass per item on a CPU; then the plugin polls
 * before each further item of the chunk, between compositions. Pre-
 * processing and the forward pass are the shim's first two intervals;
 * post-processing is the rest of the chunk (resizing the matte back and
 * composing the outputs). When the polls do not follow that pattern,
 * everything is counted as "other". */
static void stage_times(const stage_clock *c, int64_t batch, int64_t chunk, double start,
                        double end, call_time *t) {
    t->total = end - start;
    t->pre = t->forward = t->post = 0;
    t->to_first_poll = c->n > 0 ? c->marks[0] - start : t->total;
    if (c->n == (int)(4 * batch)) {
        int k = 0;
        for (int64_t first = 0; first < batch; first += chunk) {
            int64_t count = batch - first < chunk ? batch - first : chunk;
            int chunk_end = k + 1 + 4 * (int)count - 1; /* next chunk's first poll */
            for (int64_t i = 0; i < count; ++i) {
                int s = k + 1 + 3 * (int)i;
                t->pre += c->marks[s + 1] - c->marks[s];
                t->forward += c->marks[s + 2] - c->marks[s + 1];
                int next = i + 1 < count ? s + 3 : chunk_end;
                t->post += (next < c->n ? c->marks[next] : end) - c->marks[s + 2];
            }
            k = chunk_end;
        }
    }
    t->other = t->total - t->pre - t->forward - t->post;
}

static float *g_pixels; /* reused input buffer */

/* batch_size of the node for a call of `batch` images; 0 = the whole batch
 * in one forward pass. */
static int64_t g_batch_size;

static DLManagedTensor *run_node(cutout_context *ctx, const float *pixels, int64_t batch,
                                 int64_t side, const char *precision, call_time *t) {
    int64_t shape[4] = {batch, side, side, 3};
    DLTensor image = {(void *)pixels, {kDLCPU, 0}, 4, {kDLFloat, 32, 1}, shape, NULL, 0};
    cutout_input inputs[] = {
        {"image", CUTOUT_VALUE_TENSOR, &image, 0, 0, false, NULL},
        {"model", CUTOUT_VALUE_STRING, NULL, 0, 0, false, "isnet"},
        {"batch_size", CUTOUT_VALUE_INT, NULL, 0, 0, false, NULL},
        {"precision", CUTOUT_VALUE_STRING, NULL, 0, 0, false, precision},
    };
    const int64_t chunk = g_batch_size > 0 && g_batch_size < batch ? g_batch_size : batch;
    stage_clock clock = {.n = 0};
    cutout_run_params rp = cutout_run_default_params();
    rp.should_abort = mark_abort;
    rp.abort_user = &clock;
    inputs[2].i = chunk;
    DLManagedTensor *out[2] = {NULL, NULL};
    double start = now_s();
    if (cutout_node_run(ctx, "CutoutRemoveBackground", inputs, 4, &rp, out, 2) != CUTOUT_OK)
        die("cutout_node_run");
    double end = now_s();
    out[0]->deleter(out[0]);
    if (t != NULL) stage_times(&clock, batch, chunk, start, end, t);
    return out[1];
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- onnxruntime worker ---- */

typedef struct ort_worker {
    FILE *to, *from;
    char version[32];
} ort_worker;

static bool ort_start(ort_worker *w, const char *spec, const char *script, int threads) {
    char dir[1024], model[1024];
    const char *colon = strchr(spec, ':');
    if (colon == NULL) return false;
    snprintf(dir, sizeof dir, "%.*s", (int)(colon - spec), spec);
    snprintf(model, sizeof model, "%s", colon + 1);
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return false;
    pid_t pid = fork();
    if (pid == 0) {
        char t[16];
        snprintf(t, sizeof t, "%d", threads);
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execlp("node", "node", script, dir, model, t, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    w->to = fdopen(in[1], "w");
    w->from = fdopen(out[0], "r");
    char line[512];
    if (fgets(line, sizeof line, w->from) == NULL || strncmp(line, "ready ", 6) != 0) {
        fprintf(stderr, "bench_cutout: onnxruntime %s: %s\n", spec, line);
        return false;
    }
    snprintf(w->version, sizeof w->version, "%.31s", line + 6);
    w->version[strcspn(w->version, "\n")] = 0;
    return true;
}

static double ort_run(ort_worker *w, int64_t count) {
    char line[256];
    fprintf(w->to, "run %lld\n", (long long)count);
    fflush(w->to);
    if (fgets(line, sizeof line, w->from) == NULL || strncmp(line, "ok ", 3) != 0) {
        fprintf(stderr, "bench_cutout: onnxruntime failed: %s\n", line);
        exit(1);
    }
    return atof(line + 3) / 1000.0;
}

/* ---- mask differences on photos ---- */

static void photo_diffs(cutout_context *ctx, const char *dir, char **precisions, int np) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "bench_cutout: --photos %s: cannot open\n", dir);
        return;
    }
    printf("\nMask difference from fp32 on %s (alpha 0..1):\n", dir);
    printf("  %-34s %-6s %10s %10s %9s\n", "photo", "prec", "mean|d|", "max|d|", "IoU@0.5");
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".png") != 0) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int64_t h, w;
        uint8_t *rgb = png_read_rgb(path, &h, &w);
        if (rgb == NULL) continue;
        float *px = malloc((size_t)(h * w * 3) * sizeof *px);
        for (int64_t i = 0; i < h * w * 3; ++i) px[i] = rgb[i] / 255.0f;
        int64_t shape[4] = {1, h, w, 3};
        DLTensor image = {px, {kDLCPU, 0}, 4, {kDLFloat, 32, 1}, shape, NULL, 0};
        DLManagedTensor *ref = NULL;
        for (int p = -1; p < np; ++p) {
            const char *prec = p < 0 ? "fp32" : precisions[p];
            if (p >= 0 && strcmp(prec, "fp32") == 0) continue;
            cutout_input inputs[] = {
                {"image", CUTOUT_VALUE_TENSOR, &image, 0, 0, false, NULL},
                {"model", CUTOUT_VALUE_STRING, NULL, 0, 0, false, "isnet"},
                {"precision", CUTOUT_VALUE_STRING, NULL, 0, 0, false, prec},
            };
            DLManagedTensor *out[2] = {NULL, NULL};
            if (cutout_node_run(ctx, "CutoutRemoveBackground", inputs, 3, NULL, out, 2) != CUTOUT_OK)
                die("cutout_node_run (photos)");
            out[0]->deleter(out[0]);
            if (p < 0) {
                ref = out[1];
                continue;
            }
            matte_diff d = matte_diff_of(out[1]->dl_tensor.data, ref->dl_tensor.data, h * w);
            printf("  %-34s %-6s %10.2e %10.2e %9.5f\n", e->d_name, prec, d.mean, d.max, d.iou);
            out[1]->deleter(out[1]);
        }
        if (ref != NULL) ref->deleter(ref);
        free(px);
        free(rgb);
    }
    closedir(d);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_cutout MODELS_DIR [options] (see the file's header)\n");
        return 2;
    }
    char prec_text[256] = "auto,fp32", size_text[256] = "512,1024,2048", batch_text[256] = "1,8";
    const char *ort_specs[MAX_ORT], *photos = NULL;
    int n_ort = 0, reps = 3, rss_calls = 0, rss_batch = 0, shared_passes = 0, no_direct = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--precisions")) snprintf(prec_text, sizeof prec_text, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--sizes")) snprintf(size_text, sizeof size_text, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--batches")) snprintf(batch_text, sizeof batch_text, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ort") && n_ort < MAX_ORT) ort_specs[n_ort++] = argv[i + 1];
        else if (!strcmp(argv[i], "--photos")) photos = argv[i + 1];
        else if (!strcmp(argv[i], "--rss-calls")) rss_calls = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rss-batch")) rss_batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch-size")) g_batch_size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cpu-shared-passes")) shared_passes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--no-direct-convolutions")) no_direct = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_cutout: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (reps < 1) reps = 1;
    char *precs[MAX_LIST], *sizes_s[MAX_LIST], *batches_s[MAX_LIST];
    int np = split_list(prec_text, precs), ns = split_list(size_text, sizes_s),
        nb = split_list(batch_text, batches_s);
    const char *threads_env = getenv("CUTOUT_BENCH_THREADS");
    int threads = threads_env != NULL ? atoi(threads_env) : 2;

    print_machine();
    const char *dirs[] = {argv[1]};
    cutout_context_params cp = cutout_context_default_params();
    cp.model_dirs = dirs;
    cp.num_model_dirs = 1;
    cp.num_threads = threads;
    cp.cpu_shared_passes = shared_passes != 0;
    cp.no_direct_convolutions = no_direct != 0;
    cutout_context *ctx = NULL;
    if (cutout_context_create(&cp, &ctx) != CUTOUT_OK) die("cutout_context_create");

    size_t max_px = 0;
    for (int s = 0; s < ns; ++s)
        for (int b = 0; b < nb; ++b) {
            size_t px = (size_t)atol(sizes_s[s]) * (size_t)atol(sizes_s[s]) * (size_t)atol(batches_s[b]);
            if (px > max_px) max_px = px;
        }
    if ((size_t)rss_batch * 1024 * 1024 > max_px) max_px = (size_t)rss_batch * 1024 * 1024;
    if ((size_t)1024 * 1024 > max_px) max_px = (size_t)1024 * 1024;
    g_pixels = malloc(max_px * 3 * sizeof *g_pixels);
    for (size_t i = 0; i < max_px * 3; ++i) g_pixels[i] = (float)((i * 2654435761u) % 256) / 255.0f;

    if (rss_batch > 0 || rss_calls > 0) {
        /* Memory modes: nothing else runs in this process. */
        if (rss_batch > 0) {
            double t0 = now_s();
            DLManagedTensor *m = run_node(ctx, g_pixels, 1, 1024, "auto", NULL);
            m->deleter(m);
            printf("model load + first call: %.2f s\n", now_s() - t0);
            m = run_node(ctx, g_pixels, rss_batch, 1024, "auto", NULL);
            printf("batch %d at 1024x1024 (auto, batch_size %lld): peak RSS %.0f MiB (input %.0f MiB, outputs %.0f MiB included), "
                   "RSS now %.0f MiB\n",
                   rss_batch,
                   (long long)(g_batch_size > 0 && g_batch_size < rss_batch ? g_batch_size : rss_batch),
                   status_kb("VmHWM:") / 1024.0, rss_batch * 12.0, rss_batch * 20.0,
                   status_kb("VmRSS:") / 1024.0);
            m->deleter(m);
        }
        for (int i = 1; i <= rss_calls; ++i) {
            DLManagedTensor *m = run_node(ctx, g_pixels, 1, 1024, "auto", NULL);
            m->deleter(m);
            if (i == 1 || i == 10 || i % 50 == 0)
                printf("call %4d: VmRSS %.0f MiB, peak %.0f MiB\n", i, status_kb("VmRSS:") / 1024.0,
                       status_kb("VmHWM:") / 1024.0);
        }
        cutout_context_destroy(ctx);
        free(g_pixels);
        return 0;
    }

    ort_worker ort[MAX_ORT];
    char script[2048];
    snprintf(script, sizeof script, "%s", argv[0]);
    char *slash = strrchr(script, '/');
    /* the worker script sits next to this file's source; CUTOUT_BENCH_ORT_WORKER overrides */
    const char *worker = getenv("CUTOUT_BENCH_ORT_WORKER");
    if (worker == NULL) worker = "benchmarks/ort_worker.mjs";
    (void)slash;
    for (int o = 0; o < n_ort; ++o)
        if (!ort_start(&ort[o], ort_specs[o], worker, threads)) return 1;

    /* Load (and time) every precision's model once before timing. */
    for (int p = 0; p < np; ++p) {
        call_time t;
        DLManagedTensor *m = run_node(ctx, g_pixels, 1, 512, precs[p], &t);
        m->deleter(m);
        printf("precision %-5s: model load + first call %.2f s (the load, up to the call's "
               "first poll: %.2f s)\n",
               precs[p], t.total, t.to_first_poll);
    }
    for (int o = 0; o < n_ort; ++o) ort_run(&ort[o], 1);

    printf("\nMedians of %d interleaved rounds, %d threads; s/img = seconds per image.\n", reps, threads);
    printf("%-22s %5s %5s %8s %7s %8s %7s %7s %7s %7s\n", "engine", "side", "batch", "s/img", "img/s",
           "vs ort0", "pre%", "fwd%", "post%", "other%");
    for (int s = 0; s < ns; ++s) {
        int64_t side = atol(sizes_s[s]);
        for (int b = 0; b < nb; ++b) {
            int64_t batch = atol(batches_s[b]);
            double tot[MAX_LIST][32], pre[MAX_LIST][32], fwd[MAX_LIST][32], post[MAX_LIST][32];
            double ot[MAX_ORT][32];
            int r_max = reps > 32 ? 32 : reps;
            for (int p = 0; p < np; ++p) { /* warm this shape */
                DLManagedTensor *m = run_node(ctx, g_pixels, batch, side, precs[p], NULL);
                m->deleter(m);
            }
            for (int r = 0; r < r_max; ++r) {
                for (int p = 0; p < np; ++p) {
                    call_time t;
                    DLManagedTensor *m = run_node(ctx, g_pixels, batch, side, precs[p], &t);
                    m->deleter(m);
                    tot[p][r] = t.total / batch;
                    pre[p][r] = t.pre / t.total;
                    fwd[p][r] = t.forward / t.total;
                    post[p][r] = t.post / t.total;
                }
                for (int o = 0; o < n_ort; ++o) ot[o][r] = ort_run(&ort[o], batch) / batch;
            }
            double ort0 = n_ort > 0 ? median(ot[0], r_max) : NAN;
            for (int o = 0; o < n_ort; ++o) {
                double m = median(ot[o], r_max);
                char name[64];
                snprintf(name, sizeof name, "onnxruntime %s", ort[o].version);
                printf("%-22s %5lld %5lld %8.3f %7.2f %8.2f %7s %7s %7s %7s\n", name, (long long)side,
                       (long long)batch, m, 1.0 / m, ort0 / m, "-", "fwd", "-", "-");
            }
            for (int p = 0; p < np; ++p) {
                double m = median(tot[p], r_max), pr = median(pre[p], r_max),
                       fw = median(fwd[p], r_max), po = median(post[p], r_max);
                char name[64];
                snprintf(name, sizeof name, "cutout %s", precs[p]);
                printf("%-22s %5lld %5lld %8.3f %7.2f %8.2f %7.1f %7.1f %7.1f %7.1f\n", name,
                       (long long)side, (long long)batch, m, 1.0 / m, ort0 / m, 100 * pr, 100 * fw,
                       100 * po, 100 * (1 - pr - fw - po));
            }
            fflush(stdout);
        }
    }
    for (int o = 0; o < n_ort; ++o) {
        fprintf(ort[o].to, "quit\n");
        fflush(ort[o].to);
    }
    if (photos != NULL) photo_diffs(ctx, photos, precs, np);
    printf("\npeak RSS of this process: %.0f MiB\n", status_kb("VmHWM:") / 1024.0);
    cutout_context_destroy(ctx);
    free(g_pixels);
    return 0;
}
