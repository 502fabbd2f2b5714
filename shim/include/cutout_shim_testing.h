/*
 * cutout_shim_testing.h - shim functions that only tests call. The plugin
 * never includes this header; it is not part of the boundary the plugin
 * relies on.
 */
#ifndef CUTOUT_SHIM_TESTING_H
#define CUTOUT_SHIM_TESTING_H

#include "cutout_shim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The device the model lives on (the CPU for NULL). Never fails. */
DLDevice cutout_shim_model_device(const cutout_shim_model *model);

#ifdef __cplusplus
}
#endif

#endif /* CUTOUT_SHIM_TESTING_H */
