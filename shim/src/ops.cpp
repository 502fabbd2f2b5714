// ops.cpp - the exported tensor operations: prediction, composition,
// allocation, checks, and process-wide settings.
#include <ATen/DLConvertor.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>
#include <torch/version.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cpu_allocator.hpp"
#include "guard.hpp"
#include "model.hpp"
#include "process_window.hpp"
#include "tensor_bridge.hpp"

namespace cutout_shim {
namespace {

// at::set_num_threads() with the OpenMP backend only reaches the calling
// thread (and threads that have not run parallel work yet). The count asked
// for is kept here and applied to every thread that runs shim work after it
// changed.
std::atomic<int32_t> g_num_threads{0};
std::atomic<uint64_t> g_num_threads_generation{0};

void apply_thread_count_to_this_thread() {
    thread_local uint64_t seen = 0;
    uint64_t generation = g_num_threads_generation.load();
    if (generation == seen) return;
    int32_t n = g_num_threads.load();
    if (n > 0 && at::get_num_threads() != n) at::set_num_threads(n);
    seen = generation;
}

std::string items_text(int64_t first, int64_t count) {
    return "first " + std::to_string(first) + ", count " + std::to_string(count);
}

// Throws INVALID_ARGUMENT unless 0 <= first, min_count <= count and
// first + count <= batch.
void require_items(int64_t first, int64_t count, int64_t batch, int64_t min_count) {
    if (first < 0 || count < min_count || first > batch || count > batch - first)
        fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
             "items: out of range (expected 0 <= first, " + std::to_string(min_count) +
                 " <= count, first + count <= batch " + std::to_string(batch) + ", got " +
                 items_text(first, count) + ")");
}

void poll_abort(cutout_shim_abort_fn abort, void *user, const char *stage) {
    if (abort != nullptr && abort(user))
        fail(CUTOUT_SHIM_CANCELLED,
             std::string("predict_alpha: cancelled by the abort callback ") + stage);
}

// An image tensor B x H x W x C (C = 3 or 4) of an image dtype.
at::Tensor image_view(const DLTensor *image) {
    at::Tensor img = view_of(image, "image");
    require_ndim(img, 4, "image", "B x H x W x C");
    if (img.size(3) != 3 && img.size(3) != 4)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
             "image: wrong channel count (expected C = 3 or 4, got shape " +
                 shape_string(img.sizes()) + ")");
    if (img.size(1) < 1 || img.size(2) < 1)
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
             "image: empty (expected H, W >= 1, got shape " + shape_string(img.sizes()) + ")");
    require_image_dtype(img, "image");
    return img;
}

// A compact float32 output tensor on the image's device whose shape is the
// image's B x H x W, followed by `channels` when that is not 0.
at::Tensor output_view(DLTensor *t, const std::string &name, const at::Tensor &img,
                       int64_t channels) {
    require_on_device(t, img.device(), name, "the image is on");
    at::Tensor out = view_of(t, name);
    std::vector<int64_t> expected{img.size(0), img.size(1), img.size(2)};
    std::string layout = "B x H x W";
    if (channels > 0) {
        expected.push_back(channels);
        layout += " x 4";
    }
    require_ndim(out, static_cast<int64_t>(expected.size()), name, layout);
    if (out.sizes() != at::IntArrayRef(expected))
        fail(CUTOUT_SHIM_ERR_INVALID_INPUT, name + ": shape does not match the image (expected " +
                                                shape_string(expected) + ", got " +
                                                shape_string(out.sizes()) + ")");
    require_compact_float32(out, name);
    return out;
}

// How many values of a floating-point tensor are NaN or +-Inf. A sum is
// finite only when every value is (NaN and Inf propagate), and it needs no
// temporary of the tensor's size: count exactly only when it is not (a NaN
// or Inf, or finite values large enough to overflow).
int64_t nonfinite_count(const at::Tensor &t) {
    if (at::isfinite(t.sum(at::kFloat)).item<bool>()) return 0;
    return at::logical_not(at::isfinite(t)).sum().item<int64_t>();
}

// The tensor a model returned: the value itself, or the first element of a
// tuple or list.
at::Tensor returned_tensor(const c10::IValue &value) {
    if (value.isTensor()) return value.toTensor();
    if (value.isTuple()) {
        const auto &elements = value.toTupleRef().elements();
        if (!elements.empty() && elements[0].isTensor()) return elements[0].toTensor();
    } else if (value.isList()) {
        c10::List<c10::IValue> list = value.toList();
        if (list.size() > 0 && list.get(0).isTensor()) return list.get(0).toTensor();
    }
    fail(CUTOUT_SHIM_ERR_INFERENCE,
         "model output: expected a tensor B x 1 x H x W (or a tuple/list starting with one), got " +
             std::string(value.tagKind()));
}

