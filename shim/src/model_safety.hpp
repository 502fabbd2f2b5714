// model_safety.hpp - a model file is data: what is checked before any of its
// code can run (shim-internal).
//
// A TorchScript archive carries code. Two checks keep that code to tensor
// arithmetic:
//  1. before torch::jit::load, the archive's records are read with torch's
//     own reader (check_archive): only the layout torch writes for a
//     scripted or traced module, no __setstate__ (which jit::load itself
//     would run), no custom classes;
//  2. after loading and before any forward pass, every node of every
//     method's graph, with calls inlined and nested blocks included, must be
//     one of an allowlist of pure tensor and control ops (check_graphs).
// Anything else refuses the model with MODEL_INVALID naming the file and the
// first offending record or op.
#pragma once

#include <torch/script.h>

#include <string>

namespace cutout_shim {

// Throws MODEL_INVALID unless the TorchScript archive at `path` holds only
// the records torch writes for a module (data.pkl, constants.pkl, code under
// code/__torch__/, tensor data, extra files, version records), none of its
// code defines __setstate__, and nothing names a custom class
// (torch.classes). Reads the archive with torch's reader; runs no code.
void check_archive(const std::string &path);

// Throws MODEL_INVALID unless every node of every method of `module` and of
// its submodules, after inlining, is an allowed op (model_safety.cpp lists
// them) and no constant holds an object. Runs no code of the model.
void check_graphs(const torch::jit::Module &module, const std::string &path);

// Whether `kind` ("aten::conv2d") is an allowed op. For tests.
bool op_allowed(const std::string &kind);

}  // namespace cutout_shim
