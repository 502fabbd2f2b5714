/*
 * node_spec.h - the command's ranges, steps, defaults and choices, read
 * from the library's own nodes.json (cutout_nodes_json()), so that the
 * command never restates them.
 *
 * The spec is parsed on first use and kept for the life of the process;
 * the functions are not thread-safe (the command calls them from main).
 */
#ifndef CUTOUT_CLI_NODE_SPEC_H
#define CUTOUT_CLI_NODE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What nodes.json says of one INT or FLOAT input. */
typedef struct spec_range {
    double min, max; /* +-1e300 when the spec gives none */
    double step;     /* 1 for an INT without one, 0 for a FLOAT without one */
    double def;      /* 0 when the spec gives none */
} spec_range;

/* The range of input `input` of node `node`. Returns false when the spec
 * has no such node or input, or it is not a number input. */
bool node_spec_range(const char *node, const char *input, spec_range *out);

/* Whether `value` is one of COMBO `input`'s options. */
bool node_spec_choice(const char *node, const char *input, const char *value);

/* The default of STRING or COMBO `input` (owned by the parsed spec, valid
 * for the life of the process), or `fallback` when the spec gives none. */
const char *node_spec_default_string(const char *node, const char *input, const char *fallback);

/* The options of COMBO `input` as "a, b or c" in buf (cap bytes, always
 * NUL-terminated); "" when the spec has none. Returns buf. */
const char *node_spec_choices(const char *node, const char *input, char *buf, size_t cap);

/* The number of inputs of `node` (0 when the spec has no such node). */
int node_spec_input_count(const char *node);

/* The name and type ("INT", "COMBO", ...) of input `index` of `node`, both
 * owned by the parsed spec; false when there is no such input. */
bool node_spec_input_at(const char *node, int index, const char **name, const char **type);

/* Whether `node` has an input named `input`. */
bool node_spec_has(const char *node, const char *input);

/* The default of BOOLEAN `input` (false when the spec gives none). */
bool node_spec_default_bool(const char *node, const char *input);

/* The tooltip of `input` (owned by the parsed spec; "" when it has none). */
const char *node_spec_tooltip(const char *node, const char *input);

#endif /* CUTOUT_CLI_NODE_SPEC_H */
