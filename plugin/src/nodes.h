/*
 * nodes.h - the table of node implementations.
 *
 * Each node id in nodes.json must have an implementation here, and each
 * implementation declares the inputs it reads, so a context refuses a spec
 * that does not match the code (CUTOUT_ERR_SPEC) instead of failing later.
 */
#ifndef CUTOUT_NODES_H
#define CUTOUT_NODES_H

#include "context.h"
#include "inputs.h"
#include "tensor_check.h"

typedef struct node_needs {
    const char *name;
    spec_type type;
} node_needs;

/* Runs a node on bound, spec-checked inputs. Writes the node's outputs to
 * outputs[0 .. num_outputs) on success, leaves them NULL otherwise. */
typedef cutout_status (*node_run_fn)(cutout_context *ctx, const bound_inputs *in,
                                     const cutout_run_params *run, DLManagedTensor **outputs);

typedef struct node_impl {
    const char *id;
    node_run_fn run;
    const node_needs *needs; /* terminated by a NULL name */
    const spec_type *outputs;
    size_t num_outputs;
} node_impl;

/* The implementation for `id`, or NULL. */
const node_impl *nodes_find(const char *id);

/* Checks that every node in `doc` is implemented and declares the inputs and
 * outputs its implementation uses. Errors: SPEC. */
cutout_status nodes_check_spec(const spec_doc *doc);

/* The implementations. */
/* How a Remove Background node predicts and finishes its mattes: the basic
 * node passes NULLs (the model's native size, stretched; plain compose),
 * the Advanced node its options. */
typedef struct matte_steps {
    const cutout_shim_predict_params *predict; /* NULL: cutout_shim_predict_alpha */
    const cutout_shim_finish_params *finish;   /* NULL: cutout_shim_compose_item */
    int64_t channels;                          /* of the IMAGE output: 3 or 4 */
} matte_steps;

/* The flow both Remove Background nodes share: checks every common input
 * (image, mask, batch_size, model, precision) before any work, allocates
 * IMAGE and MASK on the image's device, and runs the batch loop (one
 * forward pass per chunk of batch_size items, then each item, progress
 * after each, abort polled before each and inside the shim). On success
 * the caller owns *image_out and *mask_out and *shape is the image's; on
 * any other status both are NULL and nothing stays allocated. */
cutout_status node_matte_batch(cutout_context *ctx, const bound_inputs *in,
                               const cutout_run_params *run, const matte_steps *steps,
                               image_shape *shape, DLManagedTensor **image_out,
                               DLManagedTensor **mask_out);

cutout_status node_remove_background_run(cutout_context *ctx, const bound_inputs *in,
                                         const cutout_run_params *run,
                                         DLManagedTensor **outputs);
extern const node_needs node_remove_background_needs[];

cutout_status node_remove_background_advanced_run(cutout_context *ctx, const bound_inputs *in,
                                                  const cutout_run_params *run,
                                                  DLManagedTensor **outputs);
extern const node_needs node_remove_background_advanced_needs[];

cutout_status node_composite_run(cutout_context *ctx, const bound_inputs *in,
                                 const cutout_run_params *run, DLManagedTensor **outputs);
extern const node_needs node_composite_needs[];

/* Shared by the node implementations (node_common.c).
 * node_shim_failed: a shim failure as the node's status; the shim's message
 *   already names the input.
 * node_release: calls *t's deleter once (if any) and sets *t to NULL.
 * node_check_abort: asks the host's should_abort (may be NULL) before item
 *   `item` (0-based) of `batch`; CUTOUT_CANCELLED, with a message naming
 *   that item, when it says stop (should_abort runs on the calling thread).
 * The checks below return CUTOUT_OK or set the error and return its status.
 * node_check_devices: the image is on the context's device and the mask
 *   (may be NULL) beside it. Errors: DEVICE.
 * node_check_finite: no NaN/Inf in items 0..batch-1. Errors: INVALID_INPUT.
 * node_check_host_memory: 20 bytes a pixel of outputs fit in the memory
 *   the system has available. Errors: OUT_OF_MEMORY.
 * node_combo_choice: *out = the index of COMBO `name`'s value among the n
 *   `options` (options[0] when the value is NULL). Errors: INVALID_INPUT
 *   naming the input, the options and the value. */
cutout_status node_shim_failed(cutout_shim_status st, const char *err);
void node_release(DLManagedTensor **t);
cutout_status node_check_abort(const cutout_run_params *run, int64_t item, int64_t batch);
cutout_status node_check_devices(const cutout_context *ctx, const DLTensor *image,
                                 const DLTensor *mask);
cutout_status node_check_finite(const char *name, const DLTensor *t, int64_t batch);
cutout_status node_check_host_memory(const image_shape *is, int64_t batch_pixels);
cutout_status node_combo_choice(const bound_inputs *in, const char *name,
                                const char *const *options, int n, int *out);

#endif /* CUTOUT_NODES_H */
