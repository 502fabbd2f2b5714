// motion.cpp - see motion.hpp.
#include "motion.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>
#include <vector>

#include "components.hpp"
#include "tensor_bridge.hpp"

namespace cutout_shim {
namespace {

// Subjects' motion and the trust are measured on colour reduced to this
// longer side: full resolution for most video, and a bounded cost for 4K.
constexpr int64_t kColourSide = 1024;
// The dense flow and the frame-level judgements use luminance reduced to
// this side: it averages sensor noise away and costs little.
constexpr int64_t kLumaSide = 256;
// Dense flow: Lucas-Kanade in (2 kFlowRadius + 1)^2 windows, kFlowIterations
// refinements a level, coarse to fine down to kFlowCoarsest pixels a side.
constexpr int64_t kFlowRadius = 4;
constexpr int kFlowIterations = 3;
constexpr int64_t kFlowCoarsest = 32;
// A subject is a connected region of the previous matte (>= 0.5) of at
// least kSubjectShare of the frame; the kMaxSubjects largest get a motion.
constexpr double kSubjectShare = 0.001;
constexpr size_t kMaxSubjects = 8;
// The pixels a subject's motion is fitted on: its region grown by this
// many pixels, weighted by the previous matte.
constexpr int64_t kFitGrow = 4;
// A subject's motion applies up to this many pixels outside its region,
// where its edge moved to or from.
constexpr int64_t kReach = 16;
// The fit: coarse to fine from this longer side up to kFitSide (finer adds
// cost, not precision that shows in a matte), kFitSteps Gauss-Newton steps a
// level, stopping early once a step moves less than kFitDone px.
constexpr int64_t kCoarsestSide = 96;
constexpr int64_t kFitSide = 512;
constexpr int kFitSteps = 6;
constexpr double kFitDone = 1e-3;
// Trust: the mean colour difference left after the motion, averaged over
// the subject's pixels within kTrustRadius, from kResidualFloor (trusted)
// to kResidualFloor + kResidualSpan (not at all).
constexpr int64_t kTrustRadius = 3;
constexpr double kResidualFloor = 0.02;
constexpr double kResidualSpan = 0.04;

// Mean over a (2r+1)^2 window, borders replicated.
at::Tensor box(const at::Tensor &x, int64_t r) {
    return at::avg_pool2d(at::replication_pad2d(x, {r, r, r, r}), {2 * r + 1, 2 * r + 1}, {1, 1});
}

// Share of a (2r+1)^2 window that is inside `x` (zeros outside the frame),
// as two passes of one dimension.
at::Tensor reach(const at::Tensor &x, int64_t r) {
    at::Tensor rows = at::avg_pool2d(x, {1, 2 * r + 1}, {1, 1}, {0, r});
    return at::avg_pool2d(rows, {2 * r + 1, 1}, {1, 1}, {r, 0});
}

// Central-difference gradients of an N x C x h x w stack.
std::pair<at::Tensor, at::Tensor> gradients(const at::Tensor &y) {
    const int64_t h = y.size(2), w = y.size(3);
    at::Tensor p = at::replication_pad2d(y, {1, 1, 1, 1});
    at::Tensor gx = (p.narrow(3, 2, w) - p.narrow(3, 0, w)).narrow(2, 1, h) * 0.5;
    at::Tensor gy = (p.narrow(2, 2, h) - p.narrow(2, 0, h)).narrow(3, 1, w) * 0.5;
    return {gx, gy};
}

at::Tensor luma(const at::Tensor &colour) {
    return colour.select(1, 0).unsqueeze(1) * 0.299 + colour.select(1, 1).unsqueeze(1) * 0.587 +
           colour.select(1, 2).unsqueeze(1) * 0.114;
}

// Area-reduces a 1 x C x h x w plane so that its longer side is at most `side`.
at::Tensor reduced(const at::Tensor &x, int64_t side) {
    const int64_t longer = std::max(x.size(2), x.size(3));
    if (longer <= side) return x;
    const double scale = static_cast<double>(side) / static_cast<double>(longer);
    const int64_t h = std::max<int64_t>(1, std::llround(x.size(2) * scale));
    const int64_t w = std::max<int64_t>(1, std::llround(x.size(3) * scale));
    return at::adaptive_avg_pool2d(x, {h, w});
}

// A flow field (1 x 1 x h x w, pixels) brought to h2 x w2 pixels.
at::Tensor resized_flow(const at::Tensor &f, int64_t h2, int64_t w2, bool horizontal) {
    if (f.size(2) == h2 && f.size(3) == w2) return f;
    const double scale = horizontal ? static_cast<double>(w2) / f.size(3)
                                    : static_cast<double>(h2) / f.size(2);
    return at::upsample_bilinear2d(f, {h2, w2}, false) * scale;
}

// Lucas-Kanade flow from y0 to y1 (1 x 1 x h x w), coarse to fine from
// kFlowCoarsest pixels a side, so that a motion of several pixels is found.
std::pair<at::Tensor, at::Tensor> dense_flow(const at::Tensor &y0, const at::Tensor &y1) {
    std::vector<std::pair<at::Tensor, at::Tensor>> levels{{y0, y1}};
    while (std::max(levels.back().first.size(2), levels.back().first.size(3)) > 2 * kFlowCoarsest)
        levels.emplace_back(at::avg_pool2d(levels.back().first, {2, 2}, {2, 2}, {0, 0}, true),
                            at::avg_pool2d(levels.back().second, {2, 2}, {2, 2}, {0, 0}, true));
    at::Tensor u, v;
    for (size_t i = levels.size(); i-- > 0;) {
        const auto &[a, b] = levels[i];
        if (!u.defined()) {
            u = at::zeros_like(a);
            v = at::zeros_like(a);
        } else {
            u = resized_flow(u, a.size(2), a.size(3), true);
            v = resized_flow(v, a.size(2), a.size(3), false);
        }
        for (int k = 0; k < kFlowIterations; ++k) {
            at::Tensor w0 = moved(a, u, v, false);
            auto [gx, gy] = gradients((w0 + b) * 0.5);
            at::Tensor it = b - w0;
            at::Tensor p = box(gx * gx, kFlowRadius), q = box(gx * gy, kFlowRadius);
            at::Tensor r = box(gy * gy, kFlowRadius);
            at::Tensor s = box(gx * it, kFlowRadius), t = box(gy * it, kFlowRadius);
            at::Tensor det = p * r - q * q + 1e-6;
            u = u - (r * s - q * t) / det;
            v = v - (p * t - q * s) / det;
        }
    }
    return {u, v};
}

// An affine motion about the centre (cx, cy): u = m[0] (x - cx) + m[1]
// (y - cy) + m[2], v = m[3] (x - cx) + m[4] (y - cy) + m[5].
struct affine {
    std::array<double, 6> m{};
    double cx = 0.0, cy = 0.0;
};

// Pixel bounds [x0, x1) x [y0, y1) of a subject.
struct bounds {
    int64_t x0, y0, x1, y1;
};

// The 6 x 6 system `h d = g` solved by elimination with partial pivoting,
// `h` made definite by a small ridge first; false when it stays singular.
bool solve6(std::array<double, 36> h, std::array<double, 6> g, std::array<double, 6> &d) {
    double trace = 0.0;
    for (int i = 0; i < 6; ++i) trace += h[i * 7];
    if (!(trace > 0.0)) return false;
    for (int i = 0; i < 6; ++i) h[i * 7] += 1e-9 * trace;
    for (int col = 0; col < 6; ++col) {
        int pivot = col;
        for (int r = col + 1; r < 6; ++r)
            if (std::fabs(h[r * 6 + col]) > std::fabs(h[pivot * 6 + col])) pivot = r;
        if (std::fabs(h[pivot * 6 + col]) < 1e-300) return false;
        for (int k = 0; k < 6; ++k) std::swap(h[col * 6 + k], h[pivot * 6 + k]);
        std::swap(g[col], g[pivot]);
        for (int r = col + 1; r < 6; ++r) {
            const double f = h[r * 6 + col] / h[col * 6 + col];
            for (int k = col; k < 6; ++k) h[r * 6 + k] -= f * h[col * 6 + k];
            g[r] -= f * g[col];
        }
    }
    for (int r = 5; r >= 0; --r) {
        double s = g[r];
        for (int k = r + 1; k < 6; ++k) s -= h[r * 6 + k] * d[k];
        d[r] = s / h[r * 6 + r];
    }
    for (double x : d)
        if (!std::isfinite(x)) return false;
    return true;
}

// Gauss-Newton steps fitting `motion` (at this level's pixels) so that c0
// moved by it matches c1 inside the box `b`, each pixel weighted by `weight`.
void fit_level(const at::Tensor &c0, const at::Tensor &c1, const at::Tensor &weight,
               const bounds &b, affine &motion) {
    const int64_t h = c0.size(2), w = c0.size(3);
    const int64_t bw = b.x1 - b.x0, bh = b.y1 - b.y0;
    auto opts = c0.options();
    at::Tensor xs = at::arange(b.x0, b.x1, opts).view({1, 1, 1, bw});
    at::Tensor ys = at::arange(b.y0, b.y1, opts).view({1, 1, bh, 1});
    at::Tensor dx = (xs - motion.cx).expand({1, 1, bh, bw});
    at::Tensor dy = (ys - motion.cy).expand({1, 1, bh, bw});
    at::Tensor target = c1.narrow(2, b.y0, bh).narrow(3, b.x0, bw);
    at::Tensor wt = weight.narrow(2, b.y0, bh).narrow(3, b.x0, bw);
    for (int step = 0; step < kFitSteps; ++step) {
        const auto &m = motion.m;
        at::Tensor u = dx * m[0] + dy * m[1] + m[2];
        at::Tensor v = dx * m[3] + dy * m[4] + m[5];
        at::Tensor gx = (xs - u + 0.5) * (2.0 / w) - 1.0;
        at::Tensor gy = (ys - v + 0.5) * (2.0 / h) - 1.0;
        at::Tensor grid = at::stack({gx.squeeze(1), gy.squeeze(1)}, -1);
        at::Tensor w0 = at::grid_sampler(c0, grid, 0, 1, false);
        auto [ix, iy] = gradients((w0 + target) * 0.5);
        at::Tensor it = target - w0;
        // The residual's derivative by each parameter: the image gradient
        // times the parameter's part of the flow, for every channel.
        at::Tensor jac = at::stack({ix * dx, ix * dy, ix, iy * dx, iy * dy, iy}).reshape({6, -1});
        at::Tensor weighted = jac * wt.expand_as(it).reshape({1, -1});
        at::Tensor hess = weighted.matmul(jac.t()).to(at::kDouble).cpu().contiguous();
        at::Tensor grad = weighted.matmul(it.reshape({-1})).to(at::kDouble).cpu().contiguous();
        std::array<double, 36> hm;
        std::array<double, 6> gm, d{};
        std::copy_n(hess.data_ptr<double>(), 36, hm.begin());
        std::copy_n(grad.data_ptr<double>(), 6, gm.begin());
        if (!solve6(hm, gm, d)) return;
        // The flow samples c0 at x - u, so a positive residual moves u down.
        for (int k = 0; k < 6; ++k) motion.m[k] -= d[k];
        if (std::fabs(d[2]) < kFitDone && std::fabs(d[5]) < kFitDone) return;
    }
}

// The affine motion of one subject from c0 to c1 (1 x 3 x h x w), fitted
// coarse to fine on the pixels `weight` (1 x 1 x h x w) marks inside `b`.
affine fit_subject(const at::Tensor &c0, const at::Tensor &c1, const at::Tensor &weight,
                   const bounds &b) {
    std::vector<std::array<at::Tensor, 3>> levels{{c0, c1, weight}};
    while (std::max(levels.back()[0].size(2), levels.back()[0].size(3)) > 2 * kCoarsestSide) {
        std::array<at::Tensor, 3> next;
        for (int k = 0; k < 3; ++k)
            next[k] = at::avg_pool2d(levels.back()[k], {2, 2}, {2, 2}, {0, 0}, /*ceil_mode=*/true);
        levels.push_back(next);
    }
    affine motion;
    double scale_before = 0.0;
    for (size_t i = levels.size(); i-- > 0;) {
        const auto &[a, c, wt] = levels[i];
        if (std::max(a.size(2), a.size(3)) > kFitSide && scale_before > 0.0) break;
        const double scale = static_cast<double>(a.size(3)) / c0.size(3);
        if (scale_before > 0.0) {
            motion.m[2] *= scale / scale_before;
            motion.m[5] *= scale / scale_before;
        }
        scale_before = scale;
        motion.cx = (0.5 * (b.x0 + b.x1)) * scale - 0.5;
        motion.cy = (0.5 * (b.y0 + b.y1)) * scale - 0.5;
        bounds lb{std::clamp<int64_t>(static_cast<int64_t>(std::floor(b.x0 * scale)), 0, a.size(3) - 1),
                  std::clamp<int64_t>(static_cast<int64_t>(std::floor(b.y0 * scale)), 0, a.size(2) - 1),
                  0, 0};
        lb.x1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(b.x1 * scale)), lb.x0 + 1, a.size(3));
        lb.y1 = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(b.y1 * scale)), lb.y0 + 1, a.size(2));
        fit_level(a, c, wt, lb, motion);
    }
    motion.m[2] /= scale_before;
    motion.m[5] /= scale_before;
    motion.cx = 0.5 * (b.x0 + b.x1) - 0.5;
    motion.cy = 0.5 * (b.y0 + b.y1) - 0.5;
    return motion;
}

