/*
 * options.c - a small, explicit argument parser for the cutout command.
 */
#include "options.h"
#include "message.h"

#include "shard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node_spec.h"

#define BASIC "CutoutRemoveBackground"
#define ADVANCED "CutoutRemoveBackgroundAdvanced"

/* "lo..hi" of an INT input, with " in steps of N" when the step is not 1. */
static const char *int_range_text(const char *node, const char *input, char *buf, size_t cap)
{
    spec_range r = {0, 0, 1, 0};
    node_spec_range(node, input, &r);
    int n = snprintf(buf, cap, "%.0f..%.0f", r.min, r.max);
    if (r.step > 1 && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " in steps of %.0f", r.step);
    return buf;
}

/* The default of number input `input` of `node` in nodes.json. */
static double spec_default(const char *node, const char *input)
{
    spec_range r = {0, 0, 0, 0};
    node_spec_range(node, input, &r);
    return r.def;
}

void options_print_usage(FILE *to)
{
    char batch[64], resolution[64], blur[64], grow[64];
    char precisions[128], qualities[128], fits[128], refines[128];
    spec_range threshold = {0, 1, 0, 0}, temporal = {0, 0, 0, 0}, skip = {0, 0, 0, 0};
    node_spec_range(ADVANCED, "threshold", &threshold);
    node_spec_range(ADVANCED, "temporal", &temporal);
    node_spec_range(ADVANCED, "skip_similar", &skip);
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
            "      --files-from F   also read inputs from file F, one path per line\n"
            "                       ('-': standard input)\n"
            "      --shard I/N      process only the inputs at positions I, I+N, I+2N, ...\n"
            "                       of the whole list (0 <= I < N): job I of N\n"
            "  -b, --batch-size N   images per forward pass, %s (default: %.0f)\n"
            "  -t, --threads N      CPU threads, 0..%d (default: 0 = all cores)\n"
            "  -q, --quiet          no progress bar and no summary (errors still print)\n"
            "      --precision P    %s (default: %s)\n"
            "      --quality Q      %s (default: %s); best also runs the\n"
            "                       mirror image in a second fit and averages (twice the time)\n"
            "edges:\n"
            "      --resolution N   model input side, %s\n"
            "                       (default 0: the model's native size)\n"
            "      --fit F          %s\n"
            "                       (default auto: the model's own fit, else balanced, which\n"
            "                       keeps the square root of the aspect ratio; letterbox\n"
            "                       keeps the aspect ratio)\n"
            "      --threshold T    %g..%g; above 0 the matte becomes a hard 0/1 cut\n"
            "      --blur PX        Gaussian blur of the matte, %s px\n"
            "      --grow PX        grow (> 0) or shrink (< 0) the matte, %s px\n"
            "      --invert         keep the background instead of the subject\n"
            "      --fg-estimate    estimate the foreground colour of soft edges (no\n"
            "                       background colour bleeding into hair)\n"
            "      --refine R       %s (default: %s; guided: a guided filter)\n"
            "      --crop [PAD]     crop to the subject, with PAD pixels around (default 0)\n"
            "video (the inputs are frames, taken in name order):\n"
            "      --temporal S     %g..%g: smooth each matte with the previous frame's\n"
            "                       where nothing moves (0: frames on their own)\n"
            "      --skip-similar D %g..%g: reuse the last matte for a frame whose mean\n"
            "                       luminance differs less than D (0: always run the model)\n"
            "      --bg-color HEX   put the cutout on a colour '#RRGGBB' (writes RGB)\n"
            "      --bg-image FILE  put the cutout on an image, resized to cover (RGB)\n"
            "      --list-models    list the installed models and exit\n"
            "      --version        print the library, ABI and libtorch versions and exit\n"
            "  -h, --help           print this help and exit\n"
            "\n"
            "Ranges and choices are those of the library's nodes.json.\n"
            "Models (<name>.pt) are searched in $CUTOUT_MODEL_PATH (':'-separated), then\n"
            "in models/ beside the library, ../models and ../share/cutout/models.\n"
            "Exit status: 0 all done, 1 an image failed, 2 bad usage, 130 interrupted.\n",
            int_range_text(BASIC, "batch_size", batch, sizeof batch),
            spec_default(BASIC, "batch_size"), CLI_THREADS_MAX,
            node_spec_choices(BASIC, "precision", precisions, sizeof precisions),
            node_spec_default_string(BASIC, "precision", ""),
            node_spec_choices(BASIC, "quality", qualities, sizeof qualities),
            node_spec_default_string(BASIC, "quality", ""),
            int_range_text(ADVANCED, "process_resolution", resolution, sizeof resolution),
            node_spec_choices(ADVANCED, "fit", fits, sizeof fits), threshold.min, threshold.max,
            int_range_text(ADVANCED, "mask_blur", blur, sizeof blur),
            int_range_text(ADVANCED, "mask_grow", grow, sizeof grow),
            node_spec_choices(ADVANCED, "edge_refinement", refines, sizeof refines),
            node_spec_default_string(ADVANCED, "edge_refinement", ""), temporal.min, temporal.max,
            skip.min, skip.max);
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

