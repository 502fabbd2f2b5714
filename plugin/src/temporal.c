/* temporal.c - cutout_temporal: the host-held state of the Advanced node's
 * temporal smoothing, a thin owner of the shim's state. */
#include <stdlib.h>

#include "error.h"
#include "temporal.h"

CUTOUT_API cutout_status cutout_temporal_create(cutout_temporal **out)
{
    cutout_error_clear();
    if (!out) return cutout_error_set(CUTOUT_ERR_INVALID_ARGUMENT, "cutout_temporal_create: out is NULL");
    *out = NULL;
    cutout_temporal *t = calloc(1, sizeof *t);
    if (!t) return cutout_error_set(CUTOUT_ERR_OUT_OF_MEMORY, "temporal: out of memory");
    char err[512] = "";
    cutout_shim_status st = cutout_shim_temporal_new(&t->state, err, sizeof err);
    if (st != CUTOUT_SHIM_OK) {
        free(t);
        return cutout_error_set_text((cutout_status)st, err);
    }
    *out = t;
    return CUTOUT_OK;
}

CUTOUT_API void cutout_temporal_destroy(cutout_temporal *temporal)
{
    if (!temporal) return;
    cutout_shim_temporal_free(temporal->state);
    free(temporal);
}