// The subjects of a matte (1 x 1 x h x w): for each of the largest
// connected regions >= 0.5, a 0/1 plane on the matte's device and its
// bounds grown by kFitGrow + kReach.
std::vector<std::pair<at::Tensor, bounds>> subjects(const at::Tensor &matte) {
    const int64_t h = matte.size(2), w = matte.size(3);
    at::Tensor fg = (matte.reshape({h, w}) >= 0.5).to(at::kByte).cpu().contiguous();
    const uint8_t *f = fg.data_ptr<uint8_t>();
    const std::vector<int32_t> root = component_roots(f, h, w);
    std::vector<int64_t> size(root.size(), 0);
    for (int64_t i = 0; i < h * w; ++i)
        if (f[i]) size[root[i]]++;
    const int64_t least = std::max<int64_t>(64, std::llround(kSubjectShare * h * w));
    std::vector<int32_t> chosen;
    for (int64_t i = 0; i < h * w; ++i)
        if (root[i] == i && size[i] >= least) chosen.push_back(static_cast<int32_t>(i));
    std::stable_sort(chosen.begin(), chosen.end(),
                     [&](int32_t a, int32_t b) { return size[a] > size[b]; });
    if (chosen.size() > kMaxSubjects) chosen.resize(kMaxSubjects);
    std::vector<std::pair<at::Tensor, bounds>> out;
    for (int32_t r : chosen) {
        at::Tensor plane = at::zeros({h, w}, at::kFloat);
        float *p = plane.data_ptr<float>();
        bounds b{w, h, 0, 0};
        for (int64_t i = 0; i < h * w; ++i)
            if (root[i] == r && f[i]) {
                p[i] = 1.0f;
                const int64_t y = i / w, x = i % w;
                b.x0 = std::min(b.x0, x);
                b.y0 = std::min(b.y0, y);
                b.x1 = std::max(b.x1, x + 1);
                b.y1 = std::max(b.y1, y + 1);
            }
        const int64_t grow = kFitGrow + kReach;
        b = {std::max<int64_t>(0, b.x0 - grow), std::max<int64_t>(0, b.y0 - grow),
             std::min(w, b.x1 + grow), std::min(h, b.y1 + grow)};
        out.emplace_back(plane.view({1, 1, h, w}).to(matte.device()), b);
    }
    return out;
}

