/*
 * cutout_host.c - a minimal host for libcutout, as an example for hosts of
 * node-graph engines.
 *
 * It does what a host does, with no link-time dependency on the library:
 *   1. dlopen() libcutout.so and dlsym() the functions of the C API;
 *   2. refuse a library whose ABI version differs from the header's;
 *   3. read the node specs from cutout_nodes_json() (the same bytes the
 *      library validates with) and list the nodes and their inputs;
 *   4. run one node with a value for every input: the image for IMAGE
 *      inputs, NAME=VALUE from the command line, else the spec's default;
 *   5. print each output's shape and its mean alpha, then hand every output
 *      back through its deleter.
 *
 * usage: cutout_host [LIBRARY.so] [NODE [IMAGE] [NAME=VALUE]...]
 * Without LIBRARY, libcutout.so next to this program is used. Without NODE
 * the nodes are listed. Without IMAGE a synthetic gradient is used.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cutout.h>

#include "image_io.h"

/* ------------------------------------------------------------------------ */
/* 1. The API, resolved at run time                                          */

typedef struct cutout_api {
    int32_t (*abi_version)(void);
    const char *(*version_string)(void);
    const char *(*torch_version)(void);
    const char *(*nodes_json)(void);
    const char *(*last_error)(void);
    const char *(*status_string)(cutout_status);
    cutout_context_params (*context_default_params)(void);
    cutout_status (*context_create)(const cutout_context_params *, cutout_context **);
    void (*context_destroy)(cutout_context *);
    cutout_run_params (*run_default_params)(void);
    cutout_status (*node_run)(cutout_context *, const char *, const cutout_input *, size_t,
                              const cutout_run_params *, DLManagedTensor **, size_t);
} cutout_api;

/* dlsym() returns an object pointer; memcpy turns it into a function
 * pointer without a cast that ISO C leaves undefined. */
static bool load_symbol(void *lib, const char *name, void *fn_ptr, size_t fn_size)
{
    void *sym = dlsym(lib, name);
    if (sym == NULL || fn_size != sizeof sym) {
        fprintf(stderr, "cutout_host: %s not found in the library: %s\n", name, dlerror());
        return false;
    }
    memcpy(fn_ptr, &sym, fn_size);
    return true;
}

#define LOAD(field, name) load_symbol(lib, name, &api->field, sizeof api->field)

static bool load_api(void *lib, cutout_api *api)
{
    return LOAD(abi_version, "cutout_abi_version") &&
           LOAD(version_string, "cutout_version_string") &&
           LOAD(torch_version, "cutout_torch_version") &&
           LOAD(nodes_json, "cutout_nodes_json") && LOAD(last_error, "cutout_last_error") &&
           LOAD(status_string, "cutout_status_string") &&
           LOAD(context_default_params, "cutout_context_default_params") &&
           LOAD(context_create, "cutout_context_create") &&
           LOAD(context_destroy, "cutout_context_destroy") &&
           LOAD(run_default_params, "cutout_run_default_params") &&
           LOAD(node_run, "cutout_node_run");
}

/* "<directory of this program>/libcutout.so", in buf. */
static bool library_next_to_me(char *buf, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return false;
    *slash = '\0';
    return snprintf(buf, cap, "%s/libcutout.so", exe) < (int)cap;
}

/* ------------------------------------------------------------------------ */
/* 3. Node specs                                                             */

/* obj[key] if it is a string, else "" (the library has already checked
 * the document, so a missing field only shows up as an empty name). */
