/*
 * main.c - the cutout command: removes the background of PNG and JPEG
 * files with libcutout's CutoutRemoveBackground node.
 *
 * The batch driver: collect the inputs, plan and check every output name,
 * then decode images, run the node on groups of up to --batch-size
 * consecutive images of the same size, and write each result through a
 * temporary file. A failed image prints one line and the others go on.
 *
 * Exit status: 0 all done, 1 an image (or the setup) failed, 2 bad usage,
 * 130 interrupted by SIGINT.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cutout.h>

#include "duplicate_paths.h"
#include "files_from.h"
#include "image_io.h"
#include "image_outputs.h"
#include "input_list.h"
#include "model_provenance.h"
#include "options.h"
#include "output_files.h"
#include "progress.h"
#include "remove_background.h"
#include "shard.h"
#include "size_math.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_INTERRUPTED 130

/* Images over the library's per-image limit are refused right after their
 * header is read: decoding them would only cost time and memory (and an
 * absurd header could ask for gigabytes) before the library refused them. */
#define DECODE_MAX_PIXELS CUTOUT_MAX_PIXELS

#define MESSAGE_CAP 1024

static volatile sig_atomic_t g_interrupted = 0;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static bool should_abort(void *user)
{
    (void)user;
    return g_interrupted != 0;
}

/* Ctrl-C once stops cleanly after the current stage; the handler is reset
 * on delivery, so a second Ctrl-C kills the process the usual way. */
static void install_sigint_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
}

/* Where one input's results go. NULL paths are not written. */
typedef struct output_plan {
    char *rgba_path;
    char *mask_path;
    bool failed; /* already reported as failed before processing */
} output_plan;

typedef struct run_state {
    const cli_options *opts;
    cutout_context *ctx;
    input_list inputs;
    output_plan *plans;
    progress bar;
    int64_t total;  /* images (and input arguments that failed to expand) */
    int64_t done;   /* written successfully */
    int64_t failed; /* reported as failed */
    bool model_unusable; /* the model failed to load: skip the rest */
    shard shard;          /* --shard: which positions of the input list are ours */
    int64_t bad_entries;  /* inputs that could not be listed (ours under --shard) */
    image_f32 background; /* --bg-image, decoded once (empty otherwise) */
    cutout_temporal *frames; /* --temporal / --skip-similar: carried across calls */
} run_state;

static void report_failure(run_state *r, const char *what, const char *message)
{
    progress_clear(&r->bar);
    fprintf(stderr, "cutout: %s: %s\n", what, message);
    r->failed++;
}

/* ------------------------------------------------------------------------ */
/* Modes that do not process images                                          */

static int print_version(void)
{
    printf("cutout %s (ABI %d, libtorch %s)\n", cutout_version_string(),
           (int)cutout_abi_version(), cutout_torch_version());
    return EXIT_SUCCESS;
}

