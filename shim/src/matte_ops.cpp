// matte_ops.cpp - the edge work of the advanced nodes: matte refinement
// (guided filter, threshold, grow/shrink, blur, invert), foreground colour
// estimation, output layouts, the subject's box, cropping and compositing.
// Everything is a libtorch op on the tensors' own device, in float32 (box
// sums in float64), with no 8-bit round trip.
#include <ATen/DLConvertor.h>
#include <torch/script.h>

#include <cmath>
#include <string>

#include "guard.hpp"
#include "tensor_bridge.hpp"

namespace cutout_shim {
namespace {

// Radii of the two blur-fusion passes (Forte and Pitie 2021, "Approximate
// fast foreground colour estimation"): a wide pass, then a narrow one.
constexpr int64_t kFusionRadiusWide = 90;
constexpr int64_t kFusionRadiusNarrow = 6;
// Guided filter regularisation (variance of the guide below which the
// filter smooths instead of following the image).
constexpr double kGuidedEps = 1e-3;

std::string number(double v) { return std::to_string(v); }

// Throws INVALID_ARGUMENT unless 0 <= item < batch.
void require_item(int64_t item, int64_t batch, const std::string &name) {
    if (item < 0 || item >= batch)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, name + ": out of range (expected 0.." +
                                                   std::to_string(batch - 1) + ", got " +
                                                   std::to_string(item) + ")");
}

// B x H x W x C (C = 3 or 4) image of an image dtype.
at::Tensor image_of(const DLTensor *t, const std::string &name) {
    at::Tensor img = view_of(t, name);
    require_ndim(img, 4, name, "B x H x W x C");
    if (img.size(3) != 3 && img.size(3) != 4)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": wrong channel count (expected C = 3 or 4, "
                                                   "got shape " + shape_string(img.sizes()) + ")");
    if (img.size(0) < 1 || img.size(1) < 1 || img.size(2) < 1)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
             name + ": empty (expected B, H, W >= 1, got shape " + shape_string(img.sizes()) + ")");
    require_image_dtype(img, name);
    return img;
}

// A compact float32 tensor on `device` of exactly `expected` shape.
at::Tensor output_of(DLTensor *t, const std::string &name, const c10::Device &device,
                     at::IntArrayRef expected) {
    require_on_device(t, device, name, "the image is on");
    at::Tensor out = view_of(t, name);
    if (out.sizes() != expected)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": wrong shape (expected " +
                                                shape_string(expected) + ", got " +
                                                shape_string(out.sizes()) + ")");
    require_compact_float32(out, name);
    return out;
}

// A mask B x H' x W' or H' x W' (item `item` of a 3-dim one) as float32
// H x W in 0..1, resized bilinearly when its size differs.
at::Tensor mask_plane(const DLTensor *mask, int64_t item, int64_t height, int64_t width,
                     const c10::Device &device, const std::string &name) {
    require_on_device(mask, device, name, "the image is on");
    at::Tensor m = view_of(mask, name);
    if (m.dim() != 2 && m.dim() != 3)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": expected 3 dims B x H x W or 2 dims H x W, "
                                                   "got " + std::to_string(m.dim()) + " dims " +
                                                   shape_string(m.sizes()));
    if (m.dim() == 3) {
        require_item(item, m.size(0), name + " item");
        m = m.select(0, item);
    }
    if (m.size(0) < 1 || m.size(1) < 1)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
             name + ": empty (expected H, W >= 1, got shape " + shape_string(m.sizes()) + ")");
    at::Tensor g = to_float01(m).clamp(0.0, 1.0);
    if (g.size(0) != height || g.size(1) != width)
        g = resize_bilinear(g.view({1, 1, g.size(0), g.size(1)}), height, width)
                .view({height, width})
                .clamp_(0.0, 1.0);
    return g;
}

// Mean over the window [i - r, i + r] along `dim`, clipped at the borders
// (so every output is an average of real pixels). O(n) via prefix sums.
at::Tensor box_mean_dim(const at::Tensor &x, int64_t dim, int64_t r) {
    const int64_t n = x.size(dim);
    at::Tensor c = at::cumsum(x.to(at::kDouble), dim);
    std::vector<int64_t> zero_shape(x.sizes().begin(), x.sizes().end());
    zero_shape[dim] = 1;
    c = at::cat({at::zeros(zero_shape, c.options()), c}, dim);  // c[k] = sum of x[0..k)
    auto long_opts = at::TensorOptions().dtype(at::kLong).device(x.device());
    at::Tensor i = at::arange(n, long_opts);
    at::Tensor hi = (i + r + 1).clamp_max(n), lo = (i - r).clamp_min(0);
    at::Tensor sum = c.index_select(dim, hi) - c.index_select(dim, lo);
    std::vector<int64_t> count_shape(x.dim(), 1);
    count_shape[dim] = n;
    at::Tensor count = (hi - lo).to(at::kDouble).view(count_shape);
    return (sum / count).to(x.scalar_type());
}

