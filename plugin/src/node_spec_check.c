/*
 * node_spec_check.c - nodes_check_spec: a context's nodes.json against what
 * the node implementations read and can take (nodes.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "nodes.h"

/* The options of `choices` as "\"a\", \"b\"" for messages. */
static const char *choice_list(const node_choice *choices, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const node_choice *c = choices; c->option && used < cap; c++)
        used += (size_t)snprintf(buf + used, cap - used, "%s\"%s\"", c == choices ? "" : ", ",
                                 c->option);
    return buf;
}

static bool choice_known(const node_choice *choices, const char *option)
{
    for (const node_choice *c = choices; c->option; c++)
        if (strcmp(c->option, option) == 0) return true;
    return false;
}

#define SPEC_BAD(...) cutout_error_set(CUTOUT_ERR_SPEC, __VA_ARGS__)

/* An INT input's range and step against what the code takes. */
static cutout_status check_int(size_t i, const spec_node *node, const spec_input *in,
                               const node_input *need)
{
    if (in->min_int < need->min || in->max_int > need->max)
        return SPEC_BAD("nodes.json: nodes[%zu] (%s): input \"%s\": range %" PRId64 "..%" PRId64
                        " goes beyond what this library takes (%" PRId64 "..%" PRId64 ")",
                        i, node->id, in->name, in->min_int, in->max_int, need->min, need->max);
    const int64_t step = in->step_int > 0 ? in->step_int : 1;
    if (need->step > 1 && (step % need->step != 0 || (in->min_int - need->min) % need->step != 0))
        return SPEC_BAD("nodes.json: nodes[%zu] (%s): input \"%s\": min %" PRId64 " and step %" PRId64
                        " give values this library does not take (expected %" PRId64 "..%" PRId64
                        " in steps of %" PRId64 ")",
                        i, node->id, in->name, in->min_int, step, need->min, need->max, need->step);
    if (need->nonzero_min > 0) {
        /* The smallest value above 0 the spec allows (min >= 0 here). */
        const int64_t first = in->min_int > 0 ? in->min_int : step;
        if (first <= in->max_int && first < need->nonzero_min)
            return SPEC_BAD("nodes.json: nodes[%zu] (%s): input \"%s\": allows %" PRId64
                            ", which this library does not take (expected 0 or %" PRId64
                            "..%" PRId64 ")",
                            i, node->id, in->name, first, need->nonzero_min, need->max);
    }
    return CUTOUT_OK;
}

/* One input the code reads, against its spec. */
static cutout_status check_input(size_t i, const spec_node *node, const node_input *need)
{
    char list[512];
    const spec_input *in = spec_find_input(node, need->name);
    if (!in)
        return SPEC_BAD("nodes.json: nodes[%zu] (%s): input \"%s\" is missing (expected a %s "
                        "input)",
                        i, node->id, need->name, spec_type_name(need->type));
    if (in->type != need->type)
        return SPEC_BAD("nodes.json: nodes[%zu] (%s): input \"%s\": expected type %s, got %s", i,
                        node->id, need->name, spec_type_name(need->type),
                        spec_type_name(in->type));
    const bool tensor = need->type == SPEC_IMAGE || need->type == SPEC_MASK;
    if (!tensor && !in->required && !in->has_default)
        return SPEC_BAD("nodes.json: nodes[%zu] (%s): input \"%s\": expected a default or "
                        "\"required\": true (the node reads its value)",
                        i, node->id, need->name);
    switch (need->type) {
    case SPEC_INT: return check_int(i, node, in, need);
    case SPEC_FLOAT:
        if (in->min_float < need->min_f || in->max_float > need->max_f)
            return SPEC_BAD("nodes.json: nodes[%zu] (%s): input \"%s\": range %g..%g goes "
                            "beyond what this library takes (%g..%g)",
                            i, node->id, need->name, in->min_float, in->max_float, need->min_f,
                            need->max_f);
        return CUTOUT_OK;
    case SPEC_COMBO:
        if (need->choices == NULL && !in->options_from_models)
            return SPEC_BAD("nodes.json: nodes[%zu] (%s): input \"%s\": expected "
                            "\"options_from\": \"models\", got fixed options",
                            i, node->id, need->name);
        if (need->choices != NULL && in->options_from_models)
            return SPEC_BAD("nodes.json: nodes[%zu] (%s): input \"%s\": expected some of %s, got "
                            "\"options_from\"",
                            i, node->id, need->name, choice_list(need->choices, list, sizeof list));
        for (size_t k = 0; need->choices && k < in->num_options; k++)
            if (!choice_known(need->choices, in->options[k]))
                return SPEC_BAD("nodes.json: nodes[%zu] (%s): input \"%s\": option \"%s\" is not "
                                "one this library implements (expected some of %s)",
                                i, node->id, need->name, in->options[k],
                                choice_list(need->choices, list, sizeof list));
        return CUTOUT_OK;
    default: return CUTOUT_OK;
    }
}

cutout_status nodes_check_spec(const spec_doc *doc)
{
    for (size_t i = 0; i < doc->num_nodes; i++) {
        const spec_node *node = &doc->nodes[i];
        const node_impl *impl = nodes_find(node->id);
        if (!impl)
            return SPEC_BAD("nodes.json: nodes[%zu].id: no implementation for node \"%s\" in "
                            "this library",
                            i, node->id);
        for (const node_input *need = impl->inputs; need->name; need++) {
            cutout_status st = check_input(i, node, need);
            if (st != CUTOUT_OK) return st;
        }
        bool outputs_match = node->num_outputs == impl->num_outputs;
        for (size_t k = 0; outputs_match && k < impl->num_outputs; k++)
            outputs_match = node->outputs[k].type == impl->outputs[k];
        if (!outputs_match)
            return SPEC_BAD("nodes.json: nodes[%zu] (%s).outputs: do not match what the library "
                            "produces (%zu outputs)",
                            i, node->id, impl->num_outputs);
    }
    return CUTOUT_OK;
}
