"""Translations of ONNX's elementwise, activation, comparison, logic,
reduction and matrix ops. Each function emits one node's code through the
Emitter; a node with attributes it cannot honour raises ConversionError
naming the node."""

from onnx import TensorProto

from .onnx_graph import FLOAT_TYPES, ConversionError, attribute, describe

TORCH_DTYPES = {
    TensorProto.FLOAT: "torch.float32", TensorProto.FLOAT16: "torch.float32",
    TensorProto.DOUBLE: "torch.float32", TensorProto.BFLOAT16: "torch.float32",
    TensorProto.INT64: "torch.int64", TensorProto.INT32: "torch.int32",
    TensorProto.INT16: "torch.int16", TensorProto.INT8: "torch.int8",
    TensorProto.UINT8: "torch.uint8", TensorProto.UINT16: "torch.int64",
    TensorProto.UINT32: "torch.int64", TensorProto.UINT64: "torch.int64",
    TensorProto.BOOL: "torch.bool",
}


def torch_dtype(node, elem_type):
    if elem_type not in TORCH_DTYPES:
        raise ConversionError(f"{describe(node)}: element type {TensorProto.DataType.Name(elem_type)} "
                              f"is not supported")
    return TORCH_DTYPES[elem_type]


def unary(expr):
    def translate(e, node):
        e.set(node, expr.format(e.x(node.input[0])))
    return translate


def binary(symbol=None, function=None, commutes=False):
    """a OP b, with a known single value written as a number."""
    def translate(e, node):
        a, b = node.input[0], node.input[1]
        if commutes and e.scalar(a) is not None and not e.is_static(b):
            a, b = b, a
        left, right = e.x(a), e.operand(b, a)
        e.set(node, f"{left} {symbol} {right}" if symbol else f"{function}({left}, {right})")
    return translate


def op_sub(e, node):
    a, b = node.input[0], node.input[1]
    if e.scalar(a) is not None and not e.is_static(b) and e.operand(a, b) == e.scalar(a):
        e.set(node, f"torch.rsub({e.x(b)}, {e.scalar(a)})")
    else:
        e.set(node, f"{e.x(a)} - {e.operand(b, a)}")


def op_div(e, node):
    a, b = node.input[0], node.input[1]
    kind = e.graph.is_float(a)
    if kind is None:
        kind = e.graph.is_float(b)
    if kind is True:
        e.set(node, f"{e.x(a)} / {e.operand(b, a)}")
    elif kind is False:
        e.set(node, f"torch.div({e.x(a)}, {e.operand(b, a)}, rounding_mode='trunc')")
    else:
        e.set(node, f"div({e.x(a)}, {e.x(b)})")


def op_pow(e, node):
    e.set(node, f"torch.pow({e.x(node.input[0])}, {e.operand(node.input[1], node.input[0])})")


def op_mod(e, node):
    function = "torch.fmod" if attribute(node, "fmod", 0) else "torch.remainder"
    e.set(node, f"{function}({e.x(node.input[0])}, {e.operand(node.input[1], node.input[0])})")


def variadic(function, mean=False):
    def translate(e, node):
        values = [e.x(i) for i in node.input if i]
        expr = values[0]
        for v in values[1:]:
            expr = f"{function}({expr}, {v})" if function else f"({expr} + {v})"
        if mean:
            expr = f"{expr} / {float(len(values))}"
        e.set(node, expr)
    return translate


def cast_to(e, node, to):
    source = node.input[0]
    if to in FLOAT_TYPES:
        if e.graph.is_float(source) is False:
            e.set(node, f"{e.x(source)}.to(torch.float32)")
        else:
            e.set(node, f"to_float({e.x(source)})")
    elif to == TensorProto.BOOL:
        e.set(node, f"{e.x(source)} != 0")
    else:
        e.set(node, f"{e.x(source)}.to({torch_dtype(node, to)})")


def op_cast(e, node):
    cast_to(e, node, attribute(node, "to"))


def op_cast_like(e, node):
    elem = e.graph.elem_types.get(node.input[1])
    if elem is None:
        e.set(node, f"{e.x(node.input[0])}.to({e.x(node.input[1])}.dtype)")
    else:
        cast_to(e, node, elem)


def op_clip(e, node):
    x = e.x(node.input[0])
    if e.graph.opset < 11:
        low, high = attribute(node, "min"), attribute(node, "max")
        bounds = []
        if low is not None:
            bounds.append(f"min={low!r}")
        if high is not None:
            bounds.append(f"max={high!r}")
        e.set(node, f"torch.clamp({x}, {', '.join(bounds)})" if bounds else x)
        return
    expr = x
    for index, function in ((1, "torch.maximum"), (2, "torch.minimum")):
        if not e.has(node, index):
            continue
        literal = e.scalar(node.input[index])
        if literal is not None:
            key = "min" if index == 1 else "max"
            expr = f"torch.clamp({expr}, {key}={literal})"
        else:
            expr = f"{function}({expr}, {e.x(node.input[index])})"
    e.set(node, expr)