// Box mean over (2r+1) x (2r+1) of the last two dims.
at::Tensor box_mean(const at::Tensor &x, int64_t r) {
    return box_mean_dim(box_mean_dim(x, x.dim() - 1, r), x.dim() - 2, r);
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

void check_finish_params(const cutout_shim_finish_params *p) {
    if (p == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "params: is NULL");
    if (p->struct_size < sizeof(cutout_shim_finish_params))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "params: struct_size too small (expected " +
                 std::to_string(sizeof(cutout_shim_finish_params)) + ", got " +
                 std::to_string(p->struct_size) + ")");
    if (p->edge_refinement != CUTOUT_SHIM_REFINE_NONE &&
        p->edge_refinement != CUTOUT_SHIM_REFINE_GUIDED)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "edge_refinement: unknown (expected none or "
                                               "guided, got " +
                                                   std::to_string(p->edge_refinement) + ")");
    if (!(p->threshold >= 0.0f && p->threshold <= 1.0f))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "threshold: out of range (expected 0..1, got " + number(p->threshold) + ")");
    if (p->grow < -64 || p->grow > 64)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "mask_grow: out of range (expected -64..64, got " + std::to_string(p->grow) + ")");
    if (!(p->blur >= 0.0f && p->blur <= 256.0f))
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "mask_blur: out of range (expected 0..256, got " + number(p->blur) + ")");
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
        at::Tensor b = image_of(background, "background");
        require_item(background_item, b.size(0), "background item");
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

extern "C" cutout_shim_status cutout_shim_finish_item(const DLTensor *image, const DLTensor *guide,
                                                      int64_t item, int64_t guide_item,
                                                      const cutout_shim_finish_params *params,
                                                      DLTensor *alpha_inout, DLTensor *out_image,
                                                      char *err, size_t err_cap) {
    return guarded("finish_item", err, err_cap, [&]() -> cutout_shim_status {
        check_finish_params(params);
        c10::InferenceMode inference;
        at::Tensor img = image_of(image, "image");
        const c10::Device device = img.device();
        const int64_t batch = img.size(0), height = img.size(1), width = img.size(2);
        require_item(item, batch, "item");
        at::Tensor alpha = output_of(alpha_inout, "alpha", device, {batch, height, width});
        const int64_t out_c = params->output == CUTOUT_SHIM_OUTPUT_RGB ? 3 : 4;
        at::Tensor out = output_of(out_image, "out_image", device, {batch, height, width, out_c});

        at::Tensor pixels = img.select(0, item);
        at::Tensor a = alpha.select(0, item).clamp(0.0, 1.0);
        if (img.size(3) == 4) a.mul_(to_float01(pixels.select(2, 3)).clamp(0.0, 1.0));
        if (guide != nullptr) a.mul_(mask_plane(guide, guide_item, height, width, device, "guide"));

        at::Tensor rgb = to_float01(pixels.narrow(2, 0, 3));  // H x W x 3, exact for all dtypes
        at::Tensor chw = rgb.clamp(0.0, 1.0).permute({2, 0, 1}).contiguous();
        if (params->edge_refinement == CUTOUT_SHIM_REFINE_GUIDED) {
            const int64_t r = std::max<int64_t>(2, std::llround(std::max(height, width) / 256.0));
            a = guided_filter(chw, a, r, kGuidedEps);
        }
        if (params->threshold > 0.0f) a = (a >= params->threshold).to(at::kFloat);
        a = grow_matte(a, params->grow);
        a = blur_matte(a, params->blur);
        if (params->invert) a = 1.0 - a;

        at::Tensor color = rgb;
        if (params->foreground == CUTOUT_SHIM_FOREGROUND_ESTIMATE)
            color = estimate_foreground(chw, a).permute({1, 2, 0});
        at::Tensor dst = out.select(0, item);
        if (params->output == CUTOUT_SHIM_OUTPUT_PREMULTIPLIED)
            dst.narrow(2, 0, 3).copy_(color * a.unsqueeze(2));
        else
            dst.narrow(2, 0, 3).copy_(color);
        if (out_c == 4) dst.select(2, 3).copy_(a);
        alpha.select(0, item).copy_(params->mask_transparent_is_one ? 1.0 - a : a);
        return CUTOUT_SHIM_OK;
    });
}

