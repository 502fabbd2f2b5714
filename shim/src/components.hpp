// components.hpp - connected components of a binary plane, shared by
// despeckle and the subjects' motion. Errors: std::bad_alloc.
#pragma once

#include <cstdint>
#include <vector>

namespace cutout_shim {

// The component of every pixel of the h x w plane `f` (row-major, nonzero =
// foreground), as the index of its root pixel: foreground joins its 8
// neighbours, background its 4 (the pairing under which an island and the
// hole around it are each one component). The root is the component's
// smallest pixel index, so labels do not depend on the order of work.
std::vector<int32_t> component_roots(const uint8_t *f, int64_t h, int64_t w);

}  // namespace cutout_shim
