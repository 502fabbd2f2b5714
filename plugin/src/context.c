/* context.c - cutout_context creation, destruction and model queries. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "cutout.h"
#include "error.h"
#include "models.h"
#include "nodes.h"

CUTOUT_API cutout_context_params cutout_context_default_params(void)
{
    cutout_context_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.device = "cpu";
    return p;
}

/* Parses "cpu", "cuda" or "cuda:N". */
static cutout_status parse_device(const char *text, DLDevice *out, char *name, size_t cap)
{
    if (text == NULL || strcmp(text, "cpu") == 0) {
        *out = (DLDevice){kDLCPU, 0};
        snprintf(name, cap, "cpu");
        return CUTOUT_OK;
    }
    int index = 0;
    char tail = '\0';
    if (strcmp(text, "cuda") == 0 ||
        (sscanf(text, "cuda:%d%c", &index, &tail) == 1 && index >= 0 && index < 1024)) {
        *out = (DLDevice){kDLCUDA, index};
        snprintf(name, cap, "cuda:%d", index);
        return CUTOUT_OK;
    }
    return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT,
                            "device: expected \"cpu\", \"cuda\" or \"cuda:N\", got \"%s\"", text);
}

static int32_t available_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    return 1;
}

CUTOUT_API cutout_status cutout_context_create(const cutout_context_params *params,
                                               cutout_context **out)
{
    cutout_error_clear();
    if (out == NULL)
        return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT, "cutout_context_create: out is NULL");
    *out = NULL;
    cutout_context_params p = cutout_context_default_params();
    if (params) {
        if (params->struct_size < sizeof(size_t) || params->struct_size > (1u << 16))
            return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT,
                                    "params.struct_size: expected sizeof(cutout_context_params) "
                                    "= %zu, got %zu",
                                    sizeof p, params->struct_size);
        memcpy(&p, params, params->struct_size < sizeof p ? params->struct_size : sizeof p);
    }
    if (p.num_threads < 0)
        return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT,
                                "num_threads: expected 0 (all available cores) or more, got %d",
                                (int)p.num_threads);

    cutout_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "context: out of memory");
    pthread_mutex_init(&ctx->lock, NULL);

    char err[1024] = "";
    cutout_status st = parse_device(p.device, &ctx->device, ctx->device_name,
                                    sizeof ctx->device_name);
    if (st == CUTOUT_OK) st = spec_parse(p.nodes_json ? p.nodes_json : cutout_nodes_json(), &ctx->spec);
    if (st == CUTOUT_OK) st = nodes_check_spec(&ctx->spec);
    if (st == CUTOUT_OK && ctx->device.device_type == kDLCUDA) {
        bool cuda = false;
        st = cutout_shim_cuda_available(&cuda, err, sizeof err);
        if (st != CUTOUT_OK)
            cutout_error_set(st, "device: %s", err);
        else if (!cuda)
            st = cutout_error_set(CUTOUT_ERR_DEVICE,
                                  "device: \"%s\" asked for, but this build of libtorch has no "
                                  "usable CUDA (expected \"cpu\")",
                                  ctx->device_name);
    }
    ctx->cpu_shared_passes = p.cpu_shared_passes;
    ctx->no_direct_convolutions = p.no_direct_convolutions;
    if (st == CUTOUT_OK) st = models_init_dirs(ctx, &p);
    if (st == CUTOUT_OK) st = models_scan(ctx);
    if (st == CUTOUT_OK) {
        int32_t threads = p.num_threads > 0 ? p.num_threads : available_cores();
        st = cutout_shim_set_num_threads(threads, err, sizeof err);
        if (st != CUTOUT_OK) cutout_error_set(st, "num_threads: %s", err);
    }
    if (st != CUTOUT_OK) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", cutout_last_error());
        cutout_context_destroy(ctx);
        return cutout_error_set_text(st, keep);
    }
    *out = ctx;
    return CUTOUT_OK;
}

CUTOUT_API void cutout_context_destroy(cutout_context *ctx)
{
    if (!ctx) return;
    models_free(ctx);
    spec_free(&ctx->spec);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

CUTOUT_API int64_t cutout_context_model_count(const cutout_context *ctx)
{
    return ctx ? (int64_t)ctx->num_model_names : 0;
}

CUTOUT_API const char *cutout_context_model_name(const cutout_context *ctx, int64_t i)
{
    if (!ctx || i < 0 || (size_t)i >= ctx->num_model_names) return NULL;
    return ctx->model_names[i];
}

CUTOUT_API int64_t cutout_context_model_dir_count(const cutout_context *ctx)
{
    return ctx ? (int64_t)ctx->num_model_dirs : 0;
}

CUTOUT_API const char *cutout_context_model_dir(const cutout_context *ctx, int64_t i)
{
    if (!ctx || i < 0 || (size_t)i >= ctx->num_model_dirs) return NULL;
    return ctx->model_dirs[i];
}

CUTOUT_API cutout_status cutout_context_model_path(cutout_context *ctx, const char *name,
                                                   char *buf, size_t buf_cap)
{
    cutout_error_clear();
    if (!ctx || !name || !buf || buf_cap == 0)
        return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT,
                                "cutout_context_model_path: ctx, name and buf must be non-NULL "
                                "and buf_cap > 0");
    buf[0] = '\0';
    char *path = NULL;
    cutout_status st = models_resolve(ctx, name, &path);
    if (st != CUTOUT_OK) return st;
    size_t n = strlen(path);
    if (n >= buf_cap) {
        free(path);
        return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT,
                                "buf_cap: the path needs %zu bytes, got %zu", n + 1, buf_cap);
    }
    memcpy(buf, path, n + 1);
    free(path);
    return CUTOUT_OK;
}

CUTOUT_API cutout_status cutout_context_model_precision(cutout_context *ctx, const char *name,
                                                        const char *precision, char *chosen,
                                                        size_t chosen_cap, char *reason,
                                                        size_t reason_cap)
{
    cutout_error_clear();
    if (!ctx || !name || !precision || !chosen || chosen_cap < 8 || (!reason && reason_cap > 0))
        return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT,
                                "cutout_context_model_precision: ctx, name, precision and chosen "
                                "must be non-NULL, chosen_cap >= 8, reason non-NULL when "
                                "reason_cap > 0");
    chosen[0] = '\0';
    if (reason_cap > 0) reason[0] = '\0';
    const loaded_model *model = NULL;
    cutout_status st = models_get(ctx, name, precision, &model);
    if (st != CUTOUT_OK) return st;
    snprintf(chosen, chosen_cap, "%s", model->info.precision);
    if (reason_cap > 0) snprintf(reason, reason_cap, "%s", model->info.precision_reason);
    return CUTOUT_OK;
}
