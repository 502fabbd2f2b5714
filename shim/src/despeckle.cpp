// despeckle.cpp - see despeckle.hpp.
#include "despeckle.hpp"

#include <numeric>
#include <vector>

#include "matte_ops.hpp"

namespace cutout_shim {
namespace {

// The root of `i`'s set, halving the path on the way.
int32_t find_root(std::vector<int32_t> &parent, int32_t i) {
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

void unite(std::vector<int32_t> &parent, int32_t i, int32_t j) {
    i = find_root(parent, i);
    j = find_root(parent, j);
    // The smaller index becomes the root, so labels do not depend on order.
    if (i < j)
        parent[j] = i;
    else if (j < i)
        parent[i] = j;
}

}  // namespace

at::Tensor despeckle(const at::Tensor &a, int64_t area) {
    if (area <= 0) return a;
    const int64_t h = a.size(0), w = a.size(1);
    at::Tensor fg = (a >= 0.5).to(at::kByte).cpu().contiguous();
    const uint8_t *f = fg.data_ptr<uint8_t>();
    std::vector<int32_t> parent(static_cast<size_t>(h * w));
    std::iota(parent.begin(), parent.end(), 0);
    // Foreground joins its 8 neighbours, background its 4: the pairing under
    // which an island and the hole around it are each one component.
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
            const int32_t i = static_cast<int32_t>(y * w + x);
            const uint8_t v = f[i];
            if (x > 0 && f[i - 1] == v) unite(parent, i, i - 1);
            if (y > 0 && f[i - w] == v) unite(parent, i, static_cast<int32_t>(i - w));
            if (v && y > 0 && x > 0 && f[i - w - 1]) unite(parent, i, static_cast<int32_t>(i - w - 1));
            if (v && y > 0 && x + 1 < w && f[i - w + 1])
                unite(parent, i, static_cast<int32_t>(i - w + 1));
        }
    std::vector<int64_t> size(parent.size(), 0);
    std::vector<uint8_t> border(parent.size(), 0);
    for (int64_t i = 0; i < h * w; ++i) {
        const int32_t root = find_root(parent, static_cast<int32_t>(i));
        size[root]++;
        const int64_t y = i / w, x = i % w;
        if (y == 0 || x == 0 || y == h - 1 || x == w - 1) border[root] = 1;
    }
    // -1: an island's pixel to clear, +1: a hole's pixel to fill.
    at::Tensor change = at::zeros({h, w}, at::kChar);
    int8_t *c = change.data_ptr<int8_t>();
    bool any = false;
    for (int64_t i = 0; i < h * w; ++i) {
        const int32_t root = find_root(parent, static_cast<int32_t>(i));
        if (size[root] >= area) continue;
        if (f[i]) {
            c[i] = -1;
            any = true;
        } else if (!border[root]) {
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
