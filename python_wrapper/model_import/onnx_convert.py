"""ONNX file -> scripted TorchScript module.

convert_image_model() makes what cutout loads: forward(x) takes a float32
B x 3 x H x W image and returns the first graph output as a B x 1 x H' x W'
alpha in 0..1, the output kind folded in (the library itself only knows
alphas). convert_graph() converts any graph, every input and output as
they are, for checking single ops against onnxruntime.
"""

import importlib.util
import os
import tempfile

import onnx
import torch
from onnx import external_data_helper

from . import onnx_ops_math, onnx_ops_nn, onnx_ops_resize, onnx_ops_tensor
from .onnx_emitter import Emitter, module_source
from .onnx_graph import ConversionError, Graph

TRANSLATIONS = {**onnx_ops_math.TRANSLATIONS, **onnx_ops_tensor.TRANSLATIONS,
                **onnx_ops_nn.TRANSLATIONS, **onnx_ops_resize.TRANSLATIONS}
DEPENDENCIES = dict(onnx_ops_resize.DEPENDENCIES)

# How the first output becomes an alpha: "probability" is one already,
# "logits" goes through a sigmoid, "minmax" is stretched to 0..1 per image
# as rembg does for its U-2-Net and IS-Net files. The library runs one
# forward pass over the whole image (it does not tile), so the per-image
# minimum and maximum are the ones rembg takes.
OUTPUT_KINDS = ("probability", "logits", "minmax")
KIND_LINES = {
    "probability": [],
    "logits": ["y = torch.sigmoid(y)"],
    "minmax": [
        "y = y.to(torch.float32)",
        "low = torch.amin(y, [1, 2, 3], keepdim=True)",
        "y = (y - low) / torch.clamp(torch.amax(y, [1, 2, 3], keepdim=True) - low, min=1e-12)",
    ],
}


def load_onnx(path):
    """Reads an ONNX file as data (onnx.load); weights stored beside it
    (external data) only from files in its own folder. Raises
    ConversionError for a file that is not an ONNX model or names external
    data elsewhere."""
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as e:  # protobuf and onnx raise several types for a bad file
        raise ConversionError(f"{path}: not a readable ONNX model ({e})")
    if not model.graph.node:
        raise ConversionError(f"{path}: not an ONNX model (no graph nodes)")
    external = [t for t in external_data_helper._get_all_tensors(model)
                if external_data_helper.uses_external_data(t)]
    for tensor in external:
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        if not location or os.path.isabs(location) or ".." in location.replace("\\", "/").split("/"):
            raise ConversionError(f"{path}: tensor '{tensor.name}' keeps its data in {location!r}; expected a "
                                  f"file next to the model")
    if external:
        try:
            external_data_helper.load_external_data_for_model(model, os.path.dirname(os.path.abspath(path)))
        except OSError as e:
            raise ConversionError(f"{path}: cannot read its external data ({e})")
    return model


def compile_module(source, weights):
    """Scripts the generated source's ConvertedModel with its buffers."""
    with tempfile.TemporaryDirectory(prefix="cutout_convert_") as tmp:
        path = os.path.join(tmp, "converted_model.py")
        with open(path, "w") as f:
            f.write(source)
        spec = importlib.util.spec_from_file_location("converted_model", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # the converter's own generated code
        eager = module.ConvertedModel(weights).eval()
        try:
            return torch.jit.script(eager)
        except Exception as e:  # TorchScript reports compile errors as several types
            raise ConversionError(f"generated module does not compile with TorchScript ({e})")


def convert_graph(model, outputs=None):
    """A module whose forward(i0, i1, ...) takes the graph inputs in order
    and returns a tuple of the outputs (all by default). Raises
    ConversionError naming every unsupported op."""
    graph = Graph(model)
    names = [f"i{k}" for k in range(len(graph.inputs))]
    emitter = Emitter(graph, TRANSLATIONS, DEPENDENCIES)
    emitter.input_var = names[0] if names else None
    emitter.device = f"{names[0]}.device" if names else "torch.device('cpu')"
    for info, var in zip(graph.inputs, names):
        emitter.bind_input(info.name, var)
    results = emitter.convert(outputs or graph.outputs)
    source = module_source(emitter, names, [], results, [], returns_tuple=True)
    return compile_module(source, emitter.buffers)


def convert_image_model(model, output_kind="probability"):
    """(scripted module, Graph, number of generated lines) for an image
    model with one N x 3 x H x W input. Raises ConversionError for another
    kind of graph, an unknown output kind or unsupported ops."""
    if output_kind not in OUTPUT_KINDS:
        raise ConversionError(f"output kind: expected one of {', '.join(OUTPUT_KINDS)}, got {output_kind!r}")
    graph = Graph(model)
    if len(graph.inputs) != 1:
        raise ConversionError(f"model: expected exactly 1 graph input (the image), got {len(graph.inputs)}")
    dims = graph.input_dims()
    if len(dims) != 4 or dims[1] not in (None, 3):
        raise ConversionError(f"model input '{graph.inputs[0].name}': expected N x 3 x H x W, got {dims}")
    emitter = Emitter(graph, TRANSLATIONS, DEPENDENCIES)
    emitter.input_var = "x"
    emitter.device = "x.device"
    emitter.bind_input(graph.inputs[0].name, "x")
    first = graph.outputs[0]
    result = emitter.convert([first])[0]
    prologue = [
        "if x.dim() != 4 or x.size(1) != 3 or x.dtype != torch.float32:",
        "    raise RuntimeError('input: expected a float32 tensor B x 3 x H x W')",
    ]
    rank = graph.rank(first)
    epilogue = [f"y = {result}"]
    if rank == 3:
        epilogue.append("y = y.unsqueeze(1)")
    elif rank != 4:
        epilogue += ["if y.dim() == 3:", "    y = y.unsqueeze(1)"]
    epilogue += KIND_LINES[output_kind]
    source = module_source(emitter, ["x"], prologue, ["y"], epilogue, returns_tuple=False)
    return compile_module(source, emitter.buffers), graph, len(emitter.lines)
