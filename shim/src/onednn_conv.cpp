// onednn_conv.cpp - see onednn_conv.hpp.
#include "onednn_conv.hpp"
#include "version_compat.hpp"

#ifdef CUTOUT_HAVE_ONEDNN

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/library.h>

#include <cinttypes>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cutout_shim {

// One convolution: float32 weights and bias as given, and the oneDNN
// primitives made for the input shapes seen so far (at most kMaxPlans,
// the oldest dropped first). run() may be called from several threads at
// once: plans are made under a mutex and then only read.
class onednn_conv {
public:
    onednn_conv(at::Tensor weight, at::Tensor bias, std::vector<int64_t> stride,
                std::vector<int64_t> padding, std::vector<int64_t> dilation, bool relu)
        : weight_(std::move(weight)), bias_(std::move(bias)), stride_(std::move(stride)),
          padding_(std::move(padding)), dilation_(std::move(dilation)), relu_(relu),
          engine_(dnnl::engine::kind::cpu, 0) {}

    at::Tensor run(const at::Tensor &input) {
        TORCH_CHECK(input.scalar_type() == at::kBFloat16 && input.dim() == 4 && input.is_cpu(),
                    "cutout bf16 convolution: expected a 4-d bf16 CPU tensor, got ",
                    input.scalar_type(), " with ", input.dim(), " dims");
        TORCH_CHECK(input.size(1) == weight_.size(1),
                    "cutout bf16 convolution: expected ", weight_.size(1),
                    " input channels, got ", input.size(1));
        at::Tensor x = input.contiguous(at::MemoryFormat::ChannelsLast);
        const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
        std::shared_ptr<plan> p = plan_for(n, h, w);
        at::Tensor out = at::empty({n, weight_.size(0), p->out_h, p->out_w},
                                   x.options().memory_format(at::MemoryFormat::ChannelsLast));
        at::Tensor scratch = at::empty({static_cast<int64_t>(p->scratch_bytes)},
                                       x.options().dtype(at::kByte));
        dnnl::memory src(p->src_md, engine_, x.data_ptr());
        dnnl::memory dst(p->dst_md, engine_, out.data_ptr());
        dnnl::memory scratchpad(p->pd.scratchpad_desc(), engine_, scratch.data_ptr());
        dnnl::stream stream(engine_);
        p->conv.execute(stream, {{DNNL_ARG_SRC, src},
                                 {DNNL_ARG_WEIGHTS, p->weights},
                                 {DNNL_ARG_BIAS, p->bias},
                                 {DNNL_ARG_DST, dst},
                                 {DNNL_ARG_SCRATCHPAD, scratchpad}});
        stream.wait();
        return out;
    }

private:
    struct plan {
        int64_t n = 0, h = 0, w = 0, out_h = 0, out_w = 0;
        dnnl::memory::desc src_md, dst_md;
        dnnl::convolution_forward::primitive_desc pd;
        dnnl::convolution_forward conv;
        dnnl::memory weights, bias;
        size_t scratch_bytes = 0;
    };
    static const size_t kMaxPlans = 8;

