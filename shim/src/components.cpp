// components.cpp - see components.hpp.
#include "components.hpp"

#include <cstddef>
#include <numeric>

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

std::vector<int32_t> component_roots(const uint8_t *f, int64_t h, int64_t w) {
    std::vector<int32_t> parent(static_cast<size_t>(h * w));
    std::iota(parent.begin(), parent.end(), 0);
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
            const int32_t i = static_cast<int32_t>(y * w + x);
            const uint8_t v = f[i] != 0;
            if (x > 0 && (f[i - 1] != 0) == v) unite(parent, i, i - 1);
            if (y > 0 && (f[i - w] != 0) == v) unite(parent, i, static_cast<int32_t>(i - w));
            if (v && y > 0 && x > 0 && f[i - w - 1]) unite(parent, i, static_cast<int32_t>(i - w - 1));
            if (v && y > 0 && x + 1 < w && f[i - w + 1])
                unite(parent, i, static_cast<int32_t>(i - w + 1));
        }
    for (int64_t i = 0; i < h * w; ++i) parent[i] = find_root(parent, static_cast<int32_t>(i));
    return parent;
}

}  // namespace cutout_shim
