"""Convert an ONNX image-to-matte model into an fp32 TorchScript module.

Usage:
    /usr/bin/python3 tools/onnx_to_torchscript.py MODEL.onnx OUT.pt --meta-json '{...}'

What it does:
  * keeps only the part of the graph that computes the FIRST graph output
    (the other outputs, e.g. deep-supervision side outputs, are dropped);
  * computes everything in float32: float16 initializers are widened and
    Cast nodes between float types are removed;
  * generates the Python source of a torch.nn.Module from the remaining
    nodes, compiles it with torch.jit.script and saves it together with the
    metadata file "cutout_meta.json" (torch.jit.save _extra_files);
  * makes the module work at any batch size and input size: a Resize whose
    target size was baked as a constant by the exporter takes the spatial
    size of the tensor it is concatenated or added with, or, when its baked
    size equals the graph input's size, the input's size.

Supported ops (anything else is an error naming the node): Conv, Relu,
Sigmoid, Add, Concat, MaxPool, Resize (linear), Cast (float to float),
Identity; Constant/Shape/Slice/Concat only inside Resize size sub-graphs.

Exit status 0 on success, 1 with a message on stderr on any error.
"""

import argparse
import collections
import importlib.util
import json
import os
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
from onnx import TensorProto, numpy_helper

META_FILE_NAME = "cutout_meta.json"
REQUIRED_META_KEYS = ("format", "name", "kind", "license", "input_size", "mean", "std")
FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}


class ConversionError(Exception):
    pass


def attribute(node, name, default=None):
    for attr in node.attribute:
        if attr.name == name:
            value = onnx.helper.get_attribute_value(attr)
            return value.decode() if isinstance(value, bytes) else value
    return default


def describe(node):
    return f"{node.op_type} node '{node.name or node.output[0]}'"


