"""Translations of ONNX's shape and indexing ops: Shape, Reshape, Slice,
Gather and friends, Concat, Split, Pad, Expand, ... . Shape-like inputs
known at conversion time become Python literals; the rest is computed at
run time, so data-dependent shapes follow the input. A node with an
attribute it cannot honour raises ConversionError naming the node."""

from onnx import numpy_helper

from .onnx_graph import ConversionError, attribute, describe
from .onnx_ops_math import torch_dtype


def empty(kind):
    """A typed empty list literal (TorchScript types a bare [] as List[Tensor])."""
    return f"torch.jit.annotate(List[{kind}], [])"


def axes_of(e, node, input_from, index=1):
    """(expression, known values or None) of an op's axes, which are an
    attribute before opset `input_from` and an input from it on."""
    if e.graph.opset >= input_from:
        if not e.has(node, index):
            return None, None
        value = e.const(node.input[index])
        known = None if value is None else [int(v) for v in value.reshape(-1).tolist()]
        return e.ints(node.input[index]), known
    axes = attribute(node, "axes")
    if axes is None:
        return None, None
    return repr(list(axes)), list(axes)


def op_shape(e, node):
    x = e.x(node.input[0])
    start, end = attribute(node, "start", 0), attribute(node, "end")
    part = f"[{start}:]" if end is None else f"[{start}:{end}]"
    e.set(node, f"torch.tensor({x}.shape{part}, dtype=torch.int64, device={x}.device)")


def op_size(e, node):
    x = e.x(node.input[0])
    e.set(node, f"torch.tensor({x}.numel(), dtype=torch.int64, device={x}.device)")


def op_reshape(e, node):
    x = e.x(node.input[0])
    allowzero = bool(attribute(node, "allowzero", 0))
    shape = e.const(node.input[1])
    if shape is not None and (allowzero or not (shape == 0).any()):
        e.set(node, f"{x}.reshape({e.ints(node.input[1])})")
    else:
        e.set(node, f"reshape({x}, {e.ints(node.input[1])}, {allowzero})")


def op_flatten(e, node):
    e.set(node, f"flatten2d({e.x(node.input[0])}, {attribute(node, 'axis', 1)})")


def op_transpose(e, node):
    x = e.x(node.input[0])
    perm = attribute(node, "perm")
    e.set(node, f"{x}.permute({list(perm)})" if perm else f"{x}.permute(reversed_dims({x}))")


def op_squeeze(e, node):
    x = e.x(node.input[0])
    expr, known = axes_of(e, node, 13)
    if expr is None:
        e.set(node, f"squeeze({x}, {empty('int')})")
    elif known is not None and all(a >= 0 for a in known):
        for a in sorted(known, reverse=True):
            x = f"{x}.squeeze({a})"
        e.set(node, x)
    else:
        e.set(node, f"squeeze({x}, {expr})")


def op_unsqueeze(e, node):
    x = e.x(node.input[0])
    expr, known = axes_of(e, node, 13)
    if expr is None:
        raise ConversionError(f"{describe(node)}: has no axes")
    if known is not None and all(a >= 0 for a in known):
        for a in sorted(known):
            x = f"{x}.unsqueeze({a})"
        e.set(node, x)
    else:
        e.set(node, f"unsqueeze({x}, {expr})")


def op_concat(e, node):
    values = ", ".join(e.x(i) for i in node.input if i)
    e.set(node, f"torch.cat([{values}], {attribute(node, 'axis')})")


def op_split(e, node):
    x = e.x(node.input[0])
    axis = attribute(node, "axis", 0)
    if e.graph.opset >= 13:
        sizes = e.ints(node.input[1]) if e.has(node, 1) else None
    else:
        split = attribute(node, "split")
        sizes = repr(list(split)) if split else None
    if sizes is None:
        parts = len(node.output)
        sizes = f"({x}.size({axis}) + {parts - 1}) // {parts}"
    pieces = e.temp(f"torch.split({x}, {sizes}, {axis})")
    for i, out in enumerate(node.output):
        if out:
            e.set(node, f"{pieces}[{i}]", i)


def slice_inputs(e, node):
    """(starts, ends, axes, steps): each (expression, known values or None)."""
    if e.graph.opset < 10:
        values = [attribute(node, "starts"), attribute(node, "ends"), attribute(node, "axes"), None]
        return [(None, None) if v is None else (repr(list(v)), list(v)) for v in values]
    found = []
    for index in range(1, 5):
        if not e.has(node, index):
            found.append((None, None))
            continue
        value = e.const(node.input[index])
        known = None if value is None else [int(v) for v in value.reshape(-1).tolist()]
        found.append((e.ints(node.input[index]), known))
    return found


