/*
 * spec.h - node specifications parsed from nodes.json.
 *
 * spec_parse() turns the JSON text into plain C structs and checks every
 * field, so the rest of the plugin never looks at JSON. The structs own
 * their strings; spec_free() releases them. A parsed spec is immutable and
 * may be read by any number of threads.
 */
#ifndef CUTOUT_SPEC_H
#define CUTOUT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutout.h"

#define CUTOUT_SPEC_SCHEMA_VERSION 1
#define CUTOUT_SPEC_MAX_INPUTS 32

typedef enum spec_type {
    SPEC_IMAGE,
    SPEC_MASK,
    SPEC_INT,
    SPEC_FLOAT,
    SPEC_BOOLEAN,
    SPEC_COMBO,
    SPEC_STRING,
    SPEC_BOX /* outputs only: int64 B x 4 tensor on the CPU, [x, y, w, h] per item */
} spec_type;

typedef struct spec_input {
    char *name;
    spec_type type;
    bool required;
    bool has_default;
    int64_t default_int;     /* INT */
    double default_float;    /* FLOAT */
    bool default_bool;       /* BOOLEAN */
    char *default_string;    /* COMBO, STRING */
    int64_t min_int, max_int;       /* INT; always set (defaults: INT64 range) */
    int64_t step_int;               /* INT; >= 1: values are min + k x step (0 + k x step without a min) */
    double min_float, max_float;    /* FLOAT; always set (defaults: +-DBL_MAX) */
    char **options;                 /* COMBO with fixed options */
    size_t num_options;
    bool options_from_models;       /* COMBO listing installed models */
} spec_input;

typedef struct spec_output {
    char *name;
    spec_type type;
} spec_output;

typedef struct spec_node {
    char *id;
    spec_input *inputs;
    size_t num_inputs;
    spec_output *outputs;
    size_t num_outputs;
} spec_node;

typedef struct spec_doc {
    spec_node *nodes;
    size_t num_nodes;
} spec_doc;

/* Parses and checks `json`. On success fills *out (caller frees with
 * spec_free). On failure returns CUTOUT_ERR_SPEC (or OUT_OF_MEMORY) with a
 * message naming the place, e.g. "nodes.json: nodes[0].inputs[2].min:
 * expected a number, got a string"; *out is left empty. */
cutout_status spec_parse(const char *json, spec_doc *out);

/* Frees everything spec_parse allocated; safe on an empty doc. */
void spec_free(spec_doc *doc);

/* The node with this id, or NULL. */
const spec_node *spec_find_node(const spec_doc *doc, const char *id);

/* The input with this name, or NULL. */
const spec_input *spec_find_input(const spec_node *node, const char *name);

/* Whether INT value v is min + a multiple of step (see spec_input). */
bool spec_int_on_step(const spec_input *in, int64_t v);

/* "IMAGE", "MASK", ... */
const char *spec_type_name(spec_type type);

#endif /* CUTOUT_SPEC_H */
