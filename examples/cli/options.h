/*
 * options.h - command-line options of the cutout command.
 */
#ifndef CUTOUT_CLI_OPTIONS_H
#define CUTOUT_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cutout.h"

/* Range of --threads; 0 lets the library use every core it may run on. */
#define CLI_THREADS_MAX 1024

/* At most this many node inputs may be set on one command line (more than
 * the nodes have, so a repeated option takes a new slot only once). */
#define CLI_MAX_SETTINGS 48

/* One node input set on the command line, by its nodes.json name. The
 * flag is the input's name with '-' for '_' (--mask-blur), or one of the
 * command's shorter aliases (--blur); its value was checked against
 * nodes.json (range, step, choices) when it was parsed. */
typedef struct cli_setting {
    const char *input;      /* owned by the parsed spec (node_spec.h) */
    cutout_value_kind kind; /* INT, FLOAT, BOOL or STRING (COMBO and STRING inputs) */
    int64_t i;
    double f;
    bool b;
    const char *s;          /* points into argv or the spec */
    bool advanced_only;     /* only CutoutRemoveBackgroundAdvanced has this input */
} cli_setting;

typedef struct cli_options {
    const char *output_dir; /* -o; "." by default */
    int32_t threads;        /* --threads; 0 = automatic */
    bool mask;              /* --mask: also write <stem>_mask.png */
    bool mask_only;         /* --mask-only: write only the mask, as <stem>.png */
    bool overwrite;         /* --overwrite: replace existing outputs */
    bool quiet;             /* --quiet: no progress bar, no summary */
    const char *files_from; /* --files-from FILE|-: more inputs, one per line (NULL: none) */
    int64_t shard_index;    /* --shard I/N: only the inputs at positions I, I+N, ... */
    int64_t shard_count;    /* (0 and 1 by default: every input) */
    const char *bg_color;   /* --bg-color '#RRGGBB' (NULL: none); adds CutoutCompositeBackground */
    const char *bg_image;   /* --bg-image FILE (NULL: none) */
    /* The node inputs given, in order, each once (a repeat replaces the
     * value). An input only the Advanced node has makes the command run
     * CutoutRemoveBackgroundAdvanced; the others keep their nodes.json
     * defaults, which the library fills in. */
    cli_setting settings[CLI_MAX_SETTINGS];
    int num_settings;
    bool list_models;
    bool version;
    bool help;
    char **inputs; /* points into argv; not owned */
    int num_inputs;
} cli_options;

/* True when an option that needs the advanced node was given. */
bool options_want_advanced(const cli_options *o);

/* The setting of node input `input`, or NULL when the command line left it
 * at its default. */
const cli_setting *options_setting(const cli_options *o, const char *input);

/* The value of a node input: the one given, else the nodes.json default
 * of the Advanced node (which has every input the command sets). Strings
 * are owned by argv or the parsed spec. */
const char *options_string(const cli_options *o, const char *input);
int64_t options_int(const cli_options *o, const char *input);
double options_float(const cli_options *o, const char *input);
bool options_bool(const cli_options *o, const char *input);

/* Parses argv into *out. Options and inputs may be mixed; "--" ends the
 * options. Values go as "--opt VALUE" or "--opt=VALUE" ("-o DIR" or
 * "-oDIR" for short ones). Returns true on success, otherwise false with a
 * one-line message in err (capacity err_cap), e.g.
 * "--batch-size: expected an integer from 1 to 64, got '0'". Having no
 * input (neither INPUT nor --files-from) is an error unless --help,
 * --version or --list-models is given.
 * Allocates nothing: keeps pointers into argv, whose entries it reorders
 * so that the inputs come first (out->inputs points at them). */
bool options_parse(int argc, char **argv, cli_options *out, char *err, size_t err_cap);

/* options_parse without the check for inputs, for a caller that takes its
 * inputs another way (the files session, cutout_files.h). */
bool options_parse_settings(int argc, char **argv, cli_options *out, char *err,
                            size_t err_cap);

/* Prints the usage text to `to`: the command's own options, then every
 * node input it can set, with the range or choices, default and tooltip
 * from nodes.json. */
void options_print_usage(FILE *to);

#endif /* CUTOUT_CLI_OPTIONS_H */
