// temporal.cpp - the exported temporal smoothing of frame batches: each
// frame's matte blended with the last smoothed one moved along the
// estimated motion, gated by how well that motion explains the frame and
// by the model's confidence, reset at scene cuts, with hysteresis around a
// threshold, and optionally the last matte reused for a near-identical frame.
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "guard.hpp"
#include "predict.hpp"
#include "tensor_bridge.hpp"
#include "threads.hpp"

// Motion is judged on luminance reduced to at most this side: it averages
// sensor noise away and costs little at any frame size.
constexpr int64_t kMotionSide = 256;
// Motion is estimated by Lucas-Kanade on the reduced luminance: a window
// of (2 kFlowRadius + 1)^2 reduced pixels, kFlowIterations refinements.
constexpr int64_t kFlowRadius = 4;
constexpr int kFlowIterations = 3;
// Where the previous frame, moved by the estimated motion, still differs
// from this one by more than kResidualFloor (+ kResidualSpan: not at all),
// the motion is not trusted and the previous matte does not count, so
// that nothing trails a motion the estimate missed.
constexpr double kResidualFloor = 0.01;
constexpr double kResidualSpan = 0.03;
// A mean luminance change above this is a scene cut.
constexpr double kSceneCut = 0.12;
// Hysteresis half-width around a threshold.
constexpr double kHysteresis = 0.05;

struct cutout_shim_temporal {
    at::Tensor luma;            // last frame, 1 x 1 x h x w (reduced)
    at::Tensor predicted_luma;  // last frame that went through the model (reduced)
    at::Tensor smoothed;        // last smoothed matte, H x W
    at::Tensor predicted;       // last predicted matte, H x W
    at::Tensor binary;          // last thresholded matte (0/1), H x W, when a threshold is set
};

namespace cutout_shim {
namespace {

void check_params(const cutout_shim_temporal_params *p) {
    if (p == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "temporal params: is NULL");
    if (p->struct_size < sizeof(cutout_shim_temporal_params))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "temporal params: struct_size too small");
    if (!(p->strength >= 0.0f && p->strength <= CUTOUT_SHIM_TEMPORAL_MAX))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "temporal: out of range (expected 0.." + std::to_string(CUTOUT_SHIM_TEMPORAL_MAX) +
                 ", got " + std::to_string(p->strength) + ")");
    if (!(p->skip_below >= 0.0f && p->skip_below <= CUTOUT_SHIM_SKIP_MAX))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "skip_similar: out of range (expected 0.." + std::to_string(CUTOUT_SHIM_SKIP_MAX) +
                 ", got " + std::to_string(p->skip_below) + ")");
    if (!(p->threshold >= 0.0f && p->threshold <= 1.0f))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "threshold: out of range (expected 0..1)");
}

// Luminance of item `item`, reduced by area averaging so that its longer
// side is at most kMotionSide: 1 x 1 x h x w float32.
at::Tensor reduced_luma(const at::Tensor &img, int64_t item) {
    at::Tensor rgb = to_float01(img.select(0, item).narrow(2, 0, 3)).clamp_(0.0, 1.0);
    at::Tensor y = (rgb.select(2, 0) * 0.299 + rgb.select(2, 1) * 0.587 + rgb.select(2, 2) * 0.114)
                       .view({1, 1, img.size(1), img.size(2)});
    const int64_t longer = std::max(img.size(1), img.size(2));
    if (longer <= kMotionSide) return y;
    const double scale = static_cast<double>(kMotionSide) / static_cast<double>(longer);
    const int64_t h = std::max<int64_t>(1, std::llround(img.size(1) * scale));
    const int64_t w = std::max<int64_t>(1, std::llround(img.size(2) * scale));
    return at::adaptive_avg_pool2d(y, {h, w});
}

// Mean over a (2r+1)^2 window, borders replicated: 1 x 1 x h x w.
at::Tensor box(const at::Tensor &x, int64_t r) {
    return at::avg_pool2d(at::replication_pad2d(x, {r, r, r, r}), {2 * r + 1, 2 * r + 1}, {1, 1});
}

// Central-difference gradients of a 1 x 1 x h x w plane.
std::pair<at::Tensor, at::Tensor> gradients(const at::Tensor &y) {
    const int64_t h = y.size(2), w = y.size(3);
    at::Tensor p = at::replication_pad2d(y, {1, 1, 1, 1});
    at::Tensor gx = (p.narrow(3, 2, w) - p.narrow(3, 0, w)).narrow(2, 1, h) * 0.5;
    at::Tensor gy = (p.narrow(2, 2, h) - p.narrow(2, 0, h)).narrow(3, 1, w) * 0.5;
    return {gx, gy};
}

