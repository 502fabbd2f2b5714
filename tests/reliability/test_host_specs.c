/*
 * test_host_specs.c - a host may give a context its own nodes.json
 * (cutout_context_params.nodes_json). Specs the library accepts must never
 * make a run crash or hang, even when they leave out what the node needs.
 * Each case edits the embedded nodes.json (so the test follows the real
 * spec as it changes) and runs the node with the stub shim.
 *
 * Regression tests of bugs found by the nodes_json fuzz target: a "model"
 * input made optional without a default crashed (NULL name), and a
 * batch_size of 0 (min 0, or optional without a default) looped forever.
 *
 * Usage: test_host_specs PHOTO_DIR MODEL_DIR MODEL_NAME
 */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "reliability_support.h"

static const char *g_model_dir;
static const char *g_model;
static rel_image g_image;

/* The input `name` of the first node in `doc`. */
/* Input `name` of node `node_index` in `doc`. */
static cJSON *node_input_named(cJSON *doc, int node_index, const char *name)
{
    cJSON *node = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "nodes"), node_index);
    cJSON *input;
    cJSON_ArrayForEach(input, cJSON_GetObjectItemCaseSensitive(node, "inputs"))
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(input, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return input;
    }
    fprintf(stderr, "the embedded nodes.json has no input \"%s\"\n", name);
    exit(2);
}

static cJSON *input_named(cJSON *doc, const char *name) { return node_input_named(doc, 0, name); }

/* Replaces option `from` of a COMBO input by `to`. */
static void rename_option(cJSON *input, const char *from, const char *to)
{
    cJSON *options = cJSON_GetObjectItemCaseSensitive(input, "options");
    for (int i = 0; i < cJSON_GetArraySize(options); i++)
        if (strcmp(cJSON_GetArrayItem(options, i)->valuestring, from) == 0)
            cJSON_ReplaceItemInArray(options, i, cJSON_CreateString(to));
}

static void set_optional_without_default(cJSON *input)
{
    cJSON_ReplaceItemInObjectCaseSensitive(input, "required", cJSON_CreateFalse());
    cJSON_DeleteItemFromObjectCaseSensitive(input, "default");
    cJSON_DeleteItemFromObjectCaseSensitive(input, "min");
}

static void set_number(cJSON *input, const char *key, double value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(input, key);
    cJSON_AddNumberToObject(input, key, value);
}

static bool stop_if_looping(void *user)
{
    int *polls = user;
    return ++*polls > 100;
}

/* Creates a context from `doc`, runs the node with the image (and the
 * model unless `omit_model`), and checks the status and message. */
static void expect_run(cJSON *doc, bool omit_model, cutout_status want, const char *text,
                       int line)
{
    char *json = cJSON_PrintUnformatted(doc);
    const char *dirs[] = {g_model_dir};
    cutout_context_params p = cutout_context_default_params();
    p.model_dirs = dirs;
    p.num_model_dirs = 1;
    p.nodes_json = json;
    cutout_context *ctx = NULL;
    cutout_status st = cutout_context_create(&p, &ctx);
    free(json);
    cJSON_Delete(doc);
    if (want == CUTOUT_ERR_SPEC) { /* refused where it is written, not at run time */
        REL_CHECK(st == CUTOUT_ERR_SPEC && ctx == NULL && strstr(cutout_last_error(), text),
                  "line %d: expected SPEC with \"%s\" at context creation, got %s: \"%s\"",
                  line, text, cutout_status_string(st), cutout_last_error());
        cutout_context_destroy(ctx);
        return;
    }
    if (st != CUTOUT_OK) {
        rel_checks++;
        rel_failures++;
        fprintf(stderr, "line %d: context: %s: %s\n", line, cutout_status_string(st),
                cutout_last_error());
        return;
    }
    cutout_input inputs[2] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = &g_image.tensor},
        {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = g_model},
    };
    int polls = 0;
    cutout_run_params run = cutout_run_default_params();
    run.should_abort = stop_if_looping;
    run.abort_user = &polls;
    DLManagedTensor *out[2];
    st = cutout_node_run(ctx, "CutoutRemoveBackground", inputs, omit_model ? 1 : 2, &run, out, 2);
    REL_CHECK(st == want && strstr(cutout_last_error(), text) != NULL,
              "line %d: expected %s with \"%s\", got %s: \"%s\" (%d abort polls)", line,
              cutout_status_string(want), text, cutout_status_string(st), cutout_last_error(),
              polls);
    if (st == CUTOUT_OK)
        rel_release(out);
    else
        REL_CHECK(out[0] == NULL && out[1] == NULL, "line %d: outputs after a failure", line);
#ifdef RELIABILITY_STUB
    REL_CHECK(stub_live_tensors() == 0, "line %d: tensors left", line);
#endif
    cutout_context_destroy(ctx);
}
#define EXPECT_RUN(doc, omit_model, want, text) expect_run(doc, omit_model, want, text, __LINE__)

