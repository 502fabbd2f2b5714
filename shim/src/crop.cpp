// crop.cpp - the exported subject box and crop of the Advanced node's
// crop_to_subject.
#include <ATen/DLConvertor.h>
#include <torch/script.h>

#include <string>

#include "guard.hpp"
#include "tensor_bridge.hpp"

using namespace cutout_shim;

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

