/*
 * options.c - the cutout command's arguments: its own options, listed
 * here, and the node inputs it can set, whose flags, types, ranges and
 * choices come from nodes.json (a new node input needs no change here).
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
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

typedef enum command_id {
    CMD_OUTPUT,
    CMD_THREADS,
    CMD_MASK,
    CMD_MASK_ONLY,
    CMD_OVERWRITE,
    CMD_QUIET,
    CMD_FILES_FROM,
    CMD_SHARD,
    CMD_BG_COLOR,
    CMD_BG_IMAGE,
    CMD_LIST_MODELS,
    CMD_VERSION,
    CMD_HELP
} command_id;

/* An option of the command itself (not a node input). */
typedef struct command_option {
    const char *long_name; /* without "--" */
    char short_name;       /* 0: none */
    const char *metavar;   /* NULL: takes no value */
    command_id id;
    const char *help;
} command_option;

static const command_option COMMAND_OPTIONS[] = {
    {"output", 'o', "DIR", CMD_OUTPUT,
     "output directory (default: the current directory; created if missing)"},
    {"mask", 0, NULL, CMD_MASK, "also write <stem>_mask.png (8-bit gray alpha)"},
    {"mask-only", 0, NULL, CMD_MASK_ONLY, "write only the mask, as <stem>.png"},
    {"overwrite", 0, NULL, CMD_OVERWRITE, "replace output files that already exist"},
    {"files-from", 0, "F", CMD_FILES_FROM,
     "also read inputs from file F, one path per line ('-': standard input)"},
    {"shard", 0, "I/N", CMD_SHARD,
     "process only the inputs at positions I, I+N, I+2N, ... of the whole list "
     "(0 <= I < N): job I of N"},
    {"threads", 't', "N", CMD_THREADS,
     "CPU threads, 0.." STRINGIFY(CLI_THREADS_MAX) " (default: 0 = all cores)"},
    {"quiet", 'q', NULL, CMD_QUIET, "no progress bar and no summary (errors still print)"},
    {"bg-color", 0, "HEX", CMD_BG_COLOR, "put the cutout on a colour '#RRGGBB' (writes RGB)"},
    {"bg-image", 0, "FILE", CMD_BG_IMAGE,
     "put the cutout on an image, resized to cover (writes RGB)"},
    {"list-models", 0, NULL, CMD_LIST_MODELS, "list the installed models and exit"},
    {"version", 0, NULL, CMD_VERSION,
     "print the library, ABI and libtorch versions and exit"},
    {"help", 'h', NULL, CMD_HELP, "print this help and exit"},
};
#define NUM_COMMAND_OPTIONS (sizeof COMMAND_OPTIONS / sizeof COMMAND_OPTIONS[0])

/* The command's own names for node inputs: short letters, and the shorter
 * flags it had before its flags were derived from nodes.json. A `value`
 * makes the flag a switch that sets a COMBO to it; `optional` names an INT
 * input that the flag's optional number sets (--crop [PAD]). */
typedef struct alias {
    const char *flag; /* without "--" */
    char short_name;  /* 0: none */
    const char *input;
    const char *value;
    const char *optional;
} alias;

static const alias ALIASES[] = {
    {"model", 'm', "model", NULL, NULL},
    {"batch-size", 'b', "batch_size", NULL, NULL},
    {"resolution", 0, "process_resolution", NULL, NULL},
    {"blur", 0, "mask_blur", NULL, NULL},
    {"grow", 0, "mask_grow", NULL, NULL},
    {"invert", 0, "invert_mask", NULL, NULL},
    {"refine", 0, "edge_refinement", NULL, NULL},
    {"fg-estimate", 0, "foreground", "estimate", NULL},
    {"crop", 0, "crop_to_subject", NULL, "crop_padding"},
};
#define NUM_ALIASES (sizeof ALIASES / sizeof ALIASES[0])

/* Node inputs the command sets itself: the output layout follows from
 * --mask-only and the --bg-* options. */
static bool fixed_by_command(const char *input)
{
    return strcmp(input, "output") == 0;
}

/* Whether the command can set an input of this nodes.json type. */
static bool settable_type(const char *type)
{
    return strcmp(type, "INT") == 0 || strcmp(type, "FLOAT") == 0 ||
           strcmp(type, "BOOLEAN") == 0 || strcmp(type, "COMBO") == 0 ||
           strcmp(type, "STRING") == 0;
}

