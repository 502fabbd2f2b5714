/* test_spec.c - nodes.json parsing and checking: the embedded spec, broken
 * specs (each names the place that is wrong), and input validation against
 * spec values (ranges, options, kinds). */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "fixture.h"

/* The embedded spec as a mutable cJSON tree. */
static cJSON *embedded(void) { return cJSON_Parse(cutout_nodes_json()); }

static cJSON *node0(cJSON *root) { return cJSON_GetArrayItem(cJSON_GetObjectItem(root, "nodes"), 0); }

static cJSON *input_named(cJSON *root, const char *name)
{
    cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItem(node0(root), "inputs"))
        if (strcmp(cJSON_GetObjectItem(in, "name")->valuestring, name) == 0) return in;
    return NULL;
}

/* Creates a context from the mutated tree and expects a SPEC error. */
static void expect_spec_error(cJSON *root, const char *text, int line)
{
    char *json = cJSON_PrintUnformatted(root);
    cutout_context *ctx = (cutout_context *)(uintptr_t)1;
    cutout_status st = fixture_context(json, &ctx);
    fixture_checks++;
    if (st != CUTOUT_ERR_SPEC || ctx != NULL || !strstr(cutout_last_error(), text)) {
        fixture_failures++;
        fprintf(stderr, "line %d: expected CUTOUT_ERR_SPEC with \"%s\", got %s: \"%s\"\n", line,
                text, cutout_status_string(st), cutout_last_error());
    }
    free(json);
    cJSON_Delete(root);
}
#define EXPECT_SPEC_ERROR(root, text) expect_spec_error(root, text, __LINE__)

static void test_embedded_spec(void)
{
    const char *json = cutout_nodes_json();
    CHECK(json && strstr(json, "\"CutoutRemoveBackground\""));
    cJSON *root = embedded();
    CHECK(root != NULL);
    CHECK(cJSON_GetObjectItem(root, "schema_version")->valueint == 1);
    cJSON *bs = input_named(root, "batch_size");
    CHECK(bs && cJSON_GetObjectItem(bs, "default")->valueint == 1);
    CHECK(bs && cJSON_GetObjectItem(bs, "min")->valueint == 1);
    CHECK(bs && cJSON_GetObjectItem(bs, "max")->valueint == 64);
    CHECK(input_named(root, "mask") && cJSON_IsFalse(cJSON_GetObjectItem(input_named(root, "mask"), "required")));
    cJSON_Delete(root);

    cutout_context *ctx = NULL;
    CHECK(fixture_context(NULL, &ctx) == CUTOUT_OK);
    CHECK(ctx != NULL);
    /* The model folder has stub.pt and broken.pt (notes.txt is not a model);
     * the default folders may add others. Names come sorted. */
    int64_t count = cutout_context_model_count(ctx);
    int seen = 0;
    for (int64_t i = 0; i < count; i++) {
        const char *name = cutout_context_model_name(ctx, i);
        seen += strcmp(name, "stub") == 0 || strcmp(name, "broken") == 0;
        CHECK(strcmp(name, "notes") != 0 && strcmp(name, "notes.txt") != 0);
        if (i > 0) CHECK(strcmp(cutout_context_model_name(ctx, i - 1), name) < 0);
    }
    CHECK(seen == 2);
    CHECK(cutout_context_model_name(ctx, count) == NULL);
    CHECK(cutout_context_model_name(ctx, -1) == NULL);
    char path[512];
    CHECK(cutout_context_model_path(ctx, "stub", path, sizeof path) == CUTOUT_OK);
    CHECK(strstr(path, fixture_model_dir()) == path && strstr(path, "/stub.pt"));
    CHECK_ERROR(cutout_context_model_path(ctx, "no-such-model", path, sizeof path),
                CUTOUT_ERR_MODEL_NOT_FOUND, "tools/fetch-model");
    CHECK(strstr(cutout_last_error(), fixture_model_dir()) != NULL);
    CHECK_ERROR(cutout_context_model_path(ctx, "../etc/passwd", path, sizeof path),
                CUTOUT_ERR_INVALID_INPUT, "model: expected a model name");
    CHECK_ERROR(cutout_context_model_path(ctx, "stub", path, 4), CUTOUT_ERR_INVALID_ARGUMENT,
                "buf_cap");
    /* The thread count defaults to the cores this process may use. */
    CHECK(stub_num_threads() >= 1);
    cutout_context_destroy(ctx);
}

