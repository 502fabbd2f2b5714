/*
 * nodes.h - the table of node implementations, what each one reads, and
 * the helpers they share.
 *
 * Each node id in nodes.json must have an implementation here, and each
 * implementation declares the inputs it reads with what its code can take
 * (ranges, steps, COMBO options). nodes.json alone says which values a
 * node offers; a context refuses a spec that offers more than the code
 * does (CUTOUT_ERR_SPEC), so a mismatch is found at creation, not later.
 */
#ifndef CUTOUT_NODES_H
#define CUTOUT_NODES_H

#include "context.h"
#include "inputs.h"
#include "tensor_check.h"

/* A COMBO option the code implements, and the value it stands for. */
typedef struct node_choice {
    const char *option; /* NULL ends a list */
    int32_t value;
} node_choice;

/* An input a node reads, and what its code can take. */
typedef struct node_input {
    const char *name; /* NULL ends a list */
    spec_type type;
    int64_t min, max, step;     /* INT: the spec's min..max must lie within, its min and
                                   step on this step */
    int64_t nonzero_min;        /* INT: when > 0, values are 0 or at least this */
    double min_f, max_f;        /* FLOAT: the spec's min..max must lie within */
    const node_choice *choices; /* COMBO: every spec option must be here; NULL for a
                                   COMBO of the installed models */
} node_input;

#define NODE_TENSOR(n, t) {(n), (t), 0, 0, 0, 0, 0.0, 0.0, NULL}
#define NODE_INT(n, lo, hi, st) {(n), SPEC_INT, (lo), (hi), (st), 0, 0.0, 0.0, NULL}
/* 0, or lo..hi: a size where 0 means "the model's own". */
#define NODE_SIZE(n, lo, hi) {(n), SPEC_INT, 0, (hi), 1, (lo), 0.0, 0.0, NULL}
#define NODE_FLOAT(n, lo, hi) {(n), SPEC_FLOAT, 0, 0, 0, 0, (lo), (hi), NULL}
#define NODE_BOOLEAN(n) {(n), SPEC_BOOLEAN, 0, 0, 0, 0, 0.0, 0.0, NULL}
#define NODE_STRING(n) {(n), SPEC_STRING, 0, 0, 0, 0, 0.0, 0.0, NULL}
#define NODE_COMBO(n, c) {(n), SPEC_COMBO, 0, 0, 0, 0, 0.0, 0.0, (c)}
#define NODE_MODELS(n) {(n), SPEC_COMBO, 0, 0, 0, 0, 0.0, 0.0, NULL}
#define NODE_END {NULL, SPEC_IMAGE, 0, 0, 0, 0, 0.0, 0.0, NULL}

/* Runs a node on bound, spec-checked inputs. Writes the node's outputs to
 * outputs[0 .. num_outputs) on success, leaves them NULL otherwise. */
typedef cutout_status (*node_run_fn)(cutout_context *ctx, const bound_inputs *in,
                                     const cutout_run_params *run, DLManagedTensor **outputs);

typedef struct node_impl {
    const char *id;
    node_run_fn run;
    const node_input *inputs; /* ended by NODE_END */
    const spec_type *outputs;
    size_t num_outputs;
} node_impl;

/* The implementation for `id`, or NULL. */
const node_impl *nodes_find(const char *id);

/* Checks that every node in `doc` is implemented, declares the inputs and
 * outputs its implementation uses with their types, gives every scalar
 * input it reads a value (required or a default), and offers no range,
 * step or option beyond what the code takes. Errors: SPEC, naming the
 * node, the input and both sides. */
cutout_status nodes_check_spec(const spec_doc *doc);

/* The implementations (one file each). */
cutout_status node_remove_background_run(cutout_context *ctx, const bound_inputs *in,
                                         const cutout_run_params *run,
                                         DLManagedTensor **outputs);
extern const node_input node_remove_background_inputs[];

cutout_status node_remove_background_advanced_run(cutout_context *ctx, const bound_inputs *in,
                                                  const cutout_run_params *run,
                                                  DLManagedTensor **outputs);
extern const node_input node_remove_background_advanced_inputs[];

cutout_status node_composite_run(cutout_context *ctx, const bound_inputs *in,
                                 const cutout_run_params *run, DLManagedTensor **outputs);
extern const node_input node_composite_inputs[];

/* Choices both Remove Background nodes read. */
extern const node_choice node_quality_choices[];
extern const node_choice node_precision_choices[];
extern const node_choice node_mask_convention_choices[];

/* Helpers every node shares (node_common.c). All are thread-safe.
 * node_shim_failed: a shim failure as the node's status; the shim's message
 *   already names the input.
 * node_release: calls *t's deleter once (if any) and sets *t to NULL.
 * node_choice_of: *out = the value of COMBO `name`'s option in `choices`.
 *   The spec check at context creation makes every bound option one of
 *   them; one that is not is an INTERNAL error.
 * node_progress: the state the shim's per-item callback (node_item_done)
 *   needs to report progress and poll the host's abort before the next
 *   item of the chunk ending before item `chunk_end` (the caller polls
 *   before each chunk); `cancelled_at` is the 0-based item it stopped
 *   before, or -1. */
cutout_status node_shim_failed(cutout_shim_status st, const char *err);
void node_release(DLManagedTensor **t);
cutout_status node_choice_of(const bound_inputs *in, const char *name, const node_choice *choices,
                          int32_t *out);

typedef struct node_progress {
    const cutout_run_params *run;
    int64_t total;
    int64_t chunk_end;
    int64_t cancelled_at;
} node_progress;

/* cutout_shim_item_fn: reports item + 1 of total done, then, when the
 * next item is in the same chunk, asks the host's should_abort (on the
 * calling thread) whether to go on; false (stop) records it in
 * cancelled_at. */
bool node_item_done(void *progress, int64_t item);

/* CANCELLED "cancelled before item N of B" for a 0-based item (N = item + 1)
 * when the host's should_abort says stop, CUTOUT_OK otherwise. */
cutout_status node_check_abort(const cutout_run_params *run, int64_t item, int64_t batch);

/* The status and message of a shim call that ran node_item_done: CANCELLED
 * naming the item it stopped before, or the shim's failure. */
cutout_status node_items_failed(cutout_shim_status st, const char *err,
                                const node_progress *progress);

#endif /* CUTOUT_NODES_H */
