// temporal.cpp - the exported temporal smoothing of frame batches: each
// frame's matte blended with the last smoothed one moved along the
// estimated motion (motion.hpp), gated by how well that motion explains the
// frame and by the model's confidence, reset at scene cuts, with hysteresis
// around a threshold, and optionally the last matte reused for a
// near-identical frame.
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "guard.hpp"
#include "motion.hpp"
#include "predict.hpp"
#include "tensor_bridge.hpp"
#include "threads.hpp"

// A mean luminance change above this is a scene cut.
constexpr double kSceneCut = 0.12;
// Hysteresis half-width around a threshold.
constexpr double kHysteresis = 0.05;

struct cutout_shim_temporal {
    cutout_shim::motion_frame last;  // last frame, colour and luminance (motion.hpp)
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

// One frame of a chunk: what motion is measured on, computed once, and whether
// it took the last predicted matte instead of a forward pass.
struct frame {
    motion_frame image;
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
        const at::Tensor &luma = frames[i].image.luma;
        const bool predicted_here = !frames[i].reused;
        bool fresh = !same_size(luma, state.last.luma) || !state.smoothed.defined() ||
                     state.smoothed.size(0) != height || state.smoothed.size(1) != width;
        at::Tensor out = a;
        if (!fresh && strength > 0.0) {
            at::Tensor change = (luma - state.last.luma).abs_();
            fresh = change.mean().item<double>() > kSceneCut;
            if (!fresh) {
                // The previous smoothed matte, moved along the motion the
                // frames show, is blended in where that motion is trusted
                // and the model is unsure: edges do not trail, and noise
                // along a motion averages out.
                const matte_motion m = estimate_motion(state.last, frames[i].image, state.smoothed, a);
                at::Tensor previous = moved(state.smoothed.view({1, 1, height, width}), m.u, m.v, true)
                                          .clamp_(0.0, 1.0)
                                          .view({height, width});
                // Where the model is sure (alpha near 0 or 1) it is stable
                // on its own, and a changed certainty is followed at once.
                at::Tensor sure = (a * 2.0 - 1.0).abs_().pow_(16.0);
                at::Tensor keep = m.trusted.view({height, width}) * (1.0 - sure) * strength;
                out = a + keep * (previous - a);
            }
        }
        state.smoothed = out.clone();
        if (predicted_here || fresh) {
            state.predicted = a.clone();
            state.predicted_luma = luma;
        }
        state.last = frames[i].image;
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
                motion_frame image = motion_frame_of(img, item);
                reused = reusable(*state, *temporal, image.luma, img.size(1), img.size(2));
                if (reused) alpha.select(0, item).copy_(state->predicted);
                frames.push_back({image, reused});
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