static void test_broken_specs(void)
{
    cJSON *root;
    EXPECT_SPEC_ERROR(cJSON_CreateString("x"), "expected an object at the top");

    root = embedded();
    cJSON_ReplaceItemInObject(root, "schema_version", cJSON_CreateNumber(2));
    EXPECT_SPEC_ERROR(root, "schema_version: expected 1, got 2");

    root = embedded();
    cJSON_ReplaceItemInObject(root, "nodes", cJSON_CreateArray());
    EXPECT_SPEC_ERROR(root, "nodes: expected a non-empty array, got an empty array");

    root = embedded();
    cJSON_DeleteItemFromObject(node0(root), "id");
    EXPECT_SPEC_ERROR(root, "nodes[0].id: expected a non-empty string, got nothing");

    root = embedded();
    cJSON_ReplaceItemInObject(input_named(root, "image"), "type", cJSON_CreateString("PICTURE"));
    EXPECT_SPEC_ERROR(root, "nodes[0].inputs[0].type: unknown type \"PICTURE\"");

    root = embedded();
    cJSON_ReplaceItemInObject(input_named(root, "batch_size"), "min", cJSON_CreateNumber(100));
    EXPECT_SPEC_ERROR(root, "min 100 is greater than max 64");

    root = embedded();
    cJSON_ReplaceItemInObject(input_named(root, "batch_size"), "default", cJSON_CreateNumber(0));
    EXPECT_SPEC_ERROR(root, ".default: 0 is outside min..max (1..64)");

    root = embedded();
    cJSON_ReplaceItemInObject(input_named(root, "batch_size"), "max", cJSON_CreateString("64"));
    EXPECT_SPEC_ERROR(root, ".max: expected an integer, got a string");

    root = embedded();
    cJSON_ReplaceItemInObject(input_named(root, "batch_size"), "default", cJSON_CreateNumber(1.5));
    EXPECT_SPEC_ERROR(root, ".default: expected an integer, got 1.5");

    root = embedded();
    cJSON_ReplaceItemInObject(input_named(root, "mask"), "required", cJSON_CreateString("no"));
    EXPECT_SPEC_ERROR(root, ".required: expected true or false, got a string");

    root = embedded();
    cJSON_AddItemToArray(cJSON_GetObjectItem(node0(root), "inputs"),
                         cJSON_Duplicate(input_named(root, "mask"), 1));
    EXPECT_SPEC_ERROR(root, "duplicate input name \"mask\"");

    root = embedded();
    cJSON_AddItemToArray(cJSON_GetObjectItem(root, "nodes"), cJSON_Duplicate(node0(root), 1));
    EXPECT_SPEC_ERROR(root, "].id: duplicate node id \"CutoutRemoveBackground\"");

    root = embedded();
    cJSON_ReplaceItemInObject(node0(root), "id", cJSON_CreateString("CutoutSomethingElse"));
    EXPECT_SPEC_ERROR(root, "no implementation for node \"CutoutSomethingElse\"");

    root = embedded();
    cJSON *inputs = cJSON_GetObjectItem(node0(root), "inputs");
    for (int i = 0; i < cJSON_GetArraySize(inputs); i++)
        if (strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(inputs, i), "name")->valuestring,
                   "batch_size") == 0)
            cJSON_DeleteItemFromArray(inputs, i);
    EXPECT_SPEC_ERROR(root, "input \"batch_size\" is missing (expected a INT input)");

    root = embedded();
    cJSON_ReplaceItemInObject(input_named(root, "mask"), "type", cJSON_CreateString("IMAGE"));
    EXPECT_SPEC_ERROR(root, "input \"mask\": expected type MASK, got IMAGE");

    root = embedded();
    cJSON_DeleteItemFromArray(cJSON_GetObjectItem(node0(root), "outputs"), 1);
    EXPECT_SPEC_ERROR(root, "outputs: do not match");

    root = embedded();
    cJSON *model = input_named(root, "model");
    cJSON_DeleteItemFromObject(model, "options_from");
    EXPECT_SPEC_ERROR(root, "a COMBO needs exactly one of");

    root = embedded();
    model = input_named(root, "model");
    cJSON_DeleteItemFromObject(model, "options_from");
    const char *opts[] = {"a", "b"};
    cJSON_AddItemToObject(model, "options", cJSON_CreateStringArray(opts, 2));
    EXPECT_SPEC_ERROR(root, "default: \"isnet\" is not one of the options");

    root = embedded();
    cJSON_ReplaceItemInObject(input_named(root, "image"), "tooltip", cJSON_CreateNumber(3));
    EXPECT_SPEC_ERROR(root, "tooltip: expected a string, got a number");

    cutout_context *ctx = (cutout_context *)(uintptr_t)1;
    CHECK_ERROR(fixture_context("{\"schema_version\": 1, \"nodes\": [", &ctx), CUTOUT_ERR_SPEC,
                "not valid JSON");
    CHECK(ctx == NULL);
}

