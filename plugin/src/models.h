/*
 * models.h - where model files are searched for, which are installed, and
 * loading them (once per context) through the shim.
 *
 * A model named NAME is the file NAME.pt in the first search directory
 * that has it. Search order: the context's model_dirs, then each entry of
 * the environment variable CUTOUT_MODEL_PATH (':'-separated), then models/
 * next to the library and models/ in its parent directory.
 */
#ifndef CUTOUT_MODELS_H
#define CUTOUT_MODELS_H

#include "context.h"

/* The command that fetches the default model, for error messages. */
#define CUTOUT_FETCH_COMMAND "tools/fetch-model"

/* At most this many distinct models are loaded per context. */
#define CUTOUT_MAX_LOADED_MODELS 16

/* Fills ctx->model_dirs from params and the defaults. Errors: OUT_OF_MEMORY. */
cutout_status models_init_dirs(cutout_context *ctx, const cutout_context_params *params);

/* Fills ctx->model_names with every *.pt in the search dirs (first wins,
 * sorted). Unreadable directories are skipped. Errors: OUT_OF_MEMORY. */
cutout_status models_scan(cutout_context *ctx);

/* Resolves `name` to an existing file path (malloc'ed, caller frees).
 * Errors: INVALID_INPUT (a name with '/' or other characters outside
 * [A-Za-z0-9._-], or empty), MODEL_NOT_FOUND (lists every path searched). */
cutout_status models_resolve(const cutout_context *ctx, const char *name, char **path);

/* Returns model `name` prepared for `precision` ("auto", "fp32", "bf16",
 * "fp16"), loading it on first use of that pair. Thread-safe. The pointer
 * stays valid until the context is destroyed.
 * Errors: those of models_resolve, MODEL_INVALID, DEVICE, OUT_OF_MEMORY. */
cutout_status models_get(cutout_context *ctx, const char *name, const char *precision,
                         const loaded_model **out);

/* Frees every loaded model and the lists. */
void models_free(cutout_context *ctx);

#endif /* CUTOUT_MODELS_H */
