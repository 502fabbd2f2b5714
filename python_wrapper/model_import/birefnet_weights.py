"""BiRefNet state dicts: checking one against the official layout, loading
it, and the deterministic stand-in weights the tests use.

The layout is our module's own state dict (same names and shapes as the
official one; tests/birefnet proves it against the reference). A file's
names may carry the prefixes training adds ("module.", "_orig_mod.").

The stand-in weights are keyed by parameter name: each tensor comes from
its own PCG64 stream seeded with the first 8 bytes (little-endian) of
sha256("cutout-birefnet:" + name), as uniform values of unit variance,
scaled by what the tensor is (see stand_in_weights), so anyone can rebuild
them and the activations keep a sane range.
"""

import hashlib
import math

import numpy as np
import torch
from torch import nn

from .birefnet_deform import DeformableConv2d
from .birefnet_swin import WindowAttention, relative_position_index

PREFIXES = ("module.", "_orig_mod.")
# Buffers a file may leave out: they are derived (the index) or unused in
# inference (the batch count).
OPTIONAL_SUFFIXES = (".relative_position_index", ".num_batches_tracked")
SHOWN = 5  # names quoted in a refusal


class LayoutError(Exception):
    """A state dict that is not BiRefNet's official layout."""


def strip_prefixes(name):
    """name without the prefixes training adds. Pure; raises nothing."""
    for prefix in PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def _listed(names):
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def check_layout(shapes, expected, what):
    """Raises LayoutError naming the first unknown names, missing names and
    wrong shapes of `shapes` (name -> shape list) against `expected` (our
    state dict's name -> shape list). `what` names the file. Reads its
    arguments only; any thread."""
    unknown = [n for n in shapes if n not in expected]
    if unknown:
        raise LayoutError(f"{what}: {len(unknown)} parameter names are not BiRefNet's (first: {_listed(unknown)})")
    missing = [n for n in expected if n not in shapes and not n.endswith(OPTIONAL_SUFFIXES)]
    if missing:
        raise LayoutError(f"{what}: {len(missing)} BiRefNet tensors are missing (first: {_listed(missing)})")
    wrong = [f"{n} {list(shapes[n])} (expected {list(expected[n])})" for n in shapes
             if list(shapes[n]) != list(expected[n])]
    if wrong:
        raise LayoutError(f"{what}: {len(wrong)} tensors have the wrong shape (first: {_listed(wrong)})")


def load_into(net, tensors, what):
    """Copies `tensors` (name -> tensor, prefixes already stripped, any
    floating dtype) into `net` as float32; see load_streamed. The caller
    keeps owning `tensors` (they are copied) and must not run `net`
    meanwhile."""
    load_streamed(net, {n: list(t.shape) for n, t in tensors.items()}, tensors.__getitem__, what)


def load_streamed(net, shapes, read, what):
    """Copies the tensors named in `shapes` (name -> shape list, prefixes
    stripped) into `net` as float32, each fetched by read(name) (a tensor of
    any floating dtype) only when it is copied, so at most one is held at a
    time. The layout is checked from `shapes` alone before anything is read;
    then each relative_position_index must equal Swin's before `net` is
    written, and every other tensor must be floating-point (one that is not
    stops the copy: `net` is then half-written and must be discarded).
    Raises LayoutError naming the first fault; OSError from read. The caller
    must not run `net` meanwhile."""
    state = net.state_dict()
    check_layout(shapes, {n: list(t.shape) for n, t in state.items()}, what)
    for name in shapes:
        if name.endswith(".relative_position_index"):
            if not torch.equal(read(name).to(torch.int64), state[name]):
                raise LayoutError(f"{what}: {name} is not Swin's relative position index")
    with torch.no_grad():
        for name in shapes:
            if name.endswith(OPTIONAL_SUFFIXES) or name.endswith(".relative_position_index"):
                continue
            tensor = read(name)
            if not tensor.is_floating_point():
                raise LayoutError(f"{what}: {name} has dtype {tensor.dtype}, expected a floating-point tensor")
            state[name].copy_(tensor.to(torch.float32))


