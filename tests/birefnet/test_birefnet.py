"""cutout's BiRefNet against the reference implementation's outputs, and
tools/import-model on BiRefNet weights files.

Usage (ctest runs it, label "birefnet"):
    python3 tests/birefnet/test_birefnet.py --root REPO

The fixtures (tests/birefnet/fixtures, see its README) are the logits the
reference BiRefNet gave for the repository's stand-in weights and inputs;
each backbone is rebuilt here from the same generator and must agree
within 1e-4. The import tests write official-layout weights files (Swin-T
as safetensors in F32, F16 and BF16 and as .pth; Swin-L as RMBG-2.0's
safetensors), import them through the command as a user would, and read back the .pt, its metadata and the
manifest entry; broken files must be refused with a message naming what
is wrong.
"""

import json
import os
import struct
import sys
import unittest

import numpy as np
import torch

from tests.support.import_command_case import ImportCommandCase, parse_root, run_unittest

ROOT = None
TOLERANCE = 1e-4
LITE_NAME = "BiRefNet_lite-general-epoch_232"


def tools_modules():
    from python_wrapper.model_import import birefnet_import, birefnet_model, birefnet_weights
    return birefnet_import, birefnet_model, birefnet_weights


def stand_in_net(backbone):
    """(eager BiRefNet with the stand-in weights, those weights)."""
    _, model, weights = tools_modules()
    net = model.BiRefNet(backbone).eval()
    tensors = weights.stand_in_weights(net)
    net.load_state_dict(tensors)
    return net, tensors


