/*
 * context.h - the cutout_context struct, shared by the plugin's sources.
 */
#ifndef CUTOUT_CONTEXT_H
#define CUTOUT_CONTEXT_H

#include <pthread.h>

#include "cutout.h"
#include "cutout_shim.h"
#include "spec.h"

/* One model loaded onto the context's device, kept until the context dies. */
typedef struct loaded_model {
    char *name;
    char precision[8];       /* as asked for ("auto" included); info.precision is the result */
    char *path;
    cutout_shim_model *model;
    cutout_shim_model_info info;
} loaded_model;

struct cutout_context {
    spec_doc spec;
    DLDevice device;
    char device_name[32];
    bool cpu_shared_passes;       /* cutout_context_params */
    bool no_direct_convolutions;
    char **model_dirs;       /* search order */
    size_t num_model_dirs;
    char **model_names;      /* installed at creation, sorted */
    size_t num_model_names;

    pthread_mutex_t lock;    /* guards `loaded` */
    loaded_model *loaded;
    size_t num_loaded;
};

#endif /* CUTOUT_CONTEXT_H */
