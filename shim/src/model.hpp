// model.hpp - what a loaded cutout_shim_model holds (shim-internal).
#pragma once

#include <torch/script.h>

#include <string>

#include "cutout_shim.h"

struct cutout_shim_model {
    // The TorchScript module, in eval mode, frozen when freezing worked.
    // Its forward() may run on several threads at once: the module is only
    // read after loading.
    torch::jit::Module module;
    // Where the weights live and where inputs must be.
    c10::Device device{c10::DeviceType::CPU};
    // The dtype of the model's floating-point weights; inputs are cast to it.
    at::ScalarType input_dtype = at::kFloat;
    // mean and std of the metadata as 1 x 3 x 1 x 1 float32 tensors on device.
    at::Tensor mean;
    at::Tensor std;
    cutout_shim_model_info info{};
    std::string path;
};
