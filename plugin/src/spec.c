/* spec.c - nodes.json -> spec_doc, with a check of every field. */
#include "spec.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static const struct {
    const char *name;
    spec_type type;
} type_names[] = {
    {"IMAGE", SPEC_IMAGE},     {"MASK", SPEC_MASK},       {"INT", SPEC_INT},
    {"FLOAT", SPEC_FLOAT},     {"BOOLEAN", SPEC_BOOLEAN}, {"COMBO", SPEC_COMBO},
    {"STRING", SPEC_STRING},   {"BOX", SPEC_BOX},
};

bool spec_int_on_step(const spec_input *in, int64_t v)
{
    const int64_t base = in->min_int == INT64_MIN ? 0 : in->min_int;
    /* Both are within [min, max], so the difference cannot overflow below
     * INT64_MIN; unsigned arithmetic keeps it defined for any pair. */
    const uint64_t diff = v >= base ? (uint64_t)v - (uint64_t)base : (uint64_t)base - (uint64_t)v;
    return in->step_int <= 1 || diff % (uint64_t)in->step_int == 0;
}

const char *spec_type_name(spec_type type)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].type == type) return type_names[i].name;
    return "?";
}

static const char *json_kind(const cJSON *item)
{
    if (item == NULL) return "nothing";
    if (cJSON_IsString(item)) return "a string";
    if (cJSON_IsNumber(item)) return "a number";
    if (cJSON_IsBool(item)) return "a boolean";
    if (cJSON_IsArray(item)) return "an array";
    if (cJSON_IsObject(item)) return "an object";
    if (cJSON_IsNull(item)) return "null";
    return "something else";
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

#define OOM() cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "nodes.json: out of memory")
#define BAD(...) cutout_error_set(CUTOUT_ERR_SPEC, __VA_ARGS__)

/* Reads a required non-empty string field into a fresh copy. */
static cutout_status get_string(const cJSON *obj, const char *key, const char *where,
                                char **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
        return BAD("nodes.json: %s.%s: expected a non-empty string, got %s", where, key,
                   cJSON_IsString(item) ? "an empty string" : json_kind(item));
    *out = dup_string(item->valuestring);
    return *out ? CUTOUT_OK : OOM();
}

/* Checks an optional string field's type without keeping it. */
static cutout_status check_optional_string(const cJSON *obj, const char *key, const char *where)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (item != NULL && !cJSON_IsString(item))
        return BAD("nodes.json: %s.%s: expected a string, got %s", where, key, json_kind(item));
    return CUTOUT_OK;
}

static cutout_status get_type(const cJSON *obj, const char *where, spec_type *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!cJSON_IsString(item))
        return BAD("nodes.json: %s.type: expected a string, got %s", where, json_kind(item));
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        if (strcmp(item->valuestring, type_names[i].name) == 0) {
            *out = type_names[i].type;
            return CUTOUT_OK;
        }
    }
    return BAD("nodes.json: %s.type: unknown type \"%s\" (expected IMAGE, MASK, INT, FLOAT, "
               "BOOLEAN, COMBO, STRING or BOX)",
               where, item->valuestring);
}

/* An INT field must be a whole number that fits int64. */
static cutout_status get_int(const cJSON *item, const char *where, const char *key, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return BAD("nodes.json: %s.%s: expected an integer, got %s", where, key, json_kind(item));
    double v = item->valuedouble;
    if (!isfinite(v) || v != floor(v) || v < -9.0e15 || v > 9.0e15)
        return BAD("nodes.json: %s.%s: expected an integer, got %g", where, key, v);
    *out = (int64_t)v;
    return CUTOUT_OK;
}

static cutout_status get_float(const cJSON *item, const char *where, const char *key, double *out)
{
    if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble))
        return BAD("nodes.json: %s.%s: expected a finite number, got %s", where, key,
                   json_kind(item));
    *out = item->valuedouble;
    return CUTOUT_OK;
}