def bound(e, expr, known, i):
    """Entry i of a Slice bound: a literal when known, else an index into
    a variable holding the run-time list."""
    if known is not None:
        return str(known[i])
    return f"{expr}[{i}]"


def op_slice(e, node):
    x = e.x(node.input[0])
    (starts, known_starts), (ends, known_ends), (axes, known_axes), (steps, known_steps) = slice_inputs(e, node)
    count = len(known_starts) if known_starts is not None else None
    if known_axes is None and axes is None and count is not None:
        known_axes = list(range(count))
    if known_steps is None and steps is None and count is not None:
        known_steps = [1] * count
    simple = (known_axes is not None and known_steps is not None and all(s > 0 for s in known_steps)
              and (all(a >= 0 for a in known_axes) or all(a < 0 for a in known_axes))
              and len(set(known_axes)) == len(known_axes))
    if simple and known_axes:
        starts_var = starts if known_starts is not None else e.temp(starts)
        ends_var = ends if known_ends is not None else e.temp(ends)
        negative = known_axes[0] < 0
        width = max(-a if negative else a + 1 for a in known_axes)
        slots = [":"] * width
        for i, (a, step) in enumerate(zip(known_axes, known_steps)):
            slot = f"{bound(e, starts_var, known_starts, i)}:{bound(e, ends_var, known_ends, i)}"
            slots[width + a if negative else a] = slot + (f":{step}" if step != 1 else "")
        e.set(node, f"{x}[{', '.join((['...'] if negative else []) + slots)}]")
        return
    axes_expr = axes if axes is not None else empty("int")
    steps_expr = steps if steps is not None else empty("int")
    e.set(node, f"slice_axes({x}, {starts}, {ends}, {axes_expr}, {steps_expr})")


def op_gather(e, node):
    data = e.x(node.input[0])
    axis = attribute(node, "axis", 0)
    indices = e.const(node.input[1])
    if indices is not None and indices.dim() == 0:
        e.set(node, f"{data}.select({axis}, {int(indices)})")
    elif indices is not None and indices.dim() == 1 and bool((indices >= 0).all()):
        e.set(node, f"{data}.index_select({axis}, {e.x(node.input[1])}.to(torch.int64))")
    else:
        e.set(node, f"gather({data}, {e.x(node.input[1])}, {axis})")


def op_gather_elements(e, node):
    e.set(node, f"gather_elements({e.x(node.input[0])}, {e.x(node.input[1])}, {attribute(node, 'axis', 0)})")


def op_gather_nd(e, node):
    e.set(node, f"gather_nd({e.x(node.input[0])}, {e.x(node.input[1])}, {attribute(node, 'batch_dims', 0)})")


def op_scatter_nd(e, node):
    if attribute(node, "reduction", "none") != "none":
        raise ConversionError(f"{describe(node)}: only reduction 'none' is supported")
    e.set(node, f"scatter_nd({e.x(node.input[0])}, {e.x(node.input[1])}, {e.x(node.input[2])})")


def op_scatter_elements(e, node):
    if attribute(node, "reduction", "none") != "none":
        raise ConversionError(f"{describe(node)}: only reduction 'none' is supported")
    e.set(node, f"scatter_elements({e.x(node.input[0])}, {e.x(node.input[1])}, {e.x(node.input[2])}, "
                f"{attribute(node, 'axis', 0)})")


def op_expand(e, node):
    e.set(node, f"expand({e.x(node.input[0])}, {e.ints(node.input[1])})")


def op_tile(e, node):
    e.set(node, f"{e.x(node.input[0])}.repeat({e.ints(node.input[1])})")


