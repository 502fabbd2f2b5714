"""Translations of ONNX Resize and Upsample, every mode.

Linear resizing of H and W goes through aten's bilinear upsample (what
F.interpolate calls, called directly so that the scripted module carries no
other interpolation modes of the torch that made it) where its coordinates
are ONNX's (half_pixel, pytorch_half_pixel, align_corners); every other
mode, coordinate transformation and rounding runs through onnx_helpers'
separable resize.

Exporters often bake a Resize's target size for the export's input size
(Concat(Shape(x)[:2], Constant[H, W])). Such a size is replaced by the
spatial size of the tensor the result is concatenated or added with, or by
the model input's size when it equals that, so the module takes any input
size; other baked sizes stay what the graph says.
"""

from .onnx_graph import ConversionError, attribute, describe
from .onnx_ops_tensor import empty

COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                    "tf_half_pixel_for_nn", "tf_crop_and_resize")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
TORCH_COORDINATES = ("half_pixel", "pytorch_half_pixel", "align_corners")


def baked_size(e, node):
    """The spatial size [H, W] a 4-D Resize's sizes input fixes, or None."""
    if e.graph.opset < 11 or len(node.input) < 4 or not node.input[3]:
        return None
    sizes = e.graph.source(node.input[3])
    if sizes in e.graph.constants:
        value = [int(v) for v in e.graph.constants[sizes].reshape(-1)]
        own = (e.graph.shapes.get(node.input[0]) or [])[:2]
        return value[2:] if len(value) == 4 and value[:2] == own else None
    producer = e.graph.producer.get(sizes)
    if producer is not None and producer.op_type == "Concat":
        tail = e.graph.constants.get(e.graph.source(producer.input[-1]))
        if tail is not None and tail.size == 2:
            return [int(v) for v in tail]
    return None


def size_plan(e, node):
    """Where a Resize takes its output size from at run time: ("like",
    value), ("input", None) or ("onnx", None) = the graph's own sizes or
    scales."""
    baked = baked_size(e, node)
    if baked is None:
        return ("onnx", None)
    out = node.output[0]
    for user in e.graph.users(out):
        if user.op_type not in ("Concat", "Add"):
            continue
        if user.op_type == "Concat" and attribute(user, "axis") not in (1, -3):
            continue
        others = [e.graph.source(i) for i in user.input
                  if i and e.graph.source(i) != out and e.graph.source(i) not in e.graph.constants]
        if others:
            known = (e.graph.shapes.get(others[0]) or [])[2:]
            if len(known) == 2 and None not in known and known != baked:
                raise ConversionError(f"{describe(node)}: exported size {baked} differs from the size "
                                      f"{known} of '{others[0]}' it is combined with")
            return ("like", others[0])
    if baked == e.graph.input_dims()[2:]:
        return ("input", None)
    return ("onnx", None)


def resize_dependencies(e, node):
    plan = size_plan(e, node)
    e.plans[node.output[0]] = plan
    if plan[0] == "like":
        return [node.input[0], plan[1]]
    if plan[0] == "input":
        return [node.input[0]]
    return [i for i in node.input if i]


def settings(node, opset):
    """(mode, coordinate mode, nearest mode) with ONNX's defaults per opset."""
    mode = attribute(node, "mode", "nearest")
    if mode == "bilinear":  # Upsample's old name for linear
        mode = "linear"
    if mode not in ("nearest", "linear", "cubic"):
        raise ConversionError(f"{describe(node)}: unknown mode '{mode}'")
    if node.op_type == "Upsample" or opset < 11:
        return mode, "asymmetric", "simple"
    coord = attribute(node, "coordinate_transformation_mode", "half_pixel")
    nearest = attribute(node, "nearest_mode", "round_prefer_floor")
    if coord not in COORDINATE_MODES:
        raise ConversionError(f"{describe(node)}: coordinate_transformation_mode '{coord}' is not supported")
    if nearest not in NEAREST_MODES:
        raise ConversionError(f"{describe(node)}: nearest_mode '{nearest}' is not supported")
    for unsupported in ("antialias", "axes", "keep_aspect_ratio_policy"):
        if attribute(node, unsupported) not in (None, 0, "stretch"):
            raise ConversionError(f"{describe(node)}: attribute {unsupported} is not supported")
    return mode, coord, nearest


def known_values(e, node, index):
    """The values of input `index` when known (None when absent or run-time)."""
    if not e.has(node, index):
        return []
    value = e.const(node.input[index])
    return None if value is None else value.reshape(-1).tolist()


def general(e, node, x, sizes, scales, mode, coord, nearest):
    roi = e.floats(node.input[1]) if coord == "tf_crop_and_resize" and e.has(node, 1) else empty("float")
    e.set(node, f"resize({x}, {sizes}, {scales}, {roi}, '{mode}', '{coord}', '{nearest}', "
                f"{float(attribute(node, 'cubic_coeff_a', -0.75))!r}, "
                f"{bool(attribute(node, 'exclude_outside', 0))}, "
                f"{float(attribute(node, 'extrapolation_value', 0.0))!r})")


def op_resize(e, node):
    x = e.x(node.input[0])
    mode, coord, nearest = settings(node, e.graph.opset)
    kind, arg = e.plans.get(node.output[0], ("onnx", None))
    if kind != "onnx":
        if kind == "like":
            other = e.x(arg)
            hw = f"{other}.size(2), {other}.size(3)"
        else:
            hw = f"{e.input_var}.size(2), {e.input_var}.size(3)"
        if mode == "linear" and coord in TORCH_COORDINATES:
            e.set(node, f"torch._C._nn.upsample_bilinear2d({x}, [{hw}], {coord == 'align_corners'}, None)")
        else:
            general(e, node, x, f"[{x}.size(0), {x}.size(1), {hw}]", empty("float"), mode, coord, nearest)
        return
    scale_index, size_index = (1, None) if e.graph.opset < 11 or node.op_type == "Upsample" else (2, 3)
    if node.op_type == "Upsample" and e.graph.opset < 9:
        scales, sizes = repr([float(s) for s in attribute(node, "scales")]), empty("int")
        known_scales = [float(s) for s in attribute(node, "scales")]
    else:
        known_sizes = known_values(e, node, size_index) if size_index else []
        known_scales = known_values(e, node, scale_index)
        use_sizes = size_index is not None and known_sizes != []
        sizes = e.ints(node.input[size_index]) if use_sizes else empty("int")
        scales = empty("float") if use_sizes else e.floats(node.input[scale_index])
        if use_sizes:
            known_scales = None
    if mode == "linear" and coord in TORCH_COORDINATES:
        if (known_scales and len(known_scales) == 4 and known_scales[:2] == [1.0, 1.0]
                and coord != "pytorch_half_pixel"):
            e.set(node, f"torch._C._nn.upsample_bilinear2d({x}, None, {coord == 'align_corners'}, "
                        f"{known_scales[2:]})")
        else:
            e.set(node, f"resize_bilinear({x}, {sizes}, {scales}, '{coord}')")
        return
    general(e, node, x, sizes, scales, mode, coord, nearest)


TRANSLATIONS = {
    "Resize": op_resize,
    "Upsample": op_resize,
}
DEPENDENCIES = {
    "Resize": resize_dependencies,
}
