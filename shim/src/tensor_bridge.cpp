// tensor_bridge.cpp - DLPack views and shared tensor checks.
#include "tensor_bridge.hpp"

#include <torch/cuda.h>

#include <sstream>

#include "guard.hpp"

namespace cutout_shim {

c10::Device device_from_dl(DLDevice device, const std::string &name) {
    switch (device.device_type) {
    case kDLCPU:
    case kDLCUDAHost:
        return c10::Device(c10::DeviceType::CPU);
    case kDLCUDA:
        if (device.device_id < 0 || device.device_id > 127)
            fail(CUTOUT_SHIM_ERR_DEVICE, name + ": bad CUDA device index (expected 0..127, got " +
                                             std::to_string(device.device_id) + ")");
        return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(device.device_id));
    default:
        fail(CUTOUT_SHIM_ERR_DEVICE, name + ": unsupported DLPack device (expected CPU or CUDA, "
                                            "got device type " +
                                         std::to_string(static_cast<int>(device.device_type)) +
                                         ")");
    }
}

DLDevice device_to_dl(const c10::Device &device) {
    DLDevice out;
    if (device.is_cuda()) {
        out.device_type = kDLCUDA;
        out.device_id = device.has_index() ? device.index() : 0;
    } else {
        out.device_type = kDLCPU;
        out.device_id = 0;
    }
    return out;
}

std::string device_string(const c10::Device &device) {
    if (device.is_cuda()) return "cuda:" + std::to_string(device.has_index() ? device.index() : 0);
    return device.str();
}

void require_device_available(const c10::Device &device, const std::string &name) {
    if (device.is_cpu()) return;
    if (!device.is_cuda())
        fail(CUTOUT_SHIM_ERR_DEVICE,
             name + ": unsupported device (expected cpu or cuda, got " + device.str() + ")");
    if (!torch::cuda::is_available())
        fail(CUTOUT_SHIM_ERR_DEVICE,
             name + ": CUDA is not available in this build or on this machine (expected cpu, got " +
                 device_string(device) + ")");
    int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    int64_t index = device.has_index() ? device.index() : 0;
    if (index >= count)
        fail(CUTOUT_SHIM_ERR_DEVICE, name + ": no such CUDA device (expected cuda:0..cuda:" +
                                         std::to_string(count - 1) + ", got " +
                                         device_string(device) + ")");
}

// "float32", "complex64", "float32x2" (lanes), "code 9 bits 8" (unknown).
static std::string dl_dtype_string(DLDataType t) {
    const char *code = nullptr;
    switch (t.code) {
    case kDLInt: code = "int"; break;
    case kDLUInt: code = "uint"; break;
    case kDLFloat: code = "float"; break;
    case kDLBfloat: code = "bfloat"; break;
    case kDLComplex: code = "complex"; break;
    default: break;
    }
    std::ostringstream s;
    if (code != nullptr)
        s << code << static_cast<int>(t.bits);
    else
        s << "code " << static_cast<int>(t.code) << " bits " << static_cast<int>(t.bits);
    if (t.lanes != 1) s << "x" << t.lanes;
    return s.str();
}

static at::ScalarType scalar_type_of(DLDataType t, const std::string &name) {
    if (t.lanes == 1) {
        switch (t.code) {
        case kDLFloat:
            if (t.bits == 16) return at::kHalf;
            if (t.bits == 32) return at::kFloat;
            if (t.bits == 64) return at::kDouble;
            break;
        case kDLBfloat:
            if (t.bits == 16) return at::kBFloat16;
            break;
        case kDLUInt:
            if (t.bits == 8) return at::kByte;
            break;
        case kDLInt:
            if (t.bits == 8) return at::kChar;
            if (t.bits == 16) return at::kShort;
            if (t.bits == 32) return at::kInt;
            if (t.bits == 64) return at::kLong;
            break;
        default:
            break;
        }
    }
    fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
         name + ": unsupported dtype (expected float16/32/64, bfloat16, uint8 or int8/16/32/64, "
                "got " +
             dl_dtype_string(t) + ")");
}

std::string shape_string(at::IntArrayRef sizes) {
    std::string s = "[";
    for (size_t i = 0; i < sizes.size(); ++i) {
        if (i) s += ",";
        s += std::to_string(sizes[i]);
    }
    return s + "]";
}

std::string dtype_name(at::ScalarType type) {
    switch (type) {
    case at::kHalf: return "float16";
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kBFloat16: return "bfloat16";
    case at::kByte: return "uint8";
    case at::kChar: return "int8";
    case at::kShort: return "int16";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kBool: return "bool";
    default: return c10::toString(type);
    }
}

