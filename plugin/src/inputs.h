/*
 * inputs.h - binding a host's named inputs to a node's spec.
 *
 * inputs_bind() checks names, kinds, ranges and options of every given input
 * against the spec, fills in defaults for the ones left out, and reports a
 * missing required input. Tensors are only checked for presence here; their
 * layout is checked by the node (tensor_check.h), which knows what it needs.
 */
#ifndef CUTOUT_INPUTS_H
#define CUTOUT_INPUTS_H

#include <stdbool.h>

#include "cutout.h"
#include "spec.h"

typedef struct bound_value {
    bool present;            /* given, or filled from the default */
    const DLTensor *tensor;  /* IMAGE, MASK */
    int64_t i;               /* INT */
    double f;                /* FLOAT */
    bool b;                  /* BOOLEAN */
    const char *s;           /* COMBO, STRING (borrowed from host or spec) */
} bound_value;

typedef struct bound_inputs {
    const spec_node *node;
    bound_value values[CUTOUT_SPEC_MAX_INPUTS]; /* in spec order */
} bound_inputs;

/* Binds `inputs` (n of them) to `node`. COMBO inputs with options_from
 * "models" are only checked for being a string: the model resolver gives
 * the detailed not-found error. Errors: INVALID_INPUT. */
cutout_status inputs_bind(const spec_node *node, const cutout_input *inputs, size_t n,
                          bound_inputs *out);

/* The bound value of input `name` (never NULL for a name in the spec; the
 * node implementations only ask for names the context checked at creation). */
const bound_value *inputs_get(const bound_inputs *bound, const char *name);

#endif /* CUTOUT_INPUTS_H */