// Mean colour difference (1 x 1 x h x w) between c1 and c0 moved by (u, v),
// averaged over the subject's pixels near each pixel: `weight` weighs the
// pixels and `weight_near` is its box, the same for every candidate motion.
at::Tensor residual(const at::Tensor &c0, const at::Tensor &c1, const at::Tensor &u,
                    const at::Tensor &v, const at::Tensor &weight, const at::Tensor &weight_near) {
    at::Tensor diff = (c1 - moved(c0, u, v, false)).abs_().mean(1, true);
    return box(diff * weight, kTrustRadius) / weight_near;
}

}  // namespace

motion_frame motion_frame_of(const at::Tensor &image, int64_t item) {
    at::Tensor rgb = to_float01(image.select(0, item).narrow(2, 0, 3)).clamp_(0.0, 1.0);
    at::Tensor colour = reduced(rgb.permute({2, 0, 1}).unsqueeze(0).contiguous(), kColourSide);
    return {colour, reduced(luma(colour), kLumaSide)};
}

at::Tensor moved(const at::Tensor &x, const at::Tensor &u, const at::Tensor &v, bool bicubic) {
    const int64_t h = x.size(2), w = x.size(3);
    auto opts = x.options();
    at::Tensor xs = at::arange(w, opts).view({1, 1, 1, w});
    at::Tensor ys = at::arange(h, opts).view({1, 1, h, 1});
    at::Tensor gx = (xs - u + 0.5) * (2.0 / w) - 1.0;
    at::Tensor gy = (ys - v + 0.5) * (2.0 / h) - 1.0;
    at::Tensor grid = at::stack({gx.squeeze(1), gy.squeeze(1)}, -1);  // 1 x h x w x 2
    return at::grid_sampler(x, grid, bicubic ? 2 : 0, /*border*/ 1, /*align_corners=*/false);
}

