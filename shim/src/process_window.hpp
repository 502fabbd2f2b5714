// process_window.hpp - where an image goes inside the model's input: the
// processing size (native or asked for) and the fit (stretch, or letterbox:
// keep the aspect ratio, centre, pad with 0 = the mean colour after
// normalisation), and how the matte is cut back out of the model's output.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "cutout_shim.h"
#include "guard.hpp"
#include "tensor_bridge.hpp"

namespace cutout_shim {

struct process_window {
    int64_t height = 0, width = 0;  // model input size
    bool letterbox = false;

    // Size the image is resized to before padding.
    int64_t inner_height(int64_t h, int64_t w) const {
        if (!letterbox) return height;
        return std::clamp<int64_t>(std::llround(h * scale(h, w)), 1, height);
    }
    int64_t inner_width(int64_t h, int64_t w) const {
        if (!letterbox) return width;
        return std::clamp<int64_t>(std::llround(w * scale(h, w)), 1, width);
    }

    // N x C x ih x iw -> N x C x height x width, centred, zero padding.
    at::Tensor pad(const at::Tensor &x) const {
        if (!letterbox) return x;
        const int64_t top = (height - x.size(2)) / 2, left = (width - x.size(3)) / 2;
        return at::constant_pad_nd(
            x, {left, width - x.size(3) - left, top, height - x.size(2) - top}, 0.0);
    }

    // The model's N x 1 x S x S' output -> the part that covers the image.
    at::Tensor unpad(const at::Tensor &y, int64_t h, int64_t w) const {
        if (!letterbox) return y;
        at::Tensor full = resize_bilinear(y, height, width);
        const int64_t ih = inner_height(h, w), iw = inner_width(h, w);
        return full.narrow(2, (height - ih) / 2, ih).narrow(3, (width - iw) / 2, iw);
    }

private:
    double scale(int64_t h, int64_t w) const {
        return std::min(static_cast<double>(height) / static_cast<double>(h),
                        static_cast<double>(width) / static_cast<double>(w));
    }
};

// The window for `params` (NULL: the model's native size, stretched).
inline process_window process_window_of(const cutout_shim_predict_params *params,
                                        const cutout_shim_model_info &info) {
    process_window window;
    window.height = info.input_height;
    window.width = info.input_width;
    if (params == nullptr) return window;
    if (params->struct_size < sizeof(cutout_shim_predict_params))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "predict params: struct_size too small (expected " +
                 std::to_string(sizeof(cutout_shim_predict_params)) + ", got " +
                 std::to_string(params->struct_size) + ")");
    for (int64_t side : {params->process_height, params->process_width})
        if (side != 0 && (side < 16 || side > 8192))
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                 "process_resolution: out of range (expected 0 = native or 16..8192, got " +
                     std::to_string(side) + ")");
    if (params->fit != CUTOUT_SHIM_FIT_STRETCH && params->fit != CUTOUT_SHIM_FIT_LETTERBOX)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "fit: unknown (expected stretch or letterbox, got " + std::to_string(params->fit) +
                 ")");
    if (params->process_height > 0) window.height = params->process_height;
    if (params->process_width > 0) window.width = params->process_width;
    window.letterbox = params->fit == CUTOUT_SHIM_FIT_LETTERBOX;
    return window;
}

}  // namespace cutout_shim
