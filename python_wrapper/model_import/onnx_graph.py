"""An ONNX graph as data: who produces and who reads each value, the
constant values (float types widened to float32), and the element types
and shapes that ONNX shape inference finds. The file is read with
onnx.load and never executed."""

import collections

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}
INT_TYPES = {TensorProto.INT8, TensorProto.INT16, TensorProto.INT32, TensorProto.INT64,
             TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64}


class ConversionError(Exception):
    """A graph, node or file the converter cannot turn into TorchScript."""


A = onnx.AttributeProto
# The attribute types the converter accepts, by name: what it writes into
# generated source is then always a number, a list of numbers or a string
# it compares against known values, never text taken from the file.
ATTRIBUTE_TYPES = {
    **dict.fromkeys(("axis", "group", "keepdims", "ceil_mode", "count_include_pad", "allowzero",
                     "batch_dims", "blocksize", "select_last_index", "exclusive", "reverse", "fmod",
                     "largest", "sorted", "upper", "exclude_outside", "training_mode",
                     "noop_with_empty_axes", "to", "storage_order", "transA", "transB", "start", "end",
                     "stash_type", "spatial", "antialias"), (A.INT,)),
    **dict.fromkeys(("axes", "perm", "kernel_shape", "strides", "dilations", "pads", "output_padding",
                     "output_shape", "split", "starts", "ends"), (A.INTS,)),
    **dict.fromkeys(("alpha", "beta", "gamma", "epsilon", "momentum", "cubic_coeff_a",
                     "extrapolation_value", "min", "max"), (A.FLOAT,)),
    **dict.fromkeys(("mode", "auto_pad", "coordinate_transformation_mode", "nearest_mode", "equation",
                     "keep_aspect_ratio_policy", "reduction"), (A.STRING,)),
    "scales": (A.FLOATS,),
    "value": (A.TENSOR, A.FLOAT),
}


def attribute(node, name, default=None):
    """The value of attribute `name` of `node` (bytes decoded), or default.
    Raises ConversionError when the attribute has a type the op does not
    define for it."""
    for attr in node.attribute:
        if attr.name == name:
            allowed = ATTRIBUTE_TYPES[name]  # every name the translations read is listed
            if attr.type not in allowed:
                raise ConversionError(
                    f"{describe(node)}: attribute '{name}' has type {A.AttributeType.Name(attr.type)}, "
                    f"expected {' or '.join(A.AttributeType.Name(t) for t in allowed)}")
            value = onnx.helper.get_attribute_value(attr)
            if isinstance(value, bytes):
                return value.decode()
            if isinstance(value, list) and value and isinstance(value[0], bytes):
                return [v.decode() for v in value]
            return value
    return default


def describe(node):
    return f"{node.op_type} node '{node.name or node.output[0]}'"


def widened(array):
    """float16, float64 and bfloat16 arrays as float32; others unchanged."""
    if array.dtype.kind == "f" and array.dtype != np.float32:
        return array.astype(np.float32)
    return array


def constant_node_value(node):
    """The value of a Constant node as a numpy array."""
    for attr in node.attribute:
        if attr.name == "value":
            return numpy_helper.to_array(attr.t)
        if attr.name == "value_float":
            return np.array(attr.f, dtype=np.float32)
        if attr.name == "value_floats":
            return np.array(list(attr.floats), dtype=np.float32)
        if attr.name == "value_int":
            return np.array(attr.i, dtype=np.int64)
        if attr.name == "value_ints":
            return np.array(list(attr.ints), dtype=np.int64)
    raise ConversionError(f"{describe(node)}: expected a value, value_float(s) or value_int(s) attribute")


def dims_of(value_info):
    """Static dims of a value_info (None where symbolic), or None if no shape."""
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]


class Graph:
    """Indexes an ONNX ModelProto's main graph.

    Raises ConversionError for a graph that has no nodes or uses a domain
    other than the default one for its opset.
    """

    def __init__(self, model):
        self.model = model
        self.graph = model.graph
        self.opset = 0
        for entry in model.opset_import:
            if entry.domain in ("", "ai.onnx"):
                self.opset = entry.version
        if self.opset == 0:
            raise ConversionError("model: no opset for the default ONNX domain")
        self.producer = {}
        self.consumers = collections.defaultdict(list)
        for node in self.graph.node:
            for out in node.output:
                if out:
                    self.producer[out] = node
            for name in node.input:
                if name:
                    self.consumers[name].append(node)
        self.constants = {t.name: widened(numpy_helper.to_array(t)) for t in self.graph.initializer}
        for node in self.graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                self.constants[node.output[0]] = widened(constant_node_value(node))
        self.shapes = {}      # value name -> static dims (None where unknown)
        self.elem_types = {}  # value name -> TensorProto element type
        for tensor in self.graph.initializer:
            self.elem_types[tensor.name] = tensor.data_type
            self.shapes[tensor.name] = list(tensor.dims)
        try:
            inferred = onnx.shape_inference.infer_shapes(model).graph
        except Exception:  # shape inference is an aid; a model it fails on still converts
            inferred = self.graph
        for info in list(inferred.value_info) + list(inferred.input) + list(inferred.output):
            if info.type.tensor_type.elem_type:
                self.elem_types.setdefault(info.name, info.type.tensor_type.elem_type)
            dims = dims_of(info)
            if dims is not None:
                self.shapes.setdefault(info.name, dims)
        for name, value in self.constants.items():
            self.shapes[name] = list(value.shape)
        self.inputs = [i for i in self.graph.input if i.name not in self.constants]
        self.outputs = [o.name for o in self.graph.output]

    def input_dims(self, index=0):
        """Static dims of graph input `index` (None where symbolic)."""
        return dims_of(self.inputs[index]) or []

    def rank(self, name):
        """The rank of value `name` if shape inference knows it, else None."""
        dims = self.shapes.get(name)
        return None if dims is None else len(dims)

    def is_float(self, name):
        """True, False, or None when the element type is unknown."""
        elem = self.elem_types.get(name)
        return None if elem is None else elem in FLOAT_TYPES

    def is_float_cast(self, node):
        """An Identity, or a Cast between float types: computing everything
        in float32 makes it a no-op."""
        if node.op_type == "Identity":
            return True
        return (node.op_type == "Cast" and attribute(node, "to") in FLOAT_TYPES
                and self.is_float(node.input[0]) is True)

    def source(self, name):
        """The value `name` stands for once no-op casts are removed."""
        node = self.producer.get(name)
        while node is not None and self.is_float_cast(node):
            name = node.input[0]
            node = self.producer.get(name)
        return name

    def users(self, name):
        """Nodes reading `name`, looking through no-op casts."""
        found = []
        for node in self.consumers.get(name, []):
            if self.is_float_cast(node):
                found.extend(self.users(node.output[0]))
            else:
                found.append(node)
        return found
