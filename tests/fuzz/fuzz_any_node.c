/*
 * fuzz_any_node.c - every node of the embedded nodes.json through
 * cutout_node_run, with inputs made from the node's own spec: IMAGE and
 * MASK as arbitrary DLTensor descriptors (fuzz_tensor.h), INT, FLOAT,
 * BOOLEAN, COMBO and STRING values inside and outside their ranges and
 * options, inputs left out or given with the wrong kind, and an abort at
 * any poll. Runs against the C stub shim, so a node added to nodes.json is
 * fuzzed without changing this file.
 *
 * It cannot know each node's semantics, so it checks what holds for all:
 * - a tensor the IMAGE/MASK rules refuse is never read (it points at a
 *   64-byte buffer) and, for a required input, makes the call fail;
 * - a failed call leaves every output NULL, gives a message that starts
 *   with the name of one of the node's inputs (or "model", "cancelled"),
 *   never CUTOUT_ERR_INTERNAL;
 * - a successful call fills every output the spec declares: IMAGE 4 dims
 *   with 3 or 4 channels, MASK 3 dims, float32 and finite; BOX int64 B x 4;
 * - input buffers are unchanged, the stub holds no tensor afterwards.
 *
 * Input layout: node selector, then per spec input a selector byte (left
 * out, given, NULL tensor, wrong kind) and its value, then abort poll, fill
 * mode, and bytes that fill the tensors.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_check.h"
#include "fuzz_model_dir.h"
#include "fuzz_tensor.h"
#include "stub_shim.h"

#define MAX_NODES 16
#define MAX_INPUTS 32
#define MAX_OPTIONS 16

typedef enum { T_IMAGE, T_MASK, T_INT, T_FLOAT, T_BOOLEAN, T_COMBO, T_STRING, T_OTHER } value_type;

typedef struct input_spec {
    char name[64];
    value_type type;
    bool required;
    int64_t min_int, max_int;
    double min_float, max_float;
    bool from_models;
    int num_options;
    char options[MAX_OPTIONS][64];
} input_spec;

typedef struct node_spec {
    char id[64];
    int num_inputs, num_outputs;
    input_spec inputs[MAX_INPUTS];
    value_type outputs[8];
    bool box_output[8];
} node_spec;

static node_spec g_nodes[MAX_NODES];
static int g_num_nodes;
/* Calls per node that succeeded / failed, printed at exit when
 * CUTOUT_FUZZ_STATS is set. */
static long g_succeeded[MAX_NODES], g_failed[MAX_NODES];

static void print_outcomes(void)
{
    for (int i = 0; i < g_num_nodes; i++)
        fprintf(stderr, "fuzz_any_node outcomes: %s: %ld succeeded, %ld failed\n", g_nodes[i].id,
                g_succeeded[i], g_failed[i]);
}
static cutout_context *g_ctx;

static value_type type_of(const char *text)
{
    static const char *names[] = {"IMAGE", "MASK", "INT", "FLOAT", "BOOLEAN", "COMBO", "STRING"};
    for (int i = 0; i < 7; i++)
        if (strcmp(text, names[i]) == 0) return (value_type)i;
    return T_OTHER;
}

static double number_or(const cJSON *obj, const char *key, double fallback)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(item) ? item->valuedouble : fallback;
}

