/*
 * cutout_files.c - see cutout_files.h.
 */
#include "cutout_files.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cutout.h>

#include "image_io.h"
#include "image_outputs.h"
#include "input_list.h"
#include "options.h"
#include "output_files.h"
#include "remove_background.h"

/* The command refuses images over the library's limit from their header;
 * a session does the same. */
#define DECODE_MAX_PIXELS CUTOUT_MAX_PIXELS

#define MESSAGE_CAP 1024

struct cutout_files {
    char **strings; /* "cutout" and copies of the options, owned */
    char **argv;    /* the same pointers, which options_parse reorders */
    int argc;
    cli_options opts;
    cutout_context *ctx;
    image_f32 background; /* --bg-image, decoded once (empty otherwise) */
};

static int fail(int status, char *err, size_t err_cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
    return status;
}

int cutout_files_abi_version(void)
{
    return CUTOUT_FILES_ABI_VERSION;
}

void cutout_files_close(cutout_files *f)
{
    if (f == NULL)
        return;
    cutout_context_destroy(f->ctx);
    image_free(&f->background);
    for (int i = 0; f->strings != NULL && i < f->argc; i++)
        free(f->strings[i]);
    free(f->strings);
    free(f->argv);
    free(f);
}

/* CUTOUT_FILES_USAGE with a message for the first option a session cannot
 * take; CUTOUT_FILES_OK when there is none. */
static int refuse_options(const cli_options *o, char *err, size_t err_cap)
{
    if (o->num_inputs > 0)
        return fail(CUTOUT_FILES_USAGE, err, err_cap,
                    "INPUT '%s': a session takes its images one at a time, not as arguments",
                    o->inputs[0]);
    if (o->files_from != NULL || o->shard_count != 1)
        return fail(CUTOUT_FILES_USAGE, err, err_cap,
                    "%s: a session takes its images one at a time, not as a list",
                    o->files_from != NULL ? "--files-from" : "--shard");
    if (o->threads != 0 || o->overwrite)
        return fail(CUTOUT_FILES_USAGE, err, err_cap,
                    "%s: given to the session by its caller, not as an option",
                    o->threads != 0 ? "--threads" : "--overwrite");
    if (options_int(o, "batch_size") != 1)
        return fail(CUTOUT_FILES_USAGE, err, err_cap,
                    "--batch-size: a session runs one image per pass, expected 1, got %lld",
                    (long long)options_int(o, "batch_size"));
    if (o->quiet)
        return fail(CUTOUT_FILES_USAGE, err, err_cap, "--quiet: a session prints nothing");
    if (o->list_models || o->version || o->help)
        return fail(CUTOUT_FILES_USAGE, err, err_cap, "%s: not an option of a session",
                    o->help ? "--help" : (o->version ? "--version" : "--list-models"));
    return CUTOUT_FILES_OK;
}

/* Copies the options behind a program name, so that the session owns the
 * strings its parsed options point into. */
static bool copy_arguments(cutout_files *f, int argc, const char *const *argv)
{
    f->strings = calloc((size_t)argc + 2, sizeof *f->strings);
    f->argv = calloc((size_t)argc + 2, sizeof *f->argv);
    if (f->strings == NULL || f->argv == NULL)
        return false;
    const char *program = "cutout";
    for (int i = 0; i <= argc; i++) {
        const char *s = i == 0 ? program : argv[i - 1];
        size_t n = strlen(s) + 1;
        f->strings[i] = malloc(n);
        if (f->strings[i] == NULL)
            return false;
        memcpy(f->strings[i], s, n);
        f->argv[i] = f->strings[i];
        f->argc = i + 1;
    }
    return true;
}

int cutout_files_open(int argc, const char *const *argv, int32_t threads, bool overwrite,
                      cutout_files **out, char *err, size_t err_cap)
{
    if (out == NULL)
        return fail(CUTOUT_FILES_USAGE, err, err_cap, "expected a place for the session, got NULL");
    *out = NULL;
    if (argc < 0 || (argc > 0 && argv == NULL) || threads < 0)
        return fail(CUTOUT_FILES_USAGE, err, err_cap,
                    "expected argc >= 0, an argv for it and threads >= 0");
    for (int i = 0; i < argc; i++)
        if (argv[i] == NULL)
            return fail(CUTOUT_FILES_USAGE, err, err_cap, "argv[%d] is NULL", i);

    cutout_files *f = calloc(1, sizeof *f);
    if (f == NULL || !copy_arguments(f, argc, argv)) {
        cutout_files_close(f);
        return fail(CUTOUT_FILES_SETUP, err, err_cap, "out of memory");
    }
    char why[MESSAGE_CAP];
    int status = CUTOUT_FILES_OK;
    if (!options_parse_settings(f->argc, f->argv, &f->opts, why, sizeof why))
        status = fail(CUTOUT_FILES_USAGE, err, err_cap, "%s", why);
    if (status == CUTOUT_FILES_OK)
        status = refuse_options(&f->opts, err, err_cap);
    if (status == CUTOUT_FILES_OK) {
        f->opts.overwrite = overwrite;
        f->opts.threads = threads;
        cutout_context_params params = cutout_context_default_params();
        params.num_threads = threads;
        if (cutout_context_create(&params, &f->ctx) != CUTOUT_OK)
            status = fail(CUTOUT_FILES_SETUP, err, err_cap, "%s", cutout_last_error());
    }
    char model_path[4096];
    if (status == CUTOUT_FILES_OK &&
        cutout_context_model_path(f->ctx, options_string(&f->opts, "model"), model_path, sizeof model_path) !=
            CUTOUT_OK)
        status = fail(CUTOUT_FILES_MODEL_UNUSABLE, err, err_cap, "%s", cutout_last_error());
    if (status == CUTOUT_FILES_OK && !output_dir_prepare(f->opts.output_dir, why, sizeof why))
        status = fail(CUTOUT_FILES_SETUP, err, err_cap, "%s", why);
    if (status == CUTOUT_FILES_OK && f->opts.bg_image != NULL &&
        !image_load(f->opts.bg_image, DECODE_MAX_PIXELS, &f->background, why, sizeof why))
        status = fail(CUTOUT_FILES_SETUP, err, err_cap, "--bg-image %s: %s", f->opts.bg_image,
                      why);
    if (status != CUTOUT_FILES_OK) {
        cutout_files_close(f);
        return status;
    }
    *out = f;
    return CUTOUT_FILES_OK;
}

