// runtime.cpp - the exported process-wide calls (versions, devices, thread
// count) and the tensor services every node uses (allocation, the NaN/Inf
// check).
#include <ATen/DLConvertor.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#include <string>
#include <vector>

#include "cpu_allocator.hpp"
#include "guard.hpp"
#include "tensor_bridge.hpp"
#include "threads.hpp"

using namespace cutout_shim;

extern "C" const char *cutout_shim_torch_version(void) { return TORCH_VERSION; }

extern "C" cutout_shim_status cutout_shim_cuda_available(bool *available, char *err,
                                                         size_t err_cap) {
    return guarded("cuda_available", err, err_cap, [&]() -> cutout_shim_status {
        if (available == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "available: is NULL");
        *available = torch::cuda::is_available();
        return CUTOUT_SHIM_OK;
    });
}

extern "C" cutout_shim_status cutout_shim_set_num_threads(int32_t n, char *err, size_t err_cap) {
    return guarded("set_num_threads", err, err_cap, [&]() -> cutout_shim_status {
        if (n < 1)
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                 "num_threads: out of range (expected >= 1, got " + std::to_string(n) + ")");
        set_thread_count(n);
        return CUTOUT_SHIM_OK;
    });
}

extern "C" cutout_shim_status cutout_shim_alloc_float32(DLDevice device, int32_t ndim,
                                                        const int64_t *shape,
                                                        DLManagedTensor **out, char *err,
                                                        size_t err_cap) {
    if (out != nullptr) *out = nullptr;
    return guarded("alloc_float32", err, err_cap, [&]() -> cutout_shim_status {
        if (out == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "out: is NULL");
        if (ndim < 0 || ndim > 16 || (ndim > 0 && shape == nullptr))
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                 "shape: bad (expected 0..16 dims and a shape array, got " +
                     std::to_string(ndim) + " dims" + (shape == nullptr ? ", NULL shape" : "") +
                     ")");
        std::vector<int64_t> sizes(shape, shape + ndim);
        int64_t bytes = static_cast<int64_t>(sizeof(float));
        for (int64_t s : sizes) {
            if (s < 0)
                fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                     "shape: negative size (got " + shape_string(sizes) + ")");
            if (__builtin_mul_overflow(bytes, s, &bytes))
                fail(CUTOUT_SHIM_ERR_OUT_OF_MEMORY,
                     "alloc_float32: size overflows (got shape " + shape_string(sizes) + ")");
        }
        c10::Device dev = device_from_dl(device, "device");
        require_device_available(dev, "device");
        // From the cache as well: a host that frees its outputs before the
        // next call gets their pages back without faulting them in again.
        cpu_cache_scope reuse_cpu_buffers;
        at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(at::kFloat).device(dev));
        *out = at::toDLPack(t);
        return CUTOUT_SHIM_OK;
    });
}

extern "C" cutout_shim_status cutout_shim_find_nonfinite(const DLTensor *t, int64_t *nonfinite,
                                                         int64_t *first_item, char *err,
                                                         size_t err_cap) {
    if (nonfinite != nullptr) *nonfinite = 0;
    if (first_item != nullptr) *first_item = -1;
    return guarded("find_nonfinite", err, err_cap, [&]() -> cutout_shim_status {
        if (nonfinite == nullptr || first_item == nullptr)
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "nonfinite, first_item: NULL");
        apply_thread_count_to_this_thread();
        c10::InferenceMode inference;
        at::Tensor v = view_of(t, "tensor");
        if (v.dim() < 1)
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                 "tensor: expected at least 1 dim B x ..., got 0 dims");
        if (!at::isFloatingType(v.scalar_type()) || v.numel() == 0) return CUTOUT_SHIM_OK;
        *nonfinite = nonfinite_count(v);
        if (*nonfinite == 0) return CUTOUT_SHIM_OK;
        at::Tensor bad_items = at::logical_not(at::isfinite(v)).reshape({v.size(0), -1}).any(1);
        *first_item = bad_items.nonzero().min().item<int64_t>();
        return CUTOUT_SHIM_OK;
    });
}

extern "C" cutout_shim_status cutout_shim_value_range(const DLTensor *t, double *low, double *high,
                                                      char *err, size_t err_cap) {
    if (low != nullptr) *low = 0.0;
    if (high != nullptr) *high = 0.0;
    return guarded("value_range", err, err_cap, [&]() -> cutout_shim_status {
        if (low == nullptr || high == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "low, high: NULL");
        apply_thread_count_to_this_thread();
        c10::InferenceMode inference;
        at::Tensor v = view_of(t, "tensor");
        if (v.numel() == 0) fail(CUTOUT_SHIM_ERR_INVALID_INPUT, "tensor: empty");
        at::Tensor m = to_float01(v);
        *low = m.min().item<double>();
        *high = m.max().item<double>();
        return CUTOUT_SHIM_OK;
    });
}
