"""A converted module against onnxruntime-node on a photo.

The photo is resized to the model's input (stretch, PIL bilinear) and
normalised with the model's mean and std; onnxruntime runs the original
graph (a float32 copy when its weights are float16) and its first output
goes through the same output step the module has folded in (sigmoid,
min-max). The result is the largest absolute difference of the two mattes.
"""

import copy
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
import onnx
import torch
from PIL import Image

from .onnx_float32 import needs_widening, to_float32

# onnxruntime-node lives beside this module: package.json, node_modules/
# (tools/fetch-model --with-reference installs it) and the runner script.
ONNXRUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))

PHOTO = os.path.join("tests", "data", "photos", "animal_fur_chelsea.png")
TOLERANCE = 1e-3  # far above float32 reordering, far below what a wrong translation does


class CheckError(Exception):
    """onnxruntime is missing or failed, or the mattes differ too much."""


def model_input(photo, height, width, mean, std):
    """1 x 3 x height x width float32: the photo stretched and normalised."""
    with Image.open(photo) as image:
        rgb = image.convert("RGB").resize((width, height), Image.BILINEAR)
    pixels = np.asarray(rgb, dtype=np.float32) / 255.0
    x = (pixels - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def output_step(y, kind):
    """What the module does to the first output, in numpy."""
    y = y.astype(np.float64)
    if y.ndim == 3:
        y = y[:, None]
    if kind == "logits":
        return 1.0 / (1.0 + np.exp(-y))
    if kind == "minmax":
        low = y.min(axis=(1, 2, 3), keepdims=True)
        return (y - low) / np.maximum(y.max(axis=(1, 2, 3), keepdims=True) - low, 1e-12)
    return y


def onnxruntime_version():
    path = os.path.join(ONNXRUNTIME_DIR, "node_modules", "onnxruntime-node", "package.json")
    try:
        with open(path) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return None


def run_onnxruntime(model, x):
    """The first output of `model` (a ModelProto) on x, by onnxruntime-node."""
    if onnxruntime_version() is None or shutil.which("node") is None:
        raise CheckError("onnxruntime-node is not installed (tools/fetch-model --with-reference installs it here)")
    if needs_widening(model):
        model = to_float32(copy.deepcopy(model))
    first = model.graph.output[0].name
    with tempfile.TemporaryDirectory(prefix="cutout_check_") as tmp:
        model_path = os.path.join(tmp, "model.onnx")
        onnx.save(model, model_path)
        x.tofile(os.path.join(tmp, "x.bin"))
        initializers = {t.name for t in model.graph.initializer}
        name = [i.name for i in model.graph.input if i.name not in initializers][0]
        run = {"model": model_path, "result": os.path.join(tmp, "result.json"),
               "inputs": [{"name": name, "type": "float32", "dims": list(x.shape),
                           "file": os.path.join(tmp, "x.bin")}],
               "outputs": [{"name": first, "file": os.path.join(tmp, "y.bin")}]}
        with open(os.path.join(tmp, "runs.json"), "w") as f:
            json.dump([run], f)
        proc = subprocess.run(["node", os.path.join(ONNXRUNTIME_DIR, "ort_graphs.mjs"),
                               os.path.join(tmp, "runs.json")], capture_output=True, text=True)
        if proc.returncode != 0:
            raise CheckError(f"onnxruntime failed: {proc.stderr.strip()}")
        with open(run["result"]) as f:
            report = json.load(f)
        if "error" in report:
            raise CheckError(f"onnxruntime cannot run the model: {report['error']}")
        described = report["outputs"][0]
        if described["type"] != "float32":
            raise CheckError(f"first output is {described['type']}, expected float32")
        y = np.fromfile(run["outputs"][0]["file"], dtype=np.float32)
    return y.reshape(described["dims"])


def check_module(module, model, meta, root, photo=None, tolerance=TOLERANCE):
    """Compares module (as saved, output step included) with onnxruntime
    on the photo. Returns a dict for the manifest; raises CheckError when
    onnxruntime is missing or fails, or the difference is over tolerance."""
    photo = photo or os.path.join(root, PHOTO)
    height, width = meta["input_size"]
    x = model_input(photo, height, width, meta["mean"], meta["std"])
    expected = output_step(run_onnxruntime(model, x), meta.get("output", "probability"))
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy().astype(np.float64)
    if got.shape != expected.shape:
        raise CheckError(f"matte shape {got.shape}, onnxruntime's {expected.shape}")
    difference = float(np.abs(got - expected).max())
    result = {"photo": os.path.relpath(photo, root), "size": [height, width],
              "onnxruntime": onnxruntime_version(), "max_abs_difference": float(f"{difference:.3g}")}
    if not difference <= tolerance:
        raise CheckError(f"the converted model differs from onnxruntime by {difference:.3g} on "
                         f"{result['photo']} (expected <= {tolerance:g})")
    return result
