"""BiRefNet-family weights (.safetensors or .pth) -> a scripted
CutoutBiRefNet and what its metadata says.

The backbone is read from the weights: the patch embedding's width and the
number of blocks in stage 3 (96 and 6: Swin-T; 192 and 18: Swin-L). The
released variant (input size, licence) comes from --variant, else from the
file's or its folders' names, else the backbone's default (BiRefNet for
Swin-L, BiRefNet_lite for Swin-T). Every variant was trained on images
resized to its square (or 2K) input and normalised with ImageNet's
statistics, and gives logits that its authors' inference passes through a
sigmoid.
"""

import os
import re

import torch

from .birefnet_model import BiRefNet, CutoutBiRefNet
from .birefnet_swin import SWIN_SIZES
from .birefnet_weights import LayoutError, load_into, load_streamed, strip_prefixes
from .weights_files import WeightsFileError, read_pth, read_safetensors_tensor, safetensors_header

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
BACKBONE_NAMES = {"swin_v1_t": "Swin-T", "swin_v1_s": "Swin-S", "swin_v1_b": "Swin-B", "swin_v1_l": "Swin-L"}


def _variant(backbone, size, license=None, notice=None):
    return {"backbone": backbone, "input_size": size, "upstream_license": license or "MIT (BiRefNet)",
            "license": license, "notice": notice}


# Released weights: name -> backbone, input size [height, width], licence.
VARIANTS = {
    "BiRefNet": _variant("swin_v1_l", [1024, 1024]),
    "BiRefNet_lite": _variant("swin_v1_t", [1024, 1024]),
    "BiRefNet_lite-2K": _variant("swin_v1_t", [1440, 2560]),
    "BiRefNet_HR": _variant("swin_v1_l", [2048, 2048]),
    "BiRefNet_dynamic": _variant("swin_v1_l", [1024, 1024]),
    "BiRefNet-matting": _variant("swin_v1_l", [1024, 1024]),
    "BiRefNet_HR-matting": _variant("swin_v1_l", [2048, 2048]),
    "BiRefNet_dynamic-matting": _variant("swin_v1_l", [1024, 1024]),
    "RMBG-2.0": _variant("swin_v1_l", [1024, 1024], "CC-BY-NC-4.0",
                        "RMBG-2.0's weights are licensed CC-BY-NC-4.0 by BRIA AI: non-commercial use only"),
}
DEFAULT_VARIANT = {"swin_v1_l": "BiRefNet", "swin_v1_t": "BiRefNet_lite"}


class BirefnetImportError(Exception):
    """Weights that are not a BiRefNet import-model can build, or a variant that does not fit them."""


def read_weights(path):
    """name -> tensor of a .pth file (new tensors the caller owns), training
    prefixes stripped. Single-threaded use per call. Raises
    BirefnetImportError when the file does not read as data."""
    try:
        tensors = read_pth(path)
    except WeightsFileError as e:
        raise BirefnetImportError(str(e))
    return {strip_prefixes(n): t for n, t in tensors.items()}


def detect_backbone(shapes, what):
    """The SWIN_SIZES key that fits the weights' shapes (name -> shape
    list, only read). Raises BirefnetImportError saying what was found when
    none does."""
    embed = shapes.get("bb.patch_embed.proj.weight")
    if embed is None or len(embed) != 4:
        raise BirefnetImportError(f"{what}: no 4-d bb.patch_embed.proj.weight, so no Swin backbone to recognise")
    width = int(embed[0])
    stage3 = {int(m.group(1)) for n in shapes for m in [re.match(r"bb\.layers\.2\.blocks\.(\d+)\.", n)] if m}
    depth = max(stage3) + 1 if stage3 else 0
    for name, (embed_dim, depths, _, _) in SWIN_SIZES.items():
        if embed_dim == width and depths[2] == depth:
            return name
    raise BirefnetImportError(f"{what}: a Swin backbone with patch-embed width {width} and {depth} blocks in "
                              f"stage 3, which is none of Swin-T (96, 6), Swin-S (96, 18), Swin-B (128, 18), "
                              f"Swin-L (192, 18)")


