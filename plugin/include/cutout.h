/*
 * cutout.h - the public C API of libcutout, background removal as nodes for
 * node-graph workflow engines.
 *
 * Conventions
 * - Pure C11; C++ hosts may include it as is.
 * - Every function that can fail returns a cutout_status: 0 is success, a
 *   positive value is not a failure (CUTOUT_CANCELLED), a negative value is
 *   a failure. The numbers are fixed and never reused.
 * - After a failure, cutout_last_error() returns a message for the calling
 *   thread, in the form "<input>: <problem> (expected X, got Y)".
 * - Objects are opaque handles. Parameter structs come from
 *   cutout_*_default_params(); their first field is struct_size, fields are
 *   only ever appended, and they are passed by const pointer.
 * - Inputs are borrowed: the library never writes to, keeps, or frees a
 *   DLTensor it is given. Outputs are DLManagedTensor owned by the caller,
 *   who calls their deleter exactly once. Deleters never call back into the
 *   host and stay valid while the library is loaded.
 * - Node descriptions (inputs, types, defaults, ranges, outputs) are data:
 *   cutout_nodes_json() returns the embedded nodes.json that the library
 *   validates every call against.
 *
 * Thread safety: a cutout_context may be shared by several threads; calls
 * on it may run concurrently. Each call's callbacks run on the calling
 * thread, before the call returns.
 */
#ifndef CUTOUT_H
#define CUTOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dlpack/dlpack.h>

#if defined(_WIN32)
#define CUTOUT_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CUTOUT_API __attribute__((visibility("default")))
#else
#define CUTOUT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct layout, a signature or a meaning changes. Hosts
 * compare it with cutout_abi_version() and refuse to run on a mismatch. */
#define CUTOUT_ABI_VERSION 1

/* Largest image a node accepts: H x W <= this, per batch item. */
#define CUTOUT_MAX_PIXELS ((int64_t)4194304)

/* Status codes. Values are fixed forever. */
typedef enum cutout_status {
    CUTOUT_OK = 0,
    CUTOUT_CANCELLED = 1,               /* should_abort returned true */
    CUTOUT_ERR_INVALID_ARGUMENT = -1,   /* NULL handle, bad struct_size, API misuse */
    CUTOUT_ERR_INVALID_INPUT = -2,      /* a node input fails its spec */
    CUTOUT_ERR_LIMIT = -3,              /* an image exceeds CUTOUT_MAX_PIXELS */
    CUTOUT_ERR_UNKNOWN_NODE = -4,       /* no node with that id */
    CUTOUT_ERR_MODEL_NOT_FOUND = -5,    /* no model file under any search path */
    CUTOUT_ERR_MODEL_INVALID = -6,      /* file is not a usable cutout model */
    CUTOUT_ERR_DEVICE = -7,             /* device unavailable or mixed devices */
    CUTOUT_ERR_OUT_OF_MEMORY = -8,
    CUTOUT_ERR_INFERENCE = -9,          /* the model failed or returned garbage */
    CUTOUT_ERR_SPEC = -10,              /* nodes.json is malformed */
    CUTOUT_ERR_INTERNAL = -12
} cutout_status;

/* Static name of a status, e.g. "CUTOUT_ERR_LIMIT". Never NULL. */
CUTOUT_API const char *cutout_status_string(cutout_status status);

/* Message of the last failure (or cancel) of a cutout call on the calling
 * thread; "" when there was none. The pointer is thread-local and stays
 * valid until the next cutout call on the same thread. */
CUTOUT_API const char *cutout_last_error(void);

/* CUTOUT_ABI_VERSION of the library actually loaded. */
CUTOUT_API int32_t cutout_abi_version(void);

/* Human version, e.g. "0.1.0". Static storage. */
CUTOUT_API const char *cutout_version_string(void);

/* Version of libtorch the library was built against, e.g. "1.13.1", so a
 * host that already runs a libtorch can refuse a mismatch. Static storage. */
CUTOUT_API const char *cutout_torch_version(void);

/* The embedded nodes.json, NUL-terminated, static storage. Hosts build their
 * node descriptions from these bytes. */
CUTOUT_API const char *cutout_nodes_json(void);

/* ------------------------------------------------------------------------ */
/* Context                                                                   */

typedef struct cutout_context cutout_context;

