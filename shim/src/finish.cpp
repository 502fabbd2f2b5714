// finish.cpp - the exported finishing step: predicted mattes combined with
// the input alpha and the guide, refined, and written out with their RGB.
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "despeckle.hpp"
#include "guard.hpp"
#include "matte_ops.hpp"
#include "matting.hpp"
#include "tensor_bridge.hpp"
#include "threads.hpp"

namespace cutout_shim {
namespace {

bool float_aligned(const at::Tensor &t) {
    return reinterpret_cast<uintptr_t>(t.data_ptr()) % alignof(float) == 0;
}

// Writes RGBA = (the first three channels of `pixels`, `a`) into `rgba`
// (H x W x 4, compact float32). A compact float32 image takes one pass
// over the pixels, about twice as fast as libtorch's two strided copies;
// other dtypes, strides and misaligned data take the copies.
void pack_rgba(const at::Tensor &pixels, const at::Tensor &a, at::Tensor rgba) {
    const int64_t channels = pixels.size(2);
    const bool packable = pixels.scalar_type() == at::kFloat && pixels.device().is_cpu() &&
                          pixels.is_contiguous() && a.is_contiguous() &&
                          rgba.is_contiguous() && float_aligned(pixels) && float_aligned(a) &&
                          float_aligned(rgba);
    if (!packable) {
        at::Tensor rgb = pixels.narrow(2, 0, 3);
        if (rgb.scalar_type() == at::kByte)
            rgba.narrow(2, 0, 3).copy_(to_float01(rgb));
        else
            rgba.narrow(2, 0, 3).copy_(rgb);  // float16/bfloat16 -> float32 is exact
        rgba.select(2, 3).copy_(a);
        return;
    }
    const float *src = pixels.data_ptr<float>();
    const float *alpha = a.data_ptr<float>();
    float *dst = rgba.data_ptr<float>();
    at::parallel_for(0, a.numel(), 16384, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const float *p = src + i * channels;
            float *q = dst + i * 4;
            q[0] = p[0];
            q[1] = p[1];
            q[2] = p[2];
            q[3] = alpha[i];
        }
    });
}

void check_finish_params(const cutout_shim_finish_params *p) {
    if (p->struct_size < sizeof(cutout_shim_finish_params))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "params: struct_size too small (expected " +
                 std::to_string(sizeof(cutout_shim_finish_params)) + ", got " +
                 std::to_string(p->struct_size) + ")");
    if (p->edge_refinement != CUTOUT_SHIM_REFINE_NONE &&
        p->edge_refinement != CUTOUT_SHIM_REFINE_GUIDED &&
        p->edge_refinement != CUTOUT_SHIM_REFINE_MATTING)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "edge_refinement: unknown (expected none, "
                                               "guided or matting, got " +
                                                   std::to_string(p->edge_refinement) + ")");
    if (p->mask_mode != CUTOUT_SHIM_MASK_RESTRICT && p->mask_mode != CUTOUT_SHIM_MASK_HINT &&
        p->mask_mode != CUTOUT_SHIM_MASK_TRIMAP)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "mask_mode: unknown (expected restrict, hint or trimap, got " +
                 std::to_string(p->mask_mode) + ")");
    if (p->mask_mode == CUTOUT_SHIM_MASK_HINT &&
        (p->mask_band < 1 || p->mask_band > CUTOUT_SHIM_BAND_MAX))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "mask_band: out of range (expected 1.." + std::to_string(CUTOUT_SHIM_BAND_MAX) +
                 ", got " + std::to_string(p->mask_band) + ")");
    if (p->despeckle < 0 || p->despeckle > CUTOUT_SHIM_DESPECKLE_MAX)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "despeckle: out of range (expected 0.." + std::to_string(CUTOUT_SHIM_DESPECKLE_MAX) +
                 ", got " + std::to_string(p->despeckle) + ")");
    if (!(p->threshold >= 0.0f && p->threshold <= 1.0f))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "threshold: out of range (expected 0..1, got " + std::to_string(p->threshold) + ")");
    if (p->grow < -CUTOUT_SHIM_GROW_MAX || p->grow > CUTOUT_SHIM_GROW_MAX)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "mask_grow: out of range (expected -" + std::to_string(CUTOUT_SHIM_GROW_MAX) + ".." +
                 std::to_string(CUTOUT_SHIM_GROW_MAX) + ", got " + std::to_string(p->grow) + ")");
    if (!(p->blur >= 0.0f && p->blur <= static_cast<float>(CUTOUT_SHIM_BLUR_MAX)))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "mask_blur: out of range (expected 0.." + std::to_string(CUTOUT_SHIM_BLUR_MAX) +
                 ", got " + std::to_string(p->blur) + ")");
    if (p->foreground != CUTOUT_SHIM_FOREGROUND_ORIGINAL &&
        p->foreground != CUTOUT_SHIM_FOREGROUND_ESTIMATE)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "foreground: unknown (expected original or "
                                               "estimate, got " +
                                                   std::to_string(p->foreground) + ")");
    if (p->output != CUTOUT_SHIM_OUTPUT_RGBA && p->output != CUTOUT_SHIM_OUTPUT_RGB &&
        p->output != CUTOUT_SHIM_OUTPUT_PREMULTIPLIED)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "output: unknown (expected RGBA, RGB + MASK or premultiplied RGBA, got " +
                 std::to_string(p->output) + ")");
}

}  // namespace
}  // namespace cutout_shim