// Checks what the model returned for `count` items: a finite floating-point
// count x 1 x S x S' tensor on the model's device.
at::Tensor checked_output(const c10::IValue &value, int64_t count, const c10::Device &device) {
    at::Tensor y = returned_tensor(value);
    if (y.dim() != 4)
        fail(CUTOUT_SHIM_ERR_INFERENCE, "model output: expected 4 dims B x 1 x H x W, got " +
                                            std::to_string(y.dim()) + " dims " +
                                            shape_string(y.sizes()));
    if (y.size(0) != count || y.size(1) != 1 || y.size(2) < 1 || y.size(3) < 1)
        fail(CUTOUT_SHIM_ERR_INFERENCE, "model output: wrong shape (expected [" +
                                            std::to_string(count) + ",1,H,W], got " +
                                            shape_string(y.sizes()) + ")");
    if (!at::isFloatingType(y.scalar_type()))
        fail(CUTOUT_SHIM_ERR_INFERENCE,
             "model output: wrong dtype (expected a floating-point tensor, got " +
                 dtype_name(y.scalar_type()) + ")");
    if (y.device() != device)
        fail(CUTOUT_SHIM_ERR_INFERENCE, "model output: on " + device_string(y.device()) +
                                            " but the model runs on " + device_string(device));
    int64_t bad = nonfinite_count(y);
    if (bad != 0)
        fail(CUTOUT_SHIM_ERR_INFERENCE,
             "model output: not finite (expected all values finite, got " + std::to_string(bad) +
                 " NaN/Inf of " + std::to_string(y.numel()) + ")");
    return y;
}

bool float_aligned(const at::Tensor &t) {
    return reinterpret_cast<uintptr_t>(t.data_ptr()) % alignof(float) == 0;
}

// Writes RGBA = (the first three channels of `pixels`, `a`) into `rgba`
// (H x W x 4, compact float32). For a compact float32 image this is one
// pass over the pixels; libtorch's strided copies into the RGB part and
// then the alpha channel take about twice as long (10.7 against 5.6 ms at
// 2048 x 2048 on two cores). Other dtypes, strides and misaligned data take
// the copies.
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

// The model's input size from a compact N x 3 x H x W image, made the way
// ISNet was trained: plain bilinear, while no side shrinks more than 2x
// (every source pixel then still contributes; at exactly 2x each output is
// the mean of a 2 x 2 block). It is also 5x faster than the antialiased
// kernel for 2048 x 2048 -> 1024 x 1024 (2 against 11 ms on two cores).
// A larger shrink would skip source pixels and alias: it takes the
// antialiased filter.
at::Tensor resize_for_model(const at::Tensor &x, int64_t height, int64_t width) {
    if (x.size(2) == height && x.size(3) == width) return x;
    if (x.size(2) <= 2 * height && x.size(3) <= 2 * width)
        return at::upsample_bilinear2d(x, {height, width}, /*align_corners=*/false);
    return resize_bilinear(x, height, width);
}

bool cpu_batched_passes() {
    const char *v = std::getenv("CUTOUT_CPU_BATCHED_PASSES");
    return v != nullptr && std::strcmp(v, "1") == 0;
}

// The model's input for items [first, first + n) of `img`: RGB in 0..1,
// resized to the window, normalised, padded, in the model's dtype and
// layout. Each item is converted from the image's layout (any dtype and
// strides) to compact 3 x H x W float32 in one pass, which the resize
// needs; one item at a time, so the full-size copy is one image's (50 MB
// at the pixel limit), not the chunk's.
at::Tensor model_input(const cutout_shim_model &model, const at::Tensor &img, int64_t first,
                       int64_t n, const process_window &window) {
    const int64_t height = img.size(1), width = img.size(2);
    const int64_t inner_h = window.inner_height(height, width);
    const int64_t inner_w = window.inner_width(height, width);
    const at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat).device(img.device());
    at::Tensor x = n > 1 ? at::empty({n, 3, inner_h, inner_w}, f32) : at::Tensor();
    for (int64_t i = 0; i < n; ++i) {
        at::Tensor rgb = img.select(0, first + i).narrow(2, 0, 3).permute({2, 0, 1}).unsqueeze(0);
        at::Tensor item = at::empty({1, 3, height, width}, f32);
        if (rgb.scalar_type() == at::kFloat) {
            at::clamp_out(item, rgb, 0.0, 1.0);
        } else {
            item.copy_(rgb);
            if (rgb.scalar_type() == at::kByte)
                item.div_(255.0);  // as to_float01
            else
                item.clamp_(0.0, 1.0);
        }
        item = resize_for_model(item, inner_h, inner_w);
        if (n == 1)
            x = item;
        else
            x.narrow(0, i, 1).copy_(item);
    }
    x.sub_(model.mean).div_(model.std);  // x is this call's own buffer
    return window.pad(x).to(model.input_dtype).contiguous(
        model.channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
}

}  // namespace
}  // namespace cutout_shim

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
        g_num_threads.store(n);
        g_num_threads_generation.fetch_add(1);
        apply_thread_count_to_this_thread();
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