static int list_models(cutout_context *ctx)
{
    int64_t n = cutout_context_model_count(ctx);
    if (n > 0) printf("%-20s %-14s %-56s %s\n", "model", "licence", "source", "file");
    for (int64_t i = 0; i < n; i++) {
        const char *name = cutout_context_model_name(ctx, i);
        char path[4096], license[64], source[512];
        if (cutout_context_model_path(ctx, name, path, sizeof path) != CUTOUT_OK) path[0] = '\0';
        if (!model_provenance(path, name, license, sizeof license, source, sizeof source))
            snprintf(source, sizeof source, "(not in the folder's manifest.json)");
        printf("%-20s %-14s %-56s %s\n", name, license[0] ? license : "unknown", source, path);
    }
    if (n == 0) {
        char path[4096];
        printf("no models installed\n");
        if (cutout_context_model_path(ctx, "isnet", path, sizeof path) != CUTOUT_OK)
            printf("%s\n", cutout_last_error());
    }
    return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Planning outputs                                                          */

/* Names and checks every output before any work, so that a doomed image
 * fails at once: an output that is also an earlier input's output, an
 * input file, or an existing file without --overwrite. Returns false only
 * when memory runs out. */
static bool plan_outputs(run_state *r)
{
    const cli_options *o = r->opts;
    char err[MESSAGE_CAP];
    size_t n = r->inputs.count, slots;
    r->plans = calloc(n ? n : 1, sizeof *r->plans);
    if (r->plans == NULL || !size_mul(n ? n : 1, 2 * sizeof(size_t), &slots))
        return false;
    /* paths[2i] and paths[2i + 1] are input i's RGBA and mask outputs. */
    const char **paths = malloc(slots);
    size_t *first = malloc(slots);
    bool ok = paths != NULL && first != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        output_plan *p = &r->plans[i];
        ok = image_outputs_name(o, r->inputs.items[i].stem, &p->rgba_path, &p->mask_path);
        if (ok) {
            paths[2 * i] = p->rgba_path;
            paths[2 * i + 1] = p->mask_path;
        }
    }
    ok = ok && duplicate_paths_find(paths, 2 * n, first);
    if (ok)
        input_list_index_files(&r->inputs); /* without it the checks only scan */

    for (size_t i = 0; ok && i < n; i++) {
        output_plan *p = &r->plans[i];
        for (size_t k = 2 * i; k < 2 * i + 2 && !p->failed; k++) {
            if (paths[k] == NULL)
                continue;
            if (first[k] / 2 != i) {
                snprintf(err, sizeof err, "output %s is also the output of %s", paths[k],
                         r->inputs.items[first[k] / 2].path);
                p->failed = true;
            } else if (!output_check(paths[k], &r->inputs, o->overwrite, err, sizeof err)) {
                p->failed = true;
            }
        }
        if (p->failed)
            report_failure(r, r->inputs.items[i].path, err);
    }
    free(paths);
    free(first);
    return ok;
}

static void free_plans(run_state *r)
{
    for (size_t i = 0; r->plans != NULL && i < r->inputs.count; i++) {
        free(r->plans[i].rgba_path);
        free(r->plans[i].mask_path);
    }
    free(r->plans);
    r->plans = NULL;
}

/* ------------------------------------------------------------------------ */
/* Processing                                                                */

typedef struct progress_feed {
    progress *bar;
    int64_t base; /* images finished before this node call */
} progress_feed;

static void on_node_progress(int64_t done, int64_t total, void *user)
{
    progress_feed *feed = user;
    (void)total;
    progress_set(feed->bar, feed->base + done);
}

/* Runs the node on images[0 .. count-1] (same size, inputs `index`),
 * writes the results and frees the images. */
static void process_group(run_state *r, image_f32 *images, const size_t *index, int64_t count,
                          const image_f32 **views, remove_background_result *results)
{
    char err[MESSAGE_CAP];
    progress_feed feed = {&r->bar, r->done + r->failed};
    cutout_run_params run = cutout_run_default_params();
    run.progress = on_node_progress;
    run.progress_user = &feed;
    run.should_abort = should_abort;
    run.abort_user = NULL;
    run.temporal = r->frames;
    for (int64_t i = 0; i < count; i++)
        views[i] = &images[i];

    cutout_status status =
        remove_background_run(r->ctx, r->opts, r->opts->bg_image ? &r->background : NULL, views,
                              count, &run, !r->opts->mask_only, results, err, sizeof err);
    for (int64_t i = 0; i < count; i++) {
        const input_file *in = &r->inputs.items[index[i]];
        if (status == CUTOUT_CANCELLED) {
            /* not a failure of the image; the caller reports the interrupt */
        } else if (status == CUTOUT_ERR_MODEL_INVALID || status == CUTOUT_ERR_MODEL_NOT_FOUND) {
            report_failure(r, in->path, err);
            r->model_unusable = true;
        } else if (status != CUTOUT_OK) {
            report_failure(r, in->path, err);
        } else if (!image_outputs_write(r->plans[index[i]].rgba_path,
                                        r->plans[index[i]].mask_path, &results[i],
                                        r->opts->overwrite, err, sizeof err)) {
            report_failure(r, in->path, err);
        } else {
            r->done++;
        }
        if (status == CUTOUT_OK)
            remove_background_result_free(&results[i]);
        image_free(&images[i]);
    }
    progress_set(&r->bar, r->done + r->failed);
}

