// despeckle.hpp - small islands and holes out of a matte, by connected
// components. Errors are libtorch's (c10::Error, std::bad_alloc).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace cutout_shim {

// `a` (H x W float32, any device) with every foreground island (8-connected
// pixels >= 0.5) smaller than `area` pixels cleared, with the soft rim
// around it, and every background hole (4-connected pixels < 0.5 that do
// not touch the border) smaller than `area` filled. `a` itself when area
// is 0. The components are labelled on the CPU (one byte per pixel and a
// 4-byte label go there and back); the result is on a's device and does
// not depend on it.
at::Tensor despeckle(const at::Tensor &a, int64_t area);

}  // namespace cutout_shim
