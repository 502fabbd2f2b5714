"""Translations of ONNX's network layers: Conv, ConvTranspose, pooling and
the normalisations. Each maps to one torch.nn.functional call where torch
has the same semantics (symmetric padding) and pads explicitly otherwise.
A node with attributes it cannot honour raises ConversionError naming it."""

from .onnx_graph import ConversionError, attribute, describe


def spatial_rank(e, node, weight_index=None):
    kernel = attribute(node, "kernel_shape")
    if kernel:
        n = len(kernel)
    elif weight_index is not None and e.const(node.input[weight_index]) is not None:
        n = e.const(node.input[weight_index]).dim() - 2
    elif weight_index is not None and e.graph.rank(node.input[weight_index]) is not None:
        n = e.graph.rank(node.input[weight_index]) - 2
    else:
        raise ConversionError(f"{describe(node)}: cannot tell its number of spatial dims")
    if n not in (1, 2, 3):
        raise ConversionError(f"{describe(node)}: expected 1, 2 or 3 spatial dims, got {n}")
    return n


def kernel_of(e, node, n, weight_index):
    kernel = attribute(node, "kernel_shape")
    if kernel:
        return list(kernel)
    weight = e.const(node.input[weight_index])
    if weight is None:
        raise ConversionError(f"{describe(node)}: needs kernel_shape or a constant weight for auto_pad")
    return list(weight.shape[2:])