static bool same_size(const image_f32 *a, const image_f32 *b)
{
    return a->width == b->width && a->height == b->height && a->channels == b->channels;
}

/* Decodes the inputs in order and processes them in groups of up to
 * batch_size consecutive images of the same size. Returns false when
 * memory runs out for the group arrays. */
static bool process_all(run_state *r)
{
    size_t cap = (size_t)options_int(r->opts, "batch_size");
    image_f32 *images = calloc(cap, sizeof *images);
    size_t *index = calloc(cap, sizeof *index);
    const image_f32 **views = calloc(cap, sizeof *views);
    remove_background_result *results = calloc(cap, sizeof *results);
    if (images == NULL || index == NULL || views == NULL || results == NULL) {
        free(images);
        free(index);
        free(views);
        free(results);
        return false;
    }
    char err[MESSAGE_CAP];
    image_f32 carry; /* decoded, but of another size than the group */
    memset(&carry, 0, sizeof carry);
    size_t carry_index = 0;
    bool have_carry = false;
    size_t next = 0;
    while (!g_interrupted && !r->model_unusable) {
        int64_t count = 0;
        if (have_carry) {
            images[0] = carry;
            index[0] = carry_index;
            count = 1;
            have_carry = false;
        }
        while ((size_t)count < cap && next < r->inputs.count && !g_interrupted) {
            size_t k = next++;
            image_f32 img;
            if (r->plans[k].failed)
                continue;
            if (!image_load(r->inputs.items[k].path, DECODE_MAX_PIXELS, &img, err,
                            sizeof err)) {
                report_failure(r, r->inputs.items[k].path, err);
                progress_set(&r->bar, r->done + r->failed);
                continue;
            }
            if (count > 0 && !same_size(&img, &images[0])) {
                carry = img;
                carry_index = k;
                have_carry = true;
                break;
            }
            images[count] = img;
            index[count] = k;
            count++;
        }
        if (count == 0)
            break;
        if (g_interrupted) {
            for (int64_t i = 0; i < count; i++)
                image_free(&images[i]);
            break;
        }
        process_group(r, images, index, count, views, results);
    }
    if (have_carry)
        image_free(&carry);
    free(images);
    free(index);
    free(views);
    free(results);
    return true;
}

/* ------------------------------------------------------------------------ */

/* Adds one input argument or listed path, keeping only the positions of
 * this --shard; an entry that fails is reported by the shard it falls to. */
static void add_input(run_state *r, const char *entry)
{
    char err[MESSAGE_CAP];
    size_t before = r->inputs.count;
    if (input_list_add(&r->inputs, entry, err, sizeof err)) {
        input_list_filter(&r->inputs, before, shard_take, &r->shard);
    } else if (shard_take(&r->shard)) {
        report_failure(r, entry, err);
        r->bad_entries++;
    }
}

static bool add_listed_input(const char *path, void *user)
{
    add_input(user, path);
    return true;
}

/* The summary's second line: what the model computed in and, for "auto",
 * why. The model is loaded by then, so the query costs nothing. */
static void print_precision(cutout_context *ctx, const cli_options *o)
{
    char chosen[16], reason[256];
    if (cutout_context_model_precision(ctx, options_string(o, "model"), options_string(o, "precision"), chosen, sizeof chosen, reason,
                                       sizeof reason) != CUTOUT_OK)
        return;
    if (reason[0] != '\0')
        fprintf(stderr, "precision: %s (%s)\n", chosen, reason);
    else
        fprintf(stderr, "precision: %s\n", chosen);
}