/* The embedded nodes.json as a table (what a host would build). */
static void read_spec(void)
{
    cJSON *doc = cJSON_Parse(cutout_nodes_json());
    FUZZ_CHECK(doc != NULL, "the embedded nodes.json does not parse");
    const cJSON *node;
    cJSON_ArrayForEach(node, cJSON_GetObjectItemCaseSensitive(doc, "nodes"))
    {
        FUZZ_CHECK(g_num_nodes < MAX_NODES, "more than %d nodes", MAX_NODES);
        node_spec *n = &g_nodes[g_num_nodes++];
        snprintf(n->id, sizeof n->id, "%s", cJSON_GetObjectItemCaseSensitive(node, "id")->valuestring);
        const cJSON *in;
        cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(node, "inputs"))
        {
            FUZZ_CHECK(n->num_inputs < MAX_INPUTS, "too many inputs");
            input_spec *s = &n->inputs[n->num_inputs++];
            snprintf(s->name, sizeof s->name, "%s", cJSON_GetObjectItemCaseSensitive(in, "name")->valuestring);
            s->type = type_of(cJSON_GetObjectItemCaseSensitive(in, "type")->valuestring);
            s->required = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "required"));
            s->min_int = (int64_t)number_or(in, "min", -1e6);
            s->max_int = (int64_t)number_or(in, "max", 1e6);
            s->min_float = number_or(in, "min", -1e6);
            s->max_float = number_or(in, "max", 1e6);
            const cJSON *from = cJSON_GetObjectItemCaseSensitive(in, "options_from");
            s->from_models = cJSON_IsString(from);
            const cJSON *opt;
            cJSON_ArrayForEach(opt, cJSON_GetObjectItemCaseSensitive(in, "options"))
            {
                if (s->num_options < MAX_OPTIONS && cJSON_IsString(opt))
                    snprintf(s->options[s->num_options++], 64, "%s", opt->valuestring);
            }
        }
        const cJSON *out;
        cJSON_ArrayForEach(out, cJSON_GetObjectItemCaseSensitive(node, "outputs"))
        {
            if (n->num_outputs >= 8) break;
            const char *type = cJSON_GetObjectItemCaseSensitive(out, "type")->valuestring;
            n->box_output[n->num_outputs] = strcmp(type, "BOX") == 0;
            n->outputs[n->num_outputs++] = type_of(type);
        }
    }
    cJSON_Delete(doc);
}

static void destroy_context(void) { cutout_context_destroy(g_ctx); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dirs[] = {fuzz_make_model_dir()};
    cutout_context_params p = cutout_context_default_params();
    p.model_dirs = dirs;
    p.num_model_dirs = 1;
    FUZZ_CHECK(cutout_context_create(&p, &g_ctx) == CUTOUT_OK, "context: %s", cutout_last_error());
    read_spec();
    atexit(destroy_context);
    if (getenv("CUTOUT_FUZZ_STATS")) atexit(print_outcomes);
    return 0;
}

/* ------------------------------------------------------------------------ */

static int64_t pick_int(fuzz_bytes *r, const input_spec *s)
{
    uint8_t sel = fuzz_u8(r);
    if (sel < 200 && s->max_int >= s->min_int) {
        uint64_t span = (uint64_t)s->max_int - (uint64_t)s->min_int + 1;
        uint64_t v = fuzz_u8(r) | (uint64_t)fuzz_u8(r) << 8;
        return s->min_int + (int64_t)(span ? v % span : v);
    }
    if (sel < 220) return s->min_int - 1;
    if (sel < 240) return s->max_int + 1;
    return fuzz_size(r);
}

static double pick_float(fuzz_bytes *r, const input_spec *s)
{
    uint8_t sel = fuzz_u8(r);
    if (sel < 200) return s->min_float + (s->max_float - s->min_float) * (fuzz_u8(r) / 255.0);
    static const double odd[] = {NAN, INFINITY, -INFINITY, -DBL_MAX, DBL_MAX, -1e-300, 1e300};
    if (sel < 220) return s->min_float - 1.0;
    if (sel < 240) return s->max_float + 1.0;
    return odd[sel % 7];
}

/* A string made of fuzz bytes (printable, at most 15 characters). */
static const char *pick_string(fuzz_bytes *r, char *buf)
{
    static const char *usual[] = {"", "#ff0000", "#00FF00aa", "red", "white", "0.5", "stub",
                                  "missing", "../stub", "auto", "fp32", "#12345", "rgb(1,2,3)"};
    uint8_t sel = fuzz_u8(r);
    if (sel < 200) return usual[sel % (sizeof usual / sizeof usual[0])];
    int n = fuzz_u8(r) % 16;
    for (int i = 0; i < n; i++) buf[i] = (char)(32 + fuzz_u8(r) % 95);
    buf[n] = '\0';
    return buf;
}

typedef struct call_log {
    int64_t polls, stop_at;
    bool said_stop;
} call_log;

static bool on_abort(void *user)
{
    call_log *log = user;
    log->polls++;
    if (log->stop_at > 0 && log->polls >= log->stop_at) log->said_stop = true;
    return log->said_stop;
}

static void on_progress(int64_t done, int64_t total, void *user)
{
    (void)user;
    FUZZ_CHECK(done >= 1 && done <= total, "progress %lld of %lld", (long long)done,
               (long long)total);
}

