/*
 * options.c - a small, explicit argument parser for the cutout command.
 */
#include "options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void options_print_usage(FILE *to)
{
    fprintf(to,
            "usage: cutout [options] INPUT...\n"
            "Removes the background of PNG and JPEG images. INPUT is a file or a directory\n"
            "(its PNG and JPEG files, sorted by name, not recursive). For each image,\n"
            "<stem>.png (RGBA) is written to the output directory.\n"
            "\n"
            "options:\n"
            "  -o, --output DIR     output directory (default: the current directory;\n"
            "                       created if missing)\n"
            "  -m, --model NAME     model to use (default: isnet); see --list-models\n"
            "      --mask           also write <stem>_mask.png (8-bit gray alpha)\n"
            "      --mask-only      write only the mask, as <stem>.png\n"
            "      --overwrite      replace output files that already exist\n"
            "  -b, --batch-size N   images per forward pass, %d..%d (default: 1)\n"
            "  -t, --threads N      CPU threads, 0..%d (default: 0 = all cores)\n"
            "  -q, --quiet          no progress bar and no summary (errors still print)\n"
            "      --list-models    list the installed models and exit\n"
            "      --version        print the library, ABI and libtorch versions and exit\n"
            "  -h, --help           print this help and exit\n"
            "\n"
            "Models (<name>.pt) are searched in $CUTOUT_MODEL_PATH (':'-separated), then\n"
            "in models/ beside the library and one directory up.\n"
            "Exit status: 0 all done, 1 an image failed, 2 bad usage, 130 interrupted.\n",
            CLI_BATCH_SIZE_MIN, CLI_BATCH_SIZE_MAX, CLI_THREADS_MAX);
}

static bool fail(char *err, size_t err_cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
    return false;
}

/* A whole decimal integer in [lo, hi]. */
static bool parse_int(const char *name, const char *text, int64_t lo, int64_t hi,
                      int64_t *out, char *err, size_t err_cap)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
        return fail(err, err_cap, "%s: expected an integer from %lld to %lld, got '%s'", name,
                    (long long)lo, (long long)hi, text);
    *out = v;
    return true;
}

typedef enum option_id {
    OPT_OUTPUT,
    OPT_MODEL,
    OPT_BATCH_SIZE,
    OPT_THREADS,
    OPT_MASK,
    OPT_MASK_ONLY,
    OPT_OVERWRITE,
    OPT_QUIET,
    OPT_LIST_MODELS,
    OPT_VERSION,
    OPT_HELP
} option_id;

typedef struct option_spec {
    const char *long_name; /* without "--" */
    char short_name;       /* 0: none */
    bool takes_value;
    option_id id;
} option_spec;

static const option_spec OPTIONS[] = {
    {"output", 'o', true, OPT_OUTPUT},
    {"model", 'm', true, OPT_MODEL},
    {"batch-size", 'b', true, OPT_BATCH_SIZE},
    {"threads", 't', true, OPT_THREADS},
    {"mask", 0, false, OPT_MASK},
    {"mask-only", 0, false, OPT_MASK_ONLY},
    {"overwrite", 0, false, OPT_OVERWRITE},
    {"quiet", 'q', false, OPT_QUIET},
    {"list-models", 0, false, OPT_LIST_MODELS},
    {"version", 0, false, OPT_VERSION},
    {"help", 'h', false, OPT_HELP},
};
#define NUM_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

static bool apply(const option_spec *spec, const char *value, cli_options *o, char *err,
                  size_t err_cap)
{
    int64_t n = 0;
    switch (spec->id) {
    case OPT_OUTPUT:
        if (value[0] == '\0')
            return fail(err, err_cap, "--output: expected a directory, got ''");
        o->output_dir = value;
        return true;
    case OPT_MODEL:
        if (value[0] == '\0')
            return fail(err, err_cap, "--model: expected a model name, got ''");
        o->model = value;
        return true;
    case OPT_BATCH_SIZE:
        if (!parse_int("--batch-size", value, CLI_BATCH_SIZE_MIN, CLI_BATCH_SIZE_MAX, &n, err,
                       err_cap))
            return false;
        o->batch_size = n;
        return true;
    case OPT_THREADS:
        if (!parse_int("--threads", value, 0, CLI_THREADS_MAX, &n, err, err_cap))
            return false;
        o->threads = (int32_t)n;
        return true;
    case OPT_MASK:
        o->mask = true;
        return true;
    case OPT_MASK_ONLY:
        o->mask_only = true;
        return true;
    case OPT_OVERWRITE:
        o->overwrite = true;
        return true;
    case OPT_QUIET:
        o->quiet = true;
        return true;
    case OPT_LIST_MODELS:
        o->list_models = true;
        return true;
    case OPT_VERSION:
        o->version = true;
        return true;
    case OPT_HELP:
        o->help = true;
        return true;
    }
    return fail(err, err_cap, "internal error: unhandled option");
}

/* Handles argv[*i], an option; may consume argv[*i + 1] as its value. */
static bool parse_option(int argc, char **argv, int *i, cli_options *o, char *err,
                         size_t err_cap)
{
    const char *arg = argv[*i];
    const option_spec *spec = NULL;
    const char *value = NULL; /* attached value: --opt=VALUE or -oVALUE */

    if (arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        for (size_t k = 0; k < NUM_OPTIONS; k++)
            if (strlen(OPTIONS[k].long_name) == len &&
                strncmp(OPTIONS[k].long_name, name, len) == 0)
                spec = &OPTIONS[k];
        if (spec == NULL)
            return fail(err, err_cap, "unknown option '%.*s'", (int)(len + 2), arg);
        if (eq != NULL) {
            if (!spec->takes_value)
                return fail(err, err_cap, "--%s takes no value, got '%s'", spec->long_name,
                            eq + 1);
            value = eq + 1;
        }
    } else {
        for (size_t k = 0; k < NUM_OPTIONS; k++)
            if (OPTIONS[k].short_name != 0 && OPTIONS[k].short_name == arg[1])
                spec = &OPTIONS[k];
        if (spec == NULL)
            return fail(err, err_cap, "unknown option '-%c'", arg[1]);
        if (arg[2] != '\0') {
            if (!spec->takes_value)
                return fail(err, err_cap, "-%c takes no value, got '%s' (options are not "
                                          "combined)", arg[1], arg);
            value = arg + 2;
        }
    }
    if (spec->takes_value && value == NULL) {
        if (*i + 1 >= argc)
            return fail(err, err_cap, "--%s: expected a value", spec->long_name);
        value = argv[++*i];
    }
    return apply(spec, value, o, err, err_cap);
}

bool options_parse(int argc, char **argv, cli_options *out, char *err, size_t err_cap)
{
    memset(out, 0, sizeof *out);
    out->output_dir = ".";
    out->model = "isnet";
    out->batch_size = 1;
    out->threads = 0;

    /* Inputs are gathered, in order, at the front of argv[1..]: every slot
     * before the current argument has already been read, so nothing is lost. */
    out->inputs = argv + 1;
    int n_inputs = 0;
    bool options_ended = false;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (!options_ended && strcmp(arg, "--") == 0) {
            options_ended = true;
        } else if (!options_ended && arg[0] == '-' && arg[1] != '\0') {
            if (!parse_option(argc, argv, &i, out, err, err_cap))
                return false;
        } else {
            argv[1 + n_inputs++] = arg;
        }
    }
    out->num_inputs = n_inputs;
    if (n_inputs == 0 && !out->help && !out->version && !out->list_models)
        return fail(err, err_cap, "no input given (expected image files or directories)");
    return true;
}
