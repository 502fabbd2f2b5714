// graph_prepare.cpp - freezing a loaded module and lowering its graph to
// bf16 or fp16, with the output head kept in float32.
#include "graph_prepare.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "guard.hpp"
#include "model_metadata.hpp"
#include "onednn_conv.hpp"

namespace cutout_shim {
namespace {

at::ScalarType precision_dtype(const std::string &p) {
    if (p == "bf16") return at::kBFloat16;
    if (p == "fp16") return at::kHalf;
    return at::kFloat;
}

// Inserts "value.to(dtype)" before `before` and returns the cast's output.
// The cast keeps the value's memory format.
torch::jit::Value *insert_cast(torch::jit::Graph &graph, torch::jit::Node *before,
                               torch::jit::Value *value, at::ScalarType dtype) {
    torch::jit::WithInsertPoint insert_before(before);
    torch::jit::Value *to_dtype = graph.insertConstant(static_cast<int64_t>(dtype));
    torch::jit::Value *no = graph.insertConstant(false);
    torch::jit::Value *keep_format = graph.insertConstant(c10::IValue());
    torch::jit::Node *cast = graph.create(c10::Symbol::fromQualString("aten::to"),
                                          {value, to_dtype, no, no, keep_format});
    // The output's type says the new dtype: typed as its input, libtorch 2.x's
    // peephole pass takes a later cast back to float32 for a no-op and
    // removes both.
    c10::TensorTypePtr tensor_type = value->type()->cast<c10::TensorType>();
    cast->output()->setType(tensor_type != nullptr ? tensor_type->withScalarType(dtype)
                                                   : c10::TensorType::get());
    graph.insertNode(cast);
    return cast->output();
}

// Makes forward() cast its image input to `dtype` as its first step, so a
// model whose code checks for (or builds on) a float32 input runs in a lower
// precision: every use of the input except dtype queries reads the cast.
// Returns false, changing nothing, when forward does not take one input.
bool cast_input_in_graph(torch::jit::Graph &graph, at::ScalarType dtype) {
    if (graph.inputs().size() != 2) return false;  // self, image
    torch::jit::Value *image = graph.inputs()[1];
    torch::jit::Value *cast = insert_cast(graph, *graph.nodes().begin(), image, dtype);
    std::vector<torch::jit::Use> uses = image->uses();
    for (const torch::jit::Use &use : uses) {
        if (use.user == cast->node() || use.user->kind() == c10::prim::dtype) continue;
        use.user->replaceInput(use.offset, cast);
    }
    return true;
}

bool is_convolution(const torch::jit::Node *node) {
    static const c10::Symbol kinds[] = {
        c10::Symbol::fromQualString("aten::conv2d"),
        c10::Symbol::fromQualString("aten::_convolution"),
        c10::Symbol::fromQualString("aten::convolution"),
    };
    for (c10::Symbol k : kinds)
        if (node->kind() == k) return true;
    return false;
}

// Ops a matte passes through between the last convolution and the output:
// one tensor in (the first input), one tensor out, no weights.
bool is_output_passthrough(const torch::jit::Node *node) {
    static const char *const kinds[] = {
        "aten::sigmoid",    "aten::upsample_bilinear2d", "aten::upsample_nearest2d",
        "aten::relu",       "aten::clamp",               "aten::hardtanh",
        "aten::contiguous", "aten::to",                  "aten::tanh",
    };
    for (const char *k : kinds)
        if (node->kind() == c10::Symbol::fromQualString(k)) return node->outputs().size() == 1;
    return false;
}

// The convolution whose result reaches the graph's one tensor output
// through pass-through ops only (for ISNet: side1 -> upsample -> sigmoid),
// with a constant weight; nullptr when there is none.
torch::jit::Node *output_head_convolution(torch::jit::Graph &graph) {
    if (graph.outputs().size() != 1) return nullptr;
    torch::jit::Value *v = graph.outputs()[0];
    for (int steps = 0; steps < 16; ++steps) {
        torch::jit::Node *node = v->node();
        if (is_convolution(node))
            return node->input(1)->node()->kind() == c10::prim::Constant ? node : nullptr;
        if (!is_output_passthrough(node)) return nullptr;
        v = node->input(0);
    }
    return nullptr;
}

// Converts every float32 tensor constant in `block` (nested blocks too),
// except those in `keep`, to `dtype`.
void lower_tensor_constants(torch::jit::Graph &graph, torch::jit::Block *block,
                            at::ScalarType dtype,
                            const std::vector<torch::jit::Value *> &keep) {
    std::vector<torch::jit::Node *> nodes(block->nodes().begin(), block->nodes().end());
    for (torch::jit::Node *node : nodes) {
        for (torch::jit::Block *inner : node->blocks())
            lower_tensor_constants(graph, inner, dtype, keep);
        if (node->kind() != c10::prim::Constant || node->outputs().size() != 1) continue;
        torch::jit::Value *v = node->output();
        if (std::find(keep.begin(), keep.end(), v) != keep.end()) continue;
        c10::optional<c10::IValue> value = torch::jit::toIValue(v);
        if (!value || !value->isTensor()) continue;
        const at::Tensor &t = value->toTensor();
        if (t.scalar_type() != at::kFloat) continue;
        torch::jit::WithInsertPoint insert_before(node);
        torch::jit::Value *lowered = graph.insertConstant(t.detach().to(dtype));
        lowered->copyMetadata(v);
        v->replaceAllUsesWith(lowered);
        node->destroy();
    }
}

// Lowers a frozen float32 graph to `dtype`: the input is cast to it first
// thing, and the weights are converted once here. The output head (see
// output_head_convolution) stays float32: its input is cast back, so the
// last convolution, the resize and the sigmoid that make the matte round
// nothing to `dtype`'s 8 significant bits. Without a head the whole graph is
// lowered. For bf16 on the CPU the other convolutions run through oneDNN
// with float32 biases and fused ReLUs where it is built in (see
// onednn_conv.hpp); they are kept in `model.convolutions`. Returns false,
// changing nothing, when forward does not take exactly one input.
bool lower_frozen_graph(cutout_shim_model &model, torch::jit::Graph &graph, at::ScalarType dtype) {
    if (graph.inputs().size() != 2) return false;
    torch::jit::Node *head = output_head_convolution(graph);
    std::vector<torch::jit::Value *> keep;
    if (head != nullptr) {
        // The head gets its own copies of its weight and bias, so a constant
        // it shares with another node is still lowered for that node.
        torch::jit::WithInsertPoint insert_before(head);
        for (size_t i = 1; i < 3 && i < head->inputs().size(); ++i) {
            c10::optional<c10::IValue> value = torch::jit::toIValue(head->input(i));
            if (!value || !value->isTensor()) continue;
            torch::jit::Value *own = graph.insertConstant(value->toTensor().detach().clone());
            head->replaceInput(i, own);
            keep.push_back(own);
        }
        head->replaceInput(0, insert_cast(graph, head, head->input(0), at::kFloat));
    }
    if (dtype == at::kBFloat16 && model.device.is_cpu() && model.direct_convolutions)
        fuse_bf16_convolutions(graph, head, model.convolutions);
    lower_tensor_constants(graph, graph.block(), dtype, keep);
    return cast_input_in_graph(graph, dtype);
}

}  // namespace

// The dtype of the first floating-point parameter or buffer; float32 when
// the model has none.
at::ScalarType weights_dtype(const torch::jit::Module &module) {
    for (const at::Tensor &p : module.parameters())
        if (at::isFloatingType(p.scalar_type())) return p.scalar_type();
    for (const at::Tensor &b : module.buffers())
        if (at::isFloatingType(b.scalar_type())) return b.scalar_type();
    return at::kFloat;
}

// Prepares the module once, at load, for speed in `precision`:
//  - freezing inlines the weights and attributes into the graph as
//    constants and folds batch norms into convolutions (in float32);
//  - lower precision: the frozen graph's weights are converted to it once,
//    except the output head's, and the input is cast inside forward (see
//    lower_frozen_graph);
//  - inputs are fed channels_last (predict_alpha), so oneDNN runs the
//    convolutions without layout conversions; frozen convolution weights
//    are converted to its blocked format once and cached by oneDNN.
// optimize_for_inference is not used: on ISNet it left hundreds of layout
// conversions in the graph and lost to channels_last input (see
// benchmarks/RESULTS.md). Freezing is an optimisation only: a model it
// cannot handle keeps running as loaded, and in a lower precision then has
// its parameters converted (the head too). A precision conversion that
// fails is a MODEL_INVALID error.
void prepare_for_inference(cutout_shim_model &model, const std::string &precision) {
    at::ScalarType dtype = precision_dtype(precision);
    bool frozen = false;
    try {
        model.module = torch::jit::freeze(model.module);
        frozen = true;
    } catch (const std::bad_alloc &) {
        throw;
    } catch (const std::exception &) {
    }
    if (dtype != at::kFloat) {
        translate_errors(CUTOUT_SHIM_ERR_MODEL_INVALID,
                         "model " + in_quotes(model.path) + ": cannot be converted to " +
                             precision + ": ",
                         [&] {
                             at::NoGradGuard no_grad;
                             std::shared_ptr<torch::jit::Graph> graph =
                                 model.module.get_method("forward").graph();
                             bool ok;
                             if (frozen) {
                                 ok = lower_frozen_graph(model, *graph, dtype);
                             } else {
                                 model.module.to(dtype);
                                 ok = cast_input_in_graph(*graph, dtype);
                             }
                             if (!ok)
                                 fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
                                      "forward does not take exactly one input");
                             return 0;
                         });
    }
    model.channels_last = true;
}

}  // namespace cutout_shim
