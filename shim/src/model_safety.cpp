// model_safety.cpp - see model_safety.hpp.
#include "model_safety.hpp"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "guard.hpp"

namespace cutout_shim {
namespace {

// The ops a cutout model may run: what cutout's own converters emit (the
// ISNet and U2-Net exports, python_wrapper/model_import's ONNX and BiRefNet
// converters, the test models), all of them pure functions of tensors,
// numbers, lists and strings, or control flow. Nothing here touches files,
// threads, random state or Python. Kept sorted (op_allowed searches it).
const char *const kAllowedOps[] = {
#include "model_ops_allowed.inc"
};

[[noreturn]] void refuse(const std::string &path, const std::string &what) {
    fail(CUTOUT_SHIM_ERR_MODEL_INVALID, "model '" + path + "': " + what);
}

bool starts_with(const std::string &s, const char *prefix) {
    return s.compare(0, std::strlen(prefix), prefix) == 0;
}

bool ends_with(const std::string &s, const char *suffix) {
    const size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

bool all_digits(const std::string &s, size_t from) {
    if (from >= s.size()) return false;
    return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(from), s.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
}

// Whether `name` (a record inside the archive's folder) is one torch writes
// for a scripted or traced module saved with extra files.
bool expected_record(const std::string &name) {
    static const char *const exact[] = {"data.pkl",     "constants.pkl",    "version",
                                        "byteorder",    ".data/version",    ".data/serialization_id",
                                        "code/__torch__.py", "code/__torch__.py.debug_pkl"};
    for (const char *e : exact)
        if (name == e) return true;
    if (starts_with(name, "data/")) return all_digits(name, 5);
    if (starts_with(name, "constants/")) return all_digits(name, 10);
    if (starts_with(name, "extra/")) return name.size() > 6;
    if (starts_with(name, "code/__torch__/"))
        return ends_with(name, ".py") || ends_with(name, ".py.debug_pkl");
    return false;
}

std::string record_text(caffe2::serialize::PyTorchStreamReader &reader, const std::string &name) {
    auto record = reader.getRecord(name);
    const char *data = static_cast<const char *>(std::get<0>(record).get());
    return std::string(data, std::get<1>(record));
}

void check_block(const torch::jit::Block *block, const std::string &path,
                 const std::string &method) {
    for (const torch::jit::Node *node : block->nodes()) {
        const std::string kind = node->kind().toQualString();
        if (!op_allowed(kind))
            refuse(path, "its method " + method + " calls " + kind +
                             ", which is not one of the tensor and control ops a cutout model "
                             "may run (refused before anything ran)");
        if (node->kind() == c10::prim::Constant && node->outputs().size() == 1 &&
            node->output()->type()->kind() == c10::TypeKind::ClassType)
            refuse(path, "its method " + method + " holds an object constant of type " +
                             node->output()->type()->str() + " (refused before anything ran)");
        for (const torch::jit::Block *inner : node->blocks()) check_block(inner, path, method);
    }
}

}  // namespace

bool op_allowed(const std::string &kind) {
    const char *const *end = kAllowedOps + sizeof kAllowedOps / sizeof kAllowedOps[0];
    auto before = [](const char *a, const char *b) { return std::strcmp(a, b) < 0; };
    // An unsorted list would make the search miss ops: refuse everything
    // then (every model test fails) rather than guess.
    static const bool sorted = std::is_sorted(kAllowedOps, end, before);
    if (!sorted) return false;
    return std::binary_search(kAllowedOps, end, kind.c_str(),
                              [](const char *a, const char *b) { return std::strcmp(a, b) < 0; });
}

void check_archive(const std::string &path) {
    std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
    std::vector<std::string> records;
    try {
        reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
        records = reader->getAllRecords();
    } catch (const std::bad_alloc &) {
        throw;
    } catch (const std::exception &e) {
        refuse(path, "not a loadable TorchScript file: " + first_line(e.what()));
    }
    std::sort(records.begin(), records.end());
    bool has_code = false;
    for (const std::string &name : records) {
        if (!expected_record(name))
            refuse(path, "the archive holds '" + name +
                             "', outside the layout torch writes for a module (refused before "
                             "anything ran)");
        const bool code = starts_with(name, "code/") && ends_with(name, ".py");
        const bool pickle = ends_with(name, ".pkl") && !ends_with(name, ".debug_pkl");
        if (!code && !pickle) continue;
        has_code = has_code || code;
        const std::string text = record_text(*reader, name);
        if (code && (text.find("def __setstate__") != std::string::npos ||
                     text.find("def __getstate__") != std::string::npos))
            refuse(path, "'" + name +
                             "' defines __setstate__/__getstate__, code that loading would run "
                             "(refused before anything ran)");
        if (text.find("torch.classes") != std::string::npos)
            refuse(path, "'" + name + "' uses a custom class (torch.classes), which a cutout "
                                      "model may not (refused before anything ran)");
    }
    if (!has_code || !std::binary_search(records.begin(), records.end(), std::string("data.pkl")))
        refuse(path, "not a TorchScript module archive (no data.pkl or no code/)");
}

void check_graphs(const torch::jit::Module &module, const std::string &path) {
    std::vector<torch::jit::Module> modules;
    for (const torch::jit::Module &m : module.modules()) modules.push_back(m);
    for (const torch::jit::Module &m : modules) {
        for (const torch::jit::Method &method : m.get_methods()) {
            std::shared_ptr<torch::jit::Graph> graph;
            const std::string name = m.type()->name() ? m.type()->name()->name() + "." + method.name()
                                                      : method.name();
            try {
                graph = method.graph()->copy();
                torch::jit::Inline(*graph);
            } catch (const std::bad_alloc &) {
                throw;
            } catch (const std::exception &e) {
                refuse(path, "its method " + name + " cannot be inlined to be checked (" +
                                 first_line(e.what()) + "); refused before anything ran");
            }
            check_block(graph->block(), path, name);
        }
    }
}

}  // namespace cutout_shim