static cutout_status parse_int_input(const cJSON *obj, const char *where, spec_input *in)
{
    cutout_status st;
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(obj, "default");
    const cJSON *min = cJSON_GetObjectItemCaseSensitive(obj, "min");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(obj, "max");
    in->min_int = INT64_MIN;
    in->max_int = INT64_MAX;
    if (min && (st = get_int(min, where, "min", &in->min_int)) != CUTOUT_OK) return st;
    if (max && (st = get_int(max, where, "max", &in->max_int)) != CUTOUT_OK) return st;
    if (in->min_int > in->max_int)
        return BAD("nodes.json: %s: min %lld is greater than max %lld", where,
                   (long long)in->min_int, (long long)in->max_int);
    if (def) {
        if ((st = get_int(def, where, "default", &in->default_int)) != CUTOUT_OK) return st;
        if (in->default_int < in->min_int || in->default_int > in->max_int)
            return BAD("nodes.json: %s.default: %lld is outside min..max (%lld..%lld)", where,
                       (long long)in->default_int, (long long)in->min_int,
                       (long long)in->max_int);
        in->has_default = true;
    }
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(obj, "step");
    int64_t step_value = 1;
    if (step && (st = get_int(step, where, "step", &step_value)) != CUTOUT_OK) return st;
    if (step_value < 1) return BAD("nodes.json: %s.step: expected >= 1, got %lld", where,
                                   (long long)step_value);
    in->step_int = step_value;
    if (in->has_default && !spec_int_on_step(in, in->default_int))
        return BAD("nodes.json: %s.default: %lld is not min + a multiple of step %lld", where,
                   (long long)in->default_int, (long long)step_value);
    return CUTOUT_OK;
}

static cutout_status parse_float_input(const cJSON *obj, const char *where, spec_input *in)
{
    cutout_status st;
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(obj, "default");
    const cJSON *min = cJSON_GetObjectItemCaseSensitive(obj, "min");
    const cJSON *max = cJSON_GetObjectItemCaseSensitive(obj, "max");
    in->min_float = -DBL_MAX;
    in->max_float = DBL_MAX;
    if (min && (st = get_float(min, where, "min", &in->min_float)) != CUTOUT_OK) return st;
    if (max && (st = get_float(max, where, "max", &in->max_float)) != CUTOUT_OK) return st;
    if (in->min_float > in->max_float)
        return BAD("nodes.json: %s: min %g is greater than max %g", where, in->min_float,
                   in->max_float);
    if (def) {
        if ((st = get_float(def, where, "default", &in->default_float)) != CUTOUT_OK) return st;
        if (in->default_float < in->min_float || in->default_float > in->max_float)
            return BAD("nodes.json: %s.default: %g is outside min..max (%g..%g)", where,
                       in->default_float, in->min_float, in->max_float);
        in->has_default = true;
    }
    return CUTOUT_OK;
}

static cutout_status parse_combo_input(const cJSON *obj, const char *where, spec_input *in)
{
    const cJSON *options = cJSON_GetObjectItemCaseSensitive(obj, "options");
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(obj, "options_from");
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(obj, "default");
    if ((options == NULL) == (from == NULL))
        return BAD("nodes.json: %s: a COMBO needs exactly one of \"options\" (an array of "
                   "strings) or \"options_from\" (\"models\")",
                   where);
    if (from) {
        if (!cJSON_IsString(from) || strcmp(from->valuestring, "models") != 0)
            return BAD("nodes.json: %s.options_from: expected \"models\", got %s", where,
                       cJSON_IsString(from) ? from->valuestring : json_kind(from));
        in->options_from_models = true;
    } else {
        int n = cJSON_IsArray(options) ? cJSON_GetArraySize(options) : 0;
        if (n == 0)
            return BAD("nodes.json: %s.options: expected a non-empty array of strings, got %s",
                       where, cJSON_IsArray(options) ? "an empty array" : json_kind(options));
        in->options = calloc((size_t)n, sizeof *in->options);
        if (!in->options) return OOM();
        for (int i = 0; i < n; i++) {
            const cJSON *opt = cJSON_GetArrayItem(options, i);
            if (!cJSON_IsString(opt))
                return BAD("nodes.json: %s.options[%d]: expected a string, got %s", where, i,
                           json_kind(opt));
            in->options[i] = dup_string(opt->valuestring);
            in->num_options = (size_t)i + 1;
            if (!in->options[i]) return OOM();
        }
    }
    if (def) {
        if (!cJSON_IsString(def))
            return BAD("nodes.json: %s.default: expected a string, got %s", where,
                       json_kind(def));
        bool listed = in->options_from_models;
        for (size_t i = 0; i < in->num_options; i++)
            if (strcmp(in->options[i], def->valuestring) == 0) listed = true;
        if (!listed)
            return BAD("nodes.json: %s.default: \"%s\" is not one of the options", where,
                       def->valuestring);
        in->default_string = dup_string(def->valuestring);
        if (!in->default_string) return OOM();
        in->has_default = true;
    }
    return CUTOUT_OK;
}

