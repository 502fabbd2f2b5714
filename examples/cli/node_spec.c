/* node_spec.c - see node_spec.h. */
#include "node_spec.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "cutout.h"

static cJSON *g_spec;

/* The "inputs" array of `node`, or NULL. */
static const cJSON *inputs_of(const char *node)
{
    if (!g_spec) g_spec = cJSON_Parse(cutout_nodes_json());
    const cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(g_spec, "nodes"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(n, "id");
        if (cJSON_IsString(id) && strcmp(id->valuestring, node) == 0)
            return cJSON_GetObjectItemCaseSensitive(n, "inputs");
    }
    return NULL;
}

static const cJSON *input_of(const char *node, const char *input)
{
    const cJSON *in;
    cJSON_ArrayForEach(in, inputs_of(node))
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
        if (cJSON_IsString(name) && strcmp(name->valuestring, input) == 0) return in;
    }
    return NULL;
}

static const char *string_of(const cJSON *obj, const char *key)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int node_spec_input_count(const char *node)
{
    return cJSON_GetArraySize(inputs_of(node));
}

bool node_spec_input_at(const char *node, int index, const char **name, const char **type)
{
    const cJSON *in = cJSON_GetArrayItem(inputs_of(node), index);
    *name = string_of(in, "name");
    *type = string_of(in, "type");
    return *name != NULL && *type != NULL;
}

bool node_spec_has(const char *node, const char *input)
{
    return input_of(node, input) != NULL;
}

bool node_spec_default_bool(const char *node, const char *input)
{
    const cJSON *in = input_of(node, input);
    return cJSON_IsTrue(in ? cJSON_GetObjectItemCaseSensitive(in, "default") : NULL);
}

const char *node_spec_tooltip(const char *node, const char *input)
{
    const char *tip = string_of(input_of(node, input), "tooltip");
    return tip != NULL ? tip : "";
}

static double number_or(const cJSON *obj, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

bool node_spec_range(const char *node, const char *input, spec_range *out)
{
    const cJSON *in = input_of(node, input);
    const cJSON *type = in ? cJSON_GetObjectItemCaseSensitive(in, "type") : NULL;
    if (!cJSON_IsString(type)) return false;
    const bool is_int = strcmp(type->valuestring, "INT") == 0;
    if (!is_int && strcmp(type->valuestring, "FLOAT") != 0) return false;
    out->min = number_or(in, "min", -1e300);
    out->max = number_or(in, "max", 1e300);
    out->step = number_or(in, "step", is_int ? 1.0 : 0.0);
    out->def = number_or(in, "default", 0.0);
    return true;
}

const char *node_spec_choices(const char *node, const char *input, char *list, size_t cap)
{
    list[0] = '\0';
    const cJSON *in = input_of(node, input);
    const cJSON *options = in ? cJSON_GetObjectItemCaseSensitive(in, "options") : NULL;
    const int n = cJSON_GetArraySize(options);
    for (int i = 0; i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(options, i);
        if (!cJSON_IsString(o)) continue;
        strncat(list, i == 0 ? "" : (i + 1 == n ? " or " : ", "), cap - strlen(list) - 1);
        strncat(list, o->valuestring, cap - strlen(list) - 1);
    }
    return list;
}

bool node_spec_choice(const char *node, const char *input, const char *value)
{
    const cJSON *in = input_of(node, input);
    const cJSON *options = in ? cJSON_GetObjectItemCaseSensitive(in, "options") : NULL;
    const cJSON *o;
    cJSON_ArrayForEach(o, options)
    {
        if (cJSON_IsString(o) && strcmp(o->valuestring, value) == 0) return true;
    }
    return false;
}

const char *node_spec_default_string(const char *node, const char *input, const char *fallback)
{
    const cJSON *in = input_of(node, input);
    const cJSON *def = in ? cJSON_GetObjectItemCaseSensitive(in, "default") : NULL;
    return cJSON_IsString(def) ? def->valuestring : fallback;
}
