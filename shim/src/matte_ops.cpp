// matte_ops.cpp - the matte filters of the finishing step: guided filter,
// grow/shrink, blur and foreground colour estimation. Each is a libtorch
// op on the matte's own device, in float32 (box sums in float64).
#include "matte_ops.hpp"

#include <cmath>
#include <vector>

namespace cutout_shim {
namespace {

// Radii of the two blur-fusion passes (Forte and Pitie 2021, "Approximate
// fast foreground colour estimation"): a wide pass, then a narrow one.
constexpr int64_t kFusionRadiusWide = 90;
constexpr int64_t kFusionRadiusNarrow = 6;

// Sums over the window [i - r, i + r] along `dim`, clipped at the borders,
// accumulated in `acc` by prefix sums: O(n) whatever r.
at::Tensor box_sum_dim(const at::Tensor &x, int64_t dim, int64_t r, at::ScalarType acc) {
    const int64_t n = x.size(dim);
    at::Tensor c = at::cumsum(x.to(acc), dim);
    std::vector<int64_t> zero_shape(x.sizes().begin(), x.sizes().end());
    zero_shape[dim] = 1;
    c = at::cat({at::zeros(zero_shape, c.options()), c}, dim);  // c[k] = sum of x[0..k)
    auto long_opts = at::TensorOptions().dtype(at::kLong).device(x.device());
    at::Tensor i = at::arange(n, long_opts);
    at::Tensor hi = (i + r + 1).clamp_max(n), lo = (i - r).clamp_min(0);
    return c.index_select(dim, hi) - c.index_select(dim, lo);
}

// Mean over the window [i - r, i + r] along `dim`, clipped at the borders
// (so every output is an average of real pixels), summed in float64.
at::Tensor box_mean_dim(const at::Tensor &x, int64_t dim, int64_t r) {
    const int64_t n = x.size(dim);
    at::Tensor sum = box_sum_dim(x, dim, r, at::kDouble);
    auto long_opts = at::TensorOptions().dtype(at::kLong).device(x.device());
    at::Tensor i = at::arange(n, long_opts);
    std::vector<int64_t> count_shape(x.dim(), 1);
    count_shape[dim] = n;
    at::Tensor count = ((i + r + 1).clamp_max(n) - (i - r).clamp_min(0)).to(at::kDouble).view(count_shape);
    return (sum / count).to(x.scalar_type());
}

// Box mean over (2r+1) x (2r+1) of the last two dims.
at::Tensor box_mean(const at::Tensor &x, int64_t r) {
    return box_mean_dim(box_mean_dim(x, x.dim() - 1, r), x.dim() - 2, r);
}

}  // namespace

at::Tensor box_sum(const at::Tensor &x, int64_t r, at::ScalarType acc) {
    return box_sum_dim(box_sum_dim(x, x.dim() - 1, r, acc), x.dim() - 2, r, acc);
}

// Guided filter (He, Sun, Tang 2010) of matte p (H x W) with the colour
// image I (3 x H x W) as guide, radius r: per window, p ~ a . I + b.
at::Tensor guided_filter(const at::Tensor &I, const at::Tensor &p, int64_t r, double eps) {
    const int64_t h = p.size(0), w = p.size(1);
    at::Tensor mean_I = box_mean(I, r);                       // 3 x H x W
    at::Tensor mean_p = box_mean(p.unsqueeze(0), r);          // 1 x H x W
    at::Tensor cov_Ip = box_mean(I * p.unsqueeze(0), r) - mean_I * mean_p;
    // Covariance of the guide, 3 x 3 per pixel (6 distinct entries).
    at::Tensor sigma = at::empty({h, w, 3, 3}, p.options());
    for (int64_t i = 0; i < 3; i++)
        for (int64_t j = i; j < 3; j++) {
            at::Tensor v = box_mean(I[i] * I[j], r) - mean_I[i] * mean_I[j];
            if (i == j) v = v + eps;
            sigma.select(2, i).select(2, j).copy_(v);
            if (i != j) sigma.select(2, j).select(2, i).copy_(v);
        }
    at::Tensor rhs = cov_Ip.permute({1, 2, 0}).unsqueeze(-1);  // H x W x 3 x 1
    at::Tensor a = at::linalg_solve(sigma, rhs).squeeze(-1).permute({2, 0, 1});  // 3 x H x W
    at::Tensor b = mean_p.squeeze(0) - (a * mean_I).sum(0);
    return ((box_mean(a, r) * I).sum(0) + box_mean(b.unsqueeze(0), r).squeeze(0))
        .clamp_(0.0, 1.0);
}

// Dilation (grow > 0) or erosion (grow < 0) by a (2|grow|+1)-square,
// separably: a row pass, then a column pass.
at::Tensor grow_matte(const at::Tensor &a, int64_t grow) {
    if (grow == 0) return a;
    const int64_t r = grow > 0 ? grow : -grow, k = 2 * r + 1;
    at::Tensor x = (grow > 0 ? a : -a).view({1, 1, a.size(0), a.size(1)});
    x = at::max_pool2d(x, {1, k}, {1, 1}, {0, r});
    x = at::max_pool2d(x, {k, 1}, {1, 1}, {r, 0});
    x = x.view({a.size(0), a.size(1)});
    return grow > 0 ? x : -x;
}

// Gaussian blur of radius `radius` px (sigma = radius / 2, kernel clipped at
// 3 sigma), separable, borders replicated.
at::Tensor blur_matte(const at::Tensor &a, double radius) {
    if (radius <= 0.0) return a;
    const double sigma = radius / 2.0;
    const int64_t half = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3.0 * sigma)));
    at::Tensor t = at::arange(-half, half + 1, a.options()).to(at::kFloat);
    at::Tensor k = at::exp(-(t * t) / (2.0 * sigma * sigma));
    k = (k / k.sum()).to(a.scalar_type());
    at::Tensor x = a.view({1, 1, a.size(0), a.size(1)});
    x = at::replication_pad2d(x, {half, half, half, half});
    x = at::conv2d(x, k.view({1, 1, 1, 2 * half + 1}));
    x = at::conv2d(x, k.view({1, 1, 2 * half + 1, 1}));
    return x.view({a.size(0), a.size(1)}).clamp_(0.0, 1.0);
}

// Foreground colour by two passes of blur fusion: F is pulled towards the
// alpha-weighted local mean of the foreground, corrected so that
// alpha F + (1 - alpha) B reproduces the image. I: 3 x H x W, a: H x W.
at::Tensor estimate_foreground(const at::Tensor &I, const at::Tensor &a) {
    at::Tensor alpha = a.unsqueeze(0);
    at::Tensor F = I, B = I;
    for (int64_t r : {kFusionRadiusWide, kFusionRadiusNarrow}) {
        at::Tensor mean_a = box_mean(alpha, r);
        at::Tensor mean_F = box_mean(F * alpha, r) / (mean_a + 1e-5);
        at::Tensor mean_B = box_mean(B * (1.0 - alpha), r) / ((1.0 - mean_a) + 1e-5);
        F = (mean_F + alpha * (I - alpha * mean_F - (1.0 - alpha) * mean_B)).clamp_(0.0, 1.0);
        B = mean_B;
    }
    at::Tensor soft = at::logical_and(alpha > 0.0, alpha < 1.0);
    return at::where(soft, F, I);
}

}  // namespace cutout_shim
