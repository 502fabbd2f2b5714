// precision.hpp - which precision a model runs in (shim-internal): the
// checks of an asked-for precision against the device, the CPU's bf16
// features, and "auto" on the CPU decided by timing one of the model's own
// convolutions in fp32 and bf16.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

namespace cutout_shim {

// A resolved precision ("fp32", "bf16", "fp16") and one sentence saying why
// it was chosen (empty when it was asked for by name).
struct precision_choice {
    std::string precision;
    std::string reason;
};

// True when this CPU computes bf16 natively (AMX-BF16 or AVX512-BF16) and
// oneDNN's ISA cap, when set, allows those kernels. Thread-safe.
bool cpu_has_native_bf16();

// Checks `asked` ("fp32", "bf16", "fp16", "auto"; NULL means "fp32")
// against `dev` and returns it, or what "auto" needs no measurement for:
// "fp16" on CUDA, "fp32" on a CPU without native bf16. Returns "auto" when
// only a measurement can decide (choose_cpu_auto).
// Throws INVALID_ARGUMENT for an unknown name, DEVICE for a precision the
// device cannot run (fp16 on the CPU, bf16 without native bf16).
precision_choice check_precision(const char *asked, const c10::Device &dev);

// Decides "auto" on a CPU with native bf16: times the most common 3 x 3
// convolution of `module` (its float32 weights) in fp32 and bf16,
// interleaved, until the fastest times settle (a few tens of ms), and keeps
// the precision that is clearly faster; when the two are within the noise,
// or the model has no such convolution, the CPU-class rule decides (bf16:
// every CPU with native bf16 measured so far ran the default model faster
// in bf16). The result is cached per process for each convolution shape and
// ISA cap, so each model pays for it once. Thread-safe; never throws for a
// measurement failure (the class rule decides then).
precision_choice choose_cpu_auto(const torch::jit::Module &module);

// The rule choose_cpu_auto applies to its timings (seconds, one entry per
// round and precision): bf16 when its fastest round is at least 10% faster
// than fp32's, fp32 when it is at least 10% slower, else (or when either
// side's median is more than 50% above its minimum: a noisy machine) the
// class rule, `class_bf16`. Exposed for tests through
// cutout_shim_testing.h.
precision_choice choose_from_timings(const std::vector<double> &fp32_s,
                                     const std::vector<double> &bf16_s, bool class_bf16);

}  // namespace cutout_shim
