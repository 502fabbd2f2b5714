"""A float32 copy of an ONNX model that stores float16 (or double,
bfloat16) weights: the same nodes, names and outputs, only the arithmetic
type changes. Float initializers and Constant tensors are widened to
float32 and every Cast between float types becomes an Identity. It is the
onnxruntime reference for checking a conversion (onnxruntime then computes
in float32 too, so a comparison measures conversion errors, not float16
rounding)."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}


def widen(tensor):
    """A float32 TensorProto with the same name and values."""
    return numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float32), tensor.name)


def set_float32(value_infos):
    for info in value_infos:
        tensor_type = info.type.tensor_type
        if tensor_type.elem_type in FLOAT_TYPES:
            tensor_type.elem_type = TensorProto.FLOAT


def needs_widening(model):
    """True when some initializer or Constant holds a non-float32 float type."""
    graph = model.graph
    if any(t.data_type in FLOAT_TYPES - {TensorProto.FLOAT} for t in graph.initializer):
        return True
    return any(attr.name == "value" and attr.t.data_type in FLOAT_TYPES - {TensorProto.FLOAT}
               for node in graph.node if node.op_type == "Constant" for attr in node.attribute)


def to_float32(model):
    """Rewrites `model` in place as described above and returns it."""
    graph = model.graph
    for i, tensor in enumerate(graph.initializer):
        if tensor.data_type in FLOAT_TYPES and tensor.data_type != TensorProto.FLOAT:
            graph.initializer[i].CopyFrom(widen(tensor))
    new_nodes = []
    for node in graph.node:
        cast_to = [helper.get_attribute_value(a) for a in node.attribute if a.name == "to"]
        if node.op_type == "Cast" and cast_to and cast_to[0] in FLOAT_TYPES:
            node = helper.make_node("Identity", list(node.input), list(node.output), name=node.name)
        elif node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type in FLOAT_TYPES:
                    attr.t.CopyFrom(widen(attr.t))
        new_nodes.append(node)
    del graph.node[:]
    graph.node.extend(new_nodes)
    set_float32(graph.input)
    set_float32(graph.output)
    del graph.value_info[:]  # stale float16 annotations; onnxruntime re-infers them
    return model
