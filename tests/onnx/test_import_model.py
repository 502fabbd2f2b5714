"""tools/import-model on small real files: ONNX graphs built here, and
weights files it must refuse (BiRefNet weights it imports are tested in
tests/birefnet).

Usage (ctest runs it, label "onnx"):
    python3 tests/onnx/test_import_model.py --root REPO

Each import goes through the command (tools/import-model) into a scratch
folder and is checked against onnxruntime on a photo, as a user's would;
the tests then read back the .pt, its metadata and the manifest entry.
"""

import json
import os
import pickle
import shutil
import struct
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from tests.support.import_command_case import ImportCommandCase, parse_root, run_unittest

ROOT = None
rng = np.random.default_rng(7)


def image_model(path, size, outputs=1, sigmoid=True, extra_op=None):
    """A small image model: a 3x3 conv to one channel (then a sigmoid), as
    many outputs as asked (each its own conv), input 1 x 3 x size x size."""
    nodes, inits, outs = [], [], []
    for k in range(outputs):
        inits += [numpy_helper.from_array(rng.normal(0, 0.5, (1, 3, 3, 3)).astype(np.float32), f"w{k}"),
                  numpy_helper.from_array(np.array([0.1 * k], np.float32), f"b{k}")]
        nodes.append(helper.make_node("Conv", ["x", f"w{k}", f"b{k}"], [f"c{k}"], pads=[1, 1, 1, 1], name=f"conv{k}"))
        last = f"c{k}"
        if sigmoid:
            nodes.append(helper.make_node("Sigmoid", [last], [f"y{k}"], name=f"sig{k}"))
            last = f"y{k}"
        if extra_op and k == 0:
            nodes.append(helper.make_node(extra_op, [last], ["extra"], name="odd_one"))
            last = "extra"
        outs.append(helper.make_tensor_value_info(last, TensorProto.FLOAT, [1, 1, size, size]))
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
                              outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def safetensors_file(path, names):
    header = {n: {"dtype": "F32", "shape": [2], "data_offsets": [8 * i, 8 * i + 8]} for i, n in enumerate(names)}
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + bytes(8 * len(names)))
    return path