def op_pad(e, node):
    x = e.x(node.input[0])
    mode = attribute(node, "mode", "constant")
    if mode not in ("constant", "reflect", "edge"):
        raise ConversionError(f"{describe(node)}: mode '{mode}' is not supported (expected constant, "
                              f"reflect or edge)")
    if e.graph.opset < 11:
        pads, known = repr(list(attribute(node, "pads"))), list(attribute(node, "pads"))
        value = repr(float(attribute(node, "value", 0.0)))
    else:
        if e.has(node, 3):
            raise ConversionError(f"{describe(node)}: the axes input is not supported")
        pads = e.ints(node.input[1])
        known = e.const(node.input[1])
        known = None if known is None else [int(v) for v in known.reshape(-1).tolist()]
        value = "0.0"
        if e.has(node, 2):
            value = e.scalar(node.input[2]) or f"float({e.x(node.input[2])})"
            if value in ("True", "False"):
                value = "1.0" if value == "True" else "0.0"
    if known is not None and mode == "constant" and all(p >= 0 for p in known):
        rank = len(known) // 2
        spec = []
        first = next((i for i in range(rank) if known[i] or known[i + rank]), rank)
        for i in range(rank - 1, first - 1, -1):
            spec += [known[i], known[i + rank]]
        e.set(node, f"F.pad({x}, {spec}, 'constant', {value})" if spec else x)
        return
    e.set(node, f"pad({x}, {pads}, '{mode}', {value})")


def device_of(e, node):
    """A device expression: that of a run-time input, else the model input's."""
    for name in node.input:
        if name and not e.is_static(name):
            return f"{e.x(name)}.device"
    return e.device


def op_constant_of_shape(e, node):
    value = attribute(node, "value")
    if value is None:
        fill, dtype = "0.0", "torch.float32"
    else:
        array = numpy_helper.to_array(value).reshape(-1)
        item = array[0].item()
        fill = repr(bool(item)) if isinstance(item, bool) else repr(item)
        dtype = torch_dtype(node, value.data_type)
    e.set(node, f"torch.full({e.ints(node.input[0])}, {fill}, dtype={dtype}, device={device_of(e, node)})")


def op_range(e, node):
    elem = e.graph.elem_types.get(node.input[0])
    is_float = e.graph.is_float(node.input[0])
    cast = "float" if is_float else "int"
    bounds = [e.scalar(i) or f"{cast}({e.x(i)})" for i in node.input[:3]]
    dtype = torch_dtype(node, elem) if elem is not None else ("torch.float32" if is_float else "torch.int64")
    e.set(node, f"torch.arange({bounds[0]}, {bounds[1]}, {bounds[2]}, dtype={dtype}, "
                f"device={device_of(e, node)})")


def op_identity(e, node):
    e.set(node, e.x(node.input[0]))


def op_dropout(e, node):
    if len(node.output) > 1 and node.output[1] and e.graph.consumers.get(node.output[1]):
        raise ConversionError(f"{describe(node)}: its mask output is not supported")
    if e.has(node, 2):
        training = e.const(node.input[2])
        if training is None or bool(training):
            raise ConversionError(f"{describe(node)}: training mode is not supported")
    e.set(node, e.x(node.input[0]))


def op_depth_to_space(e, node):
    crd = attribute(node, "mode", "DCR") == "CRD"
    e.set(node, f"depth_to_space({e.x(node.input[0])}, {attribute(node, 'blocksize')}, {crd})")


def op_space_to_depth(e, node):
    e.set(node, f"space_to_depth({e.x(node.input[0])}, {attribute(node, 'blocksize')})")


def op_nonzero(e, node):
    e.set(node, f"torch.nonzero({e.x(node.input[0])}).t()")


def op_trilu(e, node):
    k = "0"
    if e.has(node, 1):
        k = e.scalar(node.input[1]) or f"int({e.x(node.input[1])})"
    function = "torch.triu" if attribute(node, "upper", 1) else "torch.tril"
    e.set(node, f"{function}({e.x(node.input[0])}, {k})")


TRANSLATIONS = {
    "Shape": op_shape,
    "Size": op_size,
    "Reshape": op_reshape,
    "Flatten": op_flatten,
    "Transpose": op_transpose,
    "Squeeze": op_squeeze,
    "Unsqueeze": op_unsqueeze,
    "Concat": op_concat,
    "Split": op_split,
    "Slice": op_slice,
    "Gather": op_gather,
    "GatherElements": op_gather_elements,
    "GatherND": op_gather_nd,
    "ScatterND": op_scatter_nd,
    "ScatterElements": op_scatter_elements,
    "Expand": op_expand,
    "Tile": op_tile,
    "Pad": op_pad,
    "ConstantOfShape": op_constant_of_shape,
    "Range": op_range,
    "Identity": op_identity,
    "Dropout": op_dropout,
    "DepthToSpace": op_depth_to_space,
    "SpaceToDepth": op_space_to_depth,
    "NonZero": op_nonzero,
    "Trilu": op_trilu,
}
