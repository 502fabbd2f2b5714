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

/* The rule "auto" applies on a CPU with native bf16 to its timings of one
 * convolution (n rounds, seconds per call in fp32 and bf16), with
 * `class_bf16` as the CPU-class rule for a measurement in doubt. Writes the
 * chosen precision and the reason, truncated to fit. Never fails. */
void cutout_shim_precision_from_timings(const double *fp32_s, const double *bf16_s, size_t n,
                                        bool class_bf16, char *precision, size_t precision_cap,
                                        char *reason, size_t reason_cap);

#ifdef __cplusplus
}
#endif

#endif /* CUTOUT_SHIM_TESTING_H */