static const char *json_string(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void print_value(const cJSON *v)
{
    if (cJSON_IsString(v))
        printf("\"%s\"", v->valuestring);
    else if (cJSON_IsBool(v))
        printf("%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNumber(v))
        printf("%g", v->valuedouble);
    else
        printf("-");
}

static void list_nodes(const cJSON *nodes)
{
    const cJSON *node;
    cJSON_ArrayForEach(node, nodes)
    {
        printf("%s  (%s)\n", json_string(node, "id"), json_string(node, "display_name"));
        const cJSON *input;
        cJSON_ArrayForEach(input, cJSON_GetObjectItemCaseSensitive(node, "inputs"))
        {
            const cJSON *required = cJSON_GetObjectItemCaseSensitive(input, "required");
            printf("  input  %-12s %-8s %-9s default ", json_string(input, "name"),
                   json_string(input, "type"), cJSON_IsTrue(required) ? "required" : "optional");
            print_value(cJSON_GetObjectItemCaseSensitive(input, "default"));
            const cJSON *min = cJSON_GetObjectItemCaseSensitive(input, "min");
            const cJSON *max = cJSON_GetObjectItemCaseSensitive(input, "max");
            if (min != NULL || max != NULL) {
                printf("  range ");
                print_value(min);
                printf("..");
                print_value(max);
            }
            printf("\n");
        }
        const cJSON *output;
        cJSON_ArrayForEach(output, cJSON_GetObjectItemCaseSensitive(node, "outputs"))
            printf("  output %-12s %s\n", json_string(output, "name"), json_string(output, "type"));
    }
}

static const cJSON *find_node(const cJSON *nodes, const char *id)
{
    const cJSON *node;
    cJSON_ArrayForEach(node, nodes)
    {
        if (strcmp(json_string(node, "id"), id) == 0)
            return node;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* 4. Inputs                                                                 */

/* A synthetic 256 x 256 RGB image: a colour gradient with a light disc. */
static bool gradient_image(image_f32 *img)
{
    const int64_t side = 256;
    img->pixels = malloc((size_t)(side * side * 3) * sizeof(float));
    if (img->pixels == NULL)
        return false;
    img->width = img->height = side;
    img->channels = 3;
    for (int64_t y = 0; y < side; y++)
        for (int64_t x = 0; x < side; x++) {
            float *p = img->pixels + (y * side + x) * 3;
            int64_t dx = x - side / 2, dy = y - side / 2;
            bool disc = dx * dx + dy * dy < (side / 4) * (side / 4);
            p[0] = disc ? 0.9f : (float)x / (float)(side - 1);
            p[1] = disc ? 0.8f : (float)y / (float)(side - 1);
            p[2] = disc ? 0.7f : 0.3f;
        }
    return true;
}

/* The value given as NAME=VALUE on the command line, or NULL. */
static const char *override_for(const char *name, char **overrides, int num_overrides)
{
    size_t len = strlen(name);
    for (int i = 0; i < num_overrides; i++)
        if (strncmp(overrides[i], name, len) == 0 && overrides[i][len] == '=')
            return overrides[i] + len + 1;
    return NULL;
}

/* Fills one cutout_input from its spec: IMAGE gets the image tensor, the
 * others the command-line override or the spec's default. Returns false
 * (with a message) when no value is known; *skip is set for optional
 * inputs without a value, which are left out. */
static bool make_input(const cJSON *spec, const DLTensor *image, char **overrides,
                       int num_overrides, cutout_input *in, bool *skip)
{
    const char *name = json_string(spec, "name");
    const char *type = json_string(spec, "type");
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(spec, "default");
    const char *text = override_for(name, overrides, num_overrides);
    bool required = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "required"));
    memset(in, 0, sizeof *in);
    in->name = name;
    *skip = false;

    if (strcmp(type, "IMAGE") == 0) {
        in->kind = CUTOUT_VALUE_TENSOR;
        in->tensor = image;
        return true;
    }
    if (text == NULL && def == NULL) {
        *skip = !required;
        if (required)
            fprintf(stderr, "cutout_host: input %s (%s) has no default: give %s=VALUE\n", name,
                    type, name);
        return !required;
    }
    char *end = NULL;
    if (strcmp(type, "INT") == 0) {
        in->kind = CUTOUT_VALUE_INT;
        in->i = text != NULL ? strtoll(text, &end, 10) : (int64_t)def->valuedouble;
    } else if (strcmp(type, "FLOAT") == 0) {
        in->kind = CUTOUT_VALUE_FLOAT;
        in->f = text != NULL ? strtod(text, &end) : def->valuedouble;
    } else if (strcmp(type, "BOOLEAN") == 0) {
        in->kind = CUTOUT_VALUE_BOOL;
        if (text != NULL && strcmp(text, "true") != 0 && strcmp(text, "false") != 0) {
            fprintf(stderr, "cutout_host: input %s: expected true or false, got '%s'\n", name,
                    text);
            return false;
        }
        in->b = text != NULL ? strcmp(text, "true") == 0 : cJSON_IsTrue(def);
    } else if (strcmp(type, "COMBO") == 0 || strcmp(type, "STRING") == 0) {
        in->kind = CUTOUT_VALUE_STRING;
        in->s = text != NULL ? text : json_string(spec, "default");
    } else {
        fprintf(stderr, "cutout_host: input %s: type %s is not supported by this host\n", name,
                type);
        return false;
    }
    if (end != NULL && (end == text || *end != '\0')) {
        fprintf(stderr, "cutout_host: input %s: expected a number, got '%s'\n", name, text);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* 5. Outputs                                                                */

static void print_output(const char *name, const DLTensor *t)
{
    printf("output %s: %s%d [", name, t->dtype.code == kDLFloat ? "float" : "type", t->dtype.bits);
    int64_t count = 1;
    for (int32_t d = 0; d < t->ndim; d++) {
        printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
        count *= t->shape[d];
    }
    printf("]");
    /* The mean of the alpha channel: the last channel of an RGBA IMAGE, or
     * every value of a MASK. Strides are honoured. */
    bool rgba = t->ndim == 4 && t->shape[3] == 4;
    bool mask = t->ndim == 3;
    if (t->device.device_type == kDLCPU && t->dtype.code == kDLFloat && t->dtype.bits == 32 &&
        (rgba || mask) && count > 0) {
        int64_t stride[4], step = 1;
        for (int32_t d = t->ndim - 1; d >= 0; d--) {
            stride[d] = t->strides != NULL ? t->strides[d] : step;
            step *= t->shape[d];
        }
        const float *base = (const float *)((const char *)t->data + t->byte_offset);
        double sum = 0.0;
        for (int64_t b = 0; b < t->shape[0]; b++)
            for (int64_t y = 0; y < t->shape[1]; y++)
                for (int64_t x = 0; x < t->shape[2]; x++)
                    sum += base[b * stride[0] + y * stride[1] + x * stride[2] +
                                (rgba ? 3 * stride[3] : 0)];
        printf(" mean alpha %.4f", sum / (double)(t->shape[0] * t->shape[1] * t->shape[2]));
    }
    printf("\n");
}

static void on_progress(int64_t done, int64_t total, void *user)
{
    (void)user;
    printf("progress %lld/%lld\n", (long long)done, (long long)total);
}

/* Fills inputs[] from the node's specs; returns how many, or -1. */
static int fill_inputs(const cJSON *node, const DLTensor *image, char **overrides,
                       int num_overrides, cutout_input *inputs)
{
    int n = 0;
    const cJSON *spec;
    cJSON_ArrayForEach(spec, cJSON_GetObjectItemCaseSensitive(node, "inputs"))
    {
        bool skip;
        if (!make_input(spec, image, overrides, num_overrides, &inputs[n], &skip))
            return -1;
        if (!skip)
            n++;
    }
    return n;
}

/* Creates a context, runs the node, prints and frees its outputs. */
static int call_node(const cutout_api *api, const cJSON *node, const cutout_input *inputs,
                     int num_inputs, DLManagedTensor **outputs, int num_outputs)
{
    const cJSON *out_specs = cJSON_GetObjectItemCaseSensitive(node, "outputs");
    cutout_context_params params = api->context_default_params();
    cutout_context *ctx = NULL;
    cutout_status status = api->context_create(&params, &ctx);
    if (status == CUTOUT_OK) {
        cutout_run_params run = api->run_default_params();
        run.progress = on_progress;
        status = api->node_run(ctx, json_string(node, "id"), inputs, (size_t)num_inputs, &run,
                               outputs, (size_t)num_outputs);
    }
    if (status != CUTOUT_OK) {
        fprintf(stderr, "cutout_host: %s: %s\n", api->status_string(status), api->last_error());
    } else {
        for (int k = 0; k < num_outputs; k++)
            print_output(json_string(cJSON_GetArrayItem(out_specs, k), "name"),
                         &outputs[k]->dl_tensor);
    }
    /* The outputs are ours: each deleter exactly once. */
    for (int k = 0; k < num_outputs; k++)
        if (outputs[k] != NULL && outputs[k]->deleter != NULL)
            outputs[k]->deleter(outputs[k]);
    api->context_destroy(ctx);
    return status == CUTOUT_OK ? 0 : 1;
}

static int run_node(const cutout_api *api, const cJSON *node, const char *image_path,
                    char **overrides, int num_overrides)
{
    image_f32 img = {0, 0, 0, NULL};
    char err[512];
    if (image_path != NULL ? !image_load(image_path, CUTOUT_MAX_PIXELS, &img, err, sizeof err)
                           : !gradient_image(&img)) {
        fprintf(stderr, "cutout_host: %s: %s\n", image_path ? image_path : "gradient",
                image_path ? err : "out of memory");
        return 1;
    }
    int64_t shape[4] = {1, img.height, img.width, img.channels};
    DLTensor image = {.data = img.pixels,
                      .device = {kDLCPU, 0},
                      .ndim = 4,
                      .dtype = {kDLFloat, 32, 1},
                      .shape = shape,
                      .strides = NULL,
                      .byte_offset = 0};

    int num_specs = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(node, "inputs"));
    int num_outputs = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(node, "outputs"));
    cutout_input *inputs = calloc((size_t)num_specs + 1, sizeof *inputs);
    DLManagedTensor **outputs = calloc((size_t)num_outputs + 1, sizeof *outputs);
    int rc = 1;
    if (inputs == NULL || outputs == NULL) {
        fprintf(stderr, "cutout_host: out of memory\n");
    } else {
        int num_inputs = fill_inputs(node, &image, overrides, num_overrides, inputs);
        if (num_inputs >= 0)
            rc = call_node(api, node, inputs, num_inputs, outputs, num_outputs);
    }
    free(inputs);
    free(outputs);
    image_free(&img);
    return rc;
}

/* ------------------------------------------------------------------------ */

static bool is_library_path(const char *arg)
{
    size_t n = strlen(arg);
    return strchr(arg, '/') != NULL || (n > 3 && strcmp(arg + n - 3, ".so") == 0);
}

int main(int argc, char **argv)
{
    char default_path[PATH_MAX + 16];
    int a = 1;
    const char *lib_path = NULL;
    if (a < argc && is_library_path(argv[a]))
        lib_path = argv[a++];
    else if (library_next_to_me(default_path, sizeof default_path))
        lib_path = default_path;
    if (lib_path == NULL || (a < argc && argv[a][0] == '-')) {
        fprintf(stderr, "usage: cutout_host [LIBRARY.so] [NODE [IMAGE] [NAME=VALUE]...]\n");
        return 2;
    }
    const char *node_id = a < argc ? argv[a++] : NULL;
    const char *image_path = NULL;
    char **overrides = argv + a;
    int num_overrides = 0;
    for (; a < argc; a++) { /* NAME=VALUE pairs, and at most one image */
        if (strchr(argv[a], '=') != NULL)
            overrides[num_overrides++] = argv[a];
        else if (image_path == NULL)
            image_path = argv[a];
        else {
            fprintf(stderr, "cutout_host: more than one image given ('%s')\n", argv[a]);
            return 2;
        }
    }

    /* 1. Load the library and resolve the API. */
    void *lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "cutout_host: cannot load %s: %s\n", lib_path, dlerror());
        return 1;
    }
    cutout_api api;
    if (!load_api(lib, &api)) {
        dlclose(lib);
        return 1;
    }
    /* 2. Refuse another ABI. */
    if (api.abi_version() != CUTOUT_ABI_VERSION) {
        fprintf(stderr, "cutout_host: %s has ABI version %d, this host was built for %d\n",
                lib_path, (int)api.abi_version(), CUTOUT_ABI_VERSION);
        dlclose(lib);
        return 1;
    }
    printf("libcutout %s (ABI %d, libtorch %s)\n", api.version_string(),
           (int)api.abi_version(), api.torch_version());

    /* 3. The node specs. */
    int rc = 1;
    cJSON *doc = cJSON_Parse(api.nodes_json());
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
    if (!cJSON_IsArray(nodes)) {
        fprintf(stderr, "cutout_host: the library's nodes.json has no \"nodes\" array\n");
    } else if (node_id == NULL) {
        list_nodes(nodes);
        rc = 0;
    } else if (find_node(nodes, node_id) == NULL) {
        fprintf(stderr, "cutout_host: no node '%s' in nodes.json\n", node_id);
    } else {
        rc = run_node(&api, find_node(nodes, node_id), image_path, overrides, num_overrides);
    }
    cJSON_Delete(doc);
    /* Outputs were all deleted above, so the library may go. */
    dlclose(lib);
    return rc;
}
