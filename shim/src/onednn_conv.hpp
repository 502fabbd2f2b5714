// onednn_conv.hpp - bf16 convolutions on the CPU through oneDNN, with the
// bias kept in float32 and a following ReLU fused (shim-internal).
//
// Why: libtorch's bf16 convolution rounds the bias to bf16 and writes a
// bf16 result that a separate ReLU pass reads again. The bias rounding is
// the largest part of the bf16-vs-fp32 difference of ISNet's matte, and
// the ReLU passes cost a quarter of a bf16 forward pass. oneDNN takes a
// float32 bias with bf16 data, adds it to the float32 accumulator, applies
// the ReLU and rounds once.
//
// Built only when oneDNN's headers were found (CUTOUT_HAVE_ONEDNN);
// without them fuse_bf16_convolutions() changes nothing.
#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <memory>
#include <vector>

namespace cutout_shim {

class onednn_conv;

// Replaces, in a frozen float32 graph, each aten::conv2d with constant
// float32 weights (groups 1, integer padding), other than `skip`, by a call
// of the shim's bf16 convolution op; a ReLU that is the convolution's only
// user is fused into it. The weights are rounded to bf16 once, on first
// use; the bias stays float32. The op's input and output are bf16 in
// channels_last layout, so the caller must cast the graph input to bf16.
// The convolutions are appended to `owned`, which must outlive every run
// of the graph. Returns how many convolutions were replaced; 0 when oneDNN
// is not built in, cannot make bf16 convolutions on this CPU, or the op
// could not be registered.
// Throws c10::Error / std::bad_alloc on failure (the graph may then be
// partly rewritten and must be discarded).
int fuse_bf16_convolutions(torch::jit::Graph &graph, const torch::jit::Node *skip,
                           std::vector<std::shared_ptr<onednn_conv>> &owned);

}  // namespace cutout_shim
