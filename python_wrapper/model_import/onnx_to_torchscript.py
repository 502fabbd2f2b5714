"""Convert an ONNX image-to-matte model into an fp32 TorchScript module.

Usage:
    python3 -m python_wrapper.model_import.onnx_to_torchscript MODEL.onnx OUT.pt --meta-json '{...}'

The conversion itself is onnx_convert: the part of the
graph that computes the FIRST output becomes the Python source of a
torch.nn.Module, compiled with torch.jit.script and saved with the metadata
file "cutout_meta.json" (torch.jit.save _extra_files). Everything computes
in float32 (float16 weights are widened, casts between float types
dropped). Shapes are computed at run time, and Resize sizes an exporter
baked for one input size follow the input, so the module takes any batch
and input size where the graph allows it. The metadata's optional
"output" ("probability", the default, "logits" or "minmax") says how the
first output becomes an alpha; that step is part of the module.

Exit status 0 on success, 1 with a message on stderr on any error (an
unsupported op is named with its node, all of them at once).
"""

import argparse
import json
import os
import sys
import time

import torch

from .onnx_convert import convert_image_model, load_onnx
from .onnx_graph import ConversionError

META_FILE_NAME = "cutout_meta.json"
REQUIRED_META_KEYS = ("format", "name", "kind", "license", "input_size", "mean", "std")


def check_meta(meta, graph):
    """Raises ConversionError unless meta is the metadata the library reads
    and matches the graph's input size."""
    missing = [k for k in REQUIRED_META_KEYS if k not in meta]
    if missing:
        raise ConversionError(f"--meta-json: missing keys {missing}")
    if meta["kind"] != "alpha":
        raise ConversionError(f"--meta-json kind: expected 'alpha', got {meta['kind']!r}")
    exported = graph.input_dims()[2:]
    if None not in exported and list(meta["input_size"]) != exported:
        raise ConversionError(f"--meta-json input_size: expected the model's {exported}, "
                              f"got {meta['input_size']}")
    for key, value in (("input_height", meta["input_size"][0]), ("input_width", meta["input_size"][1])):
        if meta.get(key, value) != value:
            raise ConversionError(f"--meta-json {key}: expected {value} (= input_size), got {meta[key]}")
    for key in ("mean", "std"):
        if len(meta[key]) != 3:
            raise ConversionError(f"--meta-json {key}: expected 3 numbers, got {meta[key]}")


def smoke_test(scripted, height, width):
    """Runs the module on a random batch of 2 and checks the output."""
    x = torch.rand(2, 3, height, width) - 0.5
    with torch.no_grad():
        y = scripted(x)
    if y.dim() != 4 or tuple(y.shape[:2]) != (2, 1) or not torch.isfinite(y).all() or y.min() < 0 or y.max() > 1:
        raise ConversionError(f"converted model at {height}x{width}: expected a 2 x 1 x H x W output in 0..1, "
                              f"got shape {tuple(y.shape)}")


def save(scripted, meta, output):
    tmp = output + ".tmp"
    torch.jit.save(scripted, tmp, _extra_files={META_FILE_NAME: json.dumps(meta, indent=2)})
    os.replace(tmp, output)


def main():
    parser = argparse.ArgumentParser(description="Convert an ONNX matte model to fp32 TorchScript.")
    parser.add_argument("onnx", help="input ONNX file")
    parser.add_argument("output", help="output TorchScript file (.pt)")
    parser.add_argument("--meta-json", required=True, help="JSON object stored as cutout_meta.json")
    parser.add_argument("--check-size", type=int, default=256,
                        help="run a batch of 2 at this size after conversion (0: skip)")
    args = parser.parse_args()
    try:
        meta = json.loads(args.meta_json)
        if not isinstance(meta, dict):
            raise ConversionError("--meta-json: expected a JSON object")
        start = time.time()
        scripted, graph, count = convert_image_model(load_onnx(args.onnx), meta.get("output", "probability"))
        check_meta(meta, graph)
        if args.check_size:
            smoke_test(scripted, args.check_size, args.check_size)
        save(scripted, meta, args.output)
        print(f"converted {args.onnx} -> {args.output}: {count} ops, {time.time() - start:.1f} s")
    except (ConversionError, json.JSONDecodeError, OSError) as e:
        print(f"onnx_to_torchscript: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
