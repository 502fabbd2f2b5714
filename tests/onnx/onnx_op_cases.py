"""Small ONNX graphs, one op (or one exporter pattern) each, built with
python3-onnx, with their inputs: the cases test_onnx_ops.py converts and
compares with onnxruntime. Data comes from a fixed seed."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
NUMPY_TYPES = {np.dtype(np.float32): F, np.dtype(np.int64): I64, np.dtype(np.bool_): B,
               np.dtype(np.int32): TensorProto.INT32}
rng = np.random.default_rng(20240611)


class Case:
    """One graph and the inputs it runs on.

    inputs: name -> array (graph inputs, in order); runs: more input dicts
    (other shapes: the graph then declares symbolic dims); outputs: names,
    or (name, element type) for non-float outputs; constants: initializers.
    """

    def __init__(self, name, nodes, inputs, outputs, constants=None, opset=17, runs=(), tolerance=1e-5):
        self.name = name
        self.inputs = inputs
        self.runs = [inputs] + list(runs)
        self.outputs = [(o, F) if isinstance(o, str) else o for o in outputs]
        self.tolerance = tolerance
        dynamic = len(self.runs) > 1
        infos = []
        for key, value in inputs.items():
            dims = [f"{key}_d{i}" for i in range(value.ndim)] if dynamic else list(value.shape)
            infos.append(helper.make_tensor_value_info(key, NUMPY_TYPES[value.dtype], dims))
        outs = [helper.make_tensor_value_info(n, t, None) for n, t in self.outputs]
        inits = [numpy_helper.from_array(v, k) for k, v in (constants or {}).items()]
        graph = helper.make_graph(nodes, name, infos, outs, inits)
        self.model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                       producer_name="cutout-op-tests")
        self.model.ir_version = 8


def n(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=f"{op}_{outputs[0]}", **attrs)


def f32(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def i64(*values):
    return np.array(values, dtype=np.int64)


def single(op, inputs, constants=None, outputs=("y",), opset=17, **attrs):
    """A case of one node reading the graph inputs then the constants."""
    names = list(inputs) + list(constants or {})
    return Case(f"{op}{'_' if attrs else ''}{'_'.join(f'{k}{v}' for k, v in attrs.items())}_op{opset}",
                [n(op, names, [o if isinstance(o, str) else o[0] for o in outputs], **attrs)],
                inputs, list(outputs), constants, opset)


def elementwise_cases():
    x, y = f32(2, 3, 4, 5), f32(1, 3, 1, 5)
    positive = f32(2, 3, 4, 5, low=0.1, high=3.0)
    for op in ("Add", "Sub", "Mul", "Div"):
        yield single(op, {"a": x, "b": y})
        yield Case(f"{op}_scalar_right", [n(op, ["a", "k"], ["y"])], {"a": x}, ["y"],
                   {"k": np.array(0.75, np.float32)})
        yield Case(f"{op}_scalar_left", [n(op, ["k", "a"], ["y"])], {"a": positive}, ["y"],
                   {"k": np.array([1.5], np.float32)})
        yield Case(f"{op}_int", [n(op, ["a", "b"], ["y"])],
                   {"a": i64(-7, 7, 9, -9, 5), "b": i64(2, -2, 4, 4, 5)}, [("y", I64)])
    yield single("Pow", {"a": positive, "b": f32(3, 1, 5, low=-1, high=2)})
    yield Case("Pow_square", [n("Pow", ["a", "k"], ["y"])], {"a": x}, ["y"], {"k": np.array(2.0, np.float32)})
    yield Case("Mod_int", [n("Mod", ["a", "b"], ["y"])], {"a": i64(-7, 7, 9, -9), "b": i64(3, -3, 4, 4)},
               [("y", I64)])
    yield Case("Mod_fmod", [n("Mod", ["a", "b"], ["y"], fmod=1)], {"a": x, "b": y + 3.0}, ["y"])
    unary = {"Neg": x, "Abs": x, "Sqrt": positive, "Exp": x, "Log": positive, "Reciprocal": positive,
             "Floor": x, "Ceil": x, "Sign": x, "Erf": x, "Sin": x, "Cos": x, "Tan": f32(5, low=-1, high=1),
             "Asin": f32(5, low=-0.9, high=0.9), "Acos": f32(5, low=-0.9, high=0.9), "Atan": x,
             "Sinh": x, "Cosh": x, "Tanh": x, "Sigmoid": x, "Relu": x, "Softplus": x * 20, "Softsign": x,
             "HardSwish": x * 3, "Round": np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3, -0.7], np.float32)}
    for op, data in unary.items():
        yield single(op, {"x": data})
    yield single("IsNaN", {"x": np.array([1.0, np.nan, -np.inf, 0.0], np.float32)}, outputs=[("y", B)])
    yield single("IsInf", {"x": np.array([1.0, np.nan, -np.inf, np.inf], np.float32)}, outputs=[("y", B)])
    yield single("LeakyRelu", {"x": x}, alpha=0.2)
    yield single("PRelu", {"x": x}, {"slope": f32(3, 1, 1)})
    yield single("Elu", {"x": x}, alpha=0.7)
    yield single("Celu", {"x": x}, alpha=1.3)
    yield single("Selu", {"x": x})
    yield single("HardSigmoid", {"x": x * 4}, alpha=0.3, beta=0.4)
    yield single("ThresholdedRelu", {"x": x}, alpha=0.5)
    yield single("Clip", {"x": x}, {"lo": np.array(-0.5, np.float32), "hi": np.array(0.8, np.float32)}, opset=13)
    yield Case("Clip_max_only", [n("Clip", ["x", "", "hi"], ["y"])], {"x": x}, ["y"],
               {"hi": np.array(0.3, np.float32)}, opset=13)
    yield Case("Clip_runtime_min", [n("Clip", ["x", "lo"], ["y"])], {"x": x, "lo": np.array(-0.2, np.float32)},
               ["y"], opset=13)
    yield single("Clip", {"x": x}, opset=6, min=-1.0, max=0.5)
    # Integer clipping as the deformable-convolution exporter of BiRefNet writes it.
    yield Case("Clip_int", [n("Clip", ["x", "lo", "hi"], ["y"])], {"x": i64(-3, 0, 4, 9, 12)}, [("y", I64)],
               {"lo": np.array(0, np.int64), "hi": np.array(8, np.int64)}, opset=12)
    yield Case("Clip_int_runtime", [n("Clip", ["x", "lo", "hi"], ["y"])],
               {"x": i64(-3, 0, 4, 9, 12), "lo": np.array(1, np.int64), "hi": np.array(5, np.int64)},
               [("y", I64)], opset=12)
    yield Case("Where", [n("Where", ["c", "a", "b"], ["y"])],
               {"c": x > 0, "a": x, "b": f32(4, 5)}, ["y"])
    for op in ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"):
        yield Case(f"{op}_int", [n(op, ["a", "b"], ["y"])], {"a": i64(1, 2, 3, 4), "b": i64(2, 2, 2, 2)}, [("y", B)])
    yield Case("Less_float", [n("Less", ["a", "b"], ["y"])], {"a": x, "b": y}, [("y", B)])
    for op in ("And", "Or", "Xor"):
        yield Case(op, [n(op, ["a", "b"], ["y"])], {"a": x > 0, "b": y > 0}, [("y", B)])
    yield Case("Not", [n("Not", ["a"], ["y"])], {"a": x > 0}, [("y", B)])
    for op in ("Max", "Min", "Sum", "Mean"):
        yield Case(op, [n(op, ["a", "b", "c"], ["y"])], {"a": x, "b": y, "c": f32(5)}, ["y"])
    for to, out in ((TensorProto.INT64, I64), (TensorProto.FLOAT, F), (TensorProto.BOOL, B),
                    (TensorProto.FLOAT16, F), (TensorProto.INT32, TensorProto.INT32)):
        cast = [n("Cast", ["x"], ["c"], to=to)]
        if to == TensorProto.FLOAT16:  # float16 is computed as float32: compare after rounding back
            cast.append(n("Cast", ["c"], ["y"], to=TensorProto.FLOAT))
        else:
            cast[0].output[0] = "y"
        yield Case(f"Cast_to{to}", cast, {"x": np.round(x * 3, 1)}, [("y", out)], tolerance=1e-3)
    yield Case("Cast_int_to_float", [n("Cast", ["x"], ["y"], to=TensorProto.FLOAT)], {"x": i64(-3, 0, 5)}, ["y"])
    yield Case("Cast_bool_to_float", [n("Cast", ["x"], ["y"], to=TensorProto.FLOAT)], {"x": x > 0}, ["y"])
    yield Case("CastLike", [n("CastLike", ["x", "like"], ["y"])], {"x": x * 3},
               [("y", I64)], {"like": i64(1)})


def reduction_cases():
    x = f32(2, 3, 4, 5)
    for op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
               "ReduceSumSquare", "ReduceLogSumExp"):
        yield single(op, {"x": x}, opset=13, axes=[1, -1])
        yield single(op, {"x": x}, opset=13, axes=[2], keepdims=0)
    yield single("ReduceLogSum", {"x": np.abs(x) + 0.1}, opset=13, axes=[0, 3])
    yield single("ReduceMean", {"x": x}, opset=13)
    yield single("ReduceSum", {"x": x}, {"axes": i64(1, 2)}, opset=13)
    yield single("ReduceSum", {"x": x}, {"axes": i64(-1)}, opset=13, keepdims=0)
    yield single("ReduceSum", {"x": x}, opset=13)
    yield Case("ReduceSum_noop_empty_axes", [n("ReduceSum", ["x", "axes"], ["y"], noop_with_empty_axes=1)],
               {"x": x}, ["y"], {"axes": np.zeros([0], np.int64)}, opset=13)
    ties = np.array([[3.0, 1.0, 3.0, 2.0], [0.0, 5.0, 5.0, 5.0]], np.float32)
    for op in ("ArgMax", "ArgMin"):
        yield single(op, {"x": ties}, outputs=[("y", I64)], axis=1)
        yield single(op, {"x": ties}, outputs=[("y", I64)], axis=1, keepdims=0, select_last_index=1)
    yield single("Softmax", {"x": x}, opset=13, axis=1)
    yield single("Softmax", {"x": x}, opset=13)
    yield single("Softmax", {"x": x}, opset=11, axis=1)
    yield single("LogSoftmax", {"x": x}, opset=13, axis=2)
    yield single("LogSoftmax", {"x": x}, opset=11, axis=2)
    yield single("CumSum", {"x": x}, {"axis": np.array(2, np.int64)})
    yield single("CumSum", {"x": x}, {"axis": np.array(-1, np.int64)}, exclusive=1, reverse=1)
    values = rng.permutation(40).astype(np.float32).reshape(2, 4, 5)
    yield single("TopK", {"x": values}, {"k": i64(3)}, outputs=["v", ("i", I64)], axis=1)
    yield single("TopK", {"x": values}, {"k": i64(2)}, outputs=["v", ("i", I64)], largest=0)


def matrix_cases():
    yield single("MatMul", {"a": f32(2, 3, 4, 5), "b": f32(2, 3, 5, 6)})
    yield single("MatMul", {"a": f32(2, 7, 5)}, {"b": f32(5, 3)})
    yield single("Gemm", {"a": f32(4, 3)}, {"b": f32(5, 3), "c": f32(5)}, transB=1, alpha=0.5, beta=2.0)
    yield single("Gemm", {"a": f32(3, 4), "b": f32(3, 5)}, transA=1)
    yield single("Einsum", {"a": f32(2, 3, 4), "b": f32(2, 4, 5)}, equation="bij,bjk->bik")
    yield single("Einsum", {"a": f32(2, 4, 6, 8), "b": f32(2, 4, 7, 8)}, equation="bhqd, bhkd -> bhqk")
    yield single("Einsum", {"a": f32(3, 3)}, equation="ii->i")


def tensor_cases():
    x = f32(2, 3, 4, 5)
    yield single("Shape", {"x": x}, outputs=[("y", I64)])
    yield single("Shape", {"x": x}, outputs=[("y", I64)], opset=15, start=1, end=-1)
    yield single("Size", {"x": x}, outputs=[("y", I64)])
    yield single("Reshape", {"x": x}, {"s": i64(0, -1, 5)})
    yield single("Reshape", {"x": x}, {"s": i64(4, 0, 10)})
    yield Case("Reshape_allowzero", [n("Reshape", ["x", "s"], ["y"], allowzero=1)], {"x": np.zeros((0, 3), np.float32)},
               ["y"], {"s": i64(3, 0)}, opset=14)
    yield Case("Reshape_runtime_shape", [n("Reshape", ["x", "s"], ["y"])], {"x": x, "s": i64(3, -1, 2)}, ["y"])
    for axis in (0, 2, -1):
        yield single("Flatten", {"x": x}, axis=axis)
    yield single("Transpose", {"x": x}, perm=[0, 2, 3, 1])
    yield single("Transpose", {"x": x})
    squeezable = f32(1, 3, 1, 5)
    yield single("Squeeze", {"x": squeezable}, opset=11, axes=[0, -2])
    yield single("Squeeze", {"x": squeezable}, {"axes": i64(2)}, opset=13)
    yield single("Squeeze", {"x": squeezable}, opset=13)
    yield single("Unsqueeze", {"x": f32(3, 5)}, opset=11, axes=[0, 3])
    yield single("Unsqueeze", {"x": f32(3, 5)}, {"axes": i64(-1, 1)}, opset=13)
    yield Case("Concat", [n("Concat", ["a", "b", "c"], ["y"], axis=-1)], {"a": x, "b": f32(2, 3, 4, 2)}, ["y"],
               {"c": f32(2, 3, 4, 1)})
    yield single("Split", {"x": x}, outputs=["a", "b"], opset=11, axis=3, split=[2, 3])
    yield single("Split", {"x": x}, {"s": i64(1, 3)}, outputs=["a", "b"], opset=13, axis=2)
    yield single("Split", {"x": x}, outputs=["a", "b", "c"], opset=13, axis=1)
    yield single("Slice", {"x": x}, opset=9, starts=[1, 0], ends=[3, -1], axes=[2, 3])
    yield single("Slice", {"x": x}, {"s": i64(0, 1), "e": i64(1, 9223372036854775807), "a": i64(1, 3),
                                     "st": i64(1, 2)})
    yield single("Slice", {"x": x}, {"s": i64(-1), "e": i64(-9223372036854775807), "a": i64(-1),
                                     "st": i64(-2)})
    yield single("Slice", {"x": x}, {"s": i64(3, -2), "e": i64(0, -10), "a": i64(2, 3), "st": i64(-1, -1)})
    yield single("Slice", {"x": x}, {"s": i64(-3), "e": i64(-1), "a": i64(-2)})
    yield single("Slice", {"x": x}, {"s": i64(1), "e": i64(3)})
    yield Case("Slice_runtime_bounds", [n("Slice", ["x", "s", "e", "a"], ["y"])],
               {"x": x, "s": i64(1), "e": i64(4)}, ["y"], {"a": i64(2)})
    yield single("Gather", {"x": x}, {"i": np.array(2, np.int64)}, axis=2)
    yield single("Gather", {"x": x}, {"i": i64(0, 2)}, axis=1)
    yield single("Gather", {"x": x}, {"i": np.array([[0, -1], [2, 1]], np.int64)}, axis=3)
    yield Case("Gather_runtime_indices", [n("Gather", ["x", "i"], ["y"], axis=0)],
               {"x": x, "i": np.array([1, -2, 0], np.int64)}, ["y"])
    yield single("GatherElements", {"x": x}, {"i": rng.integers(-4, 4, size=(2, 3, 4, 5))}, axis=2)
    yield single("GatherND", {"x": x}, {"i": np.array([[0, 1], [1, -1]], np.int64)})
    yield single("GatherND", {"x": x}, {"i": np.array([[[1, 2], [0, 3]], [[2, 0], [1, 1]]], np.int64)},
                 batch_dims=1)
    # The deformable-convolution exporter's gather: batch and group dims, (y, x) pairs.
    yield single("GatherND", {"x": f32(2, 3, 6, 7, 4)},
                 {"i": np.stack([rng.integers(0, 6, (2, 3, 10)), rng.integers(0, 7, (2, 3, 10))], -1)},
                 opset=12, batch_dims=2)
    yield single("ScatterND", {"x": x}, {"i": np.array([[1, 0], [0, 2]], np.int64), "u": f32(2, 4, 5)})
    yield single("ScatterElements", {"x": x}, {"i": np.array([[[[1, 0, 3, 2, 0]]]], np.int64),
                                               "u": f32(1, 1, 1, 5)}, axis=2)
    yield single("Expand", {"x": f32(3, 1)}, {"s": i64(2, 1, 4)})
    yield single("Expand", {"x": f32(2, 3, 1, 5)}, {"s": i64(1, 4, 1)})
    yield single("Tile", {"x": f32(2, 3)}, {"r": i64(2, 3)})
    yield single("Pad", {"x": x}, {"p": i64(0, 0, 1, 2, 0, 1, 0, 3), "v": np.array(1.5, np.float32)}, opset=13)
    yield single("Pad", {"x": x}, {"p": i64(0, 0, 2, 1, 0, 0, 1, 3)}, opset=13, mode="reflect")
    yield single("Pad", {"x": x}, {"p": i64(0, 1, 2, 1, 0, 0, 1, 3)}, opset=13, mode="edge")
    yield single("Pad", {"x": x}, {"p": i64(0, 0, -1, 2, 0, 0, 1, -2)}, opset=13)
    yield single("Pad", {"x": x}, opset=2, pads=[0, 0, 1, 1, 0, 0, 1, 1], value=-2.0)
    yield Case("Pad_runtime_pads", [n("Pad", ["x", "p"], ["y"], mode="reflect")],
               {"x": x, "p": i64(0, 0, 1, 1, 0, 0, 2, 2)}, ["y"], opset=13)
    yield Case("ConstantOfShape", [n("Shape", ["x"], ["s"]),
                                   n("ConstantOfShape", ["s"], ["y"], value=numpy_helper.from_array(
                                       np.array([2.5], np.float32)))], {"x": x}, ["y"])
    yield Case("ConstantOfShape_int", [n("ConstantOfShape", ["s"], ["y"], value=numpy_helper.from_array(
        np.array([7], np.int64)))], {"s": i64(2, 3)}, [("y", I64)])
    yield Case("Range_int", [n("Range", ["a", "b", "c"], ["y"])], {"b": np.array(10, np.int64)}, [("y", I64)],
               {"a": np.array(1, np.int64), "c": np.array(3, np.int64)})
    yield Case("Range_float", [n("Range", ["a", "b", "c"], ["y"])], {"a": np.array(0.5, np.float32)}, ["y"],
               {"b": np.array(3.0, np.float32), "c": np.array(0.25, np.float32)})
    yield single("Identity", {"x": x})
    yield single("Dropout", {"x": x}, opset=12)
    depth = f32(2, 8, 3, 4)
    yield single("DepthToSpace", {"x": depth}, blocksize=2)
    yield single("DepthToSpace", {"x": depth}, blocksize=2, mode="CRD")
    yield single("SpaceToDepth", {"x": f32(1, 2, 4, 6)}, blocksize=2)
    yield single("NonZero", {"x": np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]], np.float32)}, outputs=[("y", I64)])
    yield single("Trilu", {"x": f32(2, 4, 5)}, {"k": np.array(1, np.int64)})
    yield single("Trilu", {"x": f32(2, 4, 5)}, upper=0)


def nn_cases():
    x = f32(2, 4, 9, 11)
    w = f32(6, 4, 3, 3)
    yield single("Conv", {"x": x}, {"w": w, "b": f32(6)}, pads=[1, 1, 1, 1])
    yield single("Conv", {"x": x}, {"w": f32(8, 2, 3, 3)}, group=2, strides=[2, 1], dilations=[1, 2],
                 pads=[1, 2, 1, 2])
    yield single("Conv", {"x": x}, {"w": w}, pads=[0, 1, 2, 0])
    for auto_pad in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        yield single("Conv", {"x": x}, {"w": f32(6, 4, 4, 4)}, strides=[2, 2], auto_pad=auto_pad)
    yield single("Conv", {"x": f32(2, 3, 10)}, {"w": f32(4, 3, 3), "b": f32(4)}, pads=[1, 1])
    yield single("Conv", {"x": f32(1, 2, 5, 6, 7)}, {"w": f32(3, 2, 3, 3, 3)}, pads=[1, 1, 1, 1, 1, 1])
    yield single("Conv", {"x": x, "w": w})
    wt = f32(4, 3, 3, 3)
    yield single("ConvTranspose", {"x": x}, {"w": wt, "b": f32(3)}, strides=[2, 2], pads=[1, 1, 1, 1],
                 output_padding=[1, 1])
    yield single("ConvTranspose", {"x": x}, {"w": f32(4, 2, 3, 3)}, group=2, strides=[2, 3], dilations=[2, 1])
    yield single("ConvTranspose", {"x": x}, {"w": wt, "b": f32(3)}, strides=[2, 2], pads=[0, 1, 2, 0])
    yield single("ConvTranspose", {"x": x}, {"w": wt}, strides=[2, 2], output_shape=[18, 21])
    yield single("ConvTranspose", {"x": x}, {"w": wt}, strides=[2, 2], auto_pad="SAME_UPPER")
    yield single("ConvTranspose", {"x": f32(2, 4, 7)}, {"w": f32(4, 2, 4)}, strides=[2], pads=[1, 1])
    yield single("MaxPool", {"x": x}, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    yield single("MaxPool", {"x": x}, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    yield single("MaxPool", {"x": x}, kernel_shape=[3, 2], pads=[0, 1, 2, 0])
    yield single("MaxPool", {"x": x}, kernel_shape=[3, 3], dilations=[2, 2], strides=[1, 2])
    yield single("MaxPool", {"x": x}, kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")
    yield single("MaxPool", {"x": f32(2, 3, 10)}, kernel_shape=[3], strides=[2])
    for include in (0, 1):
        yield single("AveragePool", {"x": x}, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                     count_include_pad=include)
        yield single("AveragePool", {"x": x}, kernel_shape=[3, 3], pads=[0, 1, 2, 0], count_include_pad=include)
    yield single("AveragePool", {"x": x}, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    yield single("AveragePool", {"x": x}, kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER")
    yield single("AveragePool", {"x": f32(2, 3, 10)}, kernel_shape=[3], strides=[2], pads=[1, 0])
    yield single("GlobalAveragePool", {"x": x})
    yield single("GlobalMaxPool", {"x": x})
    yield single("BatchNormalization", {"x": x}, {"s": f32(4), "b": f32(4), "m": f32(4),
                                                  "v": f32(4, low=0.5, high=2.0)}, epsilon=1e-3)
    yield single("InstanceNormalization", {"x": x}, {"s": f32(4), "b": f32(4)}, epsilon=1e-4)
    tokens = f32(2, 7, 16)
    yield single("LayerNormalization", {"x": tokens}, {"s": f32(16), "b": f32(16)})
    yield single("LayerNormalization", {"x": tokens}, {"s": f32(7, 16)}, axis=-2, epsilon=1e-3)
    yield single("LayerNormalization", {"x": tokens}, {"s": f32(16), "b": f32(16)}, axis=2)
    # LayerNorm as older exporters write it (BiRefNet's and BEN2's Swin blocks).
    yield Case("LayerNorm_decomposed", [
        n("ReduceMean", ["x"], ["mean"], axes=[-1]), n("Sub", ["x", "mean"], ["d"]),
        n("Pow", ["d", "two"], ["d2"]), n("ReduceMean", ["d2"], ["var"], axes=[-1]),
        n("Add", ["var", "eps"], ["ve"]), n("Sqrt", ["ve"], ["std"]), n("Div", ["d", "std"], ["norm"]),
        n("Mul", ["norm", "s"], ["scaled"]), n("Add", ["scaled", "b"], ["y"])],
        {"x": tokens}, ["y"], {"two": np.array(2.0, np.float32), "eps": np.array(1e-5, np.float32),
                               "s": f32(16), "b": f32(16)}, opset=13)
    # GELU as exporters write it: x * 0.5 * (1 + erf(x / sqrt(2))).
    yield Case("Gelu_erf", [
        n("Div", ["x", "r2"], ["q"]), n("Erf", ["q"], ["e"]), n("Add", ["e", "one"], ["e1"]),
        n("Mul", ["x", "e1"], ["m"]), n("Mul", ["m", "half"], ["y"])],
        {"x": tokens}, ["y"], {"r2": np.array(1.4142135, np.float32), "one": np.array(1.0, np.float32),
                               "half": np.array(0.5, np.float32)})


def resize_case(name, x, out, opset=13, by="sizes", **attrs):
    """A Resize of x (N x C x H x W) to out = [h, w], by sizes or by scales."""
    constants = {}
    inputs = ["x", "", "", ""]
    if by == "sizes":
        constants["sizes"] = i64(x.shape[0], x.shape[1], *out)
        inputs[3] = "sizes"
    else:
        constants["scales"] = np.array([1.0, 1.0] + list(out), np.float32)
        inputs[2] = "scales"
    if attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        constants["roi"] = np.array([0, 0, 0.2, 0.1, 1, 1, 0.9, 1.2], np.float32)
        inputs[1] = "roi"
    while inputs[-1] == "":
        inputs.pop()
    return Case(f"Resize_{name}", [n("Resize", inputs, ["y"], **attrs)], {"x": x}, ["y"], constants, opset)


def resize_cases():
    x = f32(1, 2, 6, 7)
    for coord in ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"):
        for nearest in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"):
            for out in ([12, 21], [4, 5]):
                yield resize_case(f"nearest_{coord}_{nearest}_{out[0]}", x, out, mode="nearest",
                                  coordinate_transformation_mode=coord, nearest_mode=nearest)
    for coord in ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"):
        for out in ([13, 9], [3, 4], [1, 5]):
            yield resize_case(f"linear_{coord}_{out[0]}", x, out, mode="linear",
                              coordinate_transformation_mode=coord)
        yield resize_case(f"linear_{coord}_scales", x, [2.0, 1.5], by="scales", mode="linear",
                          coordinate_transformation_mode=coord)
    for coord in ("half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel"):
        for exclude in (0, 1):
            yield resize_case(f"cubic_{coord}_exclude{exclude}", x, [11, 15], mode="cubic",
                              coordinate_transformation_mode=coord, exclude_outside=exclude)
    yield resize_case("cubic_a-0.5_down", x, [4, 5], mode="cubic", cubic_coeff_a=-0.5)
    yield resize_case("cubic_scales", x, [1.5, 2.0], by="scales", mode="cubic")
    yield resize_case("nearest_scales", x, [2.0, 3.0], by="scales", mode="nearest")
    for mode in ("linear", "nearest", "cubic"):
        yield resize_case(f"{mode}_tf_crop_and_resize", x, [9, 8], mode=mode,
                          coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0)
    yield Case("Resize_nchw_channels", [n("Resize", ["x", "", "", "s"], ["y"], mode="linear")],
               {"x": x}, ["y"], {"s": i64(1, 4, 9, 7)})
    yield Case("Resize_opset10", [n("Resize", ["x", "s"], ["y"], mode="nearest")], {"x": x}, ["y"],
               {"s": np.array([1, 1, 2.0, 1.5], np.float32)}, opset=10)
    yield Case("Resize_opset10_linear", [n("Resize", ["x", "s"], ["y"], mode="linear")], {"x": x}, ["y"],
               {"s": np.array([1, 1, 2.0, 3.0], np.float32)}, opset=10)
    yield Case("Upsample_opset9_nearest", [n("Upsample", ["x", "s"], ["y"], mode="nearest")], {"x": x}, ["y"],
               {"s": np.array([1, 1, 2.0, 3.0], np.float32)}, opset=9)
    yield Case("Upsample_opset9_linear", [n("Upsample", ["x", "s"], ["y"], mode="linear")], {"x": x}, ["y"],
               {"s": np.array([1, 1, 2.0, 2.0], np.float32)}, opset=9)
    yield Case("Upsample_opset7", [n("Upsample", ["x"], ["y"], mode="nearest", scales=[1.0, 1.0, 2.0, 2.0])],
               {"x": x}, ["y"], opset=7)


def dynamic_cases():
    """Exporter patterns whose shapes come from the input: each runs at two sizes."""
    a, b = f32(1, 3, 10, 12), f32(2, 3, 7, 9)
    # U-2-Net's _upsample_like: Resize to the size of another tensor.
    yield Case("dyn_upsample_like", [
        n("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        n("Shape", ["x"], ["sx"]), n("Shape", ["p"], ["sp"]),
        n("Slice", ["sp", "zero", "two"], ["nc"]),
        n("Gather", ["sx", "two_s"], ["h"], axis=0), n("Gather", ["sx", "three_s"], ["w"], axis=0),
        n("Unsqueeze", ["h"], ["h1"], axes=[0]), n("Unsqueeze", ["w"], ["w1"], axes=[0]),
        n("Concat", ["nc", "h1", "w1"], ["sizes"], axis=0),
        n("Resize", ["p", "roi", "scales", "sizes"], ["up"], mode="linear",
          coordinate_transformation_mode="pytorch_half_pixel"),
        n("Add", ["up", "x"], ["y"])],
        {"x": a}, ["y"], {"zero": i64(0), "two": i64(2), "two_s": np.array(2, np.int64),
                          "roi": np.zeros([0], np.float32), "scales": np.zeros([0], np.float32),
                          "three_s": np.array(3, np.int64)}, opset=11, runs=[{"x": b}])
    # Swin's window partition: Reshape / Transpose with sizes computed from Shape.
    yield Case("dyn_window_partition", [
        n("Shape", ["x"], ["s"]), n("Gather", ["s", "i2"], ["h"], axis=0), n("Gather", ["s", "i3"], ["w"], axis=0),
        n("Div", ["h", "two"], ["h2"]), n("Div", ["w", "two"], ["w2"]),
        n("Unsqueeze", ["h2"], ["uh"], axes=[0]), n("Unsqueeze", ["w2"], ["uw"], axes=[0]),
        n("Concat", ["minus1", "c", "uh", "k", "uw", "k"], ["shape"], axis=0),
        n("Reshape", ["x", "shape"], ["r"]), n("Transpose", ["r"], ["t"], perm=[0, 2, 4, 3, 5, 1]),
        n("Shape", ["t"], ["st"]), n("Slice", ["st", "zero", "three"], ["head"]),
        n("Concat", ["head", "minus1"], ["flat"], axis=0), n("Reshape", ["t", "flat"], ["y"])],
        {"x": f32(2, 3, 8, 6)}, ["y"],
        {"i2": np.array(2, np.int64), "i3": np.array(3, np.int64), "two": np.array(2, np.int64),
         "minus1": i64(-1), "c": i64(3), "k": i64(2), "zero": i64(0), "three": i64(3)},
        opset=11, runs=[{"x": f32(1, 3, 4, 10)}])
    # Position tables built from the input size: Range, Expand, ConstantOfShape, Where.
    yield Case("dyn_ranges", [
        n("Shape", ["x"], ["s"]), n("Gather", ["s", "i3"], ["w"], axis=0),
        n("Range", ["zero_s", "w", "one_s"], ["r"]), n("Cast", ["r"], ["rf"], to=TensorProto.FLOAT),
        n("Expand", ["rf", "s"], ["e"]), n("ConstantOfShape", ["s"], ["z"], value=numpy_helper.from_array(
            np.array([0.5], np.float32))),
        n("Greater", ["e", "x"], ["g"]), n("Where", ["g", "e", "z"], ["y"])],
        {"x": f32(1, 2, 3, 5, high=5)}, ["y"],
        {"i3": np.array(3, np.int64), "zero_s": np.array(0, np.int64), "one_s": np.array(1, np.int64)},
        opset=11, runs=[{"x": f32(2, 1, 4, 9, high=9)}])
    yield Case("dyn_layer_norm", [n("LayerNormalization", ["x", "s", "b"], ["y"], axis=-1)],
               {"x": f32(2, 7, 16)}, ["y"], {"s": f32(16), "b": f32(16)}, runs=[{"x": f32(1, 3, 16)}])
    # Attention with shapes from the input: MatMul, Softmax, Transpose, Reshape.
    yield Case("dyn_attention", [
        n("MatMul", ["x", "wq"], ["q"]), n("MatMul", ["x", "wk"], ["k"]),
        n("Transpose", ["k"], ["kt"], perm=[0, 2, 1]), n("MatMul", ["q", "kt"], ["a"]),
        n("Mul", ["a", "scale"], ["a2"]), n("Softmax", ["a2"], ["p"], axis=-1), n("MatMul", ["p", "x"], ["y"])],
        {"x": f32(2, 5, 8)}, ["y"], {"wq": f32(8, 8), "wk": f32(8, 8), "scale": np.array(0.35, np.float32)},
        opset=13, runs=[{"x": f32(1, 11, 8)}])


def all_cases():
    for family in (elementwise_cases, reduction_cases, matrix_cases, tensor_cases, nn_cases, resize_cases,
                   dynamic_cases):
        yield from family()
