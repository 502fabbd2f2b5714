// model.cpp - loading a TorchScript model and its cutout_meta.json metadata.
//
// Metadata format (the extra file "cutout_meta.json" in the archive):
//   {
//     "format": 1,                     required, must be 1
//     "name": "isnet",                 required, 1..63 bytes
//     "kind": "alpha",                 required, only "alpha"
//     "license": "MIT",                required, 1..63 bytes (SPDX id)
//     "input_height": 1024,            required, integer 1..8192
//     "input_width": 1024,             required, integer 1..8192
//     "mean": [0.5, 0.5, 0.5],         required, 3 finite numbers
//     "std": [1.0, 1.0, 1.0],          required, 3 finite numbers > 0
//     "fit": "letterbox"               optional, "stretch", "balanced" or
//                                      "letterbox": the fit the model was
//                                      trained with
//   }
// Other keys are ignored.
#include "model.hpp"

#include <cjson/cJSON.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <sys/stat.h>

#include "cpu_allocator.hpp"
#include "guard.hpp"
#include "onednn_conv.hpp"
#include "model_safety.hpp"
#include "precision.hpp"
#include "tensor_bridge.hpp"

namespace cutout_shim {
namespace {

const char *const kMetaFile = "cutout_meta.json";
const int64_t kMaxInputSide = 8192;

std::string in_quotes(const std::string &s) { return "'" + s + "'"; }

std::string number_text(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// Throws MODEL_NOT_FOUND / MODEL_INVALID unless `path` is a readable file.
void require_readable_file(const std::string &path) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            fail(CUTOUT_SHIM_ERR_MODEL_NOT_FOUND,
                 "model " + in_quotes(path) + ": no such file (expected a TorchScript .pt file)");
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path) + ": cannot be read (" + std::strerror(e) + ")");
    }
    if (!S_ISREG(st.st_mode))
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path) + ": not a regular file (expected a TorchScript .pt file)");
    std::FILE *f = std::fopen(path.c_str(), "rb");
    if (f == nullptr)
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path) + ": cannot be read (" + std::strerror(errno) + ")");
    std::fclose(f);
    if (st.st_size == 0)
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path) + ": empty file (expected a TorchScript .pt file, got 0 bytes)");
}

class metadata_reader {
public:
    metadata_reader(const std::string &path, const std::string &json) : path_(path) {
        root_ = cJSON_ParseWithLength(json.data(), json.size());
        if (root_ == nullptr || !cJSON_IsObject(root_))
            bad("is not a JSON object");
    }
    ~metadata_reader() { cJSON_Delete(root_); }
    metadata_reader(const metadata_reader &) = delete;
    metadata_reader &operator=(const metadata_reader &) = delete;

    [[noreturn]] void bad(const std::string &what) const {
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path_) + ": metadata " + kMetaFile + " " + what);
    }

    const cJSON *field(const char *key) const {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(root_, key);
        if (item == nullptr) bad("has no \"" + std::string(key) + "\"");
        return item;
    }

    double number(const char *key) const {
        const cJSON *item = field(key);
        if (!cJSON_IsNumber(item))
            bad("\"" + std::string(key) + "\" is not a number");
        return item->valuedouble;
    }

    int64_t integer(const char *key, int64_t lo, int64_t hi) const {
        double v = number(key);
        if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != std::floor(v))
            bad("\"" + std::string(key) + "\" out of range (expected an integer " +
                std::to_string(lo) + ".." + std::to_string(hi) + ", got " + number_text(v) + ")");
        return static_cast<int64_t>(v);
    }

    void string(const char *key, char *dst, size_t cap) const {
        const cJSON *item = field(key);
        if (!cJSON_IsString(item) || item->valuestring == nullptr)
            bad("\"" + std::string(key) + "\" is not a string");
        size_t n = std::strlen(item->valuestring);
        if (n == 0 || n >= cap)
            bad("\"" + std::string(key) + "\" has a bad length (expected 1.." +
                std::to_string(cap - 1) + " bytes, got " + std::to_string(n) + ")");
        std::memcpy(dst, item->valuestring, n + 1);
    }

    // An optional string that must be one of `choices`; dst stays "" when
    // the key is absent.
    void optional_choice(const char *key, std::initializer_list<const char *> choices, char *dst,
                         size_t cap) const {
        if (cJSON_GetObjectItemCaseSensitive(root_, key) == nullptr) return;
        string(key, dst, cap);
        std::string expected;
        for (const char *c : choices) {
            if (std::strcmp(dst, c) == 0) return;
            expected += (expected.empty() ? "\"" : " or \"") + std::string(c) + "\"";
        }
        bad("has an unsupported \"" + std::string(key) + "\" (expected " + expected + ", got \"" +
            std::string(dst) + "\")");
    }

    void triple(const char *key, float *dst, bool positive) const {
        const cJSON *item = field(key);
        int n = cJSON_IsArray(item) ? cJSON_GetArraySize(item) : -1;
        if (n != 3)
            bad("\"" + std::string(key) + "\" is not an array of 3 numbers (got " +
                (n < 0 ? std::string("no array") : std::to_string(n) + " elements") + ")");
        for (int i = 0; i < 3; ++i) {
            const cJSON *v = cJSON_GetArrayItem(item, i);
            double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
            if (!std::isfinite(d) || std::fabs(d) > 1e6 || (positive && !(d > 0)))
                bad("\"" + std::string(key) + "\"[" + std::to_string(i) + "] is out of range (expected " +
                    (positive ? "a finite number > 0" : "a finite number") + ", got " +
                    (cJSON_IsNumber(v) ? number_text(d) : std::string("no number")) + ")");
            dst[i] = static_cast<float>(d);
        }
    }