extern "C" cutout_shim_status cutout_shim_count_nonfinite(const DLTensor *t, int64_t first,
                                                          int64_t count, int64_t *nonfinite,
                                                          char *err, size_t err_cap) {
    if (nonfinite != nullptr) *nonfinite = 0;
    return guarded("count_nonfinite", err, err_cap, [&]() -> cutout_shim_status {
        if (nonfinite == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "nonfinite: is NULL");
        apply_thread_count_to_this_thread();
        c10::InferenceMode inference;
        at::Tensor v = view_of(t, "tensor");
        if (v.dim() < 1)
            fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                 "tensor: expected at least 1 dim B x ..., got 0 dims");
        require_items(first, count, v.size(0), 0);
        if (!at::isFloatingType(v.scalar_type()) || count == 0) return CUTOUT_SHIM_OK;
        *nonfinite = nonfinite_count(v.narrow(0, first, count));
        return CUTOUT_SHIM_OK;
    });
}

extern "C" cutout_shim_status cutout_shim_predict_alpha(cutout_shim_model *model,
                                                        const DLTensor *image, int64_t first,
                                                        int64_t count, DLTensor *alpha_out,
                                                        cutout_shim_abort_fn abort,
                                                        void *abort_user, char *err,
                                                        size_t err_cap) {
    return cutout_shim_predict_alpha_ex(model, image, first, count, nullptr, alpha_out, abort,
                                        abort_user, err, err_cap);
}

extern "C" cutout_shim_status cutout_shim_predict_alpha_ex(
    cutout_shim_model *model, const DLTensor *image, int64_t first, int64_t count,
    const cutout_shim_predict_params *params, DLTensor *alpha_out, cutout_shim_abort_fn abort,
    void *abort_user, char *err, size_t err_cap) {
    return guarded("predict_alpha", err, err_cap, [&]() -> cutout_shim_status {
        if (model == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "model: is NULL");
        const std::vector<model_view> views = model_views_of(params, model->info);
        apply_thread_count_to_this_thread();
        c10::InferenceMode inference;
        cpu_cache_scope reuse_cpu_buffers;  // see cpu_allocator.hpp
        require_on_device(image, model->device, "image", "the model runs on");
        at::Tensor img = image_view(image);
        at::Tensor out = output_view(alpha_out, "alpha_out", img, 0);
        require_items(first, count, img.size(0), 1);
        const int64_t height = img.size(1), width = img.size(2);

        // On a CPU a pass over several images is no faster than a pass per
        // image (8 images at 1024 x 1024: 0.264 against 0.270 s per image in
        // bf16, 1.20 against 1.17 s in fp32), and its activations grow with
        // the count (16 such images in one pass peaked at 3.6 GB, against
        // 1.5 GB). There the items go through one by one, unless
        // CUTOUT_CPU_BATCHED_PASSES=1 asks for CUDA's way (to compare the
        // two, and so that tests run the batched path without a GPU).
        const int64_t per_pass =
            model->device.is_cpu() && !cpu_batched_passes() ? 1 : count;
        for (int64_t start = first; start < first + count; start += per_pass) {
            const int64_t n = std::min(per_pass, first + count - start);
            poll_abort(abort, abort_user, "before pre-processing");
            std::vector<at::Tensor> inputs;
            for (const model_view &v : views) {
                at::Tensor x = model_input(*model, img, start, n, v.window);
                inputs.push_back(v.mirrored ? x.flip({3}) : x);
            }
            // The model's matte of `input` (k images), as float32.
            auto forward = [&](const at::Tensor &input, int64_t k) {
                poll_abort(abort, abort_user, "before the forward pass");
                c10::IValue result =
                    translate_errors(CUTOUT_SHIM_ERR_INFERENCE, "model forward: ", [&] {
                        // The graph was prepared once at load. The executor's
                        // own passes, which start with the second call, would
                        // rewrite it again (libtorch 2.x drops the bf16 casts),
                        // so a matte would depend on how often the model had
                        // run. The switch is thread-local: the host's own
                        // TorchScript is not affected.
                        torch::jit::GraphOptimizerEnabledGuard as_prepared(false);
                        return model->module.forward({input});
                    });
                poll_abort(abort, abort_user, "after the forward pass");
                return checked_output(result, k, model->device).to(at::kFloat);
            };
            // Every view has the model's input size, so on a GPU they go
            // through in one batch; a CPU runs them one after the other (a
            // larger batch is no faster there and needs more memory).
            std::vector<at::Tensor> mattes;
            if (views.size() > 1 && !model->device.is_cpu()) {
                const int64_t k = static_cast<int64_t>(views.size());
                at::Tensor all = forward(at::cat(inputs, 0), k * n);
                for (int64_t i = 0; i < k; ++i) mattes.push_back(all.narrow(0, i * n, n));
            } else {
                for (const at::Tensor &x : inputs) mattes.push_back(forward(x, n));
            }
            at::Tensor items = out.narrow(0, start, n).unsqueeze(1);  // n x 1 x H x W
            for (size_t i = 0; i < views.size(); ++i) {
                at::Tensor y = views[i].mirrored ? mattes[i].flip({3}) : mattes[i];
                y = views[i].window.unpad(y, height, width);
                if (i == 0) {
                    resize_bilinear_into(y, items);
                } else {
                    at::Tensor other = at::empty_like(items);
                    resize_bilinear_into(y, other);
                    items.add_(other);
                }
            }
            if (views.size() > 1) items.mul_(1.0 / static_cast<double>(views.size()));
            items.clamp_(0.0, 1.0);
        }
        return CUTOUT_SHIM_OK;
    });
}