def variant_from_names(path):
    """The VARIANTS key the file's name (or, for a generic name such as
    model.safetensors, its folders' names) points to, or None. Pure (the
    path is not opened); raises nothing."""
    parts = [os.path.basename(path)] + os.path.abspath(path).split(os.sep)[-4:-1][::-1]
    for part in parts:
        words = set(re.split(r"[-_. ]+", part.lower()))
        text = part.lower()
        if "rmbg" in text:
            return "RMBG-2.0"
        if "birefnet" not in text:
            continue
        if "matting" in words:
            return "BiRefNet_HR-matting" if "hr" in words else (
                "BiRefNet_dynamic-matting" if "dynamic" in words else "BiRefNet-matting")
        if "hr" in words:
            return "BiRefNet_HR"
        if "dynamic" in words:
            return "BiRefNet_dynamic"
        if "lite" in words:
            return "BiRefNet_lite-2K" if "2k" in words else "BiRefNet_lite"
        return None  # plain BiRefNet: the backbone's default says the rest
    return None


def choose_variant(path, backbone, asked):
    """(variant name, how it was chosen). Pure. Raises BirefnetImportError
    for an unknown --variant or one whose backbone is not the file's."""
    found = BACKBONE_NAMES[backbone]
    if asked is not None:
        if asked not in VARIANTS:
            raise BirefnetImportError(f"--variant: expected one of {', '.join(VARIANTS)}, got {asked!r}")
        how = "--variant"
        name = asked
    else:
        name = variant_from_names(path)
        how = "the file's name"
        if name is None:
            if backbone not in DEFAULT_VARIANT:
                raise BirefnetImportError(f"{path}: no released BiRefNet variant has a {found} backbone; pass "
                                          f"--variant and --size")
            return DEFAULT_VARIANT[backbone], f"the {found} backbone's default"
    expected = VARIANTS[name]["backbone"]
    if expected != backbone:
        raise BirefnetImportError(f"{path}: {how} says {name}, which has a {BACKBONE_NAMES[expected]} backbone, "
                                  f"but the weights are {found}; pass --variant with a {found} variant")
    return name, how


def build(path, kind, asked_variant, output_kind):
    """(scripted CutoutBiRefNet, eager CutoutBiRefNet, facts dict) for the
    weights file at path. facts: backbone, variant, chosen_by, tensors.
    Reads the file as data only. Raises BirefnetImportError for a file that
    does not read, a layout that is not BiRefNet's (naming the first unknown,
    missing or mis-shaped tensors) or a variant that does not fit. The
    caller owns both modules; the eager one shares the scripted one's
    weights, so neither may be changed while the other runs."""
    if kind == "safetensors":
        # The whole header and the layout are checked before any tensor is
        # read, and the tensors are then read one at a time into the net.
        try:
            header, start = safetensors_header(path)
        except WeightsFileError as e:
            raise BirefnetImportError(str(e))
        stored = {strip_prefixes(n): n for n in header}
        shapes = {n: list(header[stored[n]]["shape"]) for n in stored}
        backbone = detect_backbone(shapes, path)
        name, how = choose_variant(path, backbone, asked_variant)
        net = BiRefNet(backbone).eval()
        try:
            with open(path, "rb") as f:
                load_streamed(net, shapes,
                              lambda n: read_safetensors_tensor(f, start, stored[n], header[stored[n]]), path)
        except LayoutError as e:
            raise BirefnetImportError(str(e))
        except OSError as e:
            raise BirefnetImportError(f"{path}: cannot be read ({e})")
        count = len(shapes)
    else:
        tensors = read_weights(path)
        backbone = detect_backbone({n: list(t.shape) for n, t in tensors.items()}, path)
        name, how = choose_variant(path, backbone, asked_variant)
        net = BiRefNet(backbone).eval()
        try:
            load_into(net, tensors, path)
        except LayoutError as e:
            raise BirefnetImportError(str(e))
        count = len(tensors)
        del tensors
    eager = CutoutBiRefNet(net, output_kind).eval()
    try:
        scripted = torch.jit.script(eager)
    except Exception as e:  # TorchScript reports compile errors as several types
        raise BirefnetImportError(f"BiRefNet module does not compile with TorchScript ({e})")
    return scripted, eager, {"backbone": backbone, "variant": name, "chosen_by": how, "tensors": count}


def compare(scripted, eager):
    """Largest difference between the scripted and the eager module on a
    fixed random 2 x 3 x 64 x 96 input (batch of two, not square). Runs
    both (no state written). Raises BirefnetImportError when the scripted
    output is not a finite 2 x 1 x 64 x 96 matte."""
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = scripted(x), eager(x)
    if tuple(a.shape) != (2, 1, 64, 96) or not bool(torch.isfinite(a).all()):
        raise BirefnetImportError(f"converted model: expected a finite 2 x 1 x 64 x 96 matte, got shape "
                                  f"{tuple(a.shape)}")
    return float((a - b).abs().max())