using namespace cutout_shim;

extern "C" cutout_shim_status cutout_shim_finish_items(const DLTensor *image, const DLTensor *guide,
                                                       int64_t first, int64_t count,
                                                       const cutout_shim_finish_params *params,
                                                       DLTensor *alpha_inout, DLTensor *out_image,
                                                       cutout_shim_item_fn on_item,
                                                       void *on_item_user, char *err,
                                                       size_t err_cap) {
    return guarded("finish_items", err, err_cap, [&]() -> cutout_shim_status {
        cutout_shim_finish_params p{};
        p.struct_size = sizeof p;
        p.mask_band = 1;
        if (params != nullptr) {
            check_finish_params(params);
            p = *params;
        }
        apply_thread_count_to_this_thread();
        c10::InferenceMode inference;
        at::Tensor img = image_view(image, "image");
        const c10::Device device = img.device();
        const int64_t batch = img.size(0), height = img.size(1), width = img.size(2);
        require_items(first, count, batch, 0);
        at::Tensor alpha = output_view(alpha_inout, "alpha_out", device, {batch, height, width});
        const int64_t out_c = p.output == CUTOUT_SHIM_OUTPUT_RGB ? 3 : 4;
        at::Tensor out = output_view(out_image, "out_image", device, {batch, height, width, out_c});
        const mask_source guides(guide, device, "guide");
        const char *mode = p.mask_mode == CUTOUT_SHIM_MASK_HINT     ? "mask_mode hint"
                           : p.mask_mode == CUTOUT_SHIM_MASK_TRIMAP ? "mask_mode trimap"
                                                                    : nullptr;
        if (mode != nullptr && !guides.present())
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT, std::string("guide: ") + mode + " needs one (got none)");

        for (int64_t item = first; item < first + count; ++item) {
            at::Tensor pixels = img.select(0, item);
            at::Tensor a = alpha.select(0, item).clamp(0.0, 1.0);
            if (img.size(3) == 4) a.mul_(to_float01(pixels.select(2, 3)).clamp(0.0, 1.0));

            at::Tensor rgb = to_float01(pixels.narrow(2, 0, 3));  // exact for every dtype
            at::Tensor chw;  // the clamped image as 3 x H x W, made only when a filter needs it
            auto image_chw = [&]() -> const at::Tensor & {
                if (!chw.defined()) chw = rgb.clamp(0.0, 1.0).permute({2, 0, 1}).contiguous();
                return chw;
            };
            if (guides.present() && mode == nullptr) {
                a.mul_(guides.plane(item, height, width));
            } else if (guides.present()) {
                at::Tensor g = guides.exact_plane(item, height, width, mode);
                trimap t;
                if (p.mask_mode == CUTOUT_SHIM_MASK_HINT) {
                    t = trimap_from_hint(g, p.mask_band);
                } else {
                    const double low = g.min().item<double>(), high = g.max().item<double>();
                    if (!(low >= 0.0 && high <= 1.0))
                        fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                             "guide: a trimap holds 0 (background), 1 (foreground) and values "
                             "between (unknown), expected 0..1, got " + std::to_string(low) +
                                 ".." + std::to_string(high));
                    t = trimap_from_values(g);
                }
                a = solve_matte(image_chw(), t, a, p.abort, p.abort_user);
            }
            if (p.edge_refinement == CUTOUT_SHIM_REFINE_GUIDED) {
                const int64_t r = std::max<int64_t>(2, std::llround(std::max(height, width) / 256.0));
                a = guided_filter(image_chw(), a, r, kGuidedEps);
            } else if (p.edge_refinement == CUTOUT_SHIM_REFINE_MATTING) {
                a = solve_matte(image_chw(), trimap_from_matte(a), a, p.abort, p.abort_user);
            }
            if (p.threshold > 0.0f) a = (a >= p.threshold).to(at::kFloat);
            a = despeckle(a, p.despeckle);
            a = grow_matte(a, p.grow);
            a = blur_matte(a, p.blur);
            if (p.invert) a = 1.0 - a;

            at::Tensor dst = out.select(0, item);
            if (p.foreground == CUTOUT_SHIM_FOREGROUND_ORIGINAL && p.output == CUTOUT_SHIM_OUTPUT_RGBA) {
                pack_rgba(pixels, a, dst);
            } else {
                at::Tensor color = rgb;
                if (p.foreground == CUTOUT_SHIM_FOREGROUND_ESTIMATE)
                    color = estimate_foreground(image_chw(), a).permute({1, 2, 0});
                if (p.output == CUTOUT_SHIM_OUTPUT_PREMULTIPLIED)
                    dst.narrow(2, 0, 3).copy_(color * a.unsqueeze(2));
                else
                    dst.narrow(2, 0, 3).copy_(color);
                if (out_c == 4) dst.select(2, 3).copy_(a);
            }
            alpha.select(0, item).copy_(p.mask_transparent_is_one ? 1.0 - a : a);
            if (on_item != nullptr && !on_item(on_item_user, item))
                fail(CUTOUT_SHIM_CANCELLED, "finish_items: stopped after item " + std::to_string(item));
        }
        return CUTOUT_SHIM_OK;
    });
}