    std::shared_ptr<plan> plan_for(int64_t n, int64_t h, int64_t w) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const std::shared_ptr<plan> &p : plans_)
            if (p->n == n && p->h == h && p->w == w) return p;
        std::shared_ptr<plan> p = make_plan(n, h, w);
        if (plans_.size() == kMaxPlans) plans_.pop_front();
        plans_.push_back(p);
        return p;
    }

    std::shared_ptr<plan> make_plan(int64_t n, int64_t h, int64_t w) {
        using dims = dnnl::memory::dims;
        using dt = dnnl::memory::data_type;
        using tag = dnnl::memory::format_tag;
        const int64_t oc = weight_.size(0), ic = weight_.size(1);
        const int64_t kh = weight_.size(2), kw = weight_.size(3);
        auto p = std::make_shared<plan>();
        p->n = n;
        p->h = h;
        p->w = w;
        p->out_h = (h + 2 * padding_[0] - dilation_[0] * (kh - 1) - 1) / stride_[0] + 1;
        p->out_w = (w + 2 * padding_[1] - dilation_[1] * (kw - 1) - 1) / stride_[1] + 1;
        TORCH_CHECK(p->out_h > 0 && p->out_w > 0, "cutout bf16 convolution: input ", h, " x ", w,
                    " is too small for a ", kh, " x ", kw, " kernel");
        p->src_md = dnnl::memory::desc(dims{n, ic, h, w}, dt::bf16, tag::nhwc);
        p->dst_md = dnnl::memory::desc(dims{n, oc, p->out_h, p->out_w}, dt::bf16, tag::nhwc);
        dnnl::memory::desc weights_any(dims{oc, ic, kh, kw}, dt::bf16, tag::any);
        dnnl::memory::desc bias_md(dims{oc}, dt::f32, tag::x);
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        if (relu_) attr.set_post_ops(relu_post_ops());
        p->pd = convolution_inference_pd(engine_, p->src_md, weights_any, bias_md, p->dst_md,
                                         dims{stride_[0], stride_[1]},
                                         dims{dilation_[0] - 1, dilation_[1] - 1},
                                         dims{padding_[0], padding_[1]}, attr);
        p->conv = dnnl::convolution_forward(p->pd);
        p->scratch_bytes = p->pd.scratchpad_desc().get_size();
        // The weights, rounded to bf16 in the layout the primitive chose.
        dnnl::memory given(dnnl::memory::desc(dims{oc, ic, kh, kw}, dt::f32, tag::oihw), engine_,
                           weight_.data_ptr());
        p->weights = dnnl::memory(p->pd.weights_desc(), engine_);
        dnnl::stream stream(engine_);
        dnnl::reorder(given, p->weights).execute(stream, given, p->weights);
        stream.wait();
        p->bias = dnnl::memory(bias_md, engine_, bias_.data_ptr());
        return p;
    }

    at::Tensor weight_;  // float32, contiguous O x I x KH x KW
    at::Tensor bias_;    // float32, contiguous O
    std::vector<int64_t> stride_, padding_, dilation_;
    bool relu_;
    dnnl::engine engine_;
    std::mutex mutex_;
    std::deque<std::shared_ptr<plan>> plans_;
};