/* A node input named on the command line: the input, and the alias it was
 * named by (NULL for the derived flag). */
typedef struct node_flag {
    const char *input; /* owned by the parsed spec */
    const char *type;
    const alias *alias;
} node_flag;

/* The node input a long flag names: an alias, or the flag with '_' for
 * '-' when the Advanced node has a settable input of that name. */
static bool find_node_flag(const char *name, size_t len, node_flag *out)
{
    memset(out, 0, sizeof *out);
    for (size_t k = 0; k < NUM_ALIASES; k++)
        if (strlen(ALIASES[k].flag) == len && strncmp(ALIASES[k].flag, name, len) == 0)
            out->alias = &ALIASES[k];
    const int n = node_spec_input_count(ADVANCED);
    for (int k = 0; k < n; k++) {
        const char *input, *type;
        if (!node_spec_input_at(ADVANCED, k, &input, &type) || !settable_type(type) ||
            fixed_by_command(input))
            continue;
        bool match = out->alias != NULL ? strcmp(out->alias->input, input) == 0
                                        : strlen(input) == len;
        for (size_t c = 0; match && out->alias == NULL && c < len; c++)
            match = input[c] == (name[c] == '-' ? '_' : name[c]);
        if (match) {
            out->input = input;
            out->type = type;
            return true;
        }
    }
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

/* A whole decimal integer within the range and step nodes.json gives
 * `input`. */
static bool parse_spec_int(const char *name, const char *text, const char *input, int64_t *out,
                           char *err, size_t err_cap)
{
    spec_range r;
    if (!node_spec_range(ADVANCED, input, &r))
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

/* A number within the range nodes.json gives `input`. */
static bool parse_spec_float(const char *name, const char *text, const char *input, double *out,
                             char *err, size_t err_cap)
{
    spec_range r = {0, 0, 0, 0};
    if (!node_spec_range(ADVANCED, input, &r))
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

/* The slot of `input` in o->settings: its earlier one, or a new one. */
static cli_setting *setting_slot(cli_options *o, const char *input, cutout_value_kind kind)
{
    for (int k = 0; k < o->num_settings; k++)
        if (strcmp(o->settings[k].input, input) == 0) return &o->settings[k];
    if (o->num_settings == CLI_MAX_SETTINGS) return NULL;
    cli_setting *s = &o->settings[o->num_settings++];
    memset(s, 0, sizeof *s);
    s->input = input;
    s->kind = kind;
    s->advanced_only = !node_spec_has(BASIC, input);
    return s;
}

/* Sets node input `input` (type `type`) from `text` (NULL for a switch),
 * checked against nodes.json; `name` is the flag as given, for messages. */
static bool set_node_input(cli_options *o, const char *name, const char *input, const char *type,
                           const char *text, char *err, size_t err_cap)
{
    const bool is_bool = strcmp(type, "BOOLEAN") == 0;
    const bool is_int = strcmp(type, "INT") == 0, is_float = strcmp(type, "FLOAT") == 0;
    cli_setting *s = setting_slot(o, input, is_bool    ? CUTOUT_VALUE_BOOL
                                            : is_int   ? CUTOUT_VALUE_INT
                                            : is_float ? CUTOUT_VALUE_FLOAT
                                                       : CUTOUT_VALUE_STRING);
    if (s == NULL) return fail(err, err_cap, "%s: too many node options", name);
    if (is_bool) {
        s->b = true;
        return true;
    }
    if (is_int) return parse_spec_int(name, text, input, &s->i, err, err_cap);
    if (is_float) return parse_spec_float(name, text, input, &s->f, err, err_cap);
    char list[256];
    if (node_spec_choices(ADVANCED, input, list, sizeof list)[0] != '\0' &&
        !node_spec_choice(ADVANCED, input, text))
        return fail(err, err_cap, "%s: expected %s, got '%s'", name, list, text);
    if (text[0] == '\0') return fail(err, err_cap, "%s: expected a value, got ''", name);
    s->s = text;
    return true;
}

static bool is_hex_color(const char *v)
{
    if (v[0] == '#') v++;
    if (strlen(v) != 6) return false;
    for (int i = 0; i < 6; i++)
        if (!strchr("0123456789abcdefABCDEF", v[i])) return false;
    return true;
}

static bool apply_command(const command_option *opt, const char *value, cli_options *o,
                          char *err, size_t err_cap)
{
    int64_t n = 0;
    switch (opt->id) {
    case CMD_OUTPUT:
        if (value[0] == '\0')
            return fail(err, err_cap, "--output: expected a directory, got ''");
        o->output_dir = value;
        return true;
    case CMD_THREADS:
        if (!parse_int("--threads", value, 0, CLI_THREADS_MAX, &n, err, err_cap)) return false;
        o->threads = (int32_t)n;
        return true;
    case CMD_MASK: o->mask = true; return true;
    case CMD_MASK_ONLY: o->mask_only = true; return true;
    case CMD_OVERWRITE: o->overwrite = true; return true;
    case CMD_QUIET: o->quiet = true; return true;
    case CMD_FILES_FROM:
        if (value[0] == '\0')
            return fail(err, err_cap, "--files-from: expected a file or '-', got ''");
        o->files_from = value;
        return true;
    case CMD_SHARD: return shard_parse(value, &o->shard_index, &o->shard_count, err, err_cap);
    case CMD_BG_COLOR:
        if (!is_hex_color(value))
            return fail(err, err_cap, "--bg-color: expected a colour '#RRGGBB', got '%s'", value);
        o->bg_color = value;
        return true;
    case CMD_BG_IMAGE:
        if (value[0] == '\0') return fail(err, err_cap, "--bg-image: expected a file, got ''");
        o->bg_image = value;
        return true;
    case CMD_LIST_MODELS: o->list_models = true; return true;
    case CMD_VERSION: o->version = true; return true;
    case CMD_HELP: o->help = true; return true;
    }
    return fail(err, err_cap, "internal error: unhandled option");
}

/* The value of argv[*i], an option that takes one: attached (`attached`,
 * after '=' or a short letter) or the next argument. */
static bool option_value(int argc, char **argv, int *i, const char *attached, const char *name,
                         const char **value, char *err, size_t err_cap)
{
    if (attached != NULL) {
        *value = attached;
        return true;
    }
    if (*i + 1 >= argc) return fail(err, err_cap, "%s: expected a value", name);
    *value = argv[++*i];
    return true;
}

/* Handles argv[*i], an option; may consume argv[*i + 1] as its value. */
static bool parse_option(int argc, char **argv, int *i, cli_options *o, char *err,
                         size_t err_cap)
{
    const char *arg = argv[*i];
    const command_option *command = NULL;
    node_flag node;
    memset(&node, 0, sizeof node);
    const char *attached = NULL; /* --opt=VALUE or -oVALUE */
    char name[96];               /* the option as given, without a value */

    if (arg[1] == '-') {
        const char *flag = arg + 2;
        const char *eq = strchr(flag, '=');
        size_t len = eq != NULL ? (size_t)(eq - flag) : strlen(flag);
        snprintf(name, sizeof name, "--%.*s", (int)len, flag);
        for (size_t k = 0; k < NUM_COMMAND_OPTIONS; k++)
            if (strlen(COMMAND_OPTIONS[k].long_name) == len &&
                strncmp(COMMAND_OPTIONS[k].long_name, flag, len) == 0)
                command = &COMMAND_OPTIONS[k];
        if (command == NULL && !find_node_flag(flag, len, &node))
            return fail(err, err_cap, "unknown option '%s'", name);
        if (eq != NULL) attached = eq + 1;
    } else {
        snprintf(name, sizeof name, "-%c", arg[1]);
        for (size_t k = 0; k < NUM_COMMAND_OPTIONS; k++)
            if (COMMAND_OPTIONS[k].short_name != 0 && COMMAND_OPTIONS[k].short_name == arg[1])
                command = &COMMAND_OPTIONS[k];
        for (size_t k = 0; command == NULL && k < NUM_ALIASES; k++)
            if (ALIASES[k].short_name != 0 && ALIASES[k].short_name == arg[1])
                find_node_flag(ALIASES[k].flag, strlen(ALIASES[k].flag), &node);
        if (command == NULL && node.input == NULL)
            return fail(err, err_cap, "unknown option '%s'", name);
        if (arg[2] != '\0') attached = arg + 2;
    }

    const bool is_switch = command != NULL ? command->metavar == NULL
                                           : strcmp(node.type, "BOOLEAN") == 0 ||
                                                 (node.alias != NULL && node.alias->value != NULL);
    const char *value = NULL;
    if (node.alias != NULL && node.alias->optional != NULL) {
        /* --crop [PAD]: a number right after it (or attached) is PAD. */
        const char *next = *i + 1 < argc ? argv[*i + 1] : NULL;
        if (attached == NULL && next != NULL && next[0] >= '0' && next[0] <= '9' &&
            strspn(next, "0123456789") == strlen(next))
            attached = argv[++*i];
        if (attached != NULL &&
            !set_node_input(o, name, node.alias->optional, "INT", attached, err, err_cap))
            return false;
        return set_node_input(o, name, node.input, node.type, NULL, err, err_cap);
    }
    if (is_switch && attached != NULL)
        return arg[1] == '-'
                   ? fail(err, err_cap, "%s takes no value, got '%s'", name, attached)
                   : fail(err, err_cap, "%s takes no value, got '%s' (options are not combined)",
                          name, arg);
    if (!is_switch) {
        /* Messages name the long form: "--output: expected a value". */
        char long_name[96];
        snprintf(long_name, sizeof long_name, "--%s",
                 command != NULL ? command->long_name
                                 : (node.alias != NULL ? node.alias->flag : name + 2));
        if (!option_value(argc, argv, i, attached, arg[1] == '-' ? name : long_name, &value, err,
                          err_cap))
            return false;
        if (arg[1] != '-') snprintf(name, sizeof name, "%s", long_name);
    }
    if (command != NULL) return apply_command(command, value, o, err, err_cap);
    if (node.alias != NULL && node.alias->value != NULL) value = node.alias->value;
    return set_node_input(o, name, node.input, node.type, value, err, err_cap);
}

bool options_want_advanced(const cli_options *o)
{
    for (int k = 0; k < o->num_settings; k++)
        if (o->settings[k].advanced_only) return true;
    return o->bg_color != NULL || o->bg_image != NULL;
}

const cli_setting *options_setting(const cli_options *o, const char *input)
{
    for (int k = 0; k < o->num_settings; k++)
        if (strcmp(o->settings[k].input, input) == 0) return &o->settings[k];
    return NULL;
}

const char *options_string(const cli_options *o, const char *input)
{
    const cli_setting *s = options_setting(o, input);
    return s != NULL ? s->s : node_spec_default_string(ADVANCED, input, "");
}

int64_t options_int(const cli_options *o, const char *input)
{
    const cli_setting *s = options_setting(o, input);
    spec_range r = {0, 0, 0, 0};
    return s != NULL ? s->i : (node_spec_range(ADVANCED, input, &r), (int64_t)r.def);
}

double options_float(const cli_options *o, const char *input)
{
    const cli_setting *s = options_setting(o, input);
    spec_range r = {0, 0, 0, 0};
    return s != NULL ? s->f : (node_spec_range(ADVANCED, input, &r), r.def);
}

bool options_bool(const cli_options *o, const char *input)
{
    const cli_setting *s = options_setting(o, input);
    return s != NULL ? s->b : node_spec_default_bool(ADVANCED, input);
}

bool options_parse_settings(int argc, char **argv, cli_options *out, char *err,
                            size_t err_cap)
{
    memset(out, 0, sizeof *out);
    out->output_dir = ".";
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

/* ---- Usage */

#define HELP_COLUMN 23
#define HELP_WIDTH 79

/* Prints "  -x, --name META" padded to HELP_COLUMN, then `text` wrapped to
 * HELP_WIDTH with continuation lines indented to HELP_COLUMN. */
static void print_entry(FILE *to, char short_name, const char *flags, const char *meta,
                        const char *text)
{
    char head[128];
    int n = snprintf(head, sizeof head, "  %c%c%s--%s%s%s", short_name ? '-' : ' ',
                     short_name ? short_name : ' ', short_name ? ", " : "  ", flags,
                     meta ? " " : "", meta ? meta : "");
    fputs(head, to);
    int column = n;
    if (column >= HELP_COLUMN - 1) {
        fputc('\n', to);
        column = 0;
    }
    const char *p = text;
    bool first_word = true;
    while (*p != '\0') {
        size_t word = strcspn(p, " ");
        if (column > HELP_COLUMN && column + 1 + (int)word > HELP_WIDTH) {
            fputc('\n', to);
            column = 0;
        }
        if (column < HELP_COLUMN) {
            fprintf(to, "%*s", HELP_COLUMN - column, "");
            column = HELP_COLUMN;
        } else if (!first_word) {
            fputc(' ', to);
            column++;
        }
        fprintf(to, "%.*s", (int)word, p);
        column += (int)word;
        first_word = false;
        p += word;
        p += strspn(p, " ");
    }
    fputc('\n', to);
}

/* The flag of node input `input`: its name with '-' for '_'. */
static const char *flag_of(const char *input, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", input);
    for (char *c = buf; *c; c++)
        if (*c == '_') *c = '-';
    return buf;
}

/* The help of one node input: its range or choices and default, then its
 * tooltip. */
static void print_node_input(FILE *to, const char *input, const char *type)
{
    char flags[96], text[2048], choices[256], derived[64], optional[64];
    flag_of(input, derived, sizeof derived);
    char short_name = 0;
    const alias *plain = NULL, *other = NULL;
    for (size_t k = 0; k < NUM_ALIASES; k++)
        if (strcmp(ALIASES[k].input, input) == 0) {
            if (strcmp(ALIASES[k].flag, derived) == 0)
                plain = &ALIASES[k];
            else
                other = &ALIASES[k];
        }
    if (plain != NULL) short_name = plain->short_name;
    snprintf(flags, sizeof flags, "%s", derived);
    const char *meta = strcmp(type, "INT") == 0     ? "N"
                       : strcmp(type, "FLOAT") == 0 ? "X"
                       : strcmp(type, "BOOLEAN") == 0 ? NULL
                                                      : "NAME";
    spec_range r = {0, 0, 0, 0};
    const char *summary = node_spec_tooltip(ADVANCED, input);
    if (node_spec_range(ADVANCED, input, &r)) {
        char step[48] = "";
        if (strcmp(type, "INT") == 0 && r.step > 1) snprintf(step, sizeof step, " in steps of %g", r.step);
        snprintf(text, sizeof text, "%g..%g%s (default %g). %s", r.min, r.max, step, r.def,
                 summary);
    } else if (node_spec_choices(ADVANCED, input, choices, sizeof choices)[0] != '\0') {
        snprintf(text, sizeof text, "%s (default %s). %s", choices,
                 node_spec_default_string(ADVANCED, input, ""), summary);
    } else if (meta == NULL) {
        snprintf(text, sizeof text, "%s", summary);
    } else {
        snprintf(text, sizeof text, "(default %s). %s",
                 node_spec_default_string(ADVANCED, input, ""), summary);
    }
    print_entry(to, short_name, flags, meta, text);
    if (other != NULL) {
        char also[256];
        if (other->value != NULL)
            snprintf(also, sizeof also, "the same as --%s %s", derived, other->value);
        else if (other->optional != NULL)
            snprintf(also, sizeof also, "the same as --%s, with --%s PAD when PAD is given",
                     derived, flag_of(other->optional, optional, sizeof optional));
        else
            snprintf(also, sizeof also, "the same as --%s", derived);
        print_entry(to, 0, other->flag, other->optional ? "[PAD]" : (other->value ? NULL : meta),
                    also);
    }
}

void options_print_usage(FILE *to)
{
    fputs("usage: cutout [options] INPUT...\n"
          "Removes the background of PNG and JPEG images. INPUT is a file or a directory\n"
          "(its PNG and JPEG files, sorted by name, not recursive). For each image,\n"
          "<stem>.png (RGBA) is written to the output directory.\n"
          "\n"
          "options:\n",
          to);
    for (size_t k = 0; k < NUM_COMMAND_OPTIONS; k++) {
        const command_option *c = &COMMAND_OPTIONS[k];
        print_entry(to, c->short_name, c->long_name, c->metavar, c->help);
    }
    fputs("\nnode inputs (from the library's nodes.json; one that only the Advanced node\n"
          "has runs CutoutRemoveBackgroundAdvanced; --temporal and --skip-similar take the\n"
          "inputs as frames in name order):\n",
          to);
    const int n = node_spec_input_count(ADVANCED);
    for (int k = 0; k < n; k++) {
        const char *input, *type;
        if (node_spec_input_at(ADVANCED, k, &input, &type) && settable_type(type) &&
            !fixed_by_command(input))
            print_node_input(to, input, type);
    }
    fputs("\nModels (<name>.pt) are searched in $CUTOUT_MODEL_PATH (':'-separated), then\n"
          "in models/ beside the library, ../models and ../share/cutout/models.\n"
          "Exit status: 0 all done, 1 an image failed, 2 bad usage, 130 interrupted.\n",
          to);
}