typedef struct cutout_context_params {
    size_t struct_size;          /* sizeof(cutout_context_params) */
    /* Directories searched for model files, in order, before the default
     * ones (CUTOUT_MODEL_PATH, a ':'-separated list, then models/ next to
     * the library, ../models and ../share/cutout/models from it; see
     * cutout_context_model_dir). NULL entries are skipped;
     * the strings are copied. */
    const char *const *model_dirs;
    size_t num_model_dirs;
    /* "cpu" (default), "cuda" or "cuda:N". NULL means "cpu". */
    const char *device;
    /* libtorch intra-op threads; 0 = the number of cores this process may
     * run on. Process-wide: the last context created wins. */
    int32_t num_threads;
    /* Alternative nodes.json text (NUL-terminated, copied) instead of the
     * embedded one; for hosts that test their own specs. NULL = embedded. */
    const char *nodes_json;
    /* Tuning; false is the default and the fastest choice measured.
     * cpu_shared_passes: on the CPU the items of a chunk (batch_size) share
     * one forward pass, as they always do on CUDA, instead of one pass
     * each; it needs more memory and was no faster (benchmarks/RESULTS.md).
     * no_direct_convolutions: bf16 on the CPU uses libtorch's own
     * convolutions instead of the library's direct oneDNN ones (which a
     * build may not have). Both apply to models the context loads. */
    bool cpu_shared_passes;
    bool no_direct_convolutions;
} cutout_context_params;

/* Defaults: no extra model dirs, device "cpu", num_threads 0, embedded
 * nodes.json. Never fails. */
CUTOUT_API cutout_context_params cutout_context_default_params(void);

/* Creates a context: parses and checks nodes.json, scans the model
 * directories, sets the thread count. Models load lazily on first use.
 * On success *out is a new context the caller frees with
 * cutout_context_destroy(); on failure *out is NULL.
 * Errors: INVALID_ARGUMENT (NULL out/params, struct_size too small),
 * SPEC (nodes.json malformed, message names the path in the document),
 * DEVICE (CUDA asked for but not available), OUT_OF_MEMORY. */
CUTOUT_API cutout_status cutout_context_create(const cutout_context_params *params,
                                               cutout_context **out);

/* Frees a context and every model it loaded. NULL is a no-op. No call may
 * be running on it. Outputs already returned stay valid. */
CUTOUT_API void cutout_context_destroy(cutout_context *ctx);

/* Installed models, by name (a model "isnet" is a file "isnet.pt" in one of
 * the search directories; the first directory wins). Names are owned by the
 * context and valid until it is destroyed. Returns the count (0 on a NULL
 * context); cutout_context_model_name returns NULL when i is out of range. */
CUTOUT_API int64_t cutout_context_model_count(const cutout_context *ctx);
CUTOUT_API const char *cutout_context_model_name(const cutout_context *ctx, int64_t i);

/* The directories this context searches for models, in order: the host's
 * model_dirs, then each entry of CUTOUT_MODEL_PATH (':'-separated), then
 * models/ beside the library, ../models and ../share/cutout/models from
 * it; each once, trailing
 * '/' removed. This is the library's one search rule: hosts ask for it
 * rather than restating it. Strings are owned by the context and valid
 * until it is destroyed. Returns the count (0 on a NULL context);
 * cutout_context_model_dir returns NULL when i is out of range.
 * Thread-safe (the list is fixed at creation). */
CUTOUT_API int64_t cutout_context_model_dir_count(const cutout_context *ctx);
CUTOUT_API const char *cutout_context_model_dir(const cutout_context *ctx, int64_t i);

/* Resolves a model name to the file it would load into buf (capacity
 * buf_cap). Errors: INVALID_ARGUMENT, MODEL_NOT_FOUND (message lists every
 * path searched and the command that fetches the default model). */
CUTOUT_API cutout_status cutout_context_model_path(cutout_context *ctx, const char *name,
                                                   char *buf, size_t buf_cap);

/* What model `name` computes in when a node asks for it in `precision`
 * ("auto", "fp32", "bf16" or "fp16", as the nodes' precision input takes
 * it). Loads the model onto the context's device unless it already holds it
 * in that precision, exactly as a node run would (so the run that follows
 * pays nothing more). Writes the result, "fp32", "bf16" or "fp16", into
 * chosen (capacity chosen_cap >= 8) and one sentence saying why "auto"
 * chose it into reason (capacity reason_cap; reason may be NULL when
 * reason_cap is 0; "" for a precision asked for by name), both truncated to
 * fit. Thread-safe.
 * Errors: INVALID_ARGUMENT (NULL ctx, name, precision or chosen, chosen_cap
 * < 8), MODEL_NOT_FOUND, MODEL_INVALID, DEVICE (precision not supported on
 * this device), OUT_OF_MEMORY. */