def unit_uniform(name, count):
    """`count` values, uniform with mean 0 and variance 1, from the stream
    of `name`: a new float64 numpy array. Pure, any thread; raises nothing."""
    seed = int.from_bytes(hashlib.sha256(("cutout-birefnet:" + name).encode()).digest()[:8], "little")
    values = np.random.Generator(np.random.PCG64(seed)).random(count)
    return (values * 2.0 - 1.0) * math.sqrt(3.0)


def draw(name, shape, scale, centre=0.0):
    """A new float32 tensor of `shape`: unit_uniform(name) * scale + centre.
    Pure, any thread; raises nothing."""
    count = int(np.prod(shape)) if len(shape) else 1
    values = unit_uniform(name, count).reshape(shape) * scale + centre
    return torch.from_numpy(values.astype(np.float32))


def stand_in_weights(net):
    """name -> tensor for every entry of net's state dict, deterministic.

    Scales: convolutions and linear layers 1/sqrt(fan-in) (a deformable
    convolution's offsets a quarter of that, so sampling points move by
    about a pixel), their biases 0.02; norm weights 1 +- 0.1, biases 0.05;
    running variances 1.25 +- 0.25; relative-position biases 0.2; the
    index is Swin's own and the batch counts are 0. Pure function of the
    names and shapes (net is only read): new tensors the caller owns, any
    thread; AssertionError when net has a layer kind it does not cover.
    """
    out = {}
    offsets = {f"{n}.offset_conv" for n, m in net.named_modules() if isinstance(m, DeformableConv2d)}
    for module_name, module in net.named_modules():
        prefix = f"{module_name}." if module_name else ""
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            scale = 1.0 / math.sqrt(fan_in) * (0.25 if module_name in offsets else 1.0)
            out[prefix + "weight"] = draw(prefix + "weight", list(module.weight.shape), scale)
            if module.bias is not None:
                out[prefix + "bias"] = draw(prefix + "bias", list(module.bias.shape), 0.02)
        elif isinstance(module, nn.LayerNorm):
            out[prefix + "weight"] = draw(prefix + "weight", list(module.weight.shape), 0.1, 1.0)
            out[prefix + "bias"] = draw(prefix + "bias", list(module.bias.shape), 0.05)
        elif isinstance(module, nn.BatchNorm2d):
            shape = list(module.weight.shape)
            out[prefix + "weight"] = draw(prefix + "weight", shape, 0.1, 1.0)
            out[prefix + "bias"] = draw(prefix + "bias", shape, 0.05)
            out[prefix + "running_mean"] = draw(prefix + "running_mean", shape, 0.1)
            out[prefix + "running_var"] = draw(prefix + "running_var", shape, 0.25 / math.sqrt(3.0), 1.25)
            out[prefix + "num_batches_tracked"] = torch.tensor(0, dtype=torch.int64)
        elif isinstance(module, WindowAttention):
            table = prefix + "relative_position_bias_table"
            out[table] = draw(table, list(module.relative_position_bias_table.shape), 0.2)
            window = int(round(math.sqrt(module.relative_position_index.shape[0])))
            out[prefix + "relative_position_index"] = relative_position_index(window)
    missing = set(net.state_dict()) - set(out)
    assert not missing, f"stand_in_weights does not cover {sorted(missing)[:3]}"
    return {name: out[name] for name in net.state_dict()}


# The fixtures' inputs (tests/birefnet/fixtures): a square image, and a
# batch of two whose 32-pixel side leaves 1 x 1 maps at the deepest stage.
STAND_IN_INPUTS = {"a": [1, 3, 64, 64], "b": [2, 3, 32, 64]}


def stand_in_input(backbone, case):
    """The normalised input image of fixture `case` for `backbone`: unit
    variance values from the stream of "input:BACKBONE:CASE". A new tensor;
    pure, any thread; KeyError for an unknown case."""
    return draw(f"input:{backbone}:{case}", STAND_IN_INPUTS[case], 1.0)
