// composite.cpp - the exported compositing: a cutout over a colour, a
// gradient or a background image.
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "guard.hpp"
#include "tensor_bridge.hpp"
#include "threads.hpp"

namespace cutout_shim {
namespace {

// Background colour of row y of `height` rows.
at::Tensor background_plane(const cutout_shim_background *bg, const DLTensor *background,
                            int64_t background_item, int64_t height, int64_t width,
                            const c10::Device &device) {
    auto opts = at::TensorOptions().dtype(at::kFloat).device(device);
    if (bg->kind == CUTOUT_SHIM_BACKGROUND_IMAGE) {
        if (background == nullptr)
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                 "background: missing (expected an IMAGE for the image background)");
        require_on_device(background, device, "background", "the image is on");
        at::Tensor b = image_view(background, "background");
        if (b.size(0) != 1 && background_item >= b.size(0))
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                 "background: batch of " + std::to_string(b.size(0)) +
                     " does not match the image (expected 1 or more than " +
                     std::to_string(background_item) + ")");
        if (b.size(0) == 1) background_item = 0;
        at::Tensor rgb =
            to_float01(b.select(0, background_item).narrow(2, 0, 3)).clamp(0.0, 1.0);
        rgb = rgb.permute({2, 0, 1}).unsqueeze(0);  // 1 x 3 x h x w
        const double scale = std::max(static_cast<double>(height) / rgb.size(2),
                                      static_cast<double>(width) / rgb.size(3));
        const int64_t rh = std::max<int64_t>(height, std::llround(rgb.size(2) * scale));
        const int64_t rw = std::max<int64_t>(width, std::llround(rgb.size(3) * scale));
        rgb = resize_bilinear(rgb, rh, rw).clamp_(0.0, 1.0);
        rgb = rgb.narrow(2, (rh - height) / 2, height).narrow(3, (rw - width) / 2, width);
        return rgb.squeeze(0).permute({1, 2, 0});  // H x W x 3
    }
    at::Tensor top = at::tensor(at::ArrayRef<float>(bg->color_top, 3)).to(device);
    if (bg->kind == CUTOUT_SHIM_BACKGROUND_COLOR) return top.view({1, 1, 3});
    at::Tensor bottom = at::tensor(at::ArrayRef<float>(bg->color_bottom, 3)).to(device);
    at::Tensor t = height > 1 ? at::arange(height, opts) / static_cast<double>(height - 1)
                              : at::zeros({1}, opts);
    t = t.view({height, 1, 1});
    return top.view({1, 1, 3}) * (1.0 - t) + bottom.view({1, 1, 3}) * t;  // H x 1 x 3
}

}  // namespace
}  // namespace cutout_shim

using namespace cutout_shim;

extern "C" cutout_shim_status cutout_shim_composite(const DLTensor *image, const DLTensor *mask,
                                                    bool mask_transparent_is_one,
                                                    const cutout_shim_background *bg,
                                                    const DLTensor *background, DLTensor *out_rgb,
                                                    cutout_shim_item_fn on_item,
                                                    void *on_item_user, char *err,
                                                    size_t err_cap) {
    return guarded("composite", err, err_cap, [&]() -> cutout_shim_status {
        if (bg == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "background params: is NULL");
        if (bg->struct_size < sizeof(cutout_shim_background))
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "background params: struct_size too small");
        if (bg->kind != CUTOUT_SHIM_BACKGROUND_COLOR &&
            bg->kind != CUTOUT_SHIM_BACKGROUND_GRADIENT && bg->kind != CUTOUT_SHIM_BACKGROUND_IMAGE)
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                 "background: unknown kind (expected color, gradient or image, got " +
                     std::to_string(bg->kind) + ")");
        apply_thread_count_to_this_thread();
        c10::InferenceMode inference;
        at::Tensor img = image_view(image, "image");
        const c10::Device device = img.device();
        const int64_t batch = img.size(0), height = img.size(1), width = img.size(2);
        at::Tensor out = output_view(out_rgb, "out_rgb", device, {batch, height, width, 3});
        const mask_source masks(mask, device, "mask");
        if (!masks.present() && img.size(3) != 4)
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                 "mask: missing (expected an RGBA image or a MASK, got an RGB image and no "
                 "mask)");
        for (int64_t item = 0; item < batch; ++item) {
            at::Tensor pixels = img.select(0, item);
            at::Tensor a;
            if (masks.present()) {
                a = masks.plane(item, height, width);
                if (mask_transparent_is_one) a = 1.0 - a;
            } else {
                a = to_float01(pixels.select(2, 3)).clamp(0.0, 1.0);
            }
            at::Tensor rgb = to_float01(pixels.narrow(2, 0, 3));
            at::Tensor back = background_plane(bg, background, item, height, width, device);
            at::Tensor alpha = a.unsqueeze(2);
            out.select(0, item).copy_(rgb * alpha + back * (1.0 - alpha));
            if (on_item != nullptr && !on_item(on_item_user, item))
                fail(CUTOUT_SHIM_CANCELLED, "composite: stopped after item " + std::to_string(item));
        }
        return CUTOUT_SHIM_OK;
    });
}
