// predict.hpp - the model's mattes for items of an image, for the exported
// cutout_shim_predict_alpha and the frames' path in temporal.cpp.
#pragma once

#include "cutout_shim.h"

namespace cutout_shim {

// What cutout_shim_predict_alpha does (see cutout_shim.h), throwing a
// shim_error instead of returning a status: the caller runs it inside
// guarded(). Writes only items [first, first + count) of alpha_out.
void predict_items(cutout_shim_model *model, const DLTensor *image, int64_t first, int64_t count,
                   const cutout_shim_predict_params *params, DLTensor *alpha_out,
                   cutout_shim_abort_fn abort, void *abort_user);

}  // namespace cutout_shim