matte_motion estimate_motion(const motion_frame &before_frame, const motion_frame &after_frame,
                             const at::Tensor &matte_before, const at::Tensor &matte_after) {
    const at::Tensor &before = before_frame.colour, &after = after_frame.colour;
    const int64_t h = before.size(2), w = before.size(3);
    const int64_t full_h = matte_before.size(0), full_w = matte_before.size(1);
    at::Tensor m0 = reduced(matte_before.view({1, 1, full_h, full_w}), kColourSide);
    at::Tensor m1 = reduced(matte_after.view({1, 1, full_h, full_w}), kColourSide);
    at::Tensor weight = m1 + 1e-3;
    at::Tensor weight_near = box(weight, kTrustRadius);
    auto fit = [&](const at::Tensor &fu, const at::Tensor &fv) {
        return residual(before, after, fu, fv, weight, weight_near);
    };
    // The dense flow, for what no subject explains.
    auto [du, dv] = dense_flow(before_frame.luma, after_frame.luma);
    at::Tensor u = resized_flow(du, h, w, true), v = resized_flow(dv, h, w, false);
    at::Tensor best = fit(u, v);
    auto opts = before.options();
    at::Tensor xs = at::arange(w, opts).view({1, 1, 1, w});
    at::Tensor ys = at::arange(h, opts).view({1, 1, h, 1});
    auto field = [&](const affine &a) {
        return std::make_pair(
            ((xs - a.cx) * a.m[0] + (ys - a.cy) * a.m[1] + a.m[2]).expand({1, 1, h, w}),
            ((xs - a.cx) * a.m[3] + (ys - a.cy) * a.m[4] + a.m[5]).expand({1, 1, h, w}));
    };
    // The background's own motion (a camera's pan or zoom), wherever it
    // explains the frame better than the dense flow, whose windows blur it.
    {
        auto [bu, bv] = field(fit_subject(before, after, 1.0 - m0, bounds{0, 0, w, h}));
        at::Tensor fits = fit(bu, bv);
        at::Tensor take = fits < best;
        u = at::where(take, bu, u);
        v = at::where(take, bv, v);
        best = at::where(take, fits, best);
    }
    // Each subject's own motion where it is nearest and explains the frame
    // better than the dense flow: an edge moves with its subject even where
    // the window of a dense flow sees the background standing still.
    at::Tensor nearest = at::zeros_like(m0);
    for (const auto &[plane, b] : subjects(m0)) {
        at::Tensor weight = m0 * at::max_pool2d(plane, {2 * kFitGrow + 1, 2 * kFitGrow + 1}, {1, 1},
                                                {kFitGrow, kFitGrow});
        auto [su, sv] = field(fit_subject(before, after, weight, b));
        at::Tensor near = reach(plane, kReach);
        at::Tensor fits = fit(su, sv);
        at::Tensor take = at::logical_and(near > nearest, fits <= best);
        nearest = at::where(near > nearest, near, nearest);
        u = at::where(take, su, u);
        v = at::where(take, sv, v);
        best = at::where(take, fits, best);
    }
    at::Tensor trusted = 1.0 - ((best - kResidualFloor) / kResidualSpan).clamp_(0.0, 1.0);
    if (h != full_h || w != full_w) trusted = at::upsample_bilinear2d(trusted, {full_h, full_w}, false);
    return {resized_flow(u, full_h, full_w, true), resized_flow(v, full_h, full_w, false), trusted};
}

}  // namespace cutout_shim