/* A spec with extra FLOAT / BOOLEAN / STRING / fixed COMBO inputs: the
 * library validates them too, even though the node does not read them. */
static void test_values_against_spec(const char *testdata)
{
    cJSON *root = embedded();
    cJSON *inputs = cJSON_GetObjectItem(node0(root), "inputs");
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "name", "strength");
    cJSON_AddStringToObject(f, "type", "FLOAT");
    cJSON_AddBoolToObject(f, "required", 0);
    cJSON_AddNumberToObject(f, "default", 0.5);
    cJSON_AddNumberToObject(f, "min", 0);
    cJSON_AddNumberToObject(f, "max", 1);
    cJSON_AddItemToArray(inputs, f);
    cJSON *c = cJSON_CreateObject();
    const char *opts[] = {"RGBA", "RGB"};
    cJSON_AddStringToObject(c, "name", "output");
    cJSON_AddStringToObject(c, "type", "COMBO");
    cJSON_AddBoolToObject(c, "required", 0);
    cJSON_AddItemToObject(c, "options", cJSON_CreateStringArray(opts, 2));
    cJSON_AddStringToObject(c, "default", "RGBA");
    cJSON_AddItemToArray(inputs, c);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);

    cutout_context *ctx = NULL;
    CHECK(fixture_context(json, &ctx) == CUTOUT_OK);
    free(json);
    test_image img = fixture_photo(testdata, "product_coffee.png", 1, 3);
    cutout_input in[4] = {
        {.name = "image", .kind = CUTOUT_VALUE_TENSOR, .tensor = &img.tensor},
        {.name = "model", .kind = CUTOUT_VALUE_STRING, .s = "stub"},
        {.name = "strength", .kind = CUTOUT_VALUE_FLOAT, .f = 1.5},
        {.name = "output", .kind = CUTOUT_VALUE_STRING, .s = "RGB"},
    };
    DLManagedTensor *out[2];
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", in, 4, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "strength: expected a number in 0..1, got 1.5");
    in[2].f = 0.25;
    in[3].s = "CMYK";
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", in, 4, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "output: expected one of \"RGBA\", \"RGB\", got \"CMYK\"");
    in[3].kind = CUTOUT_VALUE_INT;
    CHECK_ERROR(cutout_node_run(ctx, "CutoutRemoveBackground", in, 4, NULL, out, 2),
                CUTOUT_ERR_INVALID_INPUT, "output: expected a string for a COMBO input, got an INT");
    in[3].kind = CUTOUT_VALUE_STRING;
    in[3].s = "RGB";
    CHECK(cutout_node_run(ctx, "CutoutRemoveBackground", in, 4, NULL, out, 2) == CUTOUT_OK);
    fixture_release(out);
    /* Defaults fill everything optional: image and model alone run. */
    CHECK(cutout_node_run(ctx, "CutoutRemoveBackground", in, 2, NULL, out, 2) == CUTOUT_OK);
    fixture_release(out);
    CHECK(stub_live_tensors() == 0);
    fixture_image_free(&img);
    cutout_context_destroy(ctx);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s TESTDATA_DIR\n", argv[0]);
        return 2;
    }
    test_embedded_spec();
    test_broken_specs();
    test_values_against_spec(argv[1]);
    return fixture_finish("test_spec");
}
