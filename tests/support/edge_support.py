"""Helpers the tests, the benchmarks and the gallery share: load libcutout
through the package's ctypes binding (python_wrapper.cutout_library, which
imports nothing of ComfyUI), run the advanced and composite nodes, read and
write images. Images are numpy/torch float32 in 0..1, H x W x C.
"""

import os

import numpy as np
import torch
from PIL import Image

from python_wrapper import cutout_library as lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTDATA = os.path.join(ROOT, "tests", "data", "photos")

ADVANCED = "CutoutRemoveBackgroundAdvanced"
COMPOSITE = "CutoutCompositeBackground"


def open_context(library_path, model_dirs=(), num_threads=None):
    """A cpu Context of the library at library_path."""
    library = lib.load_library(library_path)
    return lib.Context(library, model_dirs=model_dirs, device="cpu", num_threads=num_threads)


def model_context(library_path, models_dir, model):
    """open_context on models_dir when models_dir/<model>.pt exists; else
    None, after printing the FAIL line that says how to fetch it."""
    if not os.path.exists(os.path.join(models_dir, f"{model}.pt")):
        print(f"FAIL: models/{model}.pt is missing (tools/fetch-model --all fetches it)")
        return None
    return open_context(library_path, [models_dir])


def _kind(value):
    if isinstance(value, torch.Tensor):
        return lib.VALUE_TENSOR
    if isinstance(value, bool):
        return lib.VALUE_BOOL
    if isinstance(value, int):
        return lib.VALUE_INT
    if isinstance(value, float):
        return lib.VALUE_FLOAT
    return lib.VALUE_STRING


def run_node(context, node_id, num_outputs, **inputs):
    """Runs node_id with keyword inputs; returns its outputs (torch tensors)."""
    arguments = [(k, _kind(v), v) for k, v in inputs.items() if v is not None]
    return context.run(node_id, arguments, num_outputs)


def remove_background(context, image, **options):
    """(IMAGE, MASK, BOX) of the advanced node; image is B x H x W x C."""
    options.setdefault("model", "isnet")
    return run_node(context, ADVANCED, 3, image=image, **options)


def composite(context, image, **options):
    """The RGB composite (B x H x W x 3) of the composite node."""
    return run_node(context, COMPOSITE, 1, image=image, **options)[0]


def load_image(path, max_side=None):
    """H x W x C float32 (C = 3, or 4 when the file has alpha), 0..1."""
    img = Image.open(path)
    img = img.convert("RGBA" if ("A" in img.getbands() or "transparency" in img.info) else "RGB")
    if max_side and max(img.size) > max_side:
        scale = max_side / max(img.size)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    return np.asarray(img, dtype=np.float32) / 255.0


def save_image(path, array):
    """Writes H x W x C (C = 1, 3 or 4) float 0..1 as an 8-bit PNG."""
    a = np.clip(np.asarray(array, dtype=np.float32), 0.0, 1.0)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    Image.fromarray((a * 255.0 + 0.5).astype(np.uint8)).save(path)


def batch(array):
    """1 x H x W x C torch tensor of an H x W x C array."""
    return torch.from_numpy(np.ascontiguousarray(array)).unsqueeze(0)