static void check_output(const DLManagedTensor *m, value_type type, bool box, int k)
{
    const DLTensor *t = &m->dl_tensor;
    FUZZ_CHECK(t->data != NULL && t->shape != NULL, "output %d: no data or shape", k);
    if (box) {
        FUZZ_CHECK(t->ndim == 2 && t->shape[1] == 4 && t->dtype.code == kDLInt &&
                       t->dtype.bits == 64,
                   "output %d: BOX must be int64 B x 4", k);
        return;
    }
    if (type == T_IMAGE)
        FUZZ_CHECK(t->ndim == 4 && (t->shape[3] == 3 || t->shape[3] == 4),
                   "output %d: IMAGE with %d dims", k, t->ndim);
    else
        FUZZ_CHECK(t->ndim == 3, "output %d: MASK with %d dims", k, t->ndim);
    FUZZ_CHECK(t->dtype.code == kDLFloat && t->dtype.bits == 32 && t->dtype.lanes == 1,
               "output %d: not float32", k);
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    const float *v = (const float *)((const char *)t->data + t->byte_offset);
    for (int64_t i = 0; i < n; i++)
        FUZZ_CHECK(isfinite(v[i]), "output %d: value %lld is %g", k, (long long)i, v[i]);
}

static bool names_an_input(const node_spec *n, const char *msg)
{
    if (strncmp(msg, "model", 5) == 0 || strncmp(msg, "cancelled", 9) == 0) return true;
    for (int i = 0; i < n->num_inputs; i++) {
        size_t len = strlen(n->inputs[i].name);
        if (strncmp(msg, n->inputs[i].name, len) == 0 && (msg[len] == ':' || msg[len] == ' '))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_bytes r = fuzz_bytes_of(data, size);
    int node_index = fuzz_u8(&r) % g_num_nodes;
    const node_spec *node = &g_nodes[node_index];
    static tensor_case tensors[MAX_INPUTS];
    bool is_tensor[MAX_INPUTS] = {false};
    cutout_input inputs[MAX_INPUTS];
    char strings[MAX_INPUTS][16];
    size_t n = 0;
    bool refused_tensor = false; /* a tensor the documented rules refuse */

    for (int i = 0; i < node->num_inputs; i++) {
        const input_spec *s = &node->inputs[i];
        uint8_t sel = fuzz_u8(&r);
        if (sel < 16) continue; /* left out */
        cutout_input *in = &inputs[n];
        memset(in, 0, sizeof *in);
        in->name = s->name;
        switch (s->type) {
        case T_IMAGE:
        case T_MASK: {
            tensor_case *c = &tensors[n];
            read_tensor(&r, c, s->type == T_IMAGE ? 4 : 3);
            bool ok = s->type == T_IMAGE
                          ? descriptor_ok(c, 4, 4, true) && within_pixel_limit(c->shape[1], c->shape[2])
                          : descriptor_ok(c, 2, 3, false) &&
                                within_pixel_limit(c->shape[c->t.ndim - 2], c->shape[c->t.ndim - 1]);
            in->kind = CUTOUT_VALUE_TENSOR;
            in->tensor = sel == 255 ? NULL : &c->t;
            if (!ok || in->tensor == NULL) {
                /* A NULL tensor is refused when inputs are bound; a bad
                 * descriptor of an optional input the node does not use in
                 * this call (a background image for a colour background)
                 * may be ignored, but never read. */
                if (s->required || in->tensor == NULL) refused_tensor = true;
                c->buffer_bytes = SMALL_BUFFER;
                c->elements = -1; /* marks a refused tensor */
            }
            is_tensor[n] = true;
            break;
        }
        case T_INT: in->kind = CUTOUT_VALUE_INT; in->i = pick_int(&r, s); break;
        case T_FLOAT: in->kind = CUTOUT_VALUE_FLOAT; in->f = pick_float(&r, s); break;
        case T_BOOLEAN: in->kind = CUTOUT_VALUE_BOOL; in->b = fuzz_u8(&r) & 1; break;
        case T_COMBO:
        case T_STRING:
            in->kind = CUTOUT_VALUE_STRING;
            if (s->from_models && sel < 220)
                in->s = "stub";
            else if (s->num_options > 0 && sel < 220)
                in->s = s->options[fuzz_u8(&r) % s->num_options];
            else
                in->s = pick_string(&r, strings[n]);
            break;
        case T_OTHER: in->kind = CUTOUT_VALUE_STRING; in->s = "?"; break;
        }
        if (sel >= 248 && sel < 255 && !is_tensor[n]) /* the wrong kind */
            in->kind = (cutout_value_kind)(1 + (in->kind % 5));
        n++;
    }
    uint8_t abort_sel = fuzz_u8(&r);
    uint8_t fill_mode = fuzz_u8(&r) % 3;

    /* Buffers: exact for accepted tensors (skipped when too big), tiny for
     * refused ones. Refused tensors' buffers are filled with a pattern. */
    uint8_t *copies[MAX_INPUTS] = {NULL};
    for (size_t k = 0; k < n; k++) {
        if (!is_tensor[k] || inputs[k].tensor == NULL || tensors[k].t.data == NULL) continue;
        tensor_case *c = &tensors[k];
        bool refused = c->elements < 0;
        if (!refused && (c->buffer_bytes > BUFFER_CAP || c->elements > WORK_CAP)) {
            for (size_t j = 0; j < k; j++) {
                free(tensors[j].buffer);
                free(copies[j]);
                tensors[j].buffer = NULL;
            }
            return 0;
        }
        c->buffer = malloc(c->buffer_bytes ? c->buffer_bytes : 1);
        FUZZ_CHECK(c->buffer != NULL, "out of memory");
        if (refused)
            memset(c->buffer, 0x3f, c->buffer_bytes);
        else
            fill_buffer(c, r.next, r.left, fill_mode);
        c->t.data = c->buffer;
        copies[k] = malloc(c->buffer_bytes ? c->buffer_bytes : 1);
        FUZZ_CHECK(copies[k] != NULL, "out of memory");
        memcpy(copies[k], c->buffer, c->buffer_bytes);
    }

    call_log log = {.stop_at = abort_sel < 200 ? 0 : abort_sel - 199};
    cutout_run_params run = cutout_run_default_params();
    run.should_abort = on_abort;
    run.abort_user = &log;
    run.progress = on_progress;
    DLManagedTensor *out[8];
    for (int k = 0; k < 8; k++) out[k] = (DLManagedTensor *)(uintptr_t)8;
    cutout_status st = cutout_node_run(g_ctx, node->id, inputs, n, &run, out, 8);
    const char *msg = cutout_last_error();

    if (st == CUTOUT_OK) {
        FUZZ_CHECK(!refused_tensor, "%s succeeded with a tensor the rules refuse", node->id);
        FUZZ_CHECK(!log.said_stop, "%s succeeded after the abort callback said stop", node->id);
        for (int k = 0; k < node->num_outputs; k++) {
            FUZZ_CHECK(out[k] != NULL, "%s: output %d is NULL", node->id, k);
            check_output(out[k], node->outputs[k], node->box_output[k], k);
        }
        for (int k = 0; k < node->num_outputs; k++) out[k]->deleter(out[k]);
        g_succeeded[node_index]++;
    } else {
        g_failed[node_index]++;
        for (int k = 0; k < 8; k++)
            FUZZ_CHECK(out[k] == NULL, "%s failed (%s) but left output %d", node->id,
                       cutout_status_string(st), k);
        FUZZ_CHECK(st != CUTOUT_ERR_INTERNAL, "%s: internal error: %s", node->id, msg);
        FUZZ_CHECK(st != CUTOUT_CANCELLED || log.said_stop, "%s cancelled on its own", node->id);
        FUZZ_CHECK(names_an_input(node, msg), "%s: %s: message names no input: \"%s\"", node->id,
                   cutout_status_string(st), msg);
    }
    FUZZ_CHECK(stub_live_tensors() == 0, "%s: %lld tensors left allocated", node->id,
               (long long)stub_live_tensors());
    for (size_t k = 0; k < n; k++) {
        if (copies[k] != NULL)
            FUZZ_CHECK(memcmp(copies[k], tensors[k].buffer, tensors[k].buffer_bytes) == 0,
                       "%s wrote into its input %s", node->id, inputs[k].name);
        free(copies[k]);
        free(tensors[k].buffer);
        tensors[k].buffer = NULL;
    }
    return 0;
}
