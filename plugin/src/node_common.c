/*
 * node_common.c - what every node implementation shares: shim failures as
 * statuses, releasing outputs, COMBO choices, progress and abort between
 * items. See nodes.h.
 */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "nodes.h"
#include "tensor_check.h"

/* A shim status is returned as the public status of the same value: each
 * pair is tied here, so renumbering either side fails the build. */
_Static_assert(CUTOUT_SHIM_OK == CUTOUT_OK, "shim status OK");
_Static_assert(CUTOUT_SHIM_CANCELLED == CUTOUT_CANCELLED, "shim status CANCELLED");
_Static_assert(CUTOUT_SHIM_ERR_INVALID_ARGUMENT == CUTOUT_ERR_INVALID_ARGUMENT,
               "shim status INVALID_ARGUMENT");
_Static_assert(CUTOUT_SHIM_ERR_INVALID_INPUT == CUTOUT_ERR_INVALID_INPUT, "shim status INVALID_INPUT");
_Static_assert(CUTOUT_SHIM_ERR_MODEL_NOT_FOUND == CUTOUT_ERR_MODEL_NOT_FOUND,
               "shim status MODEL_NOT_FOUND");
_Static_assert(CUTOUT_SHIM_ERR_MODEL_INVALID == CUTOUT_ERR_MODEL_INVALID, "shim status MODEL_INVALID");
_Static_assert(CUTOUT_SHIM_ERR_DEVICE == CUTOUT_ERR_DEVICE, "shim status DEVICE");
_Static_assert(CUTOUT_SHIM_ERR_OUT_OF_MEMORY == CUTOUT_ERR_OUT_OF_MEMORY, "shim status OUT_OF_MEMORY");
_Static_assert(CUTOUT_SHIM_ERR_INFERENCE == CUTOUT_ERR_INFERENCE, "shim status INFERENCE");
_Static_assert(CUTOUT_SHIM_ERR_INTERNAL == CUTOUT_ERR_INTERNAL, "shim status INTERNAL");

/* A shim failure: its message already names the input. */
cutout_status node_shim_failed(cutout_shim_status st, const char *err)
{
    return cutout_error_set_text((cutout_status)st, err[0] ? err : "shim: failed without a message");
}

void node_release(DLManagedTensor **t)
{
    if (*t) {
        if ((*t)->deleter) (*t)->deleter(*t);
        *t = NULL;
    }
}

const node_choice node_quality_choices[] = {
    {"fast", CUTOUT_SHIM_QUALITY_FAST}, {"best", CUTOUT_SHIM_QUALITY_BEST}, {NULL, 0}};
/* The model loader takes the precision by name; the values only say the
 * options are known. */
const node_choice node_precision_choices[] = {
    {"auto", 0}, {"fp32", 1}, {"bf16", 2}, {"fp16", 3}, {NULL, 0}};
const node_choice node_mask_convention_choices[] = {
    {"foreground = 1", 0}, {"LoadImage", 1}, {NULL, 0}};

cutout_status node_choice_of(const bound_inputs *in, const char *name, const node_choice *choices,
                          int32_t *out)
{
    const char *value = inputs_get(in, name)->s;
    for (const node_choice *c = choices; value && c->option; c++) {
        if (strcmp(c->option, value) == 0) {
            *out = c->value;
            return CUTOUT_OK;
        }
    }
    return cutout_error_set(CUTOUT_ERR_INTERNAL,
                            "%s: \"%s\" passed the spec check but has no implementation", name,
                            value ? value : "(none)");
}

cutout_status node_check_abort(const cutout_run_params *run, int64_t item, int64_t batch)
{
    if (!run->should_abort || !run->should_abort(run->abort_user)) return CUTOUT_OK;
    return cutout_error_set(CUTOUT_CANCELLED, "cancelled before item %lld of %lld",
                            (long long)item + 1, (long long)batch);
}

bool node_item_done(void *user, int64_t item)
{
    node_progress *p = user;
    const cutout_run_params *run = p->run;
    if (run->progress) run->progress(item + 1, p->total, run->progress_user);
    if (item + 1 < p->chunk_end && run->should_abort && run->should_abort(run->abort_user)) {
        p->cancelled_at = item + 1;
        return false;
    }
    return true;
}

cutout_status node_items_failed(cutout_shim_status st, const char *err,
                                const node_progress *progress)
{
    if (st == CUTOUT_SHIM_CANCELLED && progress->cancelled_at >= 0)
        return cutout_error_set(CUTOUT_CANCELLED, "cancelled before item %lld of %lld",
                                (long long)progress->cancelled_at + 1,
                                (long long)progress->total);
    return node_shim_failed(st, err);
}
