// process_window.hpp - where an image goes inside the model's input: the
// processing size (native or asked for) and the fit (stretch, or letterbox:
// keep the aspect ratio, centre, pad with 0 = the mean colour after
// normalisation), and how the matte is cut back out of the model's output.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "cutout_shim.h"
#include "guard.hpp"
#include "tensor_bridge.hpp"

namespace cutout_shim {

struct process_window {
    int64_t height = 0, width = 0;  // model input size
    // How much of the image's aspect ratio the resized image keeps: its
    // aspect is (w / h)^p x (width / height)^(1 - p), as large as fits.
    // 0 = stretch (fills the window), 1 = letterbox, 0.5 = balanced.
    double aspect_power = 0.0;

    bool pads() const { return aspect_power > 0.0; }

    // Size the image is resized to before padding.
    int64_t inner_height(int64_t h, int64_t w) const { return pads() ? inner(h, w).first : height; }
    int64_t inner_width(int64_t h, int64_t w) const { return pads() ? inner(h, w).second : width; }

    // N x C x ih x iw -> N x C x height x width, centred, zero padding.
    at::Tensor pad(const at::Tensor &x) const {
        if (!pads()) return x;
        const int64_t top = (height - x.size(2)) / 2, left = (width - x.size(3)) / 2;
        return at::constant_pad_nd(
            x, {left, width - x.size(3) - left, top, height - x.size(2) - top}, 0.0);
    }

    // The model's N x 1 x S x S' output -> the part that covers the image.
    at::Tensor unpad(const at::Tensor &y, int64_t h, int64_t w) const {
        if (!pads()) return y;
        at::Tensor full = resize_bilinear(y, height, width);
        const int64_t ih = inner_height(h, w), iw = inner_width(h, w);
        return full.narrow(2, (height - ih) / 2, ih).narrow(3, (width - iw) / 2, iw);
    }

private:
    std::pair<int64_t, int64_t> inner(int64_t h, int64_t w) const {
        const double k = std::pow(static_cast<double>(w) / static_cast<double>(h), aspect_power) *
                         std::pow(static_cast<double>(width) / static_cast<double>(height),
                                  1.0 - aspect_power);
        const double ih = std::min(static_cast<double>(height), static_cast<double>(width) / k);
        const double iw = std::min(static_cast<double>(width), static_cast<double>(height) * k);
        return {std::clamp<int64_t>(std::llround(ih), 1, height),
                std::clamp<int64_t>(std::llround(iw), 1, width)};
    }
};

// One way of showing an image to the model: a window, and whether the
// image is mirrored (left-right) in it.
struct model_view {
    process_window window;
    bool mirrored = false;
};

// How much of the aspect ratio a fit keeps (process_window::aspect_power).
inline double aspect_power_of(int32_t fit) {
    switch (fit) {
    case CUTOUT_SHIM_FIT_LETTERBOX: return 1.0;
    case CUTOUT_SHIM_FIT_BALANCED: return 0.5;
    default: return 0.0;
    }
}

// The views whose mattes are averaged for `params` (NULL: the model's
// native size, stretched, one view). Fast is the fit's own view; best adds
// the mirror image shown in letterbox (in stretch when the fit is
// letterbox), which measured better than the mirror image in the same fit:
// two different views disagree where the model is unsure.
// Errors: INVALID_ARGUMENT for a bad size, fit, quality or struct_size.
inline std::vector<model_view> model_views_of(const cutout_shim_predict_params *params,
                                              const cutout_shim_model_info &info) {
    model_view first;
    first.window.height = info.input_height;
    first.window.width = info.input_width;
    if (params == nullptr) return {first};
    if (params->struct_size < sizeof(cutout_shim_predict_params))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "predict params: struct_size too small (expected " +
                 std::to_string(sizeof(cutout_shim_predict_params)) + ", got " +
                 std::to_string(params->struct_size) + ")");
    for (int64_t side : {params->process_height, params->process_width})
        if (side != 0 &&
            (side < CUTOUT_SHIM_PROCESS_SIZE_MIN || side > CUTOUT_SHIM_PROCESS_SIZE_MAX))
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                 "process_resolution: out of range (expected 0 = native or " +
                     std::to_string(CUTOUT_SHIM_PROCESS_SIZE_MIN) + ".." +
                     std::to_string(CUTOUT_SHIM_PROCESS_SIZE_MAX) + ", got " +
                     std::to_string(side) + ")");
    int32_t fit = params->fit;
    if (fit != CUTOUT_SHIM_FIT_STRETCH && fit != CUTOUT_SHIM_FIT_LETTERBOX &&
        fit != CUTOUT_SHIM_FIT_BALANCED && fit != CUTOUT_SHIM_FIT_AUTO)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "fit: unknown (expected stretch, letterbox, balanced or auto, got " +
                 std::to_string(fit) + ")");
    if (params->quality != CUTOUT_SHIM_QUALITY_FAST && params->quality != CUTOUT_SHIM_QUALITY_BEST)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "quality: unknown (expected fast or best, got " + std::to_string(params->quality) +
                 ")");
    if (fit == CUTOUT_SHIM_FIT_AUTO) {
        const std::string own = info.fit;
        fit = own == "stretch"     ? CUTOUT_SHIM_FIT_STRETCH
              : own == "letterbox" ? CUTOUT_SHIM_FIT_LETTERBOX
                                   : CUTOUT_SHIM_FIT_BALANCED;  // also "balanced"
    }
    if (params->process_height > 0) first.window.height = params->process_height;
    if (params->process_width > 0) first.window.width = params->process_width;
    first.window.aspect_power = aspect_power_of(fit);
    if (params->quality == CUTOUT_SHIM_QUALITY_FAST) return {first};
    model_view second = first;
    second.mirrored = true;
    second.window.aspect_power =
        aspect_power_of(fit == CUTOUT_SHIM_FIT_LETTERBOX ? CUTOUT_SHIM_FIT_STRETCH
                                                         : CUTOUT_SHIM_FIT_LETTERBOX);
    return {first, second};
}

}  // namespace cutout_shim