/* A whole decimal integer within the range and step nodes.json gives
 * `input` of `node`. */
static bool parse_spec_int(const char *name, const char *text, const char *node,
                           const char *input, int64_t *out, char *err, size_t err_cap)
{
    spec_range r;
    if (!node_spec_range(node, input, &r))
        return fail(err, err_cap, "%s: the library's nodes.json has no %s input", name, input);
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    const bool on_step = r.step <= 1 || (long long)(v - (long long)r.min) % (long long)r.step == 0;
    if (text[0] == '\0' || *end != '\0' || errno != 0 || v < r.min || v > r.max)
        return fail(err, err_cap, "%s: expected an integer from %.0f to %.0f, got '%s'", name,
                    r.min, r.max, text);
    if (!on_step)
        return fail(err, err_cap, "%s: expected %.0f..%.0f in steps of %.0f, got '%s'", name,
                    r.min, r.max, r.step, text);
    *out = v;
    return true;
}

/* A number within the range nodes.json gives `input` of `node`. */
static bool parse_spec_float(const char *name, const char *text, const char *node,
                             const char *input, double *out, char *err, size_t err_cap)
{
    spec_range r = {0, 0, 0, 0};
    if (!node_spec_range(node, input, &r))
        return fail(err, err_cap, "%s: the library's nodes.json has no %s input", name, input);
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno != 0 || !(v >= r.min && v <= r.max))
        return fail(err, err_cap, "%s: expected a number from %g to %g, got '%s'", name, r.min,
                    r.max, text);
    *out = v;
    return true;
}

/* `value` when it is one of COMBO `input`'s options in nodes.json. */
static bool parse_spec_choice(const char *name, const char *value, const char *node,
                              const char *input, const char **out, char *err, size_t err_cap)
{
    char list[256];
    if (node_spec_choice(node, input, value)) {
        *out = value;
        return true;
    }
    return fail(err, err_cap, "%s: expected %s, got '%s'", name,
                node_spec_choices(node, input, list, sizeof list), value);
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
    OPT_FILES_FROM,
    OPT_SHARD,
    OPT_PRECISION,
    OPT_QUALITY,
    OPT_RESOLUTION,
    OPT_FIT,
    OPT_THRESHOLD,
    OPT_BLUR,
    OPT_GROW,
    OPT_INVERT,
    OPT_FG_ESTIMATE,
    OPT_REFINE,
    OPT_BG_COLOR,
    OPT_BG_IMAGE,
    OPT_CROP,
    OPT_TEMPORAL,
    OPT_SKIP_SIMILAR,
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
    {"files-from", 0, true, OPT_FILES_FROM},
    {"shard", 0, true, OPT_SHARD},
    {"precision", 0, true, OPT_PRECISION},
    {"quality", 0, true, OPT_QUALITY},
    {"resolution", 0, true, OPT_RESOLUTION},
    {"fit", 0, true, OPT_FIT},
    {"threshold", 0, true, OPT_THRESHOLD},
    {"blur", 0, true, OPT_BLUR},
    {"grow", 0, true, OPT_GROW},
    {"invert", 0, false, OPT_INVERT},
    {"fg-estimate", 0, false, OPT_FG_ESTIMATE},
    {"refine", 0, true, OPT_REFINE},
    {"bg-color", 0, true, OPT_BG_COLOR},
    {"bg-image", 0, true, OPT_BG_IMAGE},
    {"crop", 0, false, OPT_CROP}, /* optional value: see parse_option */
    {"temporal", 0, true, OPT_TEMPORAL},
    {"skip-similar", 0, true, OPT_SKIP_SIMILAR},
    {"list-models", 0, false, OPT_LIST_MODELS},
    {"version", 0, false, OPT_VERSION},
    {"help", 'h', false, OPT_HELP},
};
#define NUM_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

static bool is_hex_color(const char *v)
{
    if (v[0] == '#') v++;
    if (strlen(v) != 6) return false;
    for (int i = 0; i < 6; i++)
        if (!strchr("0123456789abcdefABCDEF", v[i])) return false;
    return true;
}

