"""TorchScript functions that converted ONNX models call at run time.

The generated module source includes this file's text verbatim, so a
converted model is self-contained. Every function here must compile with
torch.jit.script (typed arguments, no Python-only constructs). Each one
implements one ONNX op's semantics where no single torch call matches; an
input the op does not allow raises RuntimeError from torch itself.
"""

import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def ints(t: Tensor) -> List[int]:
    """The values of a shape-like tensor as Python ints."""
    values: List[int] = t.reshape(-1).to(torch.int64).tolist()
    return values


def floats(t: Tensor) -> List[float]:
    """The values of a tensor as Python floats."""
    values: List[float] = t.reshape(-1).to(torch.float64).tolist()
    return values


def product(values: List[int]) -> int:
    result = 1
    for v in values:
        result *= v
    return result


def to_float(t: Tensor) -> Tensor:
    """ONNX Cast to a float type: floats keep the dtype the model runs in."""
    if t.is_floating_point():
        return t
    return t.to(torch.float32)


def div(a: Tensor, b: Tensor) -> Tensor:
    """ONNX Div: integer division truncates."""
    if a.is_floating_point() or b.is_floating_point():
        return a / b
    return torch.div(a, b, rounding_mode="trunc")


def reshape(x: Tensor, shape: List[int], allowzero: bool) -> Tensor:
    """ONNX Reshape: 0 copies the input's dim (unless allowzero), -1 is inferred."""
    dims: List[int] = []
    for i, d in enumerate(shape):
        if d == 0 and not allowzero:
            dims.append(x.size(i))
        else:
            dims.append(d)
    return x.reshape(dims)


def flatten2d(x: Tensor, axis: int) -> Tensor:
    """ONNX Flatten: dims before axis into one, the rest into another."""
    if axis < 0:
        axis += x.dim()
    return x.reshape([product(x.shape[:axis]), product(x.shape[axis:])])


def unsqueeze(x: Tensor, axes: List[int]) -> Tensor:
    rank = x.dim() + len(axes)
    normal: List[int] = []
    for a in axes:
        normal.append(a + rank if a < 0 else a)
    normal.sort()
    for a in normal:
        x = x.unsqueeze(a)
    return x


def squeeze(x: Tensor, axes: List[int]) -> Tensor:
    """ONNX Squeeze; no axes removes every dim of size 1."""
    if len(axes) == 0:
        kept: List[int] = []
        for d in x.shape:
            if d != 1:
                kept.append(d)
        return x.reshape(kept)
    normal: List[int] = []
    for a in axes:
        normal.append(a + x.dim() if a < 0 else a)
    normal.sort()
    for i in range(len(normal) - 1, -1, -1):
        x = x.squeeze(normal[i])
    return x


def reduce_prod(x: Tensor, axes: List[int], keepdims: bool) -> Tensor:
    """ONNX ReduceProd (torch.prod takes one dim at a time)."""
    normal: List[int] = []
    for a in axes:
        normal.append(a + x.dim() if a < 0 else a)
    for a in normal:
        x = torch.prod(x, a, keepdim=True)
    return x if keepdims else squeeze(x, normal)


def reversed_dims(x: Tensor) -> List[int]:
    """ONNX Transpose's default permutation."""
    perm: List[int] = []
    for i in range(x.dim() - 1, -1, -1):
        perm.append(i)
    return perm


def all_dims(x: Tensor) -> List[int]:
    dims: List[int] = []
    for i in range(x.dim()):
        dims.append(i)
    return dims


def slice_axes(x: Tensor, starts: List[int], ends: List[int], axes: List[int], steps: List[int]) -> Tensor:
    """ONNX Slice, negative steps included (torch slicing has none); empty
    axes or steps take ONNX's defaults."""
    for i in range(len(starts)):
        axis = i if len(axes) == 0 else axes[i]
        axis = axis + x.dim() if axis < 0 else axis
        n = x.size(axis)
        step = 1 if len(steps) == 0 else steps[i]
        start = starts[i] + n if starts[i] < 0 else starts[i]
        end = ends[i] + n if ends[i] < 0 else ends[i]
        if step > 0:
            start = min(max(start, 0), n)
            end = min(max(end, 0), n)
            if step == 1:
                x = x.narrow(axis, start, max(end - start, 0))
                continue
        else:
            start = min(max(start, 0), n - 1)
            end = min(max(end, -1), n - 1)
        index = torch.arange(start, end, step, dtype=torch.int64, device=x.device)
        x = x.index_select(axis, index)
    return x


