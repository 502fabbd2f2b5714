/*
 * stub_shim.h - controls of the C stub that stands in for the libtorch shim
 * in the unit tests (libcutout_stub.so).
 *
 * The stub implements cutout_shim.h on CPU memory only. A "model" is a text
 * file whose first line is "cutout-stub-model"; its predicted alpha for a
 * pixel is the mean of the pixel's RGB, clamped to 0..1, so tests can
 * predict every output value exactly. Outputs are calloc'ed and counted, so
 * tests can prove every deleter ran exactly once.
 */
#ifndef CUTOUT_STUB_SHIM_H
#define CUTOUT_STUB_SHIM_H

#include <stdint.h>

#define STUB_API __attribute__((visibility("default")))

/* Tensors allocated by the stub and not yet deleted. */
STUB_API int64_t stub_live_tensors(void);
/* Number of predict calls and the item count of each (up to 256 recorded). */
STUB_API int64_t stub_predict_calls(void);
STUB_API int64_t stub_predict_count(int64_t call);
/* Models loaded since the last reset. */
STUB_API int64_t stub_models_loaded(void);
/* The precision the last loaded model was prepared for. */
STUB_API const char *stub_last_precision(void);
/* The last thread count set. */
STUB_API int32_t stub_num_threads(void);
/* Make predict call number `call` (1-based, counted from the last reset)
 * fail with CUTOUT_SHIM_ERR_INFERENCE; 0 = never. */
STUB_API void stub_fail_predict_at(int64_t call);
/* Make the n-th allocation (1-based, from the last reset) fail; 0 = never. */
STUB_API void stub_fail_alloc_at(int64_t n);
/* Predict calls of more than `count` items fail with OUT_OF_MEMORY (0: never). */
STUB_API void stub_oom_above(int64_t count);
/* Resets the call counters and failure injections (not the live count). */
STUB_API void stub_reset(void);

#endif /* CUTOUT_STUB_SHIM_H */
