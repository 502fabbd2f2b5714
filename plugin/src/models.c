/* models.c - model search paths, listing and lazy, once-only loading. */
#include "models.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

#define MODEL_SUFFIX ".pt"

static char *dup_n(const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

/* Appends a copy of dir[0..n) unless empty or already listed. */
static cutout_status add_dir(cutout_context *ctx, const char *dir, size_t n)
{
    while (n > 1 && dir[n - 1] == '/') n--;
    if (n == 0) return CUTOUT_OK;
    for (size_t i = 0; i < ctx->num_model_dirs; i++)
        if (strlen(ctx->model_dirs[i]) == n && strncmp(ctx->model_dirs[i], dir, n) == 0)
            return CUTOUT_OK;
    char **grown = realloc(ctx->model_dirs, (ctx->num_model_dirs + 1) * sizeof *grown);
    if (!grown) return cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "model search path: out of memory");
    ctx->model_dirs = grown;
    if (!(grown[ctx->num_model_dirs] = dup_n(dir, n)))
        return cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "model search path: out of memory");
    ctx->num_model_dirs++;
    return CUTOUT_OK;
}

cutout_status models_init_dirs(cutout_context *ctx, const cutout_context_params *params)
{
    cutout_status st;
    for (size_t i = 0; params->model_dirs && i < params->num_model_dirs; i++)
        if (params->model_dirs[i] &&
            (st = add_dir(ctx, params->model_dirs[i], strlen(params->model_dirs[i]))) != CUTOUT_OK)
            return st;
    const char *env = getenv("CUTOUT_MODEL_PATH");
    while (env && *env) {
        const char *end = strchr(env, ':');
        size_t n = end ? (size_t)(end - env) : strlen(env);
        if ((st = add_dir(ctx, env, n)) != CUTOUT_OK) return st;
        env = end ? end + 1 : NULL;
    }
    /* Next to the library itself: <libdir>/models, <libdir>/../models (a
     * build tree inside the repository) and <libdir>/../share/cutout/models
     * (an installed library). */
    Dl_info info;
    if (dladdr((void *)&models_init_dirs, &info) && info.dli_fname) {
        char *real = realpath(info.dli_fname, NULL);
        const char *lib = real ? real : info.dli_fname;
        const char *slash = strrchr(lib, '/');
        size_t dir_len = slash ? (size_t)(slash - lib) : 0;
        char buf[4096];
        if (slash && dir_len + 16 < sizeof buf) {
            snprintf(buf, sizeof buf, "%.*s/models", (int)dir_len, lib);
            st = add_dir(ctx, buf, strlen(buf));
            const char *up = dir_len ? memrchr(lib, '/', dir_len) : NULL;
            if (st == CUTOUT_OK && up) {
                snprintf(buf, sizeof buf, "%.*s/models", (int)(up - lib), lib);
                st = add_dir(ctx, buf, strlen(buf));
            }
            if (st == CUTOUT_OK && up && (size_t)(up - lib) + 32 < sizeof buf) {
                snprintf(buf, sizeof buf, "%.*s/share/cutout/models", (int)(up - lib), lib);
                st = add_dir(ctx, buf, strlen(buf));
            }
        } else {
            st = CUTOUT_OK;
        }
        free(real);
        if (st != CUTOUT_OK) return st;
    }
    return CUTOUT_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool name_listed(const cutout_context *ctx, const char *name, size_t n)
{
    for (size_t i = 0; i < ctx->num_model_names; i++)
        if (strlen(ctx->model_names[i]) == n && strncmp(ctx->model_names[i], name, n) == 0)
            return true;
    return false;
}

cutout_status models_scan(cutout_context *ctx)
{
    for (size_t d = 0; d < ctx->num_model_dirs; d++) {
        DIR *dir = opendir(ctx->model_dirs[d]);
        if (!dir) continue;
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            size_t len = strlen(e->d_name), suffix = strlen(MODEL_SUFFIX);
            if (len <= suffix || strcmp(e->d_name + len - suffix, MODEL_SUFFIX) != 0) continue;
            if (e->d_name[0] == '.' || name_listed(ctx, e->d_name, len - suffix)) continue;
            char **grown = realloc(ctx->model_names, (ctx->num_model_names + 1) * sizeof *grown);
            char *copy = grown ? dup_n(e->d_name, len - suffix) : NULL;
            if (grown) ctx->model_names = grown;
            if (!copy) {
                closedir(dir);
                return cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "model list: out of memory");
            }
            ctx->model_names[ctx->num_model_names++] = copy;
        }
        closedir(dir);
    }
    if (ctx->num_model_names > 1)
        qsort(ctx->model_names, ctx->num_model_names, sizeof *ctx->model_names, compare_names);
    return CUTOUT_OK;
}