static int run_images(run_state *r)
{
    const cli_options *o = r->opts;
    char err[MESSAGE_CAP];
    char model_path[4096];

    if (cutout_context_model_path(r->ctx, options_string(o, "model"), model_path, sizeof model_path) !=
        CUTOUT_OK) {
        fprintf(stderr, "cutout: %s\n", cutout_last_error());
        return EXIT_FAILED;
    }
    if (!output_dir_prepare(o->output_dir, err, sizeof err)) {
        fprintf(stderr, "cutout: %s\n", err);
        return EXIT_FAILED;
    }

    if (o->bg_image != NULL &&
        !image_load(o->bg_image, DECODE_MAX_PIXELS, &r->background, err, sizeof err)) {
        fprintf(stderr, "cutout: --bg-image %s: %s\n", o->bg_image, err);
        return EXIT_FAILED;
    }

    for (int i = 0; i < o->num_inputs; i++)
        add_input(r, o->inputs[i]);
    if (o->files_from != NULL && !files_from_read(o->files_from, add_listed_input, r, err,
                                                  sizeof err)) {
        if (err[0] != '\0')
            fprintf(stderr, "cutout: --files-from %s: %s\n", o->files_from, err);
        return EXIT_FAILED;
    }
    /* Frames go in name order, and each call's first follows the last one's. */
    if (options_float(o, "temporal") > 0.0 || options_float(o, "skip_similar") > 0.0) {
        input_list_sort_by_path(&r->inputs);
        if (cutout_temporal_create(&r->frames) != CUTOUT_OK) {
            fprintf(stderr, "cutout: %s\n", cutout_last_error());
            return EXIT_FAILED;
        }
    }
    r->total = (int64_t)r->inputs.count + r->bad_entries;
    progress_start(&r->bar, r->total, r->total > 1 && !o->quiet && isatty(STDERR_FILENO));
    if (!plan_outputs(r) || !process_all(r)) {
        progress_clear(&r->bar);
        fprintf(stderr, "cutout: out of memory\n");
        return EXIT_FAILED;
    }
    progress_clear(&r->bar);

    if (g_interrupted) {
        fprintf(stderr, "cutout: interrupted: %lld of %lld images done\n", (long long)r->done,
                (long long)r->total);
        return EXIT_INTERRUPTED;
    }
    int64_t skipped = r->total - r->done - r->failed;
    if (r->model_unusable)
        fprintf(stderr, "cutout: model '%s' cannot be used; %lld image%s skipped\n",
                options_string(o, "model"), (long long)skipped, skipped == 1 ? "" : "s");
    if (!o->quiet)
        fprintf(stderr, "%lld image%s: %lld done, %lld failed%s, %.1f s\n", (long long)r->total,
                r->total == 1 ? "" : "s", (long long)r->done, (long long)(r->failed + skipped),
                skipped > 0 ? " or skipped" : "", progress_elapsed(&r->bar));
    if (!o->quiet && r->done > 0)
        print_precision(r->ctx, o);
    if (skipped > 0)
        return EXIT_FAILED;
    return r->failed > 0 ? EXIT_FAILED : EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    cli_options opts;
    char err[MESSAGE_CAP];
    if (!options_parse(argc, argv, &opts, err, sizeof err)) {
        /* One line that says what was wrong; the help would bury it. */
        fprintf(stderr, "cutout: %s\nTry 'cutout --help'.\n", err);
        return EXIT_USAGE;
    }
    if (opts.help) {
        options_print_usage(stdout);
        return EXIT_SUCCESS;
    }
    if (cutout_abi_version() != CUTOUT_ABI_VERSION) {
        fprintf(stderr, "cutout: libcutout has ABI version %d, this program needs %d\n",
                (int)cutout_abi_version(), CUTOUT_ABI_VERSION);
        return EXIT_FAILED;
    }
    if (opts.version)
        return print_version();

    cutout_context_params params = cutout_context_default_params();
    params.num_threads = opts.threads;
    cutout_context *ctx = NULL;
    if (cutout_context_create(&params, &ctx) != CUTOUT_OK) {
        fprintf(stderr, "cutout: %s\n", cutout_last_error());
        return EXIT_FAILED;
    }
    int status;
    if (opts.list_models) {
        status = list_models(ctx);
    } else {
        run_state r;
        memset(&r, 0, sizeof r);
        r.opts = &opts;
        r.ctx = ctx;
        r.shard.index = opts.shard_index;
        r.shard.count = opts.shard_count;
        install_sigint_handler();
        status = run_images(&r);
        free_plans(&r);
        input_list_free(&r.inputs);
        image_free(&r.background);
        cutout_temporal_destroy(r.frames);
    }
    cutout_context_destroy(ctx);
    return status;
}
