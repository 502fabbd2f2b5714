"""Parity of the converted TorchScript model with onnxruntime on real photos.

Usage (ctest runs it, label "model"):
    python3 tests/model/test_model_parity.py --root REPO --testdata PHOTOS_DIR

Checks, on every RGB photo, with the same preprocessed 1024 x 1024 input:
  * models/isnet.pt vs onnxruntime on the float32 copy models/isnet_fp32.onnx:
    max abs difference of the matte <= 1e-4 (same arithmetic, so this bounds
    conversion errors);
  * models/isnet.pt vs onnxruntime on the original float16 models/isnet.onnx:
    max abs difference <= 1e-3;
and also:
  * other input sizes (768, 512): isnet.pt vs onnxruntime on a copy of the
    float32 ONNX whose baked Resize sizes are rescaled to that size, <= 1e-4;
  * a batch of 2 gives the same mattes as two single runs;
  * the embedded cutout_meta.json maps a pixel p to (p - 128) / 256.
Fails (never skips) when the model or the reference is missing.
"""

import argparse
import json
import os
import tempfile

import numpy as np

import model_test_support as support
from model_test_support import check

FP32_TOLERANCE = 1e-4
FP16_TOLERANCE = 1e-3


def onnx_at_size(source, target, size):
    """Copies `source` with every Resize's baked spatial size rescaled to an
    input of size x size (the export fixed them for 1024 x 1024)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(source)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    rescaled = set()
    for node in graph.node:
        if node.op_type != "Resize":
            continue
        concat = producer[node.input[3]]
        constant = producer[concat.input[-1]]
        check(concat.op_type == "Concat" and constant.op_type == "Constant",
              f"{source}: Resize '{node.name}' sizes are not Concat(..., Constant)")
        if constant.output[0] in rescaled:
            continue
        tensor = constant.attribute[0].t
        value = numpy_helper.to_array(tensor)
        check(np.all(value * size % support.MODEL_SIZE == 0),
              f"{source}: Resize size {value.tolist()} does not scale to input {size}")
        tensor.CopyFrom(numpy_helper.from_array((value * size // support.MODEL_SIZE).astype(np.int64), tensor.name))
        rescaled.add(constant.output[0])
    for dim, value in zip(graph.input[0].type.tensor_type.shape.dim, [1, 3, size, size]):
        dim.dim_value = value
    for output in graph.output:
        output.type.tensor_type.ClearField("shape")
    del graph.value_info[:]
    onnx.save(model, target)


def check_metadata(pt_path):
    import torch

    files = {"cutout_meta.json": ""}
    torch.jit.load(pt_path, map_location="cpu", _extra_files=files)
    meta = json.loads(files["cutout_meta.json"])
    for key in ("format", "name", "kind", "license", "input_size", "mean", "std", "source", "description"):
        check(key in meta, f"{pt_path}: cutout_meta.json has no '{key}'")
    check(meta["kind"] == "alpha" and meta["input_size"] == [1024, 1024],
          f"{pt_path}: expected kind alpha and input_size [1024, 1024], got {meta['kind']}, {meta['input_size']}")
    for key, value in (("input_height", 1024), ("input_width", 1024)):
        check(meta.get(key) == value, f"{pt_path}: cutout_meta.json {key}: expected {value}, got {meta.get(key)}")
    pixels = np.arange(256, dtype=np.float64)
    for c in range(3):
        normalised = (pixels / 255.0 - meta["mean"][c]) / meta["std"][c]
        error = np.abs(normalised - (pixels - 128.0) / 256.0).max()
        check(error < 1e-6, f"{pt_path}: mean/std channel {c} do not give (p - 128) / 256 (error {error:.2e})")
    print(f"metadata: {meta['name']}, {meta['kind']}, {meta['license']}, input {meta['input_size']}: ok")


def report(name, ours, reference, tolerance, label):
    diff = np.abs(ours.astype(np.float64) - reference.astype(np.float64))
    print(f"  {name:36s} {label:10s} max {diff.max():.2e}  mean {diff.mean():.2e}")
    check(diff.max() <= tolerance,
          f"{name}: TorchScript vs onnxruntime ({label}) max abs difference {diff.max():.3e} > {tolerance}")
    return diff.max()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="repository root")
    parser.add_argument("--testdata", required=True, help="directory of test photos")
    args = parser.parse_args()
    paths = support.Paths(args.root, args.testdata)
    paths.require(paths.pt, paths.onnx, paths.onnx_fp32)

    check_metadata(paths.pt)
    module = support.load_torchscript(paths.pt)
    photos = paths.photos(rgb_only=True)
    check(len(photos) >= 4, f"expected at least 4 RGB photos in {paths.testdata}, got {len(photos)}")
    inputs = [support.model_input(support.load_photo(p)[0]) for p in photos]

    torch_out, torch_times = [], []
    for x in inputs:
        y, seconds = support.timed(support.run_torchscript, module, x)
        check(y.shape == (1, 1, 1024, 1024), f"isnet.pt: expected output 1 x 1 x 1024 x 1024, got {y.shape}")
        check(np.isfinite(y).all() and y.min() >= 0 and y.max() <= 1, "isnet.pt: output outside 0..1")
        torch_out.append(y)
        torch_times.append(seconds * 1000)
    ort32, ort32_ms = support.run_onnxruntime(paths, paths.onnx_fp32, inputs)
    ort16, ort16_ms = support.run_onnxruntime(paths, paths.onnx, inputs)

    print("parity at 1024 x 1024 (matte 0..1):")
    for i, photo in enumerate(photos):
        name = os.path.basename(photo)
        report(name, torch_out[i], ort32[i], FP32_TOLERANCE, "fp32 onnx")
        report(name, torch_out[i], ort16[i], FP16_TOLERANCE, "fp16 onnx")
    print(f"time per image: torchscript {np.mean(torch_times):.0f} ms, onnxruntime fp32 "
          f"{np.mean(ort32_ms):.0f} ms, onnxruntime fp16 {np.mean(ort16_ms):.0f} ms (mean of {len(photos)})")

    rgb = support.load_photo(photos[0])[0]
    with tempfile.TemporaryDirectory(prefix="cutout_onnx_") as tmp:
        for size in (768, 512):
            resized_onnx = os.path.join(tmp, f"isnet_fp32_{size}.onnx")
            onnx_at_size(paths.onnx_fp32, resized_onnx, size)
            x = support.model_input(rgb, size)
            ours = support.run_torchscript(module, x)
            check(ours.shape == (1, 1, size, size), f"isnet.pt at {size}: expected 1 x 1 x {size} x {size}, got {ours.shape}")
            reference, _ = support.run_onnxruntime(paths, resized_onnx, [x])
            report(f"{os.path.basename(photos[0])} at {size}", ours, reference[0], FP32_TOLERANCE, "fp32 onnx")

    batch = np.concatenate([support.model_input(support.load_photo(p)[0], 512) for p in photos[:2]])
    together = support.run_torchscript(module, batch)
    apart = np.concatenate([support.run_torchscript(module, batch[i:i + 1]) for i in range(2)])
    check(together.shape == (2, 1, 512, 512), f"isnet.pt batch of 2: expected 2 x 1 x 512 x 512, got {together.shape}")
    batch_diff = np.abs(together - apart).max()
    print(f"batch of 2 vs single runs at 512: max {batch_diff:.2e}")
    check(batch_diff <= 1e-5, f"isnet.pt: a batch of 2 differs from single runs by {batch_diff:.3e}")
    print(f"model parity: {len(photos)} photos ok")


if __name__ == "__main__":
    raise SystemExit(support.run_main(main))