static bool name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

cutout_status models_resolve(const cutout_context *ctx, const char *name, char **path)
{
    *path = NULL;
    if (!name_valid(name))
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "model: expected a model name of letters, digits, '.', '_' or "
                                "'-' (a file NAME.pt in a model folder), got \"%s\"",
                                name);
    char searched[2048];
    size_t used = 0;
    searched[0] = '\0';
    for (size_t d = 0; d < ctx->num_model_dirs; d++) {
        size_t n = strlen(ctx->model_dirs[d]) + strlen(name) + sizeof MODEL_SUFFIX + 2;
        char *candidate = malloc(n);
        if (!candidate) return cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "model: out of memory");
        snprintf(candidate, n, "%s/%s%s", ctx->model_dirs[d], name, MODEL_SUFFIX);
        struct stat sb;
        if (stat(candidate, &sb) == 0 && S_ISREG(sb.st_mode)) {
            *path = candidate;
            return CUTOUT_OK;
        }
        if (used < sizeof searched)
            used += (size_t)snprintf(searched + used, sizeof searched - used, "%s%s",
                                     d ? ", " : "", candidate);
        free(candidate);
    }
    return cutout_error_set(CUTOUT_ERR_MODEL_NOT_FOUND,
                            "model: \"%s\" not found (searched: %s); run %s to fetch the "
                            "default model, or put %s%s in one of those folders",
                            name, ctx->num_model_dirs ? searched : "no folders", CUTOUT_FETCH_COMMAND,
                            name, MODEL_SUFFIX);
}

cutout_status models_get(cutout_context *ctx, const char *name, const char *precision,
                         const loaded_model **out)
{
    *out = NULL;
    if (strlen(precision) >= sizeof ctx->loaded[0].precision)
        return cutout_error_set(CUTOUT_ERR_INVALID_INPUT,
                                "precision: expected auto, fp32, bf16 or fp16, got \"%s\"",
                                precision);
    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < ctx->num_loaded; i++) {
        if (strcmp(ctx->loaded[i].name, name) == 0 &&
            strcmp(ctx->loaded[i].precision, precision) == 0) {
            *out = &ctx->loaded[i];
            pthread_mutex_unlock(&ctx->lock);
            return CUTOUT_OK;
        }
    }
    /* Loading happens under the lock: concurrent first uses load once. The
     * array never moves once a pointer to an entry was handed out, so it is
     * allocated at a fixed capacity. */
    char *path = NULL;
    cutout_status st = models_resolve(ctx, name, &path);
    if (st == CUTOUT_OK && ctx->num_loaded == CUTOUT_MAX_LOADED_MODELS)
        st = cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY,
                              "model: \"%s\": this context already holds %d models", name,
                              CUTOUT_MAX_LOADED_MODELS);
    if (st == CUTOUT_OK && ctx->loaded == NULL &&
        !(ctx->loaded = calloc(CUTOUT_MAX_LOADED_MODELS, sizeof *ctx->loaded)))
        st = cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "model: out of memory");
    if (st == CUTOUT_OK) {
        loaded_model *slot = &ctx->loaded[ctx->num_loaded];
        char err[1024] = "";
        memset(slot, 0, sizeof *slot);
        const cutout_shim_load_params load = {sizeof load, precision, ctx->cpu_shared_passes,
                                              ctx->no_direct_convolutions};
        st = cutout_shim_model_load(path, ctx->device, &load, &slot->model, &slot->info, err,
                                    sizeof err);
        if (st != CUTOUT_OK) {
            cutout_error_set(st, "model: \"%s\": %s", name, err);
        } else if (!(slot->name = dup_n(name, strlen(name)))) {
            cutout_shim_model_free(slot->model);
            slot->model = NULL;
            st = cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "model: out of memory");
        } else {
            slot->path = path;
            path = NULL;
            snprintf(slot->precision, sizeof slot->precision, "%s", precision);
            ctx->num_loaded++;
            *out = slot;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    free(path);
    return st;
}

void models_free(cutout_context *ctx)
{
    for (size_t i = 0; i < ctx->num_loaded; i++) {
        cutout_shim_model_free(ctx->loaded[i].model);
        free(ctx->loaded[i].name);
        free(ctx->loaded[i].path);
    }
    free(ctx->loaded);
    for (size_t i = 0; i < ctx->num_model_dirs; i++) free(ctx->model_dirs[i]);
    free(ctx->model_dirs);
    for (size_t i = 0; i < ctx->num_model_names; i++) free(ctx->model_names[i]);
    free(ctx->model_names);
    ctx->loaded = NULL;
    ctx->model_dirs = NULL;
    ctx->model_names = NULL;
    ctx->num_loaded = ctx->num_model_dirs = ctx->num_model_names = 0;
}