def padded_input(e, node, x, n, kernel, strides, dilations, fill):
    """(input expression, torch padding): symmetric ONNX pads go to torch;
    asymmetric or auto_pad SAME pads are applied to the input first."""
    auto_pad = attribute(node, "auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = f"same_pads({x}, {kernel()}, {strides}, {dilations}, {auto_pad == 'SAME_UPPER'})"
        return e.temp(f"pad_spatial({x}, {pads}, {fill})"), [0] * n
    if auto_pad == "VALID":
        return x, [0] * n
    if auto_pad != "NOTSET":
        raise ConversionError(f"{describe(node)}: unknown auto_pad '{auto_pad}'")
    pads = list(attribute(node, "pads", [0] * (2 * n)))
    if pads[:n] == pads[n:]:
        return x, pads[:n]
    return e.temp(f"pad_spatial({x}, {pads}, {fill})"), [0] * n


def op_conv(e, node):
    n = spatial_rank(e, node, 1)
    strides = list(attribute(node, "strides", [1] * n))
    dilations = list(attribute(node, "dilations", [1] * n))
    x, padding = padded_input(e, node, e.x(node.input[0]), n, lambda: kernel_of(e, node, n, 1),
                              strides, dilations, "0.0")
    bias = e.x(node.input[2]) if e.has(node, 2) else "None"
    e.set(node, f"F.conv{n}d({x}, {e.x(node.input[1])}, {bias}, stride={strides}, padding={padding}, "
                f"dilation={dilations}, groups={attribute(node, 'group', 1)})")


def op_conv_transpose(e, node):
    n = spatial_rank(e, node, 1)
    x, w = e.x(node.input[0]), e.x(node.input[1])
    strides = list(attribute(node, "strides", [1] * n))
    dilations = list(attribute(node, "dilations", [1] * n))
    group = attribute(node, "group", 1)
    output_padding = list(attribute(node, "output_padding", [0] * n))
    output_shape = attribute(node, "output_shape")
    auto_pad = attribute(node, "auto_pad", "NOTSET")
    bias = e.x(node.input[2]) if e.has(node, 2) else None
    pads = list(attribute(node, "pads", [0] * (2 * n)))
    if auto_pad == "VALID":
        pads = [0] * (2 * n)
    fits_torch = (pads[:n] == pads[n:] and not output_shape and auto_pad in ("NOTSET", "VALID")
                  and all(p < max(s, d) for p, s, d in zip(output_padding, strides, dilations)))
    if fits_torch:
        e.set(node, f"F.conv_transpose{n}d({x}, {w}, {bias or 'None'}, stride={strides}, padding={pads[:n]}, "
                    f"output_padding={output_padding}, groups={group}, dilation={dilations})")
        return
    full = e.temp(f"F.conv_transpose{n}d({x}, {w}, None, stride={strides}, padding={[0] * n}, "
                  f"output_padding={[0] * n}, groups={group}, dilation={dilations})")
    if output_shape or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        kernel = kernel_of(e, node, n, 1)
        shape = list(output_shape)[-n:] if output_shape else []
        pads = (f"conv_transpose_pads({x}, {kernel}, {strides}, {dilations}, {output_padding}, "
                f"{shape if shape else 'torch.jit.annotate(List[int], [])'}, {auto_pad == 'SAME_UPPER'})")
    elif auto_pad not in ("NOTSET", "VALID"):
        raise ConversionError(f"{describe(node)}: unknown auto_pad '{auto_pad}'")
    expr = f"crop_spatial({full}, {pads}, {output_padding})"
    if bias:
        expr = f"{expr} + {bias}.reshape({[1, -1] + [1] * n})"
    e.set(node, expr)


def pool_settings(e, node):
    kernel = list(attribute(node, "kernel_shape"))
    n = len(kernel)
    if n not in (1, 2, 3):
        raise ConversionError(f"{describe(node)}: expected 1, 2 or 3 spatial dims, got {n}")
    strides = list(attribute(node, "strides", [1] * n))
    dilations = list(attribute(node, "dilations", [1] * n))
    return kernel, n, strides, dilations, bool(attribute(node, "ceil_mode", 0))


def op_max_pool(e, node):
    if len(node.output) > 1 and node.output[1]:
        raise ConversionError(f"{describe(node)}: the Indices output is not supported")
    kernel, n, strides, dilations, ceil_mode = pool_settings(e, node)
    x, padding = padded_input(e, node, e.x(node.input[0]), n, lambda: kernel, strides, dilations,
                              "-float('inf')")
    if any(2 * p > k for p, k in zip(padding, kernel)):  # torch allows at most half the kernel
        x, padding = e.temp(f"pad_spatial({x}, {padding + padding}, -float('inf'))"), [0] * n
    e.set(node, f"F.max_pool{n}d({x}, kernel_size={kernel}, stride={strides}, padding={padding}, "
                f"dilation={dilations}, ceil_mode={ceil_mode})")


def op_average_pool(e, node):
    kernel, n, strides, dilations, ceil_mode = pool_settings(e, node)
    if any(d != 1 for d in dilations):
        raise ConversionError(f"{describe(node)}: dilations are not supported")
    include_pad = bool(attribute(node, "count_include_pad", 0))
    pads = list(attribute(node, "pads", [0] * (2 * n)))
    auto_pad = attribute(node, "auto_pad", "NOTSET")
    x = e.x(node.input[0])
    symmetric = pads[:n] == pads[n:] and all(2 * p <= k for p, k in zip(pads[:n], kernel))
    if auto_pad == "NOTSET" and symmetric:
        e.set(node, f"F.avg_pool{n}d({x}, {kernel}, {strides}, {pads[:n]}, {ceil_mode}, {include_pad})")
        return
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = f"same_pads({x}, {kernel}, {strides}, {dilations}, {auto_pad == 'SAME_UPPER'})"
    elif auto_pad == "VALID":
        pads = [0] * (2 * n)
    if include_pad:
        padded = e.temp(f"pad_spatial({x}, {pads}, 0.0)")
        e.set(node, f"F.avg_pool{n}d({padded}, {kernel}, {strides}, {[0] * n}, {ceil_mode}, True)")
    else:
        e.set(node, f"avg_pool_exclusive({x}, {kernel}, {strides}, {pads}, {ceil_mode})")


def op_global_pool(function):
    def translate(e, node):
        x = e.x(node.input[0])
        e.set(node, f"{function}({x}, all_dims({x})[2:], keepdim=True)")
    return translate


def op_batch_norm(e, node):
    if attribute(node, "training_mode", 0):
        raise ConversionError(f"{describe(node)}: training mode is not supported")
    if any(out for out in node.output[1:]):
        raise ConversionError(f"{describe(node)}: the running mean and variance outputs are not supported")
    x, scale, bias, mean, var = (e.x(i) for i in node.input[:5])
    e.set(node, f"F.batch_norm({x}, {mean}, {var}, {scale}, {bias}, False, 0.0, "
                f"{attribute(node, 'epsilon', 1e-5)!r})")


def op_instance_norm(e, node):
    x, scale, bias = (e.x(i) for i in node.input[:3])
    e.set(node, f"F.instance_norm({x}, None, None, {scale}, {bias}, True, 0.0, "
                f"{attribute(node, 'epsilon', 1e-5)!r})")


def op_layer_norm(e, node):
    if any(out for out in node.output[1:]):
        raise ConversionError(f"{describe(node)}: the Mean and InvStdDev outputs are not supported")
    x = e.x(node.input[0])
    axis = attribute(node, "axis", -1)
    eps = attribute(node, "epsilon", 1e-5)
    scale = e.x(node.input[1])
    bias = e.x(node.input[2]) if e.has(node, 2) else None
    dims = e.graph.shapes.get(node.input[0])
    normalised = None if dims is None or None in dims else dims[axis:]
    exact = [e.graph.shapes.get(node.input[1])] + ([e.graph.shapes.get(node.input[2])] if bias else [])
    if normalised is not None and all(shape == normalised for shape in exact):
        e.set(node, f"F.layer_norm({x}, {x}.shape[{axis}:], {scale}, {bias or 'None'}, {eps!r})")
    else:
        e.set(node, f"layer_norm({x}, {scale}, {bias or '0.0 * ' + scale}, {axis}, {eps!r})")


TRANSLATIONS = {
    "Conv": op_conv,
    "ConvTranspose": op_conv_transpose,
    "MaxPool": op_max_pool,
    "AveragePool": op_average_pool,
    "GlobalAveragePool": op_global_pool("torch.mean"),
    "GlobalMaxPool": op_global_pool("torch.amax"),
    "BatchNormalization": op_batch_norm,
    "InstanceNormalization": op_instance_norm,
    "LayerNormalization": op_layer_norm,
}