class Graph:
    """Indexes an ONNX graph: producers, consumers, constant values."""

    def __init__(self, model):
        self.graph = model.graph
        self.producer = {}
        self.consumers = collections.defaultdict(list)
        for node in self.graph.node:
            for out in node.output:
                self.producer[out] = node
            for name in node.input:
                if name:
                    self.consumers[name].append(node)
        self.initializers = {t.name: numpy_helper.to_array(t) for t in self.graph.initializer}
        self.constants = dict(self.initializers)
        for node in self.graph.node:
            if node.op_type == "Constant":
                value = attribute(node, "value")
                if value is None:
                    raise ConversionError(f"{describe(node)}: only the 'value' attribute is supported")
                self.constants[node.output[0]] = numpy_helper.to_array(value)
        self.static_shapes = {}  # value name -> dims (None where unknown), at the exported size
        inferred = onnx.shape_inference.infer_shapes(model).graph
        for info in list(inferred.value_info) + list(inferred.input) + list(inferred.output):
            dims = info.type.tensor_type.shape.dim
            self.static_shapes[info.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        inputs = [i for i in self.graph.input if i.name not in self.initializers]
        if len(inputs) != 1:
            raise ConversionError(f"model: expected exactly 1 graph input, got {len(inputs)}")
        self.input_name = inputs[0].name
        dims = inputs[0].type.tensor_type.shape.dim
        self.input_shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        if len(self.input_shape) != 4:
            raise ConversionError(f"model input '{self.input_name}': expected 4 dims N x C x H x W, "
                                  f"got {len(self.input_shape)}")

    def is_float_cast(self, node):
        return node.op_type == "Identity" or (node.op_type == "Cast" and attribute(node, "to") in FLOAT_TYPES)

    def source(self, name):
        """The value `name` stands for once float casts are removed."""
        node = self.producer.get(name)
        while node is not None and self.is_float_cast(node):
            name = node.input[0]
            node = self.producer.get(name)
        return name

    def users(self, name):
        """Non-cast nodes reading `name`, looking through float casts."""
        found = []
        for node in self.consumers.get(name, []):
            if self.is_float_cast(node):
                found.extend(self.users(node.output[0]))
            else:
                found.append(node)
        return found


def baked_resize_size(graph, node):
    """The spatial size [H, W] a Resize node was exported with, or None."""
    sizes = node.input[3] if len(node.input) > 3 else ""
    if not sizes:
        return None
    if sizes in graph.constants:
        return [int(v) for v in graph.constants[sizes][-2:]]
    producer = graph.producer.get(sizes)
    if producer is not None and producer.op_type == "Concat" and producer.input[-1] in graph.constants:
        tail = graph.constants[producer.input[-1]]
        if tail.size >= 2:
            return [int(v) for v in tail[-2:]]
    return None


def resize_size_plan(graph, node):
    """Decides where a Resize takes its output size from at run time.

    Returns ("like", value_name), ("input", None), ("scale", [sh, sw]) or
    ("fixed", [h, w]).
    """
    out = node.output[0]
    for user in graph.users(out):
        if user.op_type in ("Concat", "Add"):
            if user.op_type == "Concat" and attribute(user, "axis") not in (1, -3):
                continue
            others = [graph.source(i) for i in user.input
                      if i and graph.source(i) != out and graph.source(i) not in graph.constants]
            if others:
                baked = baked_resize_size(graph, node)
                known = graph.static_shapes.get(others[0], [])[2:]
                if baked is not None and len(known) == 2 and None not in known and known != baked:
                    raise ConversionError(f"{describe(node)}: exported size {baked} differs from the size "
                                          f"{known} of '{others[0]}' it is combined with")
                return ("like", others[0])
    baked = baked_resize_size(graph, node)
    if baked is not None:
        if baked == graph.input_shape[2:]:
            return ("input", None)
        print(f"warning: {describe(node)} keeps its fixed output size {baked}; "
              f"the module will only accept the exported input size", file=sys.stderr)
        return ("fixed", baked)
    scales = node.input[2] if len(node.input) > 2 else ""
    if scales in graph.constants:
        values = [float(v) for v in graph.constants[scales]]
        if len(values) == 4 and values[0] == 1.0 and values[1] == 1.0:
            return ("scale", values[2:])
    raise ConversionError(f"{describe(node)}: cannot work out its output size "
                          f"(expected constant sizes, constant scales or a Concat/Add user)")


class CodeWriter:
    """Turns the nodes needed for the first output into forward() source."""

    def __init__(self, graph):
        self.graph = graph
        self.lines = []
        self.weights = {}          # buffer name -> float32 tensor
        self.weight_of = {}        # constant value name -> buffer name
        self.var_of = {graph.input_name: "x"}
        self.resize_plans = {}

    def weight(self, name):
        if name not in self.weight_of:
            safe = "w_" + "".join(c if c.isalnum() else "_" for c in name)
            while safe in self.weights:
                safe += "_"
            array = np.ascontiguousarray(self.graph.constants[name].astype(np.float32))
            self.weights[safe] = torch.from_numpy(array)
            self.weight_of[name] = safe
        return "self." + self.weight_of[name]

    def value(self, name):
        name = self.graph.source(name)
        if name in self.var_of:
            return self.var_of[name]
        if name in self.graph.constants:
            return self.weight(name)
        raise ConversionError(f"value '{name}' is used before it is computed")

    def dependencies(self, node):
        """Inputs a node needs computed first (sizes sub-graphs excluded)."""
        if node.op_type == "Resize":
            deps = [node.input[0]]
            plan = resize_size_plan(self.graph, node)
            self.resize_plans[node.output[0]] = plan
            if plan[0] == "like":
                deps.append(plan[1])
            return deps
        return [i for i in node.input if i]

    def order(self, output):
        """Nodes needed for `output`, producers before users (iterative DFS)."""
        ordered, state = [], {}
        stack = [(self.graph.source(output), False)]
        while stack:
            name, expanded = stack.pop()
            node = self.graph.producer.get(name)
            if node is None or name in self.graph.constants:
                continue
            key = id(node)
            if expanded:
                if state.get(key) != "done":
                    state[key] = "done"
                    ordered.append(node)
                continue
            if state.get(key) == "done":
                continue
            if state.get(key) == "open":
                raise ConversionError(f"{describe(node)}: the graph has a cycle")
            state[key] = "open"
            stack.append((name, True))
            for dep in reversed(self.dependencies(node)):
                dep = self.graph.source(dep)
                dep_node = self.graph.producer.get(dep)
                if dep_node is not None and state.get(id(dep_node)) != "done" and dep not in self.graph.constants:
                    stack.append((dep, False))
        return ordered

    def emit(self, node):
        op = node.op_type
        needed = node.input[:1] if op == "Resize" else node.input  # sizes: see resize_plans
        ins = [self.value(i) if i else None for i in needed]
        out = f"t{len(self.var_of)}"
        self.var_of[node.output[0]] = out
        if op == "Conv":
            if attribute(node, "auto_pad", "NOTSET") != "NOTSET":
                raise ConversionError(f"{describe(node)}: auto_pad is not supported")
            pads = list(attribute(node, "pads", [0, 0, 0, 0]))
            if len(pads) != 4 or pads[:2] != pads[2:]:
                raise ConversionError(f"{describe(node)}: expected symmetric 2-D pads, got {pads}")
            if node.input[1] not in self.graph.constants:
                raise ConversionError(f"{describe(node)}: the weight must be a constant")
            bias = ins[2] if len(ins) > 2 and ins[2] else "None"
            code = (f"F.conv2d({ins[0]}, {ins[1]}, {bias}, "
                    f"stride={list(attribute(node, 'strides', [1, 1]))}, padding={pads[:2]}, "
                    f"dilation={list(attribute(node, 'dilations', [1, 1]))}, groups={attribute(node, 'group', 1)})")
        elif op == "Relu":
            code = f"F.relu({ins[0]})"
        elif op == "Sigmoid":
            code = f"torch.sigmoid({ins[0]})"
        elif op == "Add":
            code = f"{ins[0]} + {ins[1]}"
        elif op == "Concat":
            code = f"torch.cat([{', '.join(ins)}], dim={attribute(node, 'axis')})"
        elif op == "MaxPool":
            pads = list(attribute(node, "pads", [0, 0, 0, 0]))
            if len(pads) != 4 or pads[:2] != pads[2:] or attribute(node, "auto_pad", "NOTSET") != "NOTSET":
                raise ConversionError(f"{describe(node)}: expected symmetric 2-D pads, got {pads}")
            if len(node.output) > 1 and node.output[1]:
                raise ConversionError(f"{describe(node)}: the Indices output is not supported")
            kernel = list(attribute(node, "kernel_shape"))
            code = (f"F.max_pool2d({ins[0]}, kernel_size={kernel}, "
                    f"stride={list(attribute(node, 'strides', [1, 1]))}, padding={pads[:2]}, "
                    f"dilation={list(attribute(node, 'dilations', [1, 1]))}, "
                    f"ceil_mode={bool(attribute(node, 'ceil_mode', 0))})")
        elif op == "Resize":
            mode = attribute(node, "mode", "nearest")
            transform = attribute(node, "coordinate_transformation_mode", "half_pixel")
            if mode != "linear" or transform not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
                raise ConversionError(f"{describe(node)}: only linear resizing with half_pixel or "
                                      f"align_corners coordinates is supported, got {mode}/{transform}")
            kind, arg = self.resize_plans[node.output[0]]
            if kind == "like":
                other = self.value(arg)
                size = f"size=[{other}.size(2), {other}.size(3)]"
            elif kind == "input":
                size = "size=[x.size(2), x.size(3)]"
            elif kind == "fixed":
                size = f"size={arg}"
            else:
                size = f"scale_factor={arg}"
            code = (f"F.interpolate({ins[0]}, {size}, mode='bilinear', "
                    f"align_corners={transform == 'align_corners'})")
        else:
            raise ConversionError(f"{describe(node)}: op type {op} is not supported on the tensor path")
        self.lines.append(f"        {out} = {code}")

    def source(self):
        first = self.graph.graph.output[0].name
        for node in self.order(first):
            self.emit(node)
        result = self.value(first)
        head = [
            "import torch",
            "import torch.nn.functional as F",
            "from typing import Dict",
            "",
            "",
            "class ConvertedModel(torch.nn.Module):",
            "    def __init__(self, weights: Dict[str, torch.Tensor]):",
            "        super().__init__()",
            "        for name, tensor in weights.items():",
            "            self.register_buffer(name, tensor)",
            "",
            "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
            "        if x.dim() != 4 or x.size(1) != 3 or x.dtype != torch.float32:",
            "            raise RuntimeError('input: expected a float32 tensor B x 3 x H x W')",
        ]
        return "\n".join(head + self.lines + [f"        return {result}", ""])


def build_module(onnx_path):
    try:
        model = onnx.load(onnx_path)
    except Exception as e:  # protobuf raises several types for a bad file
        raise ConversionError(f"{onnx_path}: not a readable ONNX model ({e})")
    graph = Graph(model)
    writer = CodeWriter(graph)
    code = writer.source()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "converted_model.py")
        with open(path, "w") as f:
            f.write(code)
        spec = importlib.util.spec_from_file_location("converted_model", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        eager = module.ConvertedModel(writer.weights).eval()
        scripted = torch.jit.script(eager)
    return scripted, graph, len(writer.lines)


def check_meta(meta, graph):
    missing = [k for k in REQUIRED_META_KEYS if k not in meta]
    if missing:
        raise ConversionError(f"--meta-json: missing keys {missing}")
    if meta["kind"] != "alpha":
        raise ConversionError(f"--meta-json kind: expected 'alpha', got {meta['kind']!r}")
    if list(meta["input_size"]) != graph.input_shape[2:]:
        raise ConversionError(f"--meta-json input_size: expected the model's {graph.input_shape[2:]}, "
                              f"got {meta['input_size']}")
    for key, value in (("input_height", meta["input_size"][0]), ("input_width", meta["input_size"][1])):
        if meta.get(key, value) != value:
            raise ConversionError(f"--meta-json {key}: expected {value} (= input_size), got {meta[key]}")
    for key in ("mean", "std"):
        if len(meta[key]) != 3:
            raise ConversionError(f"--meta-json {key}: expected 3 numbers, got {meta[key]}")


def smoke_test(scripted, size):
    """Runs the module on a random batch of 2 and checks the output."""
    x = torch.rand(2, 3, size, size) - 0.5
    with torch.no_grad():
        y = scripted(x)
    if tuple(y.shape) != (2, 1, size, size) or not torch.isfinite(y).all() or y.min() < 0 or y.max() > 1:
        raise ConversionError(f"converted model at {size}x{size}: expected a 2 x 1 x {size} x {size} "
                              f"output in 0..1, got shape {tuple(y.shape)}")


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
        scripted, graph, count = build_module(args.onnx)
        check_meta(meta, graph)
        if args.check_size:
            smoke_test(scripted, args.check_size)
        tmp = args.output + ".tmp"
        torch.jit.save(scripted, tmp, _extra_files={META_FILE_NAME: json.dumps(meta, indent=2)})
        os.replace(tmp, args.output)
        print(f"converted {args.onnx} -> {args.output}: {count} ops, {time.time() - start:.1f} s")
    except (ConversionError, json.JSONDecodeError, OSError) as e:
        print(f"onnx_to_torchscript: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
