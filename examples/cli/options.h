/*
 * options.h - command-line options of the cutout command.
 */
#ifndef CUTOUT_CLI_OPTIONS_H
#define CUTOUT_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Range of --threads; 0 lets the library use every core it may run on. */
#define CLI_THREADS_MAX 1024

typedef struct cli_options {
    const char *output_dir; /* -o; "." by default */
    const char *model;      /* --model; "isnet" by default */
    int64_t batch_size;     /* --batch-size */
    int32_t threads;        /* --threads; 0 = automatic */
    bool mask;              /* --mask: also write <stem>_mask.png */
    bool mask_only;         /* --mask-only: write only the mask, as <stem>.png */
    bool overwrite;         /* --overwrite: replace existing outputs */
    bool quiet;             /* --quiet: no progress bar, no summary */
    const char *files_from; /* --files-from FILE|-: more inputs, one per line (NULL: none) */
    int64_t shard_index;    /* --shard I/N: only the inputs at positions I, I+N, ... */
    int64_t shard_count;    /* (0 and 1 by default: every input) */
    /* Edge options: any of them runs the node
     * CutoutRemoveBackgroundAdvanced; --bg-* adds CutoutCompositeBackground. */
    const char *precision;  /* --precision auto|fp32|bf16|fp16; "auto" */
    const char *quality;    /* --quality fast|best; "fast" (both nodes have it) */
    int64_t resolution;     /* --resolution N: 0 = native (range: nodes.json) */
    const char *fit;        /* --fit (choices: nodes.json); "auto" */
    double threshold;       /* --threshold T (range: nodes.json) */
    int64_t blur;           /* --blur PX (range: nodes.json) */
    int64_t grow;           /* --grow PX (range: nodes.json) */
    bool invert;            /* --invert */
    bool fg_estimate;       /* --fg-estimate */
    const char *refine;     /* --refine none|guided */
    const char *bg_color;   /* --bg-color '#RRGGBB' (NULL: none) */
    const char *bg_image;   /* --bg-image FILE (NULL: none) */
    bool crop;              /* --crop [PAD] */
    bool edge_option_given; /* any of the edge options above */
    int64_t crop_padding;
    double temporal;        /* --temporal S (range: nodes.json); 0 = off */
    double skip_similar;    /* --skip-similar D (range: nodes.json); 0 = off */
    bool list_models;
    bool version;
    bool help;
    char **inputs; /* points into argv; not owned */
    int num_inputs;
} cli_options;

/* True when an option that needs the advanced node was given. */
bool options_want_advanced(const cli_options *o);

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

/* Prints the usage text (every option, one line each) to `to`. */
void options_print_usage(FILE *to);

#endif /* CUTOUT_CLI_OPTIONS_H */