def op_where(e, node):
    e.set(node, f"torch.where({e.x(node.input[0])}, {e.x(node.input[1])}, {e.x(node.input[2])})")


def op_leaky_relu(e, node):
    e.set(node, f"F.leaky_relu({e.x(node.input[0])}, {attribute(node, 'alpha', 0.01)!r})")


def op_prelu(e, node):
    x = e.x(node.input[0])
    e.set(node, f"torch.where({x} < 0, {x} * {e.x(node.input[1])}, {x})")


def op_elu(e, node):
    e.set(node, f"F.elu({e.x(node.input[0])}, {attribute(node, 'alpha', 1.0)!r})")


def op_celu(e, node):
    e.set(node, f"F.celu({e.x(node.input[0])}, {attribute(node, 'alpha', 1.0)!r})")


def op_selu(e, node):
    alpha = attribute(node, "alpha", 1.67326319217681884765625)
    gamma = attribute(node, "gamma", 1.05070102214813232421875)
    x = e.x(node.input[0])
    e.set(node, f"{gamma!r} * torch.where({x} > 0, {x}, {alpha!r} * (torch.exp({x}) - 1.0))")


def op_hard_sigmoid(e, node):
    alpha, beta = attribute(node, "alpha", 0.2), attribute(node, "beta", 0.5)
    e.set(node, f"torch.clamp({e.x(node.input[0])} * {alpha!r} + {beta!r}, 0.0, 1.0)")


def op_thresholded_relu(e, node):
    x = e.x(node.input[0])
    e.set(node, f"torch.where({x} > {attribute(node, 'alpha', 1.0)!r}, {x}, {x} * 0.0)")


def op_softmax(e, node, function="torch.softmax", log=False):
    x = e.x(node.input[0])
    if e.graph.opset < 13:
        e.set(node, f"softmax_legacy({x}, {attribute(node, 'axis', 1)}, {log})")
    else:
        e.set(node, f"{function}({x}, {attribute(node, 'axis', -1)})")


def op_log_softmax(e, node):
    op_softmax(e, node, "torch.log_softmax", log=True)


def reduce_axes(e, node, axes_input_from):
    """The axes expression of a Reduce node, or None for all dims."""
    if e.graph.opset >= axes_input_from:
        if not e.has(node, 1):
            return None
        axes = e.const(node.input[1])
        if axes is not None and axes.numel() == 0:
            return None
        return e.ints(node.input[1])
    axes = attribute(node, "axes")
    return None if not axes else repr(list(axes))


def reduction(kind, axes_input_from=18):
    def translate(e, node):
        x = e.x(node.input[0])
        keep = bool(attribute(node, "keepdims", 1))
        axes = reduce_axes(e, node, axes_input_from)
        if axes is None:
            if attribute(node, "noop_with_empty_axes", 0):
                e.set(node, x)
                return
            axes = f"all_dims({x})"
        if kind == "mean":
            e.set(node, f"torch.mean({x}, {axes}, keepdim={keep})")
        elif kind == "sum":
            e.set(node, f"torch.sum({x}, {axes}, keepdim={keep})")
        elif kind == "max":
            e.set(node, f"torch.amax({x}, {axes}, keepdim={keep})")
        elif kind == "min":
            e.set(node, f"torch.amin({x}, {axes}, keepdim={keep})")
        elif kind == "l1":
            e.set(node, f"torch.sum(torch.abs({x}), {axes}, keepdim={keep})")
        elif kind == "l2":
            e.set(node, f"torch.sqrt(torch.sum({x} * {x}, {axes}, keepdim={keep}))")
        elif kind == "sum_square":
            e.set(node, f"torch.sum({x} * {x}, {axes}, keepdim={keep})")
        elif kind == "log_sum":
            e.set(node, f"torch.log(torch.sum({x}, {axes}, keepdim={keep}))")
        elif kind == "log_sum_exp":
            e.set(node, f"torch.logsumexp({x}, {axes}, keepdim={keep})")
        elif kind == "prod":
            e.set(node, f"reduce_prod({x}, {axes}, {keep})")
    return translate


def arg_reduction(function):
    def translate(e, node):
        x = e.x(node.input[0])
        axis = attribute(node, "axis", 0)
        keep = bool(attribute(node, "keepdims", 1))
        if attribute(node, "select_last_index", 0):
            e.set(node, f"({x}.size({axis}) - 1 - {function}({x}.flip([{axis}]), {axis}, keepdim={keep}))")
        else:
            e.set(node, f"{function}({x}, {axis}, keepdim={keep})")
    return translate


def op_matmul(e, node):
    e.set(node, f"torch.matmul({e.x(node.input[0])}, {e.x(node.input[1])})")


def op_gemm(e, node):
    a, b = e.x(node.input[0]), e.x(node.input[1])
    if attribute(node, "transA", 0):
        a = f"{a}.t()"
    if attribute(node, "transB", 0):
        b = f"{b}.t()"
    alpha, beta = attribute(node, "alpha", 1.0), attribute(node, "beta", 1.0)
    expr = f"torch.matmul({a}, {b})"
    if alpha != 1.0:
        expr = f"{expr} * {alpha!r}"
    if e.has(node, 2):
        c = e.x(node.input[2])
        expr = f"{expr} + {c}" if beta == 1.0 else f"{expr} + {c} * {beta!r}"
    e.set(node, expr)