class Exploit:
    """Pickles to a call of os.system: what weights_only must refuse."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class ImportModelTest(ImportCommandCase):
    def test_plain_onnx_with_flags(self):
        src = image_model(os.path.join(self.tmp, "tiny.onnx"), 64)
        result = self.run_tool(src, "--mean", "0.5", "0.5", "0.5", "--std", "0.25", "0.25", "0.25",
                               "--license", "MIT", "--fit", "letterbox")
        self.assertEqual(result.returncode, 0, result.stderr)
        module, meta, entry = self.imported("tiny")
        for key in ("format", "name", "kind", "license", "input_height", "input_width", "mean", "std"):
            self.assertIn(key, meta)  # what the library reads
        self.assertEqual((meta["kind"], meta["license"], meta["input_size"], meta["output"], meta["fit"]),
                         ("alpha", "MIT", [64, 64], "probability", "letterbox"))
        self.assertEqual(meta["std"], [0.25, 0.25, 0.25])
        with open(src, "rb") as f:
            import hashlib
            self.assertEqual(entry["source"]["sha256"], hashlib.sha256(f.read()).hexdigest())
        self.assertEqual(entry["license"], {"weights": "MIT", "notes": "as stated when imported"})
        self.assertLessEqual(entry["verification"]["max_abs_difference"], 1e-5)
        self.assertIn("max abs difference", result.stdout)
        y = module(torch.rand(2, 3, 48, 40))  # other sizes and batches
        self.assertEqual(tuple(y.shape), (2, 1, 48, 40))

    def test_settings_the_graph_does_not_say_are_asked_for(self):
        src = image_model(os.path.join(self.tmp, "raw.onnx"), 32, sigmoid=False)
        self.assert_refused(self.run_tool(src), "pass --mean, --std, --output-kind")
        result = self.run_tool(src, "--mean", "0", "0", "0", "--std", "1", "1", "1", "--output-kind", "logits")
        self.assertEqual(result.returncode, 0, result.stderr)
        module, meta, entry = self.imported("raw")
        self.assertEqual((meta["output"], meta["license"], entry["license"]["weights"]), ("logits", "unknown", "unknown"))
        weights = {t.name: torch.from_numpy(numpy_helper.to_array(t)) for t in onnx.load(src).graph.initializer}
        x = torch.randn(1, 3, 32, 32)
        expected = torch.sigmoid(torch.nn.functional.conv2d(x, weights["w0"], weights["b0"], padding=1))
        self.assertLess(float((module(x) - expected).abs().max()), 1e-6)

    def test_u2net_shaped_graph_gets_rembg_settings(self):
        src = image_model(os.path.join(self.tmp, "my_u2net.onnx"), 320, outputs=7)
        result = self.run_tool(src, "--name", "mine")
        self.assertEqual(result.returncode, 0, result.stderr)
        module, meta, entry = self.imported("mine")
        self.assertIn("U-2-Net", entry["source"]["recognised_as"])
        self.assertEqual((meta["mean"], meta["std"], meta["output"], meta["fit"]),
                         ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], "minmax", "stretch"))
        y = module(torch.randn(1, 3, 320, 320))
        self.assertAlmostEqual(float(y.min()), 0.0, places=6)
        self.assertAlmostEqual(float(y.max()), 1.0, places=6)

    def test_unsupported_ops_are_named(self):
        src = image_model(os.path.join(self.tmp, "odd.onnx"), 32, extra_op="Hardmax")
        self.assert_refused(self.run_tool(src, "--mean", "0", "0", "0", "--std", "1", "1", "1",
                                          "--output-kind", "probability"),
                            "unsupported ONNX ops", "Hardmax (node 'odd_one')")

    def test_a_huge_constant_is_refused_before_it_is_made(self):
        # ConstantOfShape of [1, 2**33] (32 GiB of float32) added to the matte:
        # its size is counted from the shape, and nothing is allocated.
        size = 32
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
                 helper.make_node("ConstantOfShape", ["shape"], ["big"], name="huge"),
                 helper.make_node("ReduceMax", ["big"], ["m"], keepdims=0, name="max"),
                 helper.make_node("Add", ["c", "m"], ["y"], name="add")]
        inits = [numpy_helper.from_array(rng.normal(0, 0.5, (1, 3, 3, 3)).astype(np.float32), "w"),
                 numpy_helper.from_array(np.zeros(1, np.float32), "b"),
                 numpy_helper.from_array(np.array([1, 2 ** 33], np.int64), "shape")]
        graph = helper.make_graph(nodes, "huge", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, size, size])], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        src = os.path.join(self.tmp, "huge.onnx")
        onnx.save(model, src)
        self.assert_refused(self.run_tool(src, "--mean", "0", "0", "0", "--std", "1", "1", "1",
                                          "--output-kind", "logits"),
                            "ConstantOfShape node 'huge': makes a constant of 8589934592 elements, over the cap "
                            "of 268435456")

    def test_birefnet_names_without_birefnet_shapes_are_refused(self):
        # BiRefNet weights are imported (tests/birefnet); these only have its names.
        names = ["bb.layers.0.blocks.0.attn.qkv.weight", "bb.patch_embed.proj.weight",
                 "decoder.conv_out1.0.weight", "squeeze_module.0.dec_att.aspp1.atrous_conv.weight"]
        src = safetensors_file(os.path.join(self.tmp, "model.safetensors"), names)
        self.assert_refused(self.run_tool(src), "model.safetensors: no 4-d bb.patch_embed.proj.weight")

    def test_other_weights_are_described_and_refused(self):
        src = safetensors_file(os.path.join(self.tmp, "other.safetensors"), ["encoder.0.weight"])
        self.assert_refused(self.run_tool(src), "encoder.0.weight", "match no network")
        pth = os.path.join(self.tmp, "weights.pth")
        torch.save({"state_dict": {"features.0.weight": torch.zeros(4, 3, 3, 3)}}, pth)
        self.assert_refused(self.run_tool(pth), "a pth file with 1 tensors (features.0.weight [4, 3, 3, 3])",
                            "match no network")

    def test_a_pth_with_code_in_it_is_refused_and_not_run(self):
        marker = os.path.join(self.tmp, "ran")
        pth = os.path.join(self.tmp, "evil.pth")
        torch.save({"x": Exploit(marker)}, pth)
        self.assert_refused(self.run_tool(pth), "not a plain weights file", "weights_only=True")
        self.assertFalse(os.path.exists(marker))
        legacy = os.path.join(self.tmp, "evil_legacy.pth")
        with open(legacy, "wb") as f:
            pickle.dump(Exploit(marker), f, protocol=2)
        self.assert_refused(self.run_tool(legacy), "not a plain weights file")
        self.assertFalse(os.path.exists(marker))

    def test_a_torchscript_file_is_not_loaded(self):
        # torch.load would hand it to torch.jit.load, which runs its code.
        path = os.path.join(self.tmp, "model.pt")
        torch.jit.save(torch.jit.script(torch.nn.ReLU()), path)
        self.assert_refused(self.run_tool(path), "a TorchScript archive, not a weights file")

    def test_external_data_only_from_the_models_folder(self):
        model = onnx.load(image_model(os.path.join(self.tmp, "inline.onnx"), 32))
        onnx.save_model(model, os.path.join(self.tmp, "split.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="split.weights", size_threshold=0)
        result = self.run_tool(os.path.join(self.tmp, "split.onnx"), "--mean", "0", "0", "0", "--std", "1", "1", "1")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertLessEqual(self.imported("split")[2]["verification"]["max_abs_difference"], 1e-5)
        shutil.rmtree(self.dest)
        escaping = onnx.load(os.path.join(self.tmp, "split.onnx"), load_external_data=False)
        for tensor in escaping.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = "../outside.weights"
        onnx.save(escaping, os.path.join(self.tmp, "escaping.onnx"))
        self.assert_refused(self.run_tool(os.path.join(self.tmp, "escaping.onnx")),
                            "keeps its data in '../outside.weights'; expected a file next to the model")

    def test_files_that_are_no_model(self):
        junk = os.path.join(self.tmp, "junk.onnx")
        with open(junk, "wb") as f:
            f.write(bytes(rng.integers(0, 256, 4096, dtype=np.uint8)))
        self.assert_refused(self.run_tool(junk), "junk.onnx: not")
        self.assert_refused(self.run_tool(os.path.join(self.tmp, "missing.onnx")), "no such file")

    def test_bad_settings(self):
        src = image_model(os.path.join(self.tmp, "tiny.onnx"), 32)
        flags = ["--mean", "0", "0", "0", "--std", "1", "1", "1"]
        self.assert_refused(self.run_tool(src, *flags, "--license", "x" * 64), "--license: expected at most 63 bytes")
        self.assert_refused(self.run_tool(src, *flags, "--name", "../up"), "--name: expected")
        self.assert_refused(self.run_tool(src, "--mean", "0", "0", "0", "--std", "1", "0", "1"),
                            "--std: expected 3 numbers > 0")
        self.assert_refused(self.run_tool(src, *flags, "--output-kind", "sigmoid"), "--output-kind: expected one of")


def main():
    global ROOT
    ROOT, rest = parse_root(__doc__.split("\n\n")[0])
    if not os.path.isdir(os.path.join(ROOT, "python_wrapper", "model_import", "node_modules", "onnxruntime-node")):
        print("FAIL: onnxruntime-node is missing: run tools/fetch-model --with-reference", file=sys.stderr)
        return 1
    return run_unittest(rest)


if __name__ == "__main__":
    sys.exit(main())
