/* status.c - status names, version queries and the thread-local error text. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cutout.h"
#include "cutout_shim.h"
#include "error.h"

#define CUTOUT_ERROR_CAP 1024

static _Thread_local char error_text[CUTOUT_ERROR_CAP];

void cutout_error_clear(void) { error_text[0] = '\0'; }

const char *cutout_error_text(void) { return error_text; }

cutout_status cutout_error_set(cutout_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_text, sizeof error_text, fmt, ap);
    va_end(ap);
    return status;
}

cutout_status cutout_error_set_text(cutout_status status, const char *text)
{
    snprintf(error_text, sizeof error_text, "%s", text ? text : "");
    return status;
}

CUTOUT_API const char *cutout_last_error(void) { return error_text; }

CUTOUT_API const char *cutout_status_string(cutout_status status)
{
    switch (status) {
    case CUTOUT_OK: return "CUTOUT_OK";
    case CUTOUT_CANCELLED: return "CUTOUT_CANCELLED";
    case CUTOUT_ERR_INVALID_ARGUMENT: return "CUTOUT_ERR_INVALID_ARGUMENT";
    case CUTOUT_ERR_INVALID_INPUT: return "CUTOUT_ERR_INVALID_INPUT";
    case CUTOUT_ERR_LIMIT: return "CUTOUT_ERR_LIMIT";
    case CUTOUT_ERR_UNKNOWN_NODE: return "CUTOUT_ERR_UNKNOWN_NODE";
    case CUTOUT_ERR_MODEL_NOT_FOUND: return "CUTOUT_ERR_MODEL_NOT_FOUND";
    case CUTOUT_ERR_MODEL_INVALID: return "CUTOUT_ERR_MODEL_INVALID";
    case CUTOUT_ERR_DEVICE: return "CUTOUT_ERR_DEVICE";
    case CUTOUT_ERR_OUT_OF_MEMORY: return "CUTOUT_ERR_OUT_OF_MEMORY";
    case CUTOUT_ERR_INFERENCE: return "CUTOUT_ERR_INFERENCE";
    case CUTOUT_ERR_SPEC: return "CUTOUT_ERR_SPEC";
    case CUTOUT_ERR_INTERNAL: return "CUTOUT_ERR_INTERNAL";
    }
    return "CUTOUT_STATUS_UNKNOWN";
}

CUTOUT_API int32_t cutout_abi_version(void) { return CUTOUT_ABI_VERSION; }

CUTOUT_API const char *cutout_version_string(void) { return CUTOUT_VERSION_STRING; }

CUTOUT_API const char *cutout_torch_version(void) { return cutout_shim_torch_version(); }

extern const char cutout_embedded_nodes_json[];

CUTOUT_API const char *cutout_nodes_json(void) { return cutout_embedded_nodes_json; }