def gather(data: Tensor, indices: Tensor, axis: int) -> Tensor:
    """ONNX Gather: output dims = data[:axis] + indices + data[axis + 1:]."""
    if axis < 0:
        axis += data.dim()
    index = indices.to(torch.int64)
    index = torch.where(index < 0, index + data.size(axis), index)
    picked = data.index_select(axis, index.reshape(-1))
    return picked.reshape(data.shape[:axis] + indices.shape + data.shape[axis + 1:])


def gather_elements(data: Tensor, indices: Tensor, axis: int) -> Tensor:
    if axis < 0:
        axis += data.dim()
    index = indices.to(torch.int64)
    return torch.gather(data, axis, torch.where(index < 0, index + data.size(axis), index))


def linear_index(index: Tensor, dims: List[int]) -> Tensor:
    """Row-major position of each index tuple (last dim of `index`) in dims,
    negative entries counted from the end."""
    position = torch.zeros(index.shape[:-1], dtype=torch.int64, device=index.device)
    for j in range(len(dims)):
        entry = index.select(-1, j)
        entry = torch.where(entry < 0, entry + dims[j], entry)
        position = position * dims[j] + entry
    return position


def gather_nd(data: Tensor, indices: Tensor, batch_dims: int) -> Tensor:
    """ONNX GatherND: each index tuple picks a slice of data, per batch."""
    index = indices.to(torch.int64)
    k = index.size(-1)
    batch = product(data.shape[:batch_dims])
    picked_dims = data.shape[batch_dims:batch_dims + k]
    rest = data.shape[batch_dims + k:]
    count = product(picked_dims)
    position = linear_index(index, picked_dims).reshape([batch, -1])
    offsets = torch.arange(batch, dtype=torch.int64, device=index.device).unsqueeze(1) * count
    flat = data.reshape([batch * count] + rest)
    picked = flat.index_select(0, (position + offsets).reshape(-1))
    return picked.reshape(indices.shape[:-1] + rest)


def scatter_nd(data: Tensor, indices: Tensor, updates: Tensor) -> Tensor:
    """ONNX ScatterND without reduction: a copy of data with slices replaced."""
    index = indices.to(torch.int64)
    k = index.size(-1)
    picked_dims = data.shape[:k]
    rest = data.shape[k:]
    out = data.clone(memory_format=torch.contiguous_format)
    flat = out.view([product(picked_dims)] + rest)
    flat.index_copy_(0, linear_index(index, picked_dims).reshape(-1), updates.reshape([-1] + rest))
    return out


def scatter_elements(data: Tensor, indices: Tensor, updates: Tensor, axis: int) -> Tensor:
    if axis < 0:
        axis += data.dim()
    index = indices.to(torch.int64)
    index = torch.where(index < 0, index + data.size(axis), index)
    return torch.scatter(data, axis, index, updates)


def expand(x: Tensor, shape: List[int]) -> Tensor:
    """ONNX Expand: two-way broadcasting of x's dims and shape."""
    rank = max(x.dim(), len(shape))
    own: List[int] = []
    wanted: List[int] = []
    for i in range(rank):
        j = i - (rank - x.dim())
        own.append(x.size(j) if j >= 0 else 1)
        k = i - (rank - len(shape))
        wanted.append(shape[k] if k >= 0 else 1)
    out: List[int] = []
    for i in range(rank):
        out.append(own[i] if wanted[i] == 1 else wanted[i])
    return x.reshape(own).expand(out)


def torch_pads(pads: List[int], rank: int) -> List[int]:
    """ONNX pads [b0, b1, ..., e0, e1, ...] as F.pad's (last dim first)
    pairs, down to the first padded dim."""
    first = rank
    for i in range(rank):
        if pads[i] != 0 or pads[i + rank] != 0:
            first = min(first, i)
    out: List[int] = []
    for i in range(rank - 1, first - 1, -1):
        out.append(pads[i])
        out.append(pads[i + rank])
    return out


