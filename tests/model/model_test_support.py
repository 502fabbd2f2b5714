"""Shared helpers of the model tests: paths, preprocessing, onnxruntime.

The reference pipeline, written independently of the library:
PIL decode -> PIL bilinear resize to S x S -> (pixel - 128) / 256 ->
onnxruntime (python_wrapper/model_import/ort_reference.mjs) -> first output -> PIL bilinear resize
back to the photo's size.
"""

import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

FETCH_HINT = "run tools/fetch-model --all --with-reference (from the repository root)"
MODEL_SIZE = 1024


class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


class Paths:
    def __init__(self, root, testdata):
        self.root = os.path.abspath(root)
        self.testdata = os.path.abspath(testdata)
        self.pt = os.path.join(self.root, "models", "isnet.pt")
        self.onnx = os.path.join(self.root, "models", "isnet.onnx")
        self.onnx_fp32 = os.path.join(self.root, "models", "isnet_fp32.onnx")
        self.ort_script = os.path.join(self.root, "python_wrapper", "model_import", "ort_reference.mjs")
        self.ort_package = os.path.join(self.root, "python_wrapper", "model_import", "node_modules",
                                        "onnxruntime-node")

    def model_files(self, name):
        """(NAME.pt, NAME.onnx) in the repository's models/."""
        models = os.path.join(self.root, "models")
        return os.path.join(models, f"{name}.pt"), os.path.join(models, f"{name}.onnx")

    def require(self, *paths):
        """Fails (never skips) when a fetched file is missing."""
        for path in paths:
            check(os.path.exists(path), f"{path} is missing: {FETCH_HINT}")
        check(os.path.isdir(self.ort_package), f"{self.ort_package} is missing: {FETCH_HINT}")
        check(shutil.which("node") is not None, "node is not on PATH: it runs the onnxruntime reference")
        check(os.path.isdir(self.testdata), f"test photos not found: {self.testdata}")

    def photos(self, rgb_only=False):
        names = sorted(n for n in os.listdir(self.testdata) if n.lower().endswith((".png", ".jpg", ".jpeg")))
        if rgb_only:
            names = [n for n in names if not n.startswith("rgba_")]
        check(names, f"no PNG or JPEG photos in {self.testdata}")
        return [os.path.join(self.testdata, n) for n in names]


def load_photo(path):
    """(RGB PIL image, alpha as float 0..1 array or None)."""
    image = Image.open(path)
    image.load()
    alpha = None
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    return image.convert("RGB"), alpha


def model_input(rgb_image, size=MODEL_SIZE):
    """1 x 3 x size x size float32, (pixel - 128) / 256."""
    resized = rgb_image.resize((size, size), Image.BILINEAR)
    pixels = np.asarray(resized, dtype=np.float32)
    return np.ascontiguousarray(((pixels - 128.0) / 256.0).transpose(2, 0, 1)[None])


def balanced_inner(width, height, size=MODEL_SIZE):
    """(width, height) the default (balanced) fit resizes a photo to inside
    the size x size input: aspect ratio sqrt(width / height), as large as fits."""
    k = math.sqrt(width / height)
    iw, ih = min(size, size * k), min(size, size / k)
    return min(size, max(1, math.floor(iw + 0.5))), min(size, max(1, math.floor(ih + 0.5)))


def model_input_balanced(rgb_image, size=MODEL_SIZE):
    """The default fit's model input: the photo resized to balanced_inner,
    normalised, centred in size x size with zero padding (the mean)."""
    iw, ih = balanced_inner(*rgb_image.size, size)
    pixels = np.asarray(rgb_image.resize((iw, ih), Image.BILINEAR), dtype=np.float32)
    x = np.zeros((1, 3, size, size), np.float32)
    top, left = (size - ih) // 2, (size - iw) // 2
    x[0, :, top:top + ih, left:left + iw] = ((pixels - 128.0) / 256.0).transpose(2, 0, 1)
    return x


def matte_from_balanced(matte, width, height, size=MODEL_SIZE):
    """The part of a size x size matte that covers the photo, at its size."""
    iw, ih = balanced_inner(width, height, size)
    top, left = (size - ih) // 2, (size - iw) // 2
    inner = np.asarray(matte, dtype=np.float32).reshape(size, size)[top:top + ih, left:left + iw]
    return matte_to_size(np.ascontiguousarray(inner), width, height)


def run_onnxruntime(paths, onnx_path, inputs):
    """Runs the first output of `onnx_path` on each 1 x 3 x S x S input.

    Returns (outputs as 1 x 1 x S x S arrays, milliseconds per input).
    """
    with tempfile.TemporaryDirectory(prefix="cutout_ort_") as tmp:
        args = ["node", paths.ort_script, onnx_path]
        for i, x in enumerate(inputs):
            in_path = os.path.join(tmp, f"in{i}.f32")
            np.ascontiguousarray(x, dtype="<f4").tofile(in_path)
            args += [in_path, os.path.join(tmp, f"out{i}.f32")]
        proc = subprocess.run(args, capture_output=True, text=True)
        check(proc.returncode == 0, f"onnxruntime reference failed (exit {proc.returncode}):\n"
                                    f"{proc.stdout}{proc.stderr}")
        times = [float(line.rsplit(":", 1)[1].split()[0]) for line in proc.stdout.splitlines() if " ms" in line]
        outputs = []
        for i, x in enumerate(inputs):
            side = x.shape[-1]
            y = np.fromfile(os.path.join(tmp, f"out{i}.f32"), dtype="<f4")
            check(y.size == side * side, f"onnxruntime output {i}: expected {side * side} values, got {y.size}")
            outputs.append(y.reshape(1, 1, side, side))
    return outputs, times


def load_torchscript(path):
    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    return torch.jit.load(path, map_location="cpu").eval()


def run_torchscript(module, x):
    import torch
    with torch.inference_mode():
        y = module(torch.from_numpy(np.ascontiguousarray(x)))
    return y.numpy()


def matte_to_size(matte, width, height):
    """S x S float matte -> width x height float matte (PIL bilinear)."""
    image = Image.fromarray(np.asarray(matte, dtype=np.float32).reshape(matte.shape[-2:]), mode="F")
    return np.clip(np.asarray(image.resize((width, height), Image.BILINEAR), dtype=np.float32), 0.0, 1.0)


def iou_at_half(a, b):
    fa, fb = a >= 0.5, b >= 0.5
    union = np.logical_or(fa, fb).sum()
    return 1.0 if union == 0 else float(np.logical_and(fa, fb).sum()) / float(union)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def run_main(main):
    """Runs a test's main(); prints the failure and returns an exit status."""
    try:
        main()
    except TestFailure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0
