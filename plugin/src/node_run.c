/* node_run.c - cutout_node_run: find the node, bind inputs, dispatch. */
#include <stdio.h>
#include <string.h>

#include "context.h"
#include "error.h"
#include "nodes.h"

static const spec_type image_and_mask[] = {SPEC_IMAGE, SPEC_MASK};

static const spec_type image_mask_box[] = {SPEC_IMAGE, SPEC_MASK, SPEC_BOX};
static const spec_type image_only[] = {SPEC_IMAGE};

static const node_impl implementations[] = {
    {"CutoutRemoveBackground", node_remove_background_run, node_remove_background_inputs,
     image_and_mask, 2},
    {"CutoutRemoveBackgroundAdvanced", node_remove_background_advanced_run,
     node_remove_background_advanced_inputs, image_mask_box, 3},
    {"CutoutCompositeBackground", node_composite_run, node_composite_inputs, image_only, 1},
};

const node_impl *nodes_find(const char *id)
{
    for (size_t i = 0; id && i < sizeof implementations / sizeof implementations[0]; i++)
        if (strcmp(implementations[i].id, id) == 0) return &implementations[i];
    return NULL;
}

CUTOUT_API cutout_run_params cutout_run_default_params(void)
{
    cutout_run_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    return p;
}

CUTOUT_API cutout_status cutout_node_run(cutout_context *ctx, const char *node_id,
                                         const cutout_input *inputs, size_t num_inputs,
                                         const cutout_run_params *params,
                                         DLManagedTensor **outputs, size_t num_outputs)
{
    cutout_error_clear();
    for (size_t i = 0; outputs && i < num_outputs; i++) outputs[i] = NULL;
    if (!ctx) return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT, "cutout_node_run: ctx is NULL");
    if (!outputs)
        return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT, "cutout_node_run: outputs is NULL");
    if (!node_id)
        return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT, "cutout_node_run: node_id is NULL");
    cutout_run_params run = cutout_run_default_params();
    if (params) {
        if (params->struct_size < sizeof(size_t) || params->struct_size > (1u << 16))
            return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT,
                                    "params.struct_size: expected sizeof(cutout_run_params) = "
                                    "%zu, got %zu",
                                    sizeof run, params->struct_size);
        memcpy(&run, params, params->struct_size < sizeof run ? params->struct_size : sizeof run);
    }
    const spec_node *node = spec_find_node(&ctx->spec, node_id);
    const node_impl *impl = nodes_find(node_id);
    if (!node || !impl)
        return cutout_error_set(CUTOUT_ERR_UNKNOWN_NODE,
                                "node: no node \"%s\" (see cutout_nodes_json() for the ids)",
                                node_id);
    if (num_outputs < node->num_outputs)
        return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT,
                                "outputs: %s has %zu outputs, got room for %zu", node_id,
                                node->num_outputs, num_outputs);
    bound_inputs bound;
    cutout_status st = inputs_bind(node, inputs, num_inputs, &bound);
    if (st != CUTOUT_OK) return st;
    st = impl->run(ctx, &bound, &run, outputs);
    if (st != CUTOUT_OK)
        for (size_t i = 0; i < num_outputs; i++) outputs[i] = NULL;
    else
        cutout_error_clear();
    return st;
}
