/* model_provenance.c - a model's licence and source from its folder's
 * manifest.json, for --list-models. */
#include "model_provenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* A manifest lists a handful of models; anything larger is not one. */
#define MANIFEST_MAX_BYTES (1 << 20)

static char *read_small_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *text = malloc(MANIFEST_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, MANIFEST_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (text == NULL || n > MANIFEST_MAX_BYTES) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

static void copy_string(const cJSON *item, char *dst, size_t cap)
{
    if (cJSON_IsString(item) && item->valuestring != NULL)
        snprintf(dst, cap, "%s", item->valuestring);
}

bool model_provenance(const char *model_path, const char *name, char *license, size_t license_cap,
                      char *source, size_t source_cap)
{
    license[0] = source[0] = '\0';
    const char *slash = strrchr(model_path, '/');
    char manifest[4096];
    if (slash == NULL)
        snprintf(manifest, sizeof manifest, "manifest.json");
    else if (snprintf(manifest, sizeof manifest, "%.*s/manifest.json", (int)(slash - model_path),
                      model_path) >= (int)sizeof manifest)
        return false;
    char *text = read_small_file(manifest);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(models, name), "meta");
    copy_string(cJSON_GetObjectItemCaseSensitive(meta, "license"), license, license_cap);
    copy_string(cJSON_GetObjectItemCaseSensitive(meta, "source"), source, source_cap);
    cJSON_Delete(root);
    return license[0] != '\0' || source[0] != '\0';
}