// `x` (N x C x h x w) moved by the motion (u, v) (1 x 1 x h x w, pixels):
// each output pixel samples x at its position minus the motion.
at::Tensor moved(const at::Tensor &x, const at::Tensor &u, const at::Tensor &v) {
    const int64_t h = x.size(2), w = x.size(3);
    auto opts = x.options();
    at::Tensor xs = at::arange(w, opts).view({1, 1, 1, w});
    at::Tensor ys = at::arange(h, opts).view({1, 1, h, 1});
    at::Tensor gx = (xs - u + 0.5) * (2.0 / w) - 1.0;
    at::Tensor gy = (ys - v + 0.5) * (2.0 / h) - 1.0;
    at::Tensor grid = at::stack({gx.squeeze(1), gy.squeeze(1)}, -1);  // 1 x h x w x 2
    return at::grid_sampler(x, grid, /*bilinear*/ 0, /*border*/ 1, /*align_corners=*/false);
}

// Lucas-Kanade motion from y0 to y1 (1 x 1 x h x w): (u, v, residual), the
// residual being the local |y1 - y0 moved| after the last refinement.
std::tuple<at::Tensor, at::Tensor, at::Tensor> motion(const at::Tensor &y0, const at::Tensor &y1) {
    at::Tensor u = at::zeros_like(y0), v = at::zeros_like(y0);
    for (int i = 0; i < kFlowIterations; ++i) {
        at::Tensor w0 = moved(y0, u, v);
        auto [gx, gy] = gradients((w0 + y1) * 0.5);
        at::Tensor it = y1 - w0;
        at::Tensor a = box(gx * gx, kFlowRadius), b = box(gx * gy, kFlowRadius);
        at::Tensor c = box(gy * gy, kFlowRadius);
        at::Tensor p = box(gx * it, kFlowRadius), q = box(gy * it, kFlowRadius);
        at::Tensor det = a * c - b * b + 1e-6;
        u = u - (c * p - b * q) / det;
        v = v - (a * q - b * p) / det;
    }
    at::Tensor residual = box((y1 - moved(y0, u, v)).abs_(), 1);
    return {u, v, residual};
}

bool same_size(const at::Tensor &a, const at::Tensor &b) {
    return a.defined() && b.defined() && a.sizes() == b.sizes();
}

}  // namespace
}  // namespace cutout_shim

using namespace cutout_shim;

extern "C" cutout_shim_status cutout_shim_temporal_new(cutout_shim_temporal **out, char *err,
                                                       size_t err_cap) {
    if (out != nullptr) *out = nullptr;
    return guarded("temporal_new", err, err_cap, [&]() -> cutout_shim_status {
        if (out == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "out: is NULL");
        *out = new cutout_shim_temporal();
        return CUTOUT_SHIM_OK;
    });
}

extern "C" void cutout_shim_temporal_free(cutout_shim_temporal *state) {
    guarded_value(0, [&] {
        delete state;
        return 0;
    });
}