int cutout_files_list(const char *entry, cutout_files_list_fn fn, void *user, char *err,
                      size_t err_cap)
{
    if (entry == NULL || fn == NULL)
        return fail(CUTOUT_FILES_USAGE, err, err_cap, "expected an entry and a callback, got NULL");
    input_list list;
    memset(&list, 0, sizeof list);
    char why[MESSAGE_CAP];
    if (!input_list_add(&list, entry, why, sizeof why))
        return fail(CUTOUT_FILES_FAILED, err, err_cap, "%s", why);
    for (size_t i = 0; i < list.count; i++)
        fn(list.items[i].path, user);
    input_list_free(&list);
    return CUTOUT_FILES_OK;
}

/* Copies `path` (NULL: "") into buf; false when it does not fit. */
static bool copy_name(const char *path, char *buf, size_t cap)
{
    const char *s = path != NULL ? path : "";
    size_t n = strlen(s) + 1;
    if (buf == NULL || n > cap)
        return false;
    memcpy(buf, s, n);
    return true;
}

int cutout_files_output_names(const cutout_files *f, const char *input, char *rgba,
                              size_t rgba_cap, char *mask, size_t mask_cap)
{
    char *stem = f != NULL && input != NULL ? input_list_stem(input) : NULL;
    char *rgba_path = NULL, *mask_path = NULL;
    bool ok = stem != NULL && image_outputs_name(&f->opts, stem, &rgba_path, &mask_path) &&
              copy_name(rgba_path, rgba, rgba_cap) && copy_name(mask_path, mask, mask_cap);
    free(stem);
    free(rgba_path);
    free(mask_path);
    if (!ok) {
        if (rgba != NULL && rgba_cap > 0)
            rgba[0] = '\0';
        if (mask != NULL && mask_cap > 0)
            mask[0] = '\0';
        return CUTOUT_FILES_FAILED;
    }
    return CUTOUT_FILES_OK;
}

/* Decodes the image, runs the node and writes the results, as the
 * command does for one image of the list `one`. */
static int decode_run_write(cutout_files *f, const input_list *one, const char *rgba_path,
                            const char *mask_path, char *err, size_t err_cap)
{
    const cli_options *o = &f->opts;
    image_f32 img;
    char why[MESSAGE_CAP];
    if (!image_load(one->items[0].path, DECODE_MAX_PIXELS, &img, why, sizeof why))
        return fail(CUTOUT_FILES_FAILED, err, err_cap, "%s", why);
    remove_background_result res;
    const image_f32 *views[1] = {&img};
    cutout_status run = remove_background_run(f->ctx, o, o->bg_image ? &f->background : NULL,
                                              views, 1, NULL, !o->mask_only, &res, err, err_cap);
    image_free(&img);
    if (run == CUTOUT_ERR_MODEL_INVALID || run == CUTOUT_ERR_MODEL_NOT_FOUND)
        return CUTOUT_FILES_MODEL_UNUSABLE;
    if (run != CUTOUT_OK)
        return CUTOUT_FILES_FAILED;
    bool written = image_outputs_write(rgba_path, mask_path, &res, o->overwrite, err, err_cap);
    remove_background_result_free(&res);
    return written ? CUTOUT_FILES_OK : CUTOUT_FILES_FAILED;
}

int cutout_files_process(cutout_files *f, const char *input, char *err, size_t err_cap)
{
    if (f == NULL || input == NULL)
        return fail(CUTOUT_FILES_USAGE, err, err_cap, "expected a session and an input, got NULL");
    struct stat st;
    if (stat(input, &st) != 0)
        return fail(CUTOUT_FILES_FAILED, err, err_cap, "cannot open: %s", strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fail(CUTOUT_FILES_FAILED, err, err_cap,
                    "is a directory (expected a PNG or JPEG file)");
    /* A list of this one input, for the command's check that no output is
     * an input file. */
    input_list one;
    memset(&one, 0, sizeof one);
    char why[MESSAGE_CAP];
    if (!input_list_add(&one, input, why, sizeof why))
        return fail(CUTOUT_FILES_FAILED, err, err_cap, "%s", why);

    /* Outputs are checked before decoding, so that a doomed image costs
     * nothing, as in the command. */
    char *rgba_path = NULL, *mask_path = NULL;
    int status = CUTOUT_FILES_OK;
    if (!image_outputs_name(&f->opts, one.items[0].stem, &rgba_path, &mask_path))
        status = fail(CUTOUT_FILES_FAILED, err, err_cap, "out of memory");
    const char *paths[2] = {rgba_path, mask_path};
    for (int k = 0; k < 2 && status == CUTOUT_FILES_OK; k++)
        if (paths[k] != NULL && !output_check(paths[k], &one, f->opts.overwrite, err, err_cap))
            status = CUTOUT_FILES_FAILED;
    if (status == CUTOUT_FILES_OK)
        status = decode_run_write(f, &one, rgba_path, mask_path, err, err_cap);
    free(rgba_path);
    free(mask_path);
    input_list_free(&one);
    return status;
}