extern "C" cutout_shim_status cutout_shim_compose_item(const DLTensor *image,
                                                       const DLTensor *guide, int64_t item,
                                                       int64_t guide_item, DLTensor *alpha_out,
                                                       DLTensor *out_image, char *err,
                                                       size_t err_cap) {
    return guarded("compose_item", err, err_cap, [&]() -> cutout_shim_status {
        apply_thread_count_to_this_thread();
        c10::InferenceMode inference;
        at::Tensor img = image_view(image);
        at::Tensor alpha = output_view(alpha_out, "alpha_out", img, 0);
        at::Tensor composed = output_view(out_image, "out_image", img, 4);
        require_items(item, 1, img.size(0), 1);
        const int64_t height = img.size(1), width = img.size(2);

        at::Tensor g;
        if (guide != nullptr) {
            require_on_device(guide, img.device(), "guide", "the image is on");
            at::Tensor gv = view_of(guide, "guide");
            if (gv.dim() != 2 && gv.dim() != 3)
                fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                     "guide: expected 3 dims B x H x W or 2 dims H x W, got " +
                         std::to_string(gv.dim()) + " dims " + shape_string(gv.sizes()));
            if (gv.dim() == 3) {
                // A 2-dim guide applies to every item; guide_item is unused then.
                if (guide_item < 0 || guide_item >= gv.size(0))
                    fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                         "guide_item: out of range (expected 0.." + std::to_string(gv.size(0) - 1) +
                             ", got " + std::to_string(guide_item) + ")");
                gv = gv.select(0, guide_item);
            }
            if (gv.size(0) < 1 || gv.size(1) < 1)
                fail(CUTOUT_SHIM_ERR_INVALID_INPUT,
                     "guide: empty (expected H, W >= 1, got shape " + shape_string(gv.sizes()) + ")");
            g = to_float01(gv).clamp(0.0, 1.0);
            if (g.size(0) != height || g.size(1) != width) {
                g = resize_bilinear(g.view({1, 1, g.size(0), g.size(1)}), height, width)
                        .view({height, width})
                        .clamp_(0.0, 1.0);
            }
        }

        at::Tensor pixels = img.select(0, item);
        at::Tensor a = alpha.select(0, item).clamp_(0.0, 1.0);  // finished in place
        if (img.size(3) == 4) a.mul_(to_float01(pixels.select(2, 3)).clamp(0.0, 1.0));
        if (g.defined()) a.mul_(g);
        pack_rgba(pixels, a, composed.select(0, item));
        return CUTOUT_SHIM_OK;
    });
}