namespace cutout_shim {
namespace {

// One frame of a chunk: its reduced luminance, computed once, and whether
// it took the last predicted matte instead of a forward pass.
struct frame {
    at::Tensor luma;
    bool reused;
};

// Whether a frame whose reduced luminance is `luma` may take the last
// predicted matte: skipping is on, a frame of the same size went through the
// model, and the mean luminance difference to it is below the bound.
bool reusable(const cutout_shim_temporal &state, const cutout_shim_temporal_params &params,
              const at::Tensor &luma, int64_t height, int64_t width) {
    if (params.skip_below <= 0.0f || !state.predicted.defined()) return false;
    if (!same_size(luma, state.predicted_luma) || state.predicted.size(0) != height ||
        state.predicted.size(1) != width)
        return false;
    const double change = (luma - state.predicted_luma).abs_().mean().item<double>();
    return change < params.skip_below;
}

// Smooths the mattes of `frames` (items first, first + 1, ... of alpha), in
// order, in place, and carries the state on (see cutout_shim_predict_frames).
void smooth(cutout_shim_temporal &state, const cutout_shim_temporal_params &params,
            const std::vector<frame> &frames, int64_t first, const at::Tensor &alpha) {
    const int64_t height = alpha.size(1), width = alpha.size(2);
    const double strength = params.strength;
    for (size_t i = 0; i < frames.size(); ++i) {
        at::Tensor a = alpha.select(0, first + static_cast<int64_t>(i));
        a.clamp_(0.0, 1.0);
        const at::Tensor &luma = frames[i].luma;
        const bool predicted_here = !frames[i].reused;
        bool fresh = !same_size(luma, state.luma) || !state.smoothed.defined() ||
                     state.smoothed.size(0) != height || state.smoothed.size(1) != width;
        at::Tensor out = a;
        if (!fresh && strength > 0.0) {
            at::Tensor change = (luma - state.luma).abs_();
            fresh = change.mean().item<double>() > kSceneCut;
            if (!fresh) {
                // The previous smoothed matte, moved along the motion the
                // frames show, is blended in where that motion is trusted
                // and the model is unsure: edges do not trail, and noise
                // along a motion averages out.
                auto [u, v, residual] = motion(state.luma, luma);
                at::Tensor trusted =
                    1.0 - ((residual - kResidualFloor) / kResidualSpan).clamp_(0.0, 1.0);
                const double sy = static_cast<double>(height) / luma.size(2);
                const double sx = static_cast<double>(width) / luma.size(3);
                if (luma.size(2) != height || luma.size(3) != width) {
                    u = at::upsample_bilinear2d(u, {height, width}, false) * sx;
                    v = at::upsample_bilinear2d(v, {height, width}, false) * sy;
                    trusted = at::upsample_bilinear2d(trusted, {height, width}, false);
                }
                at::Tensor previous =
                    moved(state.smoothed.view({1, 1, height, width}), u, v).view({height, width});
                // Where the model is sure (alpha near 0 or 1) it is stable
                // on its own, and a changed certainty is followed at once.
                at::Tensor sure = (a * 2.0 - 1.0).abs_().pow_(16.0);
                at::Tensor keep = trusted.view({height, width}) * (1.0 - sure) * strength;
                out = a + keep * (previous - a);
            }
        }
        state.smoothed = out.clone();
        if (predicted_here || fresh) {
            state.predicted = a.clone();
            state.predicted_luma = luma;
        }
        state.luma = luma;
        if (params.threshold > 0.0f && strength > 0.0) {
            const double t = params.threshold;
            at::Tensor binary = (out >= t).to(at::kFloat);
            if (!fresh && state.binary.defined() && state.binary.sizes() == out.sizes()) {
                at::Tensor undecided = at::logical_and(out >= t - kHysteresis, out < t + kHysteresis);
                binary = at::where(undecided, state.binary, binary);
            }
            state.binary = binary;
            out = binary;
        } else {
            state.binary = at::Tensor();
        }
        a.copy_(out);
    }
}

}  // namespace
}  // namespace cutout_shim

extern "C" cutout_shim_status cutout_shim_predict_frames(
    cutout_shim_model *model, cutout_shim_temporal *state,
    const cutout_shim_temporal_params *temporal, const DLTensor *image, int64_t first,
    int64_t count, const cutout_shim_predict_params *params, DLTensor *alpha_out,
    cutout_shim_abort_fn abort, void *abort_user, char *err, size_t err_cap) {
    return guarded("predict_frames", err, err_cap, [&]() -> cutout_shim_status {
        if (state == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "state: is NULL");
        check_params(temporal);
        apply_thread_count_to_this_thread();
        c10::InferenceMode inference;
        at::Tensor img = image_view(image, "image");
        require_items(first, count, img.size(0), 1);
        at::Tensor alpha = output_view(alpha_out, "alpha_out", img.device(),
                                       {img.size(0), img.size(1), img.size(2)});
        // Each frame is judged against the state as the chunk found it; the
        // runs of frames that need the model go through it together.
        std::vector<frame> frames;
        int64_t run_start = first;
        for (int64_t item = first; item <= first + count; ++item) {
            bool reused = false;
            if (item < first + count) {
                at::Tensor luma = reduced_luma(img, item);
                reused = reusable(*state, *temporal, luma, img.size(1), img.size(2));
                if (reused) alpha.select(0, item).copy_(state->predicted);
                frames.push_back({luma, reused});
                if (!reused) continue;
            }
            if (item > run_start)
                predict_items(model, image, run_start, item - run_start, params, alpha_out, abort,
                              abort_user);
            run_start = item + 1;
        }
        smooth(*state, *temporal, frames, first, alpha);
        return CUTOUT_SHIM_OK;
    });
}