extern "C" cutout_shim_status cutout_shim_subject_box(const DLTensor *alpha,
                                                      bool transparent_is_one, int64_t box[4],
                                                      char *err, size_t err_cap) {
    if (box != nullptr) box[0] = box[1] = box[2] = box[3] = 0;
    return guarded("subject_box", err, err_cap, [&]() -> cutout_shim_status {
        if (box == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "box: is NULL");
        c10::InferenceMode inference;
        at::Tensor a = view_of(alpha, "alpha");
        require_ndim(a, 3, "alpha", "B x H x W");
        if (a.numel() == 0) return CUTOUT_SHIM_OK;
        at::Tensor v = to_float01(a);
        at::Tensor inside = transparent_is_one ? v < (254.0 / 255.0) : v > (1.0 / 255.0);
        at::Tensor rows = inside.any(2).any(0).nonzero();
        at::Tensor cols = inside.any(1).any(0).nonzero();
        if (rows.numel() == 0) return CUTOUT_SHIM_OK;
        const int64_t y0 = rows.min().item<int64_t>(), y1 = rows.max().item<int64_t>();
        const int64_t x0 = cols.min().item<int64_t>(), x1 = cols.max().item<int64_t>();
        box[0] = x0;
        box[1] = y0;
        box[2] = x1 - x0 + 1;
        box[3] = y1 - y0 + 1;
        return CUTOUT_SHIM_OK;
    });
}

extern "C" cutout_shim_status cutout_shim_crop(const DLTensor *src, int64_t x, int64_t y,
                                               int64_t w, int64_t h, DLManagedTensor **out,
                                               char *err, size_t err_cap) {
    if (out != nullptr) *out = nullptr;
    return guarded("crop", err, err_cap, [&]() -> cutout_shim_status {
        if (out == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "out: is NULL");
        c10::InferenceMode inference;
        at::Tensor s = view_of(src, "src");
        if (s.dim() != 3 && s.dim() != 4)
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                 "src: expected B x H x W or B x H x W x C, got " + shape_string(s.sizes()));
        if (s.scalar_type() != at::kFloat)
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                 "src: wrong dtype (expected float32, got " + dtype_name(s.scalar_type()) + ")");
        if (x < 0 || y < 0 || w < 1 || h < 1 || x > s.size(2) - w || y > s.size(1) - h)
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                 "crop window: outside the tensor (expected inside " + shape_string(s.sizes()) +
                     ", got x " + std::to_string(x) + ", y " + std::to_string(y) + ", w " +
                     std::to_string(w) + ", h " + std::to_string(h) + ")");
        at::Tensor c = s.narrow(1, y, h).narrow(2, x, w).contiguous().clone();
        *out = at::toDLPack(c);
        return CUTOUT_SHIM_OK;
    });
}

extern "C" cutout_shim_status cutout_shim_composite_item(
    const DLTensor *image, const DLTensor *mask, int64_t item, int64_t mask_item,
    bool mask_transparent_is_one, const cutout_shim_background *bg, const DLTensor *background,
    int64_t background_item, DLTensor *out_rgb, char *err, size_t err_cap) {
    return guarded("composite_item", err, err_cap, [&]() -> cutout_shim_status {
        if (bg == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "background params: is NULL");
        if (bg->struct_size < sizeof(cutout_shim_background))
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "background params: struct_size too small");
        if (bg->kind != CUTOUT_SHIM_BACKGROUND_COLOR &&
            bg->kind != CUTOUT_SHIM_BACKGROUND_GRADIENT && bg->kind != CUTOUT_SHIM_BACKGROUND_IMAGE)
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                 "background: unknown kind (expected color, gradient or image, got " +
                     std::to_string(bg->kind) + ")");
        c10::InferenceMode inference;
        at::Tensor img = image_of(image, "image");
        const c10::Device device = img.device();
        const int64_t batch = img.size(0), height = img.size(1), width = img.size(2);
        require_item(item, batch, "item");
        at::Tensor out = output_of(out_rgb, "out_rgb", device, {batch, height, width, 3});
        at::Tensor pixels = img.select(0, item);
        at::Tensor a;
        if (mask != nullptr) {
            a = mask_plane(mask, mask_item, height, width, device, "mask");
            if (mask_transparent_is_one) a = 1.0 - a;
        } else if (img.size(3) == 4) {
            a = to_float01(pixels.select(2, 3)).clamp(0.0, 1.0);
        } else {
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                 "mask: missing (expected an RGBA image or a MASK, got an RGB image and no "
                 "mask)");
        }
        at::Tensor rgb = to_float01(pixels.narrow(2, 0, 3));
        at::Tensor back = background_plane(bg, background, background_item, height, width, device);
        at::Tensor alpha = a.unsqueeze(2);
        out.select(0, item).copy_(rgb * alpha + back * (1.0 - alpha));
        return CUTOUT_SHIM_OK;
    });
}