namespace {

at::Tensor conv2d_bf16_op(const at::Tensor &x, int64_t handle) {
    return reinterpret_cast<onednn_conv *>(static_cast<intptr_t>(handle))->run(x);
}

// The op is registered once per loaded copy of the shim, under a name that
// holds this copy's address: two copies in one process (two libraries that
// link the shim) then never call into each other. Empty when registration
// failed.
const std::string &registered_op_name() {
    static std::once_flag once;
    static std::string name;
    static std::unique_ptr<torch::Library> library;
    std::call_once(once, [] {
        char base[64];
        std::snprintf(base, sizeof base, "conv2d_bf16_%" PRIxPTR,
                      reinterpret_cast<uintptr_t>(&registered_op_name));
        try {
            auto lib = std::make_unique<torch::Library>(torch::Library::FRAGMENT, "cutout",
                                                        c10::nullopt, __FILE__, __LINE__);
            lib->def((std::string(base) + "(Tensor x, int handle) -> Tensor").c_str(),
                     &conv2d_bf16_op);
            library = std::move(lib);
            name = std::string("cutout::") + base;
        } catch (const std::exception &) {
            name.clear();
        }
    });
    return name;
}

// The two bf16 values next to `w` (equal when w is one), as floats.
void bf16_neighbours(float w, float &low, float &high) {
    uint32_t bits;
    std::memcpy(&bits, &w, sizeof bits);
    uint32_t toward_zero = bits & 0xFFFF0000u;
    uint32_t away = (bits & 0xFFFFu) != 0 ? toward_zero + 0x10000u : toward_zero;
    std::memcpy(&low, &toward_zero, sizeof low);
    std::memcpy(&high, &away, sizeof high);
}

// Rounds the `taps` floats of one kernel in place (see
// round_kernels_to_bf16); `other` is scratch space for `taps` floats.
void round_kernel_to_bf16(float *tap, float *other, int64_t taps) {
    float error = 0;  // sum of (float32 - rounded); each term is exact
    for (int64_t i = 0; i < taps; ++i) {
        float low, high;
        bf16_neighbours(tap[i], low, high);
        bool nearer_low = std::fabs(tap[i] - low) <= std::fabs(high - tap[i]);
        float rounded = nearer_low ? low : high;
        other[i] = nearer_low ? high : low;
        error += tap[i] - rounded;
        tap[i] = rounded;
    }
    // Each move swaps a tap with its other neighbour; a moved tap's other
    // value is then its float32 side's start, so moving it back never helps
    // and the loop ends after at most `taps` moves.
    for (int64_t step = 0; step < taps; ++step) {
        int64_t best = -1;
        float best_error = std::fabs(error);
        for (int64_t i = 0; i < taps; ++i) {
            float e = error + (tap[i] - other[i]);
            if (other[i] != tap[i] && std::fabs(e) < best_error) {
                best_error = std::fabs(e);
                best = i;
            }
        }
        if (best < 0) break;
        error += tap[best] - other[best];
        std::swap(tap[best], other[best]);
    }
}

// Rounds each kernel (the KH x KW taps of one output and input channel)
// of a float32 O x I x KH x KW weight to bf16 values so that the sum of
// its taps stays as close as possible to the float32 sum: each tap starts
// at the nearer bf16 neighbour and taps are moved to their other neighbour,
// best first, while that brings the rounding error of the sum closer to 0.
// On a patch of equal inputs the bf16 kernel then gives the float32
// result; plain rounding adds an error there that the next layers carry.
at::Tensor round_kernels_to_bf16(const at::Tensor &weight) {
    at::Tensor w = weight.contiguous().clone();
    const int64_t taps = w.size(2) * w.size(3);
    float *data = w.data_ptr<float>();
    at::parallel_for(0, w.numel() / taps, 1024, [&](int64_t begin, int64_t end) {
        std::vector<float> other(static_cast<size_t>(taps));
        for (int64_t k = begin; k < end; ++k) round_kernel_to_bf16(data + k * taps, other.data(), taps);
    });
    return w;
}

// Whether oneDNN makes a bf16 convolution with a float32 bias on this CPU
// (it needs AVX-512; on older CPUs libtorch's convolutions stay in use).
bool bf16_convolution_supported() {
    static const bool supported = [] {
        try {
            using dt = dnnl::memory::data_type;
            using tag = dnnl::memory::format_tag;
            dnnl::engine engine(dnnl::engine::kind::cpu, 0);
            dnnl::memory::desc src({1, 16, 8, 8}, dt::bf16, tag::nhwc);
            dnnl::memory::desc weights({16, 16, 3, 3}, dt::bf16, tag::any);
            dnnl::memory::desc bias({16}, dt::f32, tag::x);
            convolution_inference_pd(engine, src, weights, bias, src, {1, 1}, {0, 0}, {1, 1},
                                     dnnl::primitive_attr());
            return true;
        } catch (const std::exception &) {
            return false;
        }
    }();
    return supported;
}

bool int_pair(torch::jit::Value *v, std::vector<int64_t> &out) {
    c10::optional<c10::IValue> value = torch::jit::toIValue(v);
    if (!value || !value->isIntList()) return false;
    out = value->toIntVector();
    if (out.size() == 1) out.push_back(out[0]);
    return out.size() == 2;
}

// The convolution for `node` when it is an aten::conv2d this op can run:
// constant float32 4-d weight, constant float32 bias or none, integer
// stride/padding/dilation, groups 1.
std::shared_ptr<onednn_conv> convolution_for(torch::jit::Node *node, bool relu) {
    static const c10::Symbol conv2d = c10::Symbol::fromQualString("aten::conv2d");
    if (node->kind() != conv2d || node->inputs().size() != 7) return nullptr;
    c10::optional<c10::IValue> weight = torch::jit::toIValue(node->input(1));
    c10::optional<c10::IValue> bias = torch::jit::toIValue(node->input(2));
    c10::optional<c10::IValue> groups = torch::jit::toIValue(node->input(6));
    if (!weight || !weight->isTensor() || !bias || !groups || !groups->isInt() ||
        groups->toInt() != 1)
        return nullptr;
    at::Tensor w = weight->toTensor();
    if (w.scalar_type() != at::kFloat || w.dim() != 4 || !w.is_cpu()) return nullptr;
    at::Tensor b;
    if (bias->isTensor()) {
        b = bias->toTensor();
        if (b.scalar_type() != at::kFloat || b.dim() != 1 || b.size(0) != w.size(0)) return nullptr;
    } else if (bias->isNone()) {
        b = at::zeros({w.size(0)}, w.options());
    } else {
        return nullptr;
    }
    std::vector<int64_t> stride, padding, dilation;
    if (!int_pair(node->input(3), stride) || !int_pair(node->input(4), padding) ||
        !int_pair(node->input(5), dilation))
        return nullptr;
    for (int i = 0; i < 2; ++i)
        if (stride[i] < 1 || padding[i] < 0 || dilation[i] < 1) return nullptr;
    return std::make_shared<onednn_conv>(round_kernels_to_bf16(w.detach()), b.detach().contiguous(),
                                         stride, padding, dilation, relu);
}

void fuse_in_block(torch::jit::Graph &graph, torch::jit::Block *block,
                   const torch::jit::Node *skip, const c10::Symbol &op,
                   std::vector<std::shared_ptr<onednn_conv>> &owned, int &count) {
    static const c10::Symbol relu = c10::Symbol::fromQualString("aten::relu");
    std::vector<torch::jit::Node *> nodes(block->nodes().begin(), block->nodes().end());
    for (torch::jit::Node *node : nodes) {
        for (torch::jit::Block *inner : node->blocks())
            fuse_in_block(graph, inner, skip, op, owned, count);
        if (node == skip) continue;
        const std::vector<torch::jit::Use> &uses = node->outputs().size() == 1
                                                       ? node->output()->uses()
                                                       : std::vector<torch::jit::Use>{};
        torch::jit::Node *fused_relu =
            uses.size() == 1 && uses[0].user->kind() == relu && uses[0].user->owningBlock() == block
                ? uses[0].user
                : nullptr;
        std::shared_ptr<onednn_conv> conv = convolution_for(node, fused_relu != nullptr);
        if (!conv) continue;
        owned.push_back(conv);
        torch::jit::WithInsertPoint insert_before(node);
        torch::jit::Value *handle = graph.insertConstant(
            static_cast<int64_t>(reinterpret_cast<intptr_t>(conv.get())));
        torch::jit::Node *call = graph.create(op, {node->input(0), handle}, 1);
        call->output()->setType(node->output()->type());
        graph.insertNode(call);
        torch::jit::Node *last = fused_relu != nullptr ? fused_relu : node;
        last->output()->replaceAllUsesWith(call->output());
        if (fused_relu != nullptr) fused_relu->destroy();
        node->destroy();
        ++count;
    }
}

}  // namespace

int fuse_bf16_convolutions(torch::jit::Graph &graph, const torch::jit::Node *skip,
                           std::vector<std::shared_ptr<onednn_conv>> &owned) {
    if (!bf16_convolution_supported()) return 0;
    const std::string &name = registered_op_name();
    if (name.empty()) return 0;
    int count = 0;
    fuse_in_block(graph, graph.block(), skip, c10::Symbol::fromQualString(name), owned, count);
    torch::jit::EliminateDeadCode(graph.block());
    return count;
}

}  // namespace cutout_shim

#else  // !CUTOUT_HAVE_ONEDNN

namespace cutout_shim {

class onednn_conv {};

int fuse_bf16_convolutions(torch::jit::Graph &, const torch::jit::Node *,
                           std::vector<std::shared_ptr<onednn_conv>> &) {
    return 0;
}

}  // namespace cutout_shim

#endif