def pad(x: Tensor, pads: List[int], mode: str, value: float) -> Tensor:
    """ONNX Pad (constant, reflect, edge); negative pads crop."""
    rank = x.dim()
    crop: List[int] = []
    grow: List[int] = []
    for p in pads:
        crop.append(min(p, 0))
        grow.append(max(p, 0))
    x = F.pad(x, torch_pads(crop, rank))
    spec = torch_pads(grow, rank)
    if len(spec) == 0:
        return x
    if mode == "constant":
        return F.pad(x, spec, "constant", value)
    padded = len(spec) // 2
    if padded > 3:
        raise RuntimeError("Pad: " + mode + " padding of more than the last 3 dims is not supported")
    # torch pads the trailing dims of an N x C x ... tensor: fold the others into N.
    lead = x.shape[:rank - padded]
    folded = x.reshape([product(lead), 1] + x.shape[rank - padded:])
    out = F.pad(folded, spec, "replicate" if mode == "edge" else mode)
    return out.reshape(lead + out.shape[2:])


def same_pads(x: Tensor, kernel: List[int], strides: List[int], dilations: List[int], upper: bool) -> List[int]:
    """ONNX auto_pad SAME_UPPER / SAME_LOWER pads for the spatial dims of x."""
    n = len(kernel)
    begins: List[int] = []
    ends: List[int] = []
    for i in range(n):
        size = x.size(i + 2)
        out = (size + strides[i] - 1) // strides[i]
        total = max((out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size, 0)
        begin = total // 2 if upper else total - total // 2
        begins.append(begin)
        ends.append(total - begin)
    return begins + ends


def pad_spatial(x: Tensor, pads: List[int], value: float) -> Tensor:
    """Pads the spatial dims of N x C x ... by ONNX spatial pads [b..., e...]."""
    n = len(pads) // 2
    spec: List[int] = []
    for i in range(n - 1, -1, -1):
        spec.append(pads[i])
        spec.append(pads[i + n])
    return F.pad(x, spec, "constant", value)


def conv_transpose_pads(x: Tensor, kernel: List[int], strides: List[int], dilations: List[int],
                        output_padding: List[int], output_shape: List[int], upper: bool) -> List[int]:
    """Pads of an ONNX ConvTranspose that names output_shape or auto_pad SAME."""
    n = len(kernel)
    begins: List[int] = []
    ends: List[int] = []
    for i in range(n):
        size = x.size(i + 2)
        wanted = output_shape[i] if len(output_shape) > 0 else size * strides[i]
        total = strides[i] * (size - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1 - wanted
        begin = total // 2 if upper else total - total // 2
        begins.append(begin)
        ends.append(total - begin)
    return begins + ends


def crop_spatial(y: Tensor, pads: List[int], output_padding: List[int]) -> Tensor:
    """Cuts ONNX ConvTranspose pads off a transposed convolution computed
    without padding; output_padding adds rows at the end."""
    n = len(pads) // 2
    spec: List[int] = []
    for i in range(n - 1, -1, -1):
        spec.append(-pads[i])
        spec.append(output_padding[i] - pads[i + n])
    return F.pad(y, spec)


def avg_pool_exclusive(x: Tensor, kernel: List[int], strides: List[int], pads: List[int], ceil_mode: bool) -> Tensor:
    """ONNX AveragePool with asymmetric pads, padding not counted."""
    ones = torch.ones([1, 1] + x.shape[2:], dtype=x.dtype, device=x.device)
    padded = pad_spatial(x, pads, 0.0)
    mask = pad_spatial(ones, pads, 0.0)
    if len(kernel) == 1:
        sums = F.avg_pool2d(padded.unsqueeze(2), [1, kernel[0]], [1, strides[0]], 0, ceil_mode, True, 1).squeeze(2)
        counts = F.avg_pool2d(mask.unsqueeze(2), [1, kernel[0]], [1, strides[0]], 0, ceil_mode, True, 1).squeeze(2)
    elif len(kernel) == 2:
        sums = F.avg_pool2d(padded, kernel, strides, 0, ceil_mode, True, 1)
        counts = F.avg_pool2d(mask, kernel, strides, 0, ceil_mode, True, 1)
    else:
        sums = F.avg_pool3d(padded, kernel, strides, 0, ceil_mode, True, 1)
        counts = F.avg_pool3d(mask, kernel, strides, 0, ceil_mode, True, 1)
    return sums / counts


def softmax_legacy(x: Tensor, axis: int, log: bool) -> Tensor:
    """ONNX Softmax before opset 13: over all dims from axis on, as one."""
    flat = flatten2d(x, axis)
    y = torch.log_softmax(flat, 1) if log else torch.softmax(flat, 1)
    return y.reshape(x.shape)


def layer_norm(x: Tensor, scale: Tensor, bias: Tensor, axis: int, epsilon: float) -> Tensor:
    """ONNX LayerNormalization over dims axis.. with broadcast scale and bias."""
    if axis < 0:
        axis += x.dim()
    dims: List[int] = []
    for i in range(axis, x.dim()):
        dims.append(i)
    mean = x.mean(dims, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dims, keepdim=True)
    return centred / torch.sqrt(var + epsilon) * scale + bias


def depth_to_space(x: Tensor, block: int, crd: bool) -> Tensor:
    n, c, h, w = x.size(0), x.size(1), x.size(2), x.size(3)
    if crd:
        y = x.reshape([n, c // (block * block), block, block, h, w]).permute([0, 1, 4, 2, 5, 3])
    else:
        y = x.reshape([n, block, block, c // (block * block), h, w]).permute([0, 3, 4, 1, 5, 2])
    return y.reshape([n, c // (block * block), h * block, w * block])


def space_to_depth(x: Tensor, block: int) -> Tensor:
    n, c, h, w = x.size(0), x.size(1), x.size(2), x.size(3)
    y = x.reshape([n, c, h // block, block, w // block, block]).permute([0, 3, 5, 1, 2, 4])
    return y.reshape([n, c * block * block, h // block, w // block])


def source_coordinates(out_len: int, in_len: int, scale: float, coord: str,
                       roi_start: float, roi_end: float, device: torch.device) -> Tensor:
    """Where each output position of an ONNX Resize samples the input axis
    (float32, as onnxruntime computes it)."""
    pos = torch.arange(out_len, dtype=torch.float32, device=device)
    if coord == "half_pixel":
        return (pos + 0.5) / scale - 0.5
    if coord == "pytorch_half_pixel":
        return (pos + 0.5) / scale - 0.5 if out_len > 1 else pos * 0.0
    if coord == "align_corners":
        return pos * float(in_len - 1) / float(out_len - 1) if out_len > 1 else pos * 0.0
    if coord == "asymmetric":
        return pos / scale
    if coord == "tf_half_pixel_for_nn":
        return (pos + 0.5) / scale
    if coord == "tf_crop_and_resize":
        if out_len > 1:
            return roi_start * (in_len - 1) + pos * ((roi_end - roi_start) * (in_len - 1) / (out_len - 1))
        return pos * 0.0 + 0.5 * (roi_start + roi_end) * (in_len - 1)
    raise RuntimeError("Resize: unknown coordinate_transformation_mode " + coord)


def along(weights: Tensor, axis: int, rank: int, dtype: torch.dtype) -> Tensor:
    """A 1-D tensor shaped to broadcast along `axis` of a rank-`rank` tensor."""
    shape: List[int] = [-1]
    for _ in range(rank - axis - 1):
        shape.append(1)
    return weights.to(dtype).reshape(shape)


def cubic_weight(d: Tensor, a: float) -> Tensor:
    """Keys' cubic convolution kernel with coefficient a, at distance d."""
    d = d.abs()
    near = ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0
    far = ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a
    return torch.where(d <= 1.0, near, torch.where(d < 2.0, far, d * 0.0))


def resize_axis(x: Tensor, axis: int, out_len: int, scale: float, roi_start: float, roi_end: float,
                mode: str, coord: str, nearest: str, cubic_a: float, exclude_outside: bool,
                extrapolation: float) -> Tensor:
    """One axis of an ONNX Resize (the op is separable)."""
    in_len = x.size(axis)
    rank = x.dim()
    src = source_coordinates(out_len, in_len, scale, coord, roi_start, roi_end, x.device)
    if mode == "nearest":
        if nearest == "round_prefer_floor":
            index = torch.ceil(src - 0.5)
        elif nearest == "round_prefer_ceil":
            index = torch.floor(src + 0.5)
        elif nearest == "floor":
            index = torch.floor(src)
        elif nearest == "ceil":
            index = torch.ceil(src)
        elif nearest == "simple":  # onnxruntime's rule before opset 11
            index = torch.ceil(src) if scale < 1.0 else torch.trunc(src)
        else:
            raise RuntimeError("Resize: unknown nearest_mode " + nearest)
        y = x.index_select(axis, index.clamp(0, in_len - 1).to(torch.int64))
    elif mode == "linear":
        s = src.clamp(0, in_len - 1)
        low = torch.floor(s)
        w = along(s - low, axis, rank, x.dtype)
        i0 = low.to(torch.int64)
        i1 = (i0 + 1).clamp(max=in_len - 1)
        y = x.index_select(axis, i0) * (1.0 - w) + x.index_select(axis, i1) * w
    elif mode == "cubic":
        base = torch.floor(src)
        t = src - base
        taps: List[Tensor] = []
        weights: List[Tensor] = []
        for k in range(-1, 3):
            index = base.to(torch.int64) + k
            weight = cubic_weight(t - float(k), cubic_a)
            if exclude_outside:
                weight = torch.where((index >= 0) & (index < in_len), weight, weight * 0.0)
            taps.append(index.clamp(0, in_len - 1))
            weights.append(weight)
        if exclude_outside:
            total = weights[0] + weights[1] + weights[2] + weights[3]
            for k in range(4):
                weights[k] = weights[k] / total
        y = x.index_select(axis, taps[0]) * along(weights[0], axis, rank, x.dtype)
        for k in range(1, 4):
            y = y + x.index_select(axis, taps[k]) * along(weights[k], axis, rank, x.dtype)
    else:
        raise RuntimeError("Resize: unknown mode " + mode)
    if coord == "tf_crop_and_resize":
        outside = along(((src < 0) | (src > in_len - 1)).to(torch.float32), axis, rank, x.dtype)
        y = torch.where(outside > 0.5, y * 0.0 + extrapolation, y)
    return y


def resize_sizes(x: Tensor, sizes: List[int], scales: List[float]) -> Tuple[List[int], List[float]]:
    """(output sizes, per-axis scales) of an ONNX Resize given sizes or scales."""
    out: List[int] = []
    factors: List[float] = []
    for i in range(x.dim()):
        if len(sizes) > 0:
            out.append(sizes[i])
            factors.append(float(sizes[i]) / float(x.size(i)))
        else:
            out.append(int(math.floor(float(x.size(i)) * scales[i])))
            factors.append(scales[i])
    return out, factors


def resize(x: Tensor, sizes: List[int], scales: List[float], roi: List[float], mode: str, coord: str,
           nearest: str, cubic_a: float, exclude_outside: bool, extrapolation: float) -> Tensor:
    """ONNX Resize, any mode, axis by axis; unchanged axes are skipped."""
    out, factors = resize_sizes(x, sizes, scales)
    rank = x.dim()
    y = x
    for i in range(rank):
        start = roi[i] if len(roi) == 2 * rank else 0.0
        end = roi[i + rank] if len(roi) == 2 * rank else 1.0
        if out[i] == x.size(i) and factors[i] == 1.0 and coord != "tf_crop_and_resize":
            continue
        y = resize_axis(y, i, out[i], factors[i], start, end, mode, coord, nearest, cubic_a,
                        exclude_outside, extrapolation)
    return y


def resize_bilinear(x: Tensor, sizes: List[int], scales: List[float], coord: str) -> Tensor:
    """ONNX linear Resize; through aten's bilinear upsample (what
    F.interpolate calls) when only H and W of an N x C x H x W tensor change
    and torch's coordinates are the same. The op is called directly: a
    scripted F.interpolate carries every mode of the torch that scripted it,
    and an older libtorch cannot load the modes it lacks."""
    out, factors = resize_sizes(x, sizes, scales)
    if x.dim() == 4 and out[0] == x.size(0) and out[1] == x.size(1) and (
            coord == "half_pixel" or coord == "align_corners"
            or (coord == "pytorch_half_pixel" and out[2] > 1 and out[3] > 1)):
        if len(sizes) > 0:
            return torch._C._nn.upsample_bilinear2d(x, [out[2], out[3]], coord == "align_corners", None)
        return torch._C._nn.upsample_bilinear2d(x, None, coord == "align_corners",
                                                [factors[2], factors[3]])
    return resize(x, sizes, scales, [0.0], "linear", coord, "floor", -0.75, False, 0.0)
