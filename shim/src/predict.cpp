// predict.cpp - the exported prediction: an image's items through the
// model, in one or more views, back to alpha mattes at the image's size.
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cpu_allocator.hpp"
#include "guard.hpp"
#include "model.hpp"
#include "predict.hpp"
#include "process_window.hpp"
#include "tensor_bridge.hpp"
#include "threads.hpp"

namespace cutout_shim {
namespace {

void poll_abort(cutout_shim_abort_fn abort, void *user, const char *stage) {
    if (abort != nullptr && abort(user))
        fail(CUTOUT_SHIM_CANCELLED,
             std::string("predict_alpha: cancelled by the abort callback ") + stage);
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

// The model's input size from a compact N x 3 x H x W image, made the way
// ISNet was trained: plain bilinear while no side shrinks more than 2x
// (every source pixel still contributes, and it is much faster than the
// antialiased kernel); a larger shrink would skip pixels and alias, so it
// takes the antialiased filter.
at::Tensor resize_for_model(const at::Tensor &x, int64_t height, int64_t width) {
    if (x.size(2) == height && x.size(3) == width) return x;
    if (x.size(2) <= 2 * height && x.size(3) <= 2 * width)
        return at::upsample_bilinear2d(x, {height, width}, /*align_corners=*/false);
    return resize_bilinear(x, height, width);
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

// See predict.hpp.
void predict_items(cutout_shim_model *model, const DLTensor *image, int64_t first, int64_t count,
                   const cutout_shim_predict_params *params, DLTensor *alpha_out,
                   cutout_shim_abort_fn abort, void *abort_user) {
    if (model == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "model: is NULL");
    const std::vector<model_view> views = model_views_of(params, model->info);
    apply_thread_count_to_this_thread();
    c10::InferenceMode inference;
    cpu_cache_scope reuse_cpu_buffers;  // see cpu_allocator.hpp
    require_on_device(image, model->device, "image", "the model runs on");
    at::Tensor img = image_view(image, "image");
    at::Tensor out =
        output_view(alpha_out, "alpha_out", img.device(), {img.size(0), img.size(1), img.size(2)});
    require_items(first, count, img.size(0), 1);
    const int64_t height = img.size(1), width = img.size(2);

    // A CPU gives each item its own pass unless the model was loaded
    // with shared passes: a shared pass is no faster there and its
    // activations grow with the count.
    const int64_t per_pass = model->shared_passes ? count : 1;
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
        // Every view has the model's input size, so with shared passes
        // they go through in one batch.
        std::vector<at::Tensor> mattes;
        if (views.size() > 1 && model->shared_passes) {
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
}

}  // namespace cutout_shim

using namespace cutout_shim;

extern "C" cutout_shim_status cutout_shim_predict_alpha(
    cutout_shim_model *model, const DLTensor *image, int64_t first, int64_t count,
    const cutout_shim_predict_params *params, DLTensor *alpha_out, cutout_shim_abort_fn abort,
    void *abort_user, char *err, size_t err_cap) {
    return guarded("predict_alpha", err, err_cap, [&]() -> cutout_shim_status {
        predict_items(model, image, first, count, params, alpha_out, abort, abort_user);
        return CUTOUT_SHIM_OK;
    });
}
