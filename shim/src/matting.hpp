// matting.hpp - alpha solved from the image where it is unknown: closed-form
// matting (Levin, Lischinski, Weiss 2008) with the matting Laplacian applied
// matrix-free through box filters (He, Sun, Tang 2010, large-kernel
// matting), by conjugate gradients on the unknown pixels only. libtorch
// ops on the image's device; errors are libtorch's, and shim_error
// (CANCELLED) from the abort callback.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "cutout_shim.h"

namespace cutout_shim {

// What the solver is given for one image. Tensors are H x W float32 on the
// image's device, except `unknown` (bool).
struct trimap {
    at::Tensor known;    // alpha where it is known (0 or 1); ignored where unknown
    at::Tensor unknown;  // true where alpha is solved from the image
};

// The trimap of a coarse selection (`mask` >= 0.5): `band` px on each side
// of its edge unknown, inside foreground, outside background.
trimap trimap_from_hint(const at::Tensor &mask, int64_t band);

// The trimap a user drew: 0 background, 1 foreground, values between
// unknown. `mask` must hold values in 0..1 (the caller checks).
trimap trimap_from_values(const at::Tensor &mask);

// The trimap of a model's matte: confident inside (>= 0.95) and outside
// (<= 0.05), unknown where it is soft or at its 0.5 edge, widened by a few
// pixels.
trimap trimap_from_matte(const at::Tensor &alpha);

// The matte of `image` (3 x H x W float32 in 0..1) for `t`: known pixels
// keep their value; unknown ones minimise the matting energy plus a pull
// of weight kPriorWeight towards `prior` (H x W, the model's matte, which
// also starts the iteration). Only the 32 x 32 tiles that hold an unknown
// pixel are worked on, each with the halo its windows read: time and
// memory follow the unknown region. `abort` (may be NULL) is polled
// between iterations. Returns H x W float32 in 0..1.
at::Tensor solve_matte(const at::Tensor &image, const trimap &t, const at::Tensor &prior,
                       cutout_shim_abort_fn abort, void *abort_user);

}  // namespace cutout_shim