static bool apply(const option_spec *spec, const char *value, cli_options *o, char *err,
                  size_t err_cap)
{
    int64_t n = 0;
    switch (spec->id) {
    case OPT_RESOLUTION:
    case OPT_FIT:
    case OPT_THRESHOLD:
    case OPT_BLUR:
    case OPT_GROW:
    case OPT_INVERT:
    case OPT_FG_ESTIMATE:
    case OPT_REFINE:
    case OPT_CROP:
    case OPT_TEMPORAL:
    case OPT_SKIP_SIMILAR: o->edge_option_given = true; break;
    default: break;
    }
    switch (spec->id) {
    case OPT_PRECISION:
        return parse_spec_choice("--precision", value, BASIC, "precision", &o->precision, err,
                                 err_cap);
    case OPT_RESOLUTION:
        return parse_spec_int("--resolution", value, ADVANCED, "process_resolution",
                              &o->resolution, err, err_cap);
    case OPT_FIT: return parse_spec_choice("--fit", value, ADVANCED, "fit", &o->fit, err, err_cap);
    case OPT_QUALITY:
        return parse_spec_choice("--quality", value, BASIC, "quality", &o->quality, err, err_cap);
    case OPT_THRESHOLD:
        return parse_spec_float("--threshold", value, ADVANCED, "threshold", &o->threshold, err,
                                err_cap);
    case OPT_TEMPORAL:
        return parse_spec_float("--temporal", value, ADVANCED, "temporal", &o->temporal, err,
                                err_cap);
    case OPT_SKIP_SIMILAR:
        return parse_spec_float("--skip-similar", value, ADVANCED, "skip_similar",
                                &o->skip_similar, err, err_cap);
    case OPT_BLUR:
        return parse_spec_int("--blur", value, ADVANCED, "mask_blur", &o->blur, err, err_cap);
    case OPT_GROW:
        return parse_spec_int("--grow", value, ADVANCED, "mask_grow", &o->grow, err, err_cap);
    case OPT_INVERT:
        o->invert = true;
        return true;
    case OPT_FG_ESTIMATE:
        o->fg_estimate = true;
        return true;
    case OPT_REFINE:
        return parse_spec_choice("--refine", value, ADVANCED, "edge_refinement", &o->refine, err,
                                 err_cap);
    case OPT_BG_COLOR:
        if (!is_hex_color(value))
            return fail(err, err_cap, "--bg-color: expected a colour '#RRGGBB', got '%s'", value);
        o->bg_color = value;
        return true;
    case OPT_BG_IMAGE:
        if (value[0] == '\0') return fail(err, err_cap, "--bg-image: expected a file, got ''");
        o->bg_image = value;
        return true;
    case OPT_CROP:
        o->crop = true;
        return value == NULL || parse_spec_int("--crop", value, ADVANCED, "crop_padding",
                                               &o->crop_padding, err, err_cap);
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
        return parse_spec_int("--batch-size", value, BASIC, "batch_size", &o->batch_size, err,
                              err_cap);
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
    case OPT_FILES_FROM:
        if (value[0] == '\0')
            return fail(err, err_cap, "--files-from: expected a file or '-', got ''");
        o->files_from = value;
        return true;
    case OPT_SHARD:
        return shard_parse(value, &o->shard_index, &o->shard_count, err, err_cap);
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
        if (spec->id == OPT_CROP) {
            const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
            if (eq != NULL) return apply(spec, eq + 1, o, err, err_cap);
            if (next != NULL && next[0] >= '0' && next[0] <= '9' &&
                strspn(next, "0123456789") == strlen(next))
                return apply(spec, argv[++*i], o, err, err_cap);
            return apply(spec, NULL, o, err, err_cap);
        }
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

bool options_want_advanced(const cli_options *o)
{
    return o->edge_option_given || o->bg_color != NULL || o->bg_image != NULL;
}

bool options_parse_settings(int argc, char **argv, cli_options *out, char *err,
                            size_t err_cap)
{
    memset(out, 0, sizeof *out);
    out->output_dir = ".";
    out->threads = 0;
    /* Every node option starts at its nodes.json default. */
    out->model = node_spec_default_string(BASIC, "model", "");
    out->batch_size = (int64_t)spec_default(BASIC, "batch_size");
    out->precision = node_spec_default_string(BASIC, "precision", "");
    out->quality = node_spec_default_string(BASIC, "quality", "");
    out->resolution = (int64_t)spec_default(ADVANCED, "process_resolution");
    out->fit = node_spec_default_string(ADVANCED, "fit", "");
    out->threshold = spec_default(ADVANCED, "threshold");
    out->blur = (int64_t)spec_default(ADVANCED, "mask_blur");
    out->grow = (int64_t)spec_default(ADVANCED, "mask_grow");
    out->refine = node_spec_default_string(ADVANCED, "edge_refinement", "");
    out->crop_padding = (int64_t)spec_default(ADVANCED, "crop_padding");
    out->temporal = spec_default(ADVANCED, "temporal");
    out->skip_similar = spec_default(ADVANCED, "skip_similar");
    out->shard_index = 0;
    out->shard_count = 1;

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
    if (out->bg_color != NULL && out->bg_image != NULL)
        return fail(err, err_cap, "--bg-color and --bg-image: expected one background, got both");
    return true;
}

bool options_parse(int argc, char **argv, cli_options *out, char *err, size_t err_cap)
{
    if (!options_parse_settings(argc, argv, out, err, err_cap))
        return false;
    if (out->num_inputs == 0 && out->files_from == NULL && !out->help && !out->version &&
        !out->list_models)
        return fail(err, err_cap, "no input given (expected image files or directories)");
    return true;
}