at::Tensor view_of(const DLTensor *t, const std::string &name) {
    if (t == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": tensor is NULL");
    if (t->ndim < 0 || t->ndim > 16)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": bad number of dims (expected 0..16, got " +
                                                std::to_string(t->ndim) + ")");
    if (t->ndim > 0 && t->shape == nullptr)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": shape is NULL");
    c10::Device device = device_from_dl(t->device, name);
    require_device_available(device, name);
    at::ScalarType type = scalar_type_of(t->dtype, name);

    std::vector<int64_t> sizes(t->shape, t->shape + t->ndim);
    std::vector<int64_t> strides(static_cast<size_t>(t->ndim));
    int64_t numel = 1;
    for (int32_t i = 0; i < t->ndim; ++i) {
        if (sizes[i] < 0)
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": negative size (expected >= 0, got " +
                                                    shape_string(sizes) + ")");
        if (__builtin_mul_overflow(numel, sizes[i], &numel))
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": element count overflows (got shape " +
                                                    shape_string(sizes) + ")");
    }
    // The furthest element, (sum of (size-1)*stride) + 1 elements, must be
    // addressable in bytes; libtorch's own check of this cannot report an
    // error (it runs in a noexcept function), so it must never fail there.
    int64_t itemsize = static_cast<int64_t>(c10::elementSize(type));
    int64_t last = 0;
    if (t->strides == nullptr) {
        int64_t step = 1;
        for (int32_t i = t->ndim - 1; i >= 0; --i) {
            strides[i] = step;
            step *= sizes[i] > 0 ? sizes[i] : 1;  // cannot overflow: numel fitted
        }
        last = numel > 0 ? numel - 1 : 0;
    } else {
        strides.assign(t->strides, t->strides + t->ndim);
        for (int32_t i = 0; i < t->ndim; ++i) {
            if (strides[i] < 0)
                fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                     name + ": negative stride (expected strides >= 0, got " +
                         shape_string(strides) + ")");
            int64_t reach = 0;
            if (sizes[i] > 0 && (__builtin_mul_overflow(sizes[i] - 1, strides[i], &reach) ||
                                 __builtin_add_overflow(last, reach, &last)))
                fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": strides overflow (got strides " +
                                                        shape_string(strides) + ")");
        }
    }
    int64_t span_bytes = 0;
    if (__builtin_add_overflow(last, 1, &span_bytes) ||
        __builtin_mul_overflow(span_bytes, itemsize, &span_bytes))
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": strides overflow (got strides " +
                                                shape_string(strides) + " for shape " +
                                                shape_string(sizes) + ")");
    char *data = static_cast<char *>(t->data);
    if (data == nullptr && numel > 0)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": data is NULL");
    if (data != nullptr) data += t->byte_offset;

    at::TensorOptions options = at::TensorOptions().dtype(type).device(device);
    return at::for_blob(data, sizes)
        .strides(strides)
        .options(options)
        .target_device(device)
        .make_tensor();
}

void require_ndim(const at::Tensor &t, int64_t ndim, const std::string &name,
                  const std::string &layout) {
    if (t.dim() != ndim)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": expected " + std::to_string(ndim) +
                                                " dims " + layout + ", got " +
                                                std::to_string(t.dim()) + " dims " +
                                                shape_string(t.sizes()));
}

void require_compact_float32(const at::Tensor &t, const std::string &name) {
    if (t.scalar_type() != at::kFloat)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
             name + ": wrong dtype (expected float32, got " + dtype_name(t.scalar_type()) + ")");
    if (!t.is_contiguous())
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
             name + ": not compact (expected row-major strides, got strides " +
                 shape_string(t.strides()) + " for shape " + shape_string(t.sizes()) + ")");
}

void require_image_dtype(const at::Tensor &t, const std::string &name) {
    at::ScalarType s = t.scalar_type();
    if (s != at::kFloat && s != at::kHalf && s != at::kBFloat16 && s != at::kByte)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
             name + ": unsupported dtype (expected float32, float16, bfloat16 or uint8, got " +
                 dtype_name(s) + ")");
}

c10::Device device_of(const DLTensor *t, const std::string &name) {
    if (t == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": tensor is NULL");
    return device_from_dl(t->device, name);
}

void require_on_device(const DLTensor *t, const c10::Device &expected, const std::string &name,
                       const std::string &expected_owner) {
    c10::Device device = device_of(t, name);
    if (device != expected)
        fail(CUTOUT_SHIM_ERR_DEVICE, name + ": on " + device_string(device) + " but " +
                                         expected_owner + " " + device_string(expected));
}

at::Tensor to_float01(const at::Tensor &t) {
    if (t.scalar_type() == at::kByte) return t.to(at::kFloat).div_(255.0);
    return t.to(at::kFloat);
}

