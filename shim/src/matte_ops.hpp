// matte_ops.hpp - the matte filters of the finishing step (matte_ops.cpp).
// Inputs are float32 on any device; results are new tensors (or the input
// itself where a filter is a no-op). Errors are libtorch's (c10::Error,
// std::bad_alloc), translated by the exported function that calls them.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace cutout_shim {

// Guided filter regularisation: the guide variance below which the filter
// smooths instead of following the image.
constexpr double kGuidedEps = 1e-3;

// Guided filter (He, Sun, Tang 2010) of matte p (H x W) with the colour
// image I (3 x H x W) as guide, radius r; the result is clamped to 0..1.
at::Tensor guided_filter(const at::Tensor &I, const at::Tensor &p, int64_t r, double eps);

// Sums of x (... x H x W) over the (2r+1) x (2r+1) window around each pixel,
// clipped at the borders, accumulated in `acc` by prefix sums (the cost
// does not grow with r); the result is in `acc`.
at::Tensor box_sum(const at::Tensor &x, int64_t r, at::ScalarType acc);

// Dilation (grow > 0) or erosion (grow < 0) of an H x W matte by a
// (2|grow|+1) square; `a` itself when grow is 0.
at::Tensor grow_matte(const at::Tensor &a, int64_t grow);

// Gaussian blur of radius `radius` px (sigma = radius / 2); `a` itself
// when radius is 0.
at::Tensor blur_matte(const at::Tensor &a, double radius);

// The foreground colour (3 x H x W) of image I (3 x H x W) under matte a
// (H x W), estimated by blur fusion where 0 < a < 1, I elsewhere.
at::Tensor estimate_foreground(const at::Tensor &I, const at::Tensor &a);

}  // namespace cutout_shim