private:
    std::string path_;
    cJSON *root_ = nullptr;
};

cutout_shim_model_info parse_metadata(const std::string &path, const std::string &json) {
    if (json.empty())
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(path) + ": no metadata (expected an extra file " + kMetaFile +
                 " in the TorchScript archive)");
    metadata_reader meta(path, json);
    cutout_shim_model_info info{};
    double format = meta.number("format");
    if (format != 1)
        meta.bad("has an unsupported \"format\" (expected 1, got " + number_text(format) + ")");
    meta.string("name", info.name, sizeof info.name);
    meta.string("kind", info.kind, sizeof info.kind);
    if (std::strcmp(info.kind, "alpha") != 0)
        meta.bad("has an unsupported \"kind\" (expected \"alpha\", got \"" + std::string(info.kind) +
                 "\")");
    meta.string("license", info.license, sizeof info.license);
    info.input_height = meta.integer("input_height", 1, kMaxInputSide);
    info.input_width = meta.integer("input_width", 1, kMaxInputSide);
    meta.triple("mean", info.mean, false);
    meta.triple("std", info.std, true);
    meta.optional_choice("fit", {"stretch", "balanced", "letterbox"}, info.fit, sizeof info.fit);
    return info;
}

// The dtype of the first floating-point parameter or buffer; float32 when
// the model has none.
at::ScalarType weights_dtype(const torch::jit::Module &module) {
    for (const at::Tensor &p : module.parameters())
        if (at::isFloatingType(p.scalar_type())) return p.scalar_type();
    for (const at::Tensor &b : module.buffers())
        if (at::isFloatingType(b.scalar_type())) return b.scalar_type();
    return at::kFloat;
}

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

}  // namespace
}  // namespace cutout_shim

using namespace cutout_shim;

extern "C" cutout_shim_status cutout_shim_model_load(const char *path, DLDevice device,
                                                     const cutout_shim_load_params *params,
                                                     cutout_shim_model **out,
                                                     cutout_shim_model_info *info, char *err,
                                                     size_t err_cap) {
    if (out != nullptr) *out = nullptr;
    return guarded("model_load", err, err_cap, [&]() -> cutout_shim_status {
        if (out == nullptr) fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "out: is NULL");
        if (path == nullptr || *path == '\0')
            fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT, "path: is NULL or empty");
        cutout_shim_load_params load{sizeof load, nullptr, false, false};
        if (params != nullptr) {
            if (params->struct_size < sizeof load)
                fail(CUTOUT_SHIM_ERR_INVALID_ARGUMENT,
                     "params: struct_size too small (expected " + std::to_string(sizeof load) +
                         ", got " + std::to_string(params->struct_size) + ")");
            load = *params;
        }
        c10::Device dev = device_from_dl(device, "device");
        require_device_available(dev, "device");
        if (dev.is_cpu()) install_cpu_allocator();
        precision_choice chosen = check_precision(load.precision, dev);
        std::string file(path);
        require_readable_file(file);

        auto model = std::make_unique<cutout_shim_model>();
        model->path = file;
        model->device = dev;
        model->shared_passes = !dev.is_cpu() || load.cpu_shared_passes;
        model->direct_convolutions = !load.no_direct_convolutions;
        // A model file is data: its archive is checked before torch reads
        // it, and its graphs before anything of it runs.
        check_archive(file);
        torch::jit::ExtraFilesMap extra{{kMetaFile, ""}};
        model->module = translate_errors(
            CUTOUT_SHIM_ERR_MODEL_INVALID,
            "model " + in_quotes(file) + ": not a loadable TorchScript file: ",
            [&] { return torch::jit::load(file, dev, extra); });
        check_graphs(model->module, file);
        model->info = parse_metadata(file, extra[kMetaFile]);
        if (!model->module.find_method("forward"))
            fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
                 "model " + in_quotes(file) + ": has no forward method");

        model->module.eval();
        model->input_dtype = weights_dtype(model->module);
        if (chosen.precision == "auto") chosen = choose_cpu_auto(model->module);
        prepare_for_inference(*model, chosen.precision);
        std::snprintf(model->info.precision, sizeof model->info.precision, "%s",
                      chosen.precision.c_str());
        std::snprintf(model->info.precision_reason, sizeof model->info.precision_reason, "%s",
                      chosen.reason.c_str());

        at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat).device(dev);
        model->mean = at::tensor(at::ArrayRef<float>(model->info.mean, 3), f32).view({1, 3, 1, 1});
        model->std = at::tensor(at::ArrayRef<float>(model->info.std, 3), f32).view({1, 3, 1, 1});
        if (info != nullptr) *info = model->info;
        *out = model.release();
        return CUTOUT_SHIM_OK;
    });
}

extern "C" void cutout_shim_model_free(cutout_shim_model *model) {
    guarded_value(0, [&] {
        delete model;
        return 0;
    });
}

extern "C" DLDevice cutout_shim_model_device(const cutout_shim_model *model) {
    DLDevice cpu;
    cpu.device_type = kDLCPU;
    cpu.device_id = 0;
    if (model == nullptr) return cpu;
    return guarded_value(cpu, [&] { return device_to_dl(model->device); });
}