// Growing uses the antialiasing kernel too: without a shrink it computes
// plain bilinear, and unlike libtorch 1.13's plain kernel it spreads a
// one-channel matte over every thread (benchmarks/RESULTS.md, "What
// changed the time outside the forward pass").
static at::Tensor resize_into(const at::Tensor &src, int64_t height, int64_t width,
                              at::Tensor *dst) {
    at::Tensor in = src.contiguous();
    if (dst != nullptr) return at::_upsample_bilinear2d_aa_out(*dst, in, {height, width}, false);
    return at::_upsample_bilinear2d_aa(in, {height, width}, /*align_corners=*/false);
}

at::Tensor resize_bilinear(const at::Tensor &t, int64_t height, int64_t width) {
    if (t.size(2) == height && t.size(3) == width) return t;
    return resize_into(t, height, width, nullptr);
}

void resize_bilinear_into(const at::Tensor &t, at::Tensor &dst) {
    if (t.size(2) == dst.size(2) && t.size(3) == dst.size(3)) {
        dst.copy_(t);
        return;
    }
    resize_into(t, dst.size(2), dst.size(3), &dst);
}

at::Tensor image_view(const DLTensor *t, const std::string &name) {
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

at::Tensor output_view(DLTensor *t, const std::string &name, const c10::Device &device,
                       at::IntArrayRef expected) {
    require_on_device(t, device, name, "the image is on");
    at::Tensor out = view_of(t, name);
    require_ndim(out, static_cast<int64_t>(expected.size()), name,
                 expected.size() == 3 ? "B x H x W" : "B x H x W x C");
    if (out.sizes() != expected)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": shape does not match the image (expected " +
                                                shape_string(expected) + ", got " +
                                                shape_string(out.sizes()) + ")");
    require_compact_float32(out, name);
    return out;
}

void require_items(int64_t first, int64_t count, int64_t batch, int64_t min_count) {
    if (first < 0 || count < min_count || first > batch || count > batch - first)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "items: out of range (expected 0 <= first, " + std::to_string(min_count) +
                 " <= count, first + count <= batch " + std::to_string(batch) + ", got first " +
                 std::to_string(first) + ", count " + std::to_string(count) + ")");
}

mask_source::mask_source(const DLTensor *mask, const c10::Device &device,
                         const std::string &name)
    : name_(name) {
    if (mask == nullptr) return;
    require_on_device(mask, device, name, "the image is on");
    view_ = view_of(mask, name);
    if (view_.dim() != 2 && view_.dim() != 3)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": expected 3 dims B x H x W or 2 dims H x W, "
                                                   "got " + std::to_string(view_.dim()) +
                                                   " dims " + shape_string(view_.sizes()));
    const int64_t h = view_.size(view_.dim() - 2), w = view_.size(view_.dim() - 1);
    if ((view_.dim() == 3 && view_.size(0) < 1) || h < 1 || w < 1)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
             name + ": empty (expected B, H, W >= 1, got shape " + shape_string(view_.sizes()) +
                 ")");
}

at::Tensor mask_source::item_of(int64_t item) const {
    at::Tensor m = view_;
    if (m.dim() == 3) {
        if (m.size(0) != 1 && item >= m.size(0))
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                 name_ + ": batch of " + std::to_string(m.size(0)) +
                     " does not match the image (expected 1 or more than " +
                     std::to_string(item) + ")");
        m = m.select(0, m.size(0) == 1 ? 0 : item);
    }
    return m;
}

at::Tensor mask_source::plane(int64_t item, int64_t height, int64_t width) const {
    at::Tensor g = to_float01(item_of(item)).clamp(0.0, 1.0);
    if (g.size(0) != height || g.size(1) != width)
        g = resize_bilinear(g.view({1, 1, g.size(0), g.size(1)}), height, width)
                .view({height, width})
                .clamp_(0.0, 1.0);
    return g;
}

at::Tensor mask_source::exact_plane(int64_t item, int64_t height, int64_t width,
                                    const std::string &why) const {
    at::Tensor m = item_of(item);
    if (m.size(0) != height || m.size(1) != width)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
             name_ + ": " + why + " needs the image's size " + std::to_string(height) + " x " +
                 std::to_string(width) + " (got " + std::to_string(m.size(0)) + " x " +
                 std::to_string(m.size(1)) + ")");
    return to_float01(m);
}

int64_t nonfinite_count(const at::Tensor &t) {
    if (at::isfinite(t.sum(at::kFloat)).item<bool>()) return 0;
    return at::logical_not(at::isfinite(t)).sum().item<int64_t>();
}

}  // namespace cutout_shim