static cJSON *embedded(void)
{
    cJSON *doc = cJSON_Parse(cutout_nodes_json());
    if (doc == NULL) exit(2);
    return doc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PHOTO_DIR MODEL_DIR MODEL_NAME\n", argv[0]);
        return 2;
    }
    g_model_dir = argv[2];
    g_model = argv[3];
    g_image = rel_blank(3, 8, 8, 3);
    for (int k = 0; k < 3 * 8 * 8 * 3; k++) g_image.data[k] = (float)(k % 10) / 9.0f;

    cJSON *doc = embedded();
    EXPECT_RUN(doc, false, CUTOUT_OK, "");

    /* "model" optional with no default: once a crash when left out; now
     * the spec is refused when the context is created. */
    doc = embedded();
    set_optional_without_default(input_named(doc, "model"));
    EXPECT_RUN(doc, true, CUTOUT_ERR_SPEC,
               "input \"model\": expected a default or \"required\": true");

    /* batch_size 0 allowed and the default: once an endless loop. */
    doc = embedded();
    set_number(input_named(doc, "batch_size"), "min", 0);
    set_number(input_named(doc, "batch_size"), "default", 0);
    EXPECT_RUN(doc, false, CUTOUT_ERR_SPEC,
               "input \"batch_size\": range 0..64 goes beyond what this library takes");

    /* batch_size optional with no default: the same loop. */
    doc = embedded();
    set_optional_without_default(input_named(doc, "batch_size"));
    EXPECT_RUN(doc, false, CUTOUT_ERR_SPEC,
               "input \"batch_size\": expected a default or \"required\": true");

    /* A narrower range than the library's is the host's to choose: values
     * outside it are refused when the node runs. */
    doc = embedded();
    set_number(input_named(doc, "batch_size"), "max", 2);
    EXPECT_RUN(doc, false, CUTOUT_OK, "");

    /* batch_size far above the batch: one chunk holding all three images. */
    doc = embedded();
    set_number(input_named(doc, "batch_size"), "max", 9e15);
    set_number(input_named(doc, "batch_size"), "default", 9e15);
    EXPECT_RUN(doc, false, CUTOUT_OK, "");

    /* A host's nodes.json that offers what the code does not implement is
     * refused when the context is created, naming the input and both
     * sides: a renamed option, a renamed input, a wider range, a step
     * that reaches values the shim cannot take. */
    doc = embedded();
    rename_option(node_input_named(doc, 1, "fit"), "letterbox", "letterbx");
    EXPECT_RUN(doc, false, CUTOUT_ERR_SPEC,
               "(CutoutRemoveBackgroundAdvanced): input \"fit\": option \"letterbx\" is not one "
               "this library implements (expected some of \"auto\", \"balanced\", \"letterbox\", "
               "\"stretch\")");
    doc = embedded();
    rename_option(node_input_named(doc, 2, "background"), "gradient", "gradiant");
    EXPECT_RUN(doc, false, CUTOUT_ERR_SPEC, "input \"background\": option \"gradiant\"");
    doc = embedded();
    cJSON_ReplaceItemInObjectCaseSensitive(node_input_named(doc, 1, "mask_blur"), "name",
                                           cJSON_CreateString("mask_blurr"));
    EXPECT_RUN(doc, false, CUTOUT_ERR_SPEC,
               "(CutoutRemoveBackgroundAdvanced): input \"mask_blur\" is missing");
    doc = embedded();
    set_number(node_input_named(doc, 1, "mask_blur"), "max", 300);
    EXPECT_RUN(doc, false, CUTOUT_ERR_SPEC,
               "input \"mask_blur\": range 0..300 goes beyond what this library takes (0..256)");
    doc = embedded();
    set_number(node_input_named(doc, 1, "process_resolution"), "step", 8);
    EXPECT_RUN(doc, false, CUTOUT_ERR_SPEC, "input \"process_resolution\":");

    /* "image" optional and left out. */
    doc = embedded();
    cJSON_ReplaceItemInObjectCaseSensitive(input_named(doc, "image"), "required",
                                           cJSON_CreateFalse());
    char *json = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    const char *dirs[] = {g_model_dir};
    cutout_context_params p = cutout_context_default_params();
    p.model_dirs = dirs;
    p.num_model_dirs = 1;
    p.nodes_json = json;
    cutout_context *ctx = NULL;
    REL_CHECK(cutout_context_create(&p, &ctx) == CUTOUT_OK, "%s", cutout_last_error());
    free(json);
    cutout_input model_only = {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = g_model};
    DLManagedTensor *out[2];
    cutout_status st = cutout_node_run(ctx, "CutoutRemoveBackground", &model_only, 1, NULL, out, 2);
    REL_CHECK(st == CUTOUT_ERR_INVALID_INPUT && strncmp(cutout_last_error(), "image:", 6) == 0 &&
                  out[0] == NULL && out[1] == NULL,
              "%s: %s", cutout_status_string(st), cutout_last_error());
    cutout_context_destroy(ctx);

    rel_image_free(&g_image);
    return rel_finish("test_host_specs");
}