static cutout_status parse_input(const cJSON *obj, const char *where, spec_input *in)
{
    cutout_status st;
    if (!cJSON_IsObject(obj))
        return BAD("nodes.json: %s: expected an object, got %s", where, json_kind(obj));
    if ((st = get_string(obj, "name", where, &in->name)) != CUTOUT_OK) return st;
    if ((st = get_type(obj, where, &in->type)) != CUTOUT_OK) return st;
    if ((st = check_optional_string(obj, "tooltip", where)) != CUTOUT_OK) return st;
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(obj, "required");
    if (!cJSON_IsBool(required))
        return BAD("nodes.json: %s.required: expected true or false, got %s", where,
                   json_kind(required));
    in->required = cJSON_IsTrue(required);
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(obj, "default");
    switch (in->type) {
    case SPEC_BOX:
        return BAD("nodes.json: %s.type: BOX is an output type, not an input type", where);
    case SPEC_IMAGE:
    case SPEC_MASK:
        if (def) return BAD("nodes.json: %s.default: a %s input cannot have a default", where,
                            spec_type_name(in->type));
        return CUTOUT_OK;
    case SPEC_INT: return parse_int_input(obj, where, in);
    case SPEC_FLOAT: return parse_float_input(obj, where, in);
    case SPEC_COMBO: return parse_combo_input(obj, where, in);
    case SPEC_BOOLEAN:
        if (def) {
            if (!cJSON_IsBool(def))
                return BAD("nodes.json: %s.default: expected true or false, got %s", where,
                           json_kind(def));
            in->default_bool = cJSON_IsTrue(def);
            in->has_default = true;
        }
        return CUTOUT_OK;
    case SPEC_STRING:
        if (def) {
            if (!cJSON_IsString(def))
                return BAD("nodes.json: %s.default: expected a string, got %s", where,
                           json_kind(def));
            in->default_string = dup_string(def->valuestring);
            if (!in->default_string) return OOM();
            in->has_default = true;
        }
        return CUTOUT_OK;
    }
    return BAD("nodes.json: %s: unhandled type", where);
}

static cutout_status parse_node(const cJSON *obj, const char *where, spec_node *node)
{
    cutout_status st;
    char path[160];
    if (!cJSON_IsObject(obj))
        return BAD("nodes.json: %s: expected an object, got %s", where, json_kind(obj));
    if ((st = get_string(obj, "id", where, &node->id)) != CUTOUT_OK) return st;
    char *scratch = NULL;
    if ((st = get_string(obj, "display_name", where, &scratch)) != CUTOUT_OK) return st;
    free(scratch);
    if ((st = get_string(obj, "category", where, &scratch)) != CUTOUT_OK) return st;
    free(scratch);
    if ((st = check_optional_string(obj, "description", where)) != CUTOUT_OK) return st;

    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(obj, "inputs");
    if (!cJSON_IsArray(inputs))
        return BAD("nodes.json: %s.inputs: expected an array, got %s", where, json_kind(inputs));
    int n = cJSON_GetArraySize(inputs);
    if (n > CUTOUT_SPEC_MAX_INPUTS)
        return BAD("nodes.json: %s.inputs: expected at most %d inputs, got %d", where,
                   CUTOUT_SPEC_MAX_INPUTS, n);
    if (n > 0) {
        node->inputs = calloc((size_t)n, sizeof *node->inputs);
        if (!node->inputs) return OOM();
    }
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s.inputs[%d]", where, i);
        node->num_inputs = (size_t)i + 1;
        if ((st = parse_input(cJSON_GetArrayItem(inputs, i), path, &node->inputs[i])) != CUTOUT_OK)
            return st;
        for (int j = 0; j < i; j++)
            if (strcmp(node->inputs[j].name, node->inputs[i].name) == 0)
                return BAD("nodes.json: %s.name: duplicate input name \"%s\"", path,
                           node->inputs[i].name);
    }

    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(obj, "outputs");
    int m = cJSON_IsArray(outputs) ? cJSON_GetArraySize(outputs) : 0;
    if (m == 0)
        return BAD("nodes.json: %s.outputs: expected a non-empty array, got %s", where,
                   cJSON_IsArray(outputs) ? "an empty array" : json_kind(outputs));
    node->outputs = calloc((size_t)m, sizeof *node->outputs);
    if (!node->outputs) return OOM();
    for (int i = 0; i < m; i++) {
        const cJSON *out = cJSON_GetArrayItem(outputs, i);
        snprintf(path, sizeof path, "%s.outputs[%d]", where, i);
        node->num_outputs = (size_t)i + 1;
        if (!cJSON_IsObject(out))
            return BAD("nodes.json: %s: expected an object, got %s", path, json_kind(out));
        if ((st = get_string(out, "name", path, &node->outputs[i].name)) != CUTOUT_OK) return st;
        if ((st = get_type(out, path, &node->outputs[i].type)) != CUTOUT_OK) return st;
        if (node->outputs[i].type != SPEC_IMAGE && node->outputs[i].type != SPEC_MASK &&
            node->outputs[i].type != SPEC_BOX)
            return BAD("nodes.json: %s.type: outputs must be IMAGE, MASK or BOX, got %s", path,
                       spec_type_name(node->outputs[i].type));
    }
    return CUTOUT_OK;
}

