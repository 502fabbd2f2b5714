/* inputs.c - named host inputs -> values checked against the node spec. */
#include "inputs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static const char *kind_name(cutout_value_kind kind)
{
    switch (kind) {
    case CUTOUT_VALUE_TENSOR: return "a tensor";
    case CUTOUT_VALUE_INT: return "an INT";
    case CUTOUT_VALUE_FLOAT: return "a FLOAT";
    case CUTOUT_VALUE_BOOL: return "a BOOLEAN";
    case CUTOUT_VALUE_STRING: return "a string";
    }
    return "an unknown kind";
}

static cutout_value_kind kind_for(spec_type type)
{
    switch (type) {
    case SPEC_IMAGE:
    case SPEC_MASK:
    case SPEC_BOX: return CUTOUT_VALUE_TENSOR; /* BOX is output-only (spec.c) */
    case SPEC_INT: return CUTOUT_VALUE_INT;
    case SPEC_FLOAT: return CUTOUT_VALUE_FLOAT;
    case SPEC_BOOLEAN: return CUTOUT_VALUE_BOOL;
    case SPEC_COMBO:
    case SPEC_STRING: return CUTOUT_VALUE_STRING;
    }
    return CUTOUT_VALUE_STRING;
}

/* Lists the node's input names into buf for "expected one of" messages. */
static const char *input_names(const spec_node *node, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < node->num_inputs && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
                                 node->inputs[i].name);
    return buf;
}

static cutout_status check_value(const spec_input *spec, const cutout_input *in)
{
    const char *name = spec->name;
    if (in->kind != kind_for(spec->type))
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "%s: expected %s for a %s input, got %s",
                                name, kind_name(kind_for(spec->type)), spec_type_name(spec->type),
                                kind_name(in->kind));
    switch (spec->type) {
    case SPEC_IMAGE:
    case SPEC_MASK:
    case SPEC_BOX:
        if (in->tensor == NULL)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "%s: tensor is NULL", name);
        return CUTOUT_OK;
    case SPEC_INT:
        if (in->i < spec->min_int || in->i > spec->max_int)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                    "%s: expected an integer in %lld..%lld, got %lld", name,
                                    (long long)spec->min_int, (long long)spec->max_int,
                                    (long long)in->i);
        if (!spec_int_on_step(spec, in->i))
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                    "%s: expected %lld..%lld in steps of %lld, got %lld", name,
                                    (long long)spec->min_int, (long long)spec->max_int,
                                    (long long)spec->step_int, (long long)in->i);
        return CUTOUT_OK;
    case SPEC_FLOAT:
        if (!isfinite(in->f) || in->f < spec->min_float || in->f > spec->max_float)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                    "%s: expected a number in %g..%g, got %g", name,
                                    spec->min_float, spec->max_float, in->f);
        return CUTOUT_OK;
    case SPEC_BOOLEAN: return CUTOUT_OK;
    case SPEC_COMBO:
    case SPEC_STRING:
        if (in->s == NULL)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "%s: string is NULL", name);
        if (spec->type == SPEC_COMBO && !spec->options_from_models) {
            for (size_t k = 0; k < spec->num_options; k++)
                if (strcmp(spec->options[k], in->s) == 0) return CUTOUT_OK;
            char list[512];
            size_t used = 0;
            list[0] = '\0';
            for (size_t k = 0; k < spec->num_options && used < sizeof list; k++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s\"%s\"",
                                         k ? ", " : "", spec->options[k]);
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                    "%s: expected one of %s, got \"%s\"", name, list, in->s);
        }
        return CUTOUT_OK;
    }
    return CUTOUT_OK;
}

static void set_default(const spec_input *spec, bound_value *v)
{
    v->present = spec->has_default;
    v->i = spec->default_int;
    v->f = spec->default_float;
    v->b = spec->default_bool;
    v->s = spec->default_string;
}

cutout_status inputs_bind(const spec_node *node, const cutout_input *inputs, size_t n,
                          bound_inputs *out)
{
    char names[512];
    memset(out, 0, sizeof *out);
    out->node = node;
    if (n > 0 && inputs == NULL)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "inputs: array is NULL but num_inputs is %zu", n);
    bool given[CUTOUT_SPEC_MAX_INPUTS] = {false};
    for (size_t k = 0; k < n; k++) {
        const cutout_input *in = &inputs[k];
        if (in->name == NULL)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "inputs[%zu]: name is NULL", k);
        size_t idx = node->num_inputs;
        for (size_t j = 0; j < node->num_inputs; j++)
            if (strcmp(node->inputs[j].name, in->name) == 0) idx = j;
        if (idx == node->num_inputs)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                    "%s: %s has no input of that name (expected one of: %s)",
                                    in->name, node->id, input_names(node, names, sizeof names));
        if (given[idx])
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT, "%s: given more than once",
                                    in->name);
        cutout_status st = check_value(&node->inputs[idx], in);
        if (st != CUTOUT_OK) return st;
        given[idx] = true;
        bound_value *v = &out->values[idx];
        v->present = true;
        v->tensor = in->tensor;
        v->i = in->i;
        v->f = in->f;
        v->b = in->b;
        v->s = in->s;
    }
    for (size_t j = 0; j < node->num_inputs; j++) {
        const spec_input *spec = &node->inputs[j];
        if (given[j]) continue;
        set_default(spec, &out->values[j]);
        if (spec->required && !spec->has_default)
            return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                    "%s: required input missing (expected %s)", spec->name,
                                    spec_type_name(spec->type));
    }
    return CUTOUT_OK;
}

const bound_value *inputs_get(const bound_inputs *bound, const char *name)
{
    static const bound_value absent = {0};
    for (size_t j = 0; j < bound->node->num_inputs; j++)
        if (strcmp(bound->node->inputs[j].name, name) == 0) return &bound->values[j];
    return &absent;
}
