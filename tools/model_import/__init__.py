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

The package uses relative imports only, so it can be loaded from its folder
under any name (tools/ on sys.path, or importlib from another package).
"""
