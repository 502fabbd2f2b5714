// model.hpp - what a loaded cutout_shim_model holds (shim-internal).
#pragma once

#include <torch/csrc/jit/ir/ir.h>
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "cutout_shim.h"

namespace cutout_shim {
class onednn_conv;
}

struct cutout_shim_model {
    // The TorchScript module, in eval mode, converted to the precision in
    // info.precision, frozen when freezing worked.
    // Its forward() may run on several threads at once: the module is only
    // read after loading.
    torch::jit::Module module;
    // Where the weights live and where inputs must be.
    c10::Device device{c10::DeviceType::CPU};
    // The dtype forward() takes: that of the model's floating-point weights
    // as stored (a lower precision chosen at load is cast to inside forward).
    at::ScalarType input_dtype = at::kFloat;
    // Whether inputs are fed in channels_last memory format.
    bool channels_last = false;
    // Whether the items of a predict call share one forward pass (always
    // on CUDA; on a CPU only when asked: it is no faster there and needs
    // more memory).
    bool shared_passes = false;
    // Whether bf16 convolutions may run through the shim's own oneDNN path.
    bool direct_convolutions = true;
    // mean and std of the metadata as 1 x 3 x 1 x 1 float32 tensors on device.
    at::Tensor mean;
    at::Tensor std;
    // The oneDNN convolutions the frozen graph calls by handle (see
    // onednn_conv.hpp); they must live as long as the module.
    std::vector<std::shared_ptr<cutout_shim::onednn_conv>> convolutions;
    cutout_shim_model_info info{};
    std::string path;
};
