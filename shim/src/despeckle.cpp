// despeckle.cpp - see despeckle.hpp.
#include "despeckle.hpp"

#include <vector>

#include "components.hpp"
#include "matte_ops.hpp"

namespace cutout_shim {

at::Tensor despeckle(const at::Tensor &a, int64_t area) {
    if (area <= 0) return a;
    const int64_t h = a.size(0), w = a.size(1);
    at::Tensor fg = (a >= 0.5).to(at::kByte).cpu().contiguous();
    const uint8_t *f = fg.data_ptr<uint8_t>();
    const std::vector<int32_t> root = component_roots(f, h, w);
    std::vector<int64_t> size(root.size(), 0);
    std::vector<uint8_t> border(root.size(), 0);
    for (int64_t i = 0; i < h * w; ++i) {
        size[root[i]]++;
        const int64_t y = i / w, x = i % w;
        if (y == 0 || x == 0 || y == h - 1 || x == w - 1) border[root[i]] = 1;
    }
    // -1: an island's pixel to clear, +1: a hole's pixel to fill.
    at::Tensor change = at::zeros({h, w}, at::kChar);
    int8_t *c = change.data_ptr<int8_t>();
    bool any = false;
    for (int64_t i = 0; i < h * w; ++i) {
        if (size[root[i]] >= area) continue;
        if (f[i]) {
            c[i] = -1;
            any = true;
        } else if (!border[root[i]]) {
            c[i] = 1;
            any = true;
        }
    }
    if (!any) return a;
    change = change.to(a.device());
    at::Tensor island = (change < 0).to(a.scalar_type());
    // An island's soft rim (below 0.5, so outside its component) goes too.
    at::Tensor rim = at::logical_and(grow_matte(island, 2) > 0.5, a < 0.5);
    at::Tensor out = a.masked_fill(at::logical_or(change < 0, rim), 0.0);
    return out.masked_fill(change > 0, 1.0);
}

}  // namespace cutout_shim
