// model.cpp - loading a TorchScript model: its file and archive checked
// (model_metadata, model_safety), loaded, its graphs checked, its metadata
// read, the precision chosen (precision) and the module prepared for it
// (graph_prepare).
#include "model.hpp"

#include <torch/version.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cpu_allocator.hpp"
#include "graph_prepare.hpp"
#include "guard.hpp"
#include "model_metadata.hpp"
#include "model_safety.hpp"
#include "precision.hpp"
#include "tensor_bridge.hpp"

namespace cutout_shim {
namespace {

// torch::jit::load, with a hint where the file calls an op this libtorch
// does not have: the usual cause is a file written by a newer torch (torch
// 2.x scripts ops into F.interpolate that libtorch 1.13 lacks).
torch::jit::Module load_or_explain(const std::string &file, c10::Device device,
                                   torch::jit::ExtraFilesMap &extra) {
    try {
        return torch::jit::load(file, device, extra);
    } catch (const std::bad_alloc &) {
        throw;
    } catch (const std::exception &e) {
        // TorchScript's compiler reports it as an ErrorReport, not a c10::Error.
        std::string line = first_line(e.what());
        if (line.rfind("Unknown builtin op", 0) != 0) throw;
        fail(CUTOUT_SHIM_ERR_MODEL_INVALID,
             "model " + in_quotes(file) + ": not a loadable TorchScript file: " + line +
                 " (it was probably saved by a newer torch than this libtorch " + TORCH_VERSION +
                 ": convert it again with the torch cutout is built against)");
    }
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
            [&] { return load_or_explain(file, dev, extra); });
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