def op_einsum(e, node):
    equation = attribute(node, "equation").replace(" ", "")
    operands = ", ".join(e.x(i) for i in node.input)
    e.set(node, f"torch.einsum({equation!r}, [{operands}])")


def op_cumsum(e, node):
    x = e.x(node.input[0])
    axis = e.scalar(node.input[1])
    if axis is None:
        axis = f"int({e.x(node.input[1])})"
    if attribute(node, "reverse", 0):
        x = f"{x}.flip([{axis}])"
    expr = f"torch.cumsum({x}, {axis})"
    if attribute(node, "exclusive", 0):
        expr = f"({expr} - {x})"
    if attribute(node, "reverse", 0):
        expr = f"{expr}.flip([{axis}])"
    e.set(node, expr)


def op_topk(e, node):
    k = e.scalar(node.input[1])
    if k is None:
        k = f"int({e.x(node.input[1])})"
    axis = attribute(node, "axis", -1)
    largest = bool(attribute(node, "largest", 1))
    pair = e.temp(f"torch.topk({e.x(node.input[0])}, {k}, {axis}, {largest}, True)")
    e.set(node, f"{pair}[0]", 0)
    if len(node.output) > 1 and node.output[1]:
        e.set(node, f"{pair}[1]", 1)


TRANSLATIONS = {
    "Add": binary("+", commutes=True),
    "Sub": op_sub,
    "Mul": binary("*", commutes=True),
    "Div": op_div,
    "Pow": op_pow,
    "Mod": op_mod,
    "Neg": unary("torch.neg({})"),
    "Abs": unary("torch.abs({})"),
    "Sqrt": unary("torch.sqrt({})"),
    "Exp": unary("torch.exp({})"),
    "Log": unary("torch.log({})"),
    "Reciprocal": unary("torch.reciprocal({})"),
    "Floor": unary("torch.floor({})"),
    "Ceil": unary("torch.ceil({})"),
    "Round": unary("torch.round({})"),
    "Sign": unary("torch.sign({})"),
    "Erf": unary("torch.erf({})"),
    "Sin": unary("torch.sin({})"),
    "Cos": unary("torch.cos({})"),
    "Tan": unary("torch.tan({})"),
    "Asin": unary("torch.asin({})"),
    "Acos": unary("torch.acos({})"),
    "Atan": unary("torch.atan({})"),
    "Sinh": unary("torch.sinh({})"),
    "Cosh": unary("torch.cosh({})"),
    "Tanh": unary("torch.tanh({})"),
    "Sigmoid": unary("torch.sigmoid({})"),
    "Relu": unary("F.relu({})"),
    "Softplus": unary("F.softplus({})"),
    "Softsign": unary("{0} / (torch.abs({0}) + 1.0)"),
    "HardSwish": unary("F.hardswish({})"),
    "IsNaN": unary("torch.isnan({})"),
    "IsInf": unary("torch.isinf({})"),
    "Not": unary("torch.logical_not({})"),
    "LeakyRelu": op_leaky_relu,
    "PRelu": op_prelu,
    "Elu": op_elu,
    "Celu": op_celu,
    "Selu": op_selu,
    "HardSigmoid": op_hard_sigmoid,
    "ThresholdedRelu": op_thresholded_relu,
    "Clip": op_clip,
    "Cast": op_cast,
    "CastLike": op_cast_like,
    "Where": op_where,
    "Equal": binary(function="torch.eq"),
    "Less": binary(function="torch.lt"),
    "LessOrEqual": binary(function="torch.le"),
    "Greater": binary(function="torch.gt"),
    "GreaterOrEqual": binary(function="torch.ge"),
    "And": binary(function="torch.logical_and"),
    "Or": binary(function="torch.logical_or"),
    "Xor": binary(function="torch.logical_xor"),
    "Max": variadic("torch.maximum"),
    "Min": variadic("torch.minimum"),
    "Sum": variadic(None),
    "Mean": variadic(None, mean=True),
    "Softmax": op_softmax,
    "LogSoftmax": op_log_softmax,
    "ReduceMean": reduction("mean"),
    "ReduceSum": reduction("sum", axes_input_from=13),
    "ReduceMax": reduction("max"),
    "ReduceMin": reduction("min"),
    "ReduceProd": reduction("prod"),
    "ReduceL1": reduction("l1"),
    "ReduceL2": reduction("l2"),
    "ReduceSumSquare": reduction("sum_square"),
    "ReduceLogSum": reduction("log_sum"),
    "ReduceLogSumExp": reduction("log_sum_exp"),
    "ArgMax": arg_reduction("torch.argmax"),
    "ArgMin": arg_reduction("torch.argmin"),
    "MatMul": op_matmul,
    "Gemm": op_gemm,
    "Einsum": op_einsum,
    "CumSum": op_cumsum,
    "TopK": op_topk,
}
