// tensor_bridge.hpp - DLPack (0.6) <-> at::Tensor without copies, and the
// device / shape checks the exported functions share.
//
// Views made here borrow the DLTensor's memory: they must not outlive it,
// and the shim never writes through a view of an input.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cutout_shim.h"

namespace cutout_shim {

// libtorch device of a DLPack device. kDLCPU and kDLCUDAHost (pinned host
// memory) are the CPU; kDLCUDA is cuda:<device_id>. Anything else throws
// shim_error(DEVICE) naming `name`.
c10::Device device_from_dl(DLDevice device, const std::string &name);

// DLPack device of a libtorch device.
DLDevice device_to_dl(const c10::Device &device);

// "cpu", "cuda:0", ...
std::string device_string(const c10::Device &device);

// Throws shim_error(DEVICE) unless `device` is usable by this build: the CPU
// always is; cuda:N needs a CUDA build, a device and N < device count.
void require_device_available(const c10::Device &device, const std::string &name);

// Wraps `t` as a tensor view (no copy): sizes, strides in elements (NULL
// means compact), data + byte_offset, dtype, device. Supported dtypes:
// float16/32/64, bfloat16, uint8, int8/16/32/64, bool. Throws
// shim_error(INVALID_INPUT) naming `name` for a NULL tensor or data
// pointer, a negative size or stride, lanes != 1 or an unsupported dtype,
// and shim_error(DEVICE) for a device this build or machine cannot use.
at::Tensor view_of(const DLTensor *t, const std::string &name);

// "[2,64,64]"
std::string shape_string(at::IntArrayRef sizes);

// Human name of a dtype: "float32", "uint8", ...
std::string dtype_name(at::ScalarType type);

// Throws shim_error(INVALID_INPUT) unless `t` has `ndim` dims; `layout` names
// them for the message, e.g. "B x H x W x C".
void require_ndim(const at::Tensor &t, int64_t ndim, const std::string &name,
                  const std::string &layout);

// Throws shim_error(INVALID_INPUT) unless `t` is float32 and compact
// (row-major, no gaps), as output tensors must be.
void require_compact_float32(const at::Tensor &t, const std::string &name);

// Throws shim_error(INVALID_INPUT) unless t.dtype is float32, float16,
// bfloat16 or uint8 (the image dtypes).
void require_image_dtype(const at::Tensor &t, const std::string &name);

// The device of `t` (see device_from_dl). Throws shim_error(INVALID_INPUT)
// for a NULL tensor.
c10::Device device_of(const DLTensor *t, const std::string &name);

// Throws shim_error(DEVICE) unless `t` lives on `expected`, with a message
// like "image: on cuda:0 but the model runs on cpu"; `expected_owner` says
// whose device that is ("the model runs on"). Checked before any view is
// made, so a tensor on a device this build cannot address is never touched.
void require_on_device(const DLTensor *t, const c10::Device &expected, const std::string &name,
                       const std::string &expected_owner);

// Converts an image-like tensor to float32 values in 0..1: uint8 is divided
// by 255 (exactly as (float)v / 255.0f), bool becomes 0/1, other integers
// and floats are cast to float32. The result is not clamped.
at::Tensor to_float01(const at::Tensor &t);

// Bilinearly resizes an N x C x h x w float32 tensor to N x C x height x
// width (align_corners = false; antialiased when either side shrinks).
// Returns `t` itself when the size already matches.
at::Tensor resize_bilinear(const at::Tensor &t, int64_t height, int64_t width);

// The same resize written into `dst`, an N x C x height x width compact
// float32 tensor that does not overlap `t`; a plain copy when the sizes
// already match.
void resize_bilinear_into(const at::Tensor &t, at::Tensor &dst);

// An image B x H x W x C (C = 3 or 4, B, H, W >= 1) of an image dtype.
// Throws shim_error(INVALID_INPUT) naming `name`.
at::Tensor image_view(const DLTensor *t, const std::string &name);

// A compact float32 output tensor on `device` of exactly `expected` shape.
// Throws shim_error(DEVICE) or (INVALID_INPUT) naming `name`.
at::Tensor output_view(DLTensor *t, const std::string &name, const c10::Device &device,
                       at::IntArrayRef expected);

// Throws shim_error(INVALID_ARGUMENT) unless 0 <= first, min_count <= count
// and first + count <= batch.
void require_items(int64_t first, int64_t count, int64_t batch, int64_t min_count);

// A mask or guide B x H' x W' or H' x W' (NULL: none), checked once; a
// batch of 1 and a 2-dim mask apply to every item.
class mask_source {
public:
    // Throws shim_error(DEVICE) or (INVALID_INPUT) naming `name`.
    mask_source(const DLTensor *mask, const c10::Device &device, const std::string &name);
    bool present() const { return view_.defined(); }
    // Item `item`'s plane as float32 H x W in 0..1, resized bilinearly
    // when its size differs. Throws shim_error(INVALID_INPUT) when the
    // mask has neither 1 nor more than `item` items.
    at::Tensor plane(int64_t item, int64_t height, int64_t width) const;
    // Item `item`'s plane as float32 H x W, neither resized nor clamped.
    // Throws shim_error(INVALID_INPUT) naming `why` when its size is not
    // height x width, or as plane() does.
    at::Tensor exact_plane(int64_t item, int64_t height, int64_t width,
                           const std::string &why) const;

private:
    at::Tensor item_of(int64_t item) const;
    at::Tensor view_;
    std::string name_;
};

// How many values of a floating-point tensor are NaN or +-Inf. A sum is
// finite only when every value is, so the exact count (which needs a
// temporary of the tensor's size) is only made when it is not.
int64_t nonfinite_count(const at::Tensor &t);

}  // namespace cutout_shim