cutout_status spec_parse(const char *json, spec_doc *out)
{
    memset(out, 0, sizeof *out);
    if (json == NULL) return BAD("nodes.json: no text given");
    /* The error position comes back through `end`: cJSON_GetErrorPtr()
     * reads a process-wide variable that another thread's parse may have
     * overwritten in the meantime. */
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 0);
    if (root == NULL) {
        long offset = (end && end >= json) ? (long)(end - json) : -1;
        return BAD("nodes.json: not valid JSON (parse error near byte %ld)", offset);
    }
    cutout_status st = CUTOUT_OK;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "schema_version");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    int n = cJSON_IsArray(nodes) ? cJSON_GetArraySize(nodes) : 0;
    if (!cJSON_IsObject(root)) {
        st = BAD("nodes.json: expected an object at the top, got %s", json_kind(root));
    } else if (!cJSON_IsNumber(version) || version->valuedouble != CUTOUT_SPEC_SCHEMA_VERSION) {
        st = cJSON_IsNumber(version)
                 ? BAD("nodes.json: schema_version: expected %d, got %g",
                       CUTOUT_SPEC_SCHEMA_VERSION, version->valuedouble)
                 : BAD("nodes.json: schema_version: expected %d, got %s",
                       CUTOUT_SPEC_SCHEMA_VERSION, json_kind(version));
    } else if (n == 0) {
        st = BAD("nodes.json: nodes: expected a non-empty array, got %s",
                 cJSON_IsArray(nodes) ? "an empty array" : json_kind(nodes));
    } else if ((out->nodes = calloc((size_t)n, sizeof *out->nodes)) == NULL) {
        st = OOM();
    }
    for (int i = 0; st == CUTOUT_OK && i < n; i++) {
        char where[32];
        snprintf(where, sizeof where, "nodes[%d]", i);
        out->num_nodes = (size_t)i + 1;
        st = parse_node(cJSON_GetArrayItem(nodes, i), where, &out->nodes[i]);
        for (int j = 0; st == CUTOUT_OK && j < i; j++)
            if (strcmp(out->nodes[j].id, out->nodes[i].id) == 0)
                st = BAD("nodes.json: %s.id: duplicate node id \"%s\"", where, out->nodes[i].id);
    }
    cJSON_Delete(root);
    if (st != CUTOUT_OK) spec_free(out);
    return st;
}

void spec_free(spec_doc *doc)
{
    for (size_t i = 0; i < doc->num_nodes; i++) {
        spec_node *node = &doc->nodes[i];
        for (size_t j = 0; j < node->num_inputs; j++) {
            spec_input *in = &node->inputs[j];
            free(in->name);
            free(in->default_string);
            for (size_t k = 0; k < in->num_options; k++) free(in->options[k]);
            free(in->options);
        }
        for (size_t j = 0; j < node->num_outputs; j++) free(node->outputs[j].name);
        free(node->inputs);
        free(node->outputs);
        free(node->id);
    }
    free(doc->nodes);
    memset(doc, 0, sizeof *doc);
}

const spec_node *spec_find_node(const spec_doc *doc, const char *id)
{
    for (size_t i = 0; id && i < doc->num_nodes; i++)
        if (strcmp(doc->nodes[i].id, id) == 0) return &doc->nodes[i];
    return NULL;
}

const spec_input *spec_find_input(const spec_node *node, const char *name)
{
    for (size_t i = 0; name && i < node->num_inputs; i++)
        if (strcmp(node->inputs[i].name, name) == 0) return &node->inputs[i];
    return NULL;
}
