"""Write a float32 copy of an ONNX model that stores float16 weights.

Usage:
    /usr/bin/python3 tools/onnx_to_fp32.py IN.onnx OUT.onnx

The copy has the same nodes, names and outputs; only the arithmetic type
changes: float16 initializers and Constant tensors are widened to float32
and every Cast between float types becomes an Identity. It is the reference
for the parity test of the fp32 TorchScript conversion (onnxruntime then
computes in float32 too, so the comparison measures conversion errors,
not float16 rounding).

Exit status 0 on success, 1 with a message on stderr on any error.
"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}


def widen(tensor):
    """A float32 TensorProto with the same name and values."""
    array = numpy_helper.to_array(tensor).astype(np.float32)
    return numpy_helper.from_array(array, tensor.name)


def set_float32(value_infos):
    for info in value_infos:
        tensor_type = info.type.tensor_type
        if tensor_type.elem_type in FLOAT_TYPES:
            tensor_type.elem_type = TensorProto.FLOAT


def convert(model):
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


def main():
    if len(sys.argv) != 3:
        print("usage: onnx_to_fp32.py IN.onnx OUT.onnx", file=sys.stderr)
        return 1
    source, target = sys.argv[1], sys.argv[2]
    try:
        model = onnx.load(source)
    except Exception as e:  # protobuf raises several types for a bad file
        print(f"onnx_to_fp32: error: {source}: not a readable ONNX model ({e})", file=sys.stderr)
        return 1
    onnx.save(convert(model), target + ".tmp")
    os.replace(target + ".tmp", target)
    print(f"wrote float32 copy {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