SAFETENSORS_CODES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def write_safetensors(path, tensors, shapes=None):
    """Writes name -> tensor as a safetensors file (each tensor in its own
    dtype); `shapes` overrides the header's shape of some names."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, tensor in tensors.items():
        raw = tensor.contiguous()
        if raw.dtype == torch.bfloat16:
            data = raw.view(torch.int16).numpy().tobytes()
        else:
            data = raw.numpy().tobytes()
        shape = (shapes or {}).get(name, list(tensor.shape))
        header[name] = {"dtype": SAFETENSORS_CODES[raw.dtype], "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for blob in blobs:
            f.write(blob)
    return path


def mixed_precision(tensors):
    """The tensors stored as a real file might: most in F16, the norms in
    BF16, the index in I64, a few in F32 (all three float readers run)."""
    out = {}
    for i, (name, tensor) in enumerate(tensors.items()):
        if not tensor.is_floating_point():
            out[name] = tensor
        elif ".norm" in name:
            out[name] = tensor.to(torch.bfloat16)
        elif i % 7 == 0:
            out[name] = tensor
        else:
            out[name] = tensor.to(torch.float16)
    return out


class FixtureTest(unittest.TestCase):
    """Each backbone with the stand-in weights against the reference's logits."""

    def check_backbone(self, backbone, scripted_too):
        _, model, weights = tools_modules()
        net, _ = stand_in_net(backbone)
        scripted = torch.jit.script(model.CutoutBiRefNet(net, "logits").eval()) if scripted_too else None
        for case in weights.STAND_IN_INPUTS:
            expected = torch.from_numpy(np.load(os.path.join(ROOT, "tests", "birefnet", "fixtures",
                                                             f"{backbone}_{case}.npy")))
            x = weights.stand_in_input(backbone, case)
            with torch.no_grad():
                logits = net(x)
            self.assertEqual(tuple(logits.shape), tuple(expected.shape))
            self.assertGreater(float(expected.std()), 0.1)  # a fixture that says something
            self.assertLess(float((logits - expected).abs().max()), TOLERANCE, f"{backbone} {case}")
            if scripted is not None:
                with torch.no_grad():
                    alpha = scripted(x)
                self.assertLess(float((alpha - torch.sigmoid(expected)).abs().max()), TOLERANCE, f"{backbone} {case}")

    def test_swin_t(self):
        self.check_backbone("swin_v1_t", scripted_too=True)

    def test_swin_l(self):
        # The scripted Swin-L is checked against the same fixtures after its
        # import as RMBG-2.0 (ImportTest).
        self.check_backbone("swin_v1_l", scripted_too=False)

    def test_every_variant_has_a_tested_backbone(self):
        birefnet_import, _, _ = tools_modules()
        tested = {"swin_v1_t", "swin_v1_l"}
        for name, variant in birefnet_import.VARIANTS.items():
            self.assertIn(variant["backbone"], tested, name)

    def test_sides_that_are_not_multiples_of_32(self):
        _, model, _ = tools_modules()
        net, _ = stand_in_net("swin_v1_t")
        wrapped = model.CutoutBiRefNet(net, "logits").eval()
        x = torch.randn(1, 3, 50, 70, generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            y = wrapped(x)
            padded = torch.sigmoid(net(torch.nn.functional.pad(x, [0, 26, 0, 14])))
        self.assertEqual(tuple(y.shape), (1, 1, 50, 70))
        self.assertLess(float((y - padded[:, :, :50, :70]).abs().max()), 1e-6)


class VariantNameTest(unittest.TestCase):
    """Which released variant a file's name, or its folders' names, point to."""

    def test_released_file_names(self):
        birefnet_import, _, _ = tools_modules()
        cases = {
            "BiRefNet-general-epoch_244.pth": None,  # plain BiRefNet: the backbone decides
            "BiRefNet_lite-general-2K-epoch_232.pth": "BiRefNet_lite-2K",
            os.path.join("w", "BiRefNet_HR-general-epoch_130.pth"): "BiRefNet_HR",
            "BiRefNet-matting-epoch_100.pth": "BiRefNet-matting",
            "BiRefNet_HR-matting-epoch_135.pth": "BiRefNet_HR-matting",
            "BiRefNet_dynamic-matting-epoch_159.pth": "BiRefNet_dynamic-matting",
            "BiRefNet_dynamic-general-epoch_174.pth": "BiRefNet_dynamic",
            os.path.join("hub", "models--briaai--RMBG-2.0", "snapshots", "0a1b", "model.safetensors"): "RMBG-2.0",
            os.path.join("hub", "models--ZhengPeng7--BiRefNet_lite", "snapshots", "9f", "model.safetensors"):
                "BiRefNet_lite",
            "model.safetensors": None,
        }
        for path, expected in cases.items():
            self.assertEqual(birefnet_import.variant_from_names(path), expected, path)


class ImportTest(ImportCommandCase):
    """tools/import-model on official-layout weights files (Swin-T, and one Swin-L)."""

    scratch_prefix = "cutout_weights_test_"

    @classmethod
    def setUpClass(cls):
        cls.net, tensors = stand_in_net("swin_v1_t")
        cls.stored = mixed_precision(tensors)
        rounded = {n: t.to(torch.float32) if t.is_floating_point() else t for n, t in cls.stored.items()}
        cls.net.load_state_dict(rounded)
        cls.x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(5))
        with torch.no_grad():
            cls.expected = torch.sigmoid(cls.net(cls.x))

    def assert_same_output(self, module):
        with torch.no_grad():
            y = module(self.x)
        self.assertEqual(tuple(y.shape), (2, 1, 64, 96))
        self.assertLess(float((y - self.expected).abs().max()), 1e-5)

    def test_safetensors_round_trip(self):
        src = write_safetensors(os.path.join(self.tmp, f"{LITE_NAME}.safetensors"), self.stored)
        result = self.run_tool(src, "--name", "lite")
        self.assertEqual(result.returncode, 0, result.stderr)
        module, meta, entry = self.imported("lite")
        self.assert_same_output(module)
        self.assertEqual((meta["format"], meta["name"], meta["kind"], meta["license"]), (1, "lite", "alpha", "unknown"))
        self.assertEqual((meta["input_height"], meta["input_width"], meta["output"], meta["fit"]),
                         (1024, 1024, "logits", "stretch"))
        self.assertEqual((meta["mean"], meta["std"]), ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
        self.assertIn("BiRefNet_lite weights (Swin-T backbone", entry["source"]["recognised_as"])
        self.assertEqual(entry["source"]["tensors"], len(self.stored))
        self.assertIn("MIT", entry["license"]["notes"])
        self.assertLess(entry["verification"]["max_abs_difference"], 1e-5)
        self.assertNotIn("warning", result.stderr)

    def test_pth_round_trip_with_flags(self):
        pth = os.path.join(self.tmp, "weights.pth")
        state = {f"module.{n}": t.to(torch.float32) if t.is_floating_point() else t for n, t in self.stored.items()}
        torch.save({"state_dict": state}, pth)
        result = self.run_tool(pth, "--variant", "BiRefNet_lite-2K", "--license", "MIT", "--fit", "letterbox")
        self.assertEqual(result.returncode, 0, result.stderr)
        module, meta, entry = self.imported("weights")
        self.assert_same_output(module)
        self.assertEqual((meta["input_size"], meta["license"], meta["fit"]), ([1440, 2560], "MIT", "letterbox"))
        self.assertEqual(entry["license"], {"weights": "MIT", "notes": "as stated when imported"})
        self.assertIn("variant from --variant", entry["source"]["recognised_as"])

    def test_rmbg_swin_l_import_records_its_licence_and_matches_the_reference(self):
        _, _, weights = tools_modules()
        _, tensors = stand_in_net("swin_v1_l")
        folder = os.path.join(self.tmp, "RMBG-2.0")  # as the weights come: RMBG-2.0/model.safetensors
        os.makedirs(folder)
        src = write_safetensors(os.path.join(folder, "model.safetensors"), tensors)
        del tensors
        result = self.run_tool(src, "--name", "rmbg")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("warning: RMBG-2.0's weights are licensed CC-BY-NC-4.0 by BRIA AI: non-commercial use only",
                      result.stderr)
        module, meta, entry = self.imported("rmbg")
        self.assertEqual((meta["license"], meta["input_size"], meta["output"]), ("CC-BY-NC-4.0", [1024, 1024], "logits"))
        self.assertEqual(entry["license"]["weights"], "CC-BY-NC-4.0")
        self.assertIn("not stated when imported", entry["license"]["notes"])
        self.assertIn("RMBG-2.0 weights (Swin-L backbone; variant from the file's name", entry["source"]["recognised_as"])
        for case in weights.STAND_IN_INPUTS:
            expected = np.load(os.path.join(ROOT, "tests", "birefnet", "fixtures", f"swin_v1_l_{case}.npy"))
            with torch.no_grad():
                alpha = module(weights.stand_in_input("swin_v1_l", case))
            self.assertLess(float((alpha - torch.sigmoid(torch.from_numpy(expected))).abs().max()), TOLERANCE, case)

    def test_a_variant_must_fit_the_backbone(self):
        src = write_safetensors(os.path.join(self.tmp, "lite.safetensors"), self.stored)
        self.assert_refused(self.run_tool(src, "--variant", "RMBG-2.0"),
                            "RMBG-2.0, which has a Swin-L backbone, but the weights are Swin-T")
        self.assert_refused(self.run_tool(src, "--variant", "BiRefNet_XL"), "--variant: expected one of")

    def test_unknown_names_are_listed(self):
        extra = dict(self.stored)
        extra["decoder.refiner.0.weight"] = torch.zeros(4)
        extra["bb.layers.0.blocks.0.attn.extra"] = torch.zeros(4)
        src = write_safetensors(os.path.join(self.tmp, "extra.safetensors"), extra)
        self.assert_refused(self.run_tool(src), "2 parameter names are not BiRefNet's",
                            "decoder.refiner.0.weight, bb.layers.0.blocks.0.attn.extra")

    def test_missing_tensors_are_listed(self):
        fewer = {n: t for n, t in self.stored.items() if not n.startswith("decoder.decoder_block1.")}
        src = write_safetensors(os.path.join(self.tmp, "fewer.safetensors"), fewer)
        self.assert_refused(self.run_tool(src), "BiRefNet tensors are missing (first: decoder.decoder_block1.conv_in.weight")

    def test_wrong_shapes_are_listed(self):
        changed = dict(self.stored)
        changed["decoder.conv_out1.0.weight"] = torch.zeros(2, 120, 1, 1, dtype=torch.float16)
        src = write_safetensors(os.path.join(self.tmp, "shapes.safetensors"), changed)
        self.assert_refused(self.run_tool(src), "1 tensors have the wrong shape",
                            "decoder.conv_out1.0.weight [2, 120, 1, 1] (expected [1, 120, 1, 1])")

    def test_unknown_backbone_is_described(self):
        changed = dict(self.stored)
        changed["bb.patch_embed.proj.weight"] = torch.zeros(64, 3, 4, 4)
        src = write_safetensors(os.path.join(self.tmp, "narrow.safetensors"), changed)
        self.assert_refused(self.run_tool(src), "patch-embed width 64 and 6 blocks in stage 3")

    def test_broken_files(self):
        src = write_safetensors(os.path.join(self.tmp, "full.safetensors"), self.stored)
        truncated = os.path.join(self.tmp, "truncated.safetensors")
        with open(src, "rb") as f:
            data = f.read()
        with open(truncated, "wb") as f:
            f.write(data[:len(data) // 2])
        self.assert_refused(self.run_tool(truncated), "truncated.safetensors: tensor", "(truncated?)")
        lying = os.path.join(self.tmp, "lying.safetensors")
        write_safetensors(lying, {"bb.patch_embed.proj.weight": torch.zeros(96, 3, 4, 4),
                                  "bb.layers.0.blocks.0.attn.qkv.weight": torch.zeros(2),
                                  "decoder.conv_out1.0.weight": torch.zeros(1, 120, 1, 1)},
                          shapes={"bb.layers.0.blocks.0.attn.qkv.weight": [3, 2]})
        self.assert_refused(self.run_tool(lying), "needs 24 bytes, its data_offsets give 8")
        pth = os.path.join(self.tmp, "weights.pth")
        torch.save(dict(self.stored), pth)
        with open(pth, "rb") as f:
            data = f.read()
        with open(pth, "wb") as f:
            f.write(data[:len(data) // 3])
        self.assert_refused(self.run_tool(pth), "weights.pth: not a plain weights file")


def main():
    global ROOT
    ROOT, rest = parse_root(__doc__.split("\n\n")[0])
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    return run_unittest(rest)


if __name__ == "__main__":
    sys.exit(main())
