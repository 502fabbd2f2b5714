// graph_prepare.hpp - a loaded module made ready to run fast in a precision
// (shim-internal).
#pragma once

#include <string>

#include "model.hpp"

namespace cutout_shim {

// The dtype of the module's first floating-point parameter or buffer;
// float32 when it has none.
at::ScalarType weights_dtype(const torch::jit::Module &module);

// Freezes model.module, lowers it to `precision` ("fp32", "bf16" or
// "fp16") and sets up channels_last inputs. Throws MODEL_INVALID when the
// precision conversion fails; freezing is only an optimisation.
void prepare_for_inference(cutout_shim_model &model, const std::string &precision);

}  // namespace cutout_shim