CUTOUT_API cutout_status cutout_context_model_precision(cutout_context *ctx, const char *name,
                                                        const char *precision, char *chosen,
                                                        size_t chosen_cap, char *reason,
                                                        size_t reason_cap);

/* ------------------------------------------------------------------------ */
/* Running a node                                                            */

typedef enum cutout_value_kind {
    CUTOUT_VALUE_TENSOR = 1,   /* IMAGE or MASK: `tensor` */
    CUTOUT_VALUE_INT = 2,      /* INT: `i` */
    CUTOUT_VALUE_FLOAT = 3,    /* FLOAT: `f` */
    CUTOUT_VALUE_BOOL = 4,     /* BOOLEAN: `b` */
    CUTOUT_VALUE_STRING = 5    /* COMBO or STRING: `s` */
} cutout_value_kind;

/* One named input. Only the field selected by `kind` is read. Everything
 * is borrowed for the duration of the call. The layout is fixed for this
 * CUTOUT_ABI_VERSION. */
typedef struct cutout_input {
    const char *name;
    cutout_value_kind kind;
    const DLTensor *tensor;
    int64_t i;
    double f;
    bool b;
    const char *s;
} cutout_input;

/* Progress after each batch item: done of total items finished. */
typedef void (*cutout_progress_fn)(int64_t done, int64_t total, void *user);
/* Polled before each item and between stages; true stops the call, which
 * then returns CUTOUT_CANCELLED with no outputs. */
typedef bool (*cutout_abort_fn)(void *user);

/* What the Advanced node's `temporal` input carries from one frame to the
 * next, for a host that hands a video to consecutive calls (the cutout
 * command does, a few frames per call). Its memory is a few planes of one
 * frame. Create it once per sequence; it is not thread-safe: one call at
 * a time uses it. */
typedef struct cutout_temporal cutout_temporal;

/* A fresh state. Errors: INVALID_ARGUMENT (out NULL), OUT_OF_MEMORY. */
CUTOUT_API cutout_status cutout_temporal_create(cutout_temporal **out);

/* Frees a state; NULL is a no-op. No call may be using it. */
CUTOUT_API void cutout_temporal_destroy(cutout_temporal *temporal);

typedef struct cutout_run_params {
    size_t struct_size;          /* sizeof(cutout_run_params) */
    cutout_progress_fn progress; /* may be NULL */
    void *progress_user;
    cutout_abort_fn should_abort; /* may be NULL */
    void *abort_user;
    /* Where `temporal` and `skip_similar` find the previous frame: NULL
     * means the batch of this call is the whole sequence; a state makes
     * this call's first frame follow the last frame of the previous call
     * that used it. Borrowed. */
    cutout_temporal *temporal;
} cutout_run_params;

/* Defaults: no callbacks. Never fails. */
CUTOUT_API cutout_run_params cutout_run_default_params(void);

/* Runs node `node_id` (an id from nodes.json) on `inputs` (num_inputs of
 * them, each name at most once; optional inputs may be left out and take
 * their defaults). Every input is validated against the node's spec before
 * any work starts.
 *
 * On success writes the node's outputs, in nodes.json order, to
 * outputs[0 .. n-1], where n is the node's output count and must be
 * <= num_outputs; the caller owns each and calls its deleter exactly once.
 * On any other status every outputs[i] is set to NULL and nothing is left
 * allocated. params may be NULL (defaults).
 *
 * Errors: INVALID_ARGUMENT (NULL ctx/outputs, too few output slots),
 * UNKNOWN_NODE, INVALID_INPUT (unknown, duplicate, missing or ill-typed
 * input, value out of range, bad tensor rank/shape/dtype/strides, NaN/Inf),
 * LIMIT, MODEL_NOT_FOUND, MODEL_INVALID, DEVICE, OUT_OF_MEMORY, INFERENCE;
 * CUTOUT_CANCELLED when should_abort returned true. */
CUTOUT_API cutout_status cutout_node_run(cutout_context *ctx, const char *node_id,
                                         const cutout_input *inputs, size_t num_inputs,
                                         const cutout_run_params *params,
                                         DLManagedTensor **outputs, size_t num_outputs);

#ifdef __cplusplus
}
#endif

#endif /* CUTOUT_H */
