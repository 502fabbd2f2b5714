"""Writes the tiny and broken TorchScript models the tests use: one generator
for every test that needs a model it can make in a second.

Usage: python3 make_test_models.py SET OUT_DIR [PHOTO_PNG]

SET is one of:
  shim         the models and reference mattes of test_shim (needs PHOTO_PNG):
               a 3x3 convolution with fixed weights and a sigmoid (native
               input 64 x 64), and variants that return the wrong rank, NaN,
               a tuple, ..., or carry bad metadata; besides the models:
                 zip_not_a_model.pt        a zip archive that holds no TorchScript
                 tiny_newer_torch.pt       tiny_valid.pt calling an op no torch has,
                                           as a newer torch's file looks to an older one
                 expected_photo_alpha.f32  the valid model's matte for PHOTO_PNG
                                           (H*W float32, little endian), computed
                                           the way the shim must
                 expected_crop_alpha.f32   the same for the crop rows CROP_Y..,
                                           cols CROP_X..
                 expected_native_alpha.f32 the same for a crop of exactly the
                                           model's input size (no resizing)
                 expected.txt              "H W" of the photo, then "y x h w" of
                                           each crop
  cli          tiny.pt for the command, host and Dask tests: B x 3 x 64 x 64
               (mean 0.5, std 0.5) -> a steep sigmoid of the local brightness,
               so light pixels are foreground and dark ones background
  reliability  one good model (B x 3 x 32 x 32, mean 0.5, std 0.5) and every
               kind of bad one a user may drop into a model folder:
                 good.pt            alpha = sigmoid(4 * channel mean)
                 wide_range.pt      values from -3 to 4 (the shim clamps them)
                 float64_out.pt     float64 (accepted, converted)
                 nan_out.pt         one NaN in every matte
                 inf_out.pt         +Inf in every matte
                 int64_out.pt       an int64 tensor
                 bool_out.pt        a bool tensor
                 two_channels.pt    B x 2 x H x W
                 rank3_out.pt       B x H x W
                 doubled_batch.pt   twice the batch that came in
                 scalar_out.pt      a 0-dim tensor
                 none_out.pt        None
                 string_out.pt      a string
                 tuple_int_first.pt (1, matte)
                 raises.pt          raises an exception in forward
                 no_meta.pt         good.pt without its metadata
                 kind_depth.pt      metadata says "kind": "depth"
                 empty.pt           0 bytes
                 truncated.pt       the first half of good.pt
                 corrupt.pt         good.pt with its middle overwritten by noise
                 random.pt          4 KiB of noise
                 png_image.pt       a PNG photo renamed
                 state_dict.pt      torch.save() of a state dict (a zip, not
                                    TorchScript)
                 folder.pt/         a directory

Every model carries its metadata in the extra file "cutout_meta.json", as
every cutout model does, unless its name says otherwise.

Imported, it also gives the writers of hostile files (code in a model's
forward or unpickling, appended bytes, malformed safetensors, symlink
loops) that test_hostile_models.py makes with sentinel paths of its own.
"""

import json
import os
import random
import struct
import sys
import zipfile
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def save_scripted(path: str, module: torch.nn.Module, meta_text) -> None:
    """Scripts `module` and saves it with `meta_text` as cutout_meta.json
    (None: no metadata)."""
    extra = {} if meta_text is None else {"cutout_meta.json": meta_text}
    torch.jit.save(torch.jit.script(module.eval()), path, _extra_files=extra)


# ---- shim: test_shim's models and reference mattes --------------------------

SHIM_SIDE = 64
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
# A crop smaller than the model input, so that the input is upscaled and the
# matte downscaled (the other resize directions than for the full photo).
CROP_Y, CROP_X, CROP_H, CROP_W = 100, 200, 40, 50
NATIVE_Y, NATIVE_X = 150, 300

SHIM_META = {
    "format": 1,
    "name": "tiny",
    "kind": "alpha",
    "license": "CC0-1.0",
    "input_height": SHIM_SIDE,
    "input_width": SHIM_SIDE,
    "mean": MEAN,
    "std": STD,
}


def fixed_conv(in_channels: int = 3) -> torch.nn.Conv2d:
    conv = torch.nn.Conv2d(in_channels, 1, kernel_size=3, padding=1)
    n = in_channels * 9
    weights = torch.tensor([((k * 5) % 7 - 3) * 0.25 for k in range(n)], dtype=torch.float32)
    with torch.no_grad():
        conv.weight.copy_(weights.view(1, in_channels, 3, 3))
        conv.bias.fill_(0.1)
    return conv


class TinyMatte(torch.nn.Module):
    """The valid model: B x 3 x H x W -> B x 1 x H x W in 0..1."""

    def __init__(self):
        super().__init__()
        self.conv = fixed_conv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))


class ReturnsTuple(TinyMatte):
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        alpha = torch.sigmoid(self.conv(x))
        return alpha, x


class ReturnsList(TinyMatte):
    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        return [torch.sigmoid(self.conv(x))]


class ReturnsDict(TinyMatte):
    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"alpha": torch.sigmoid(self.conv(x))}


class WrongRank(TinyMatte):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))[:, 0]


class TwoChannels(TinyMatte):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.sigmoid(self.conv(x))
        return torch.cat([alpha, alpha], dim=1)


class ReturnsNaN(TinyMatte):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.sigmoid(self.conv(x)).clone()
        alpha[:, :, 0, 0] = float("nan")
        return alpha


class ReturnsUInt8(TinyMatte):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.sigmoid(self.conv(x)) * 255).to(torch.uint8)


class FailsInForward(torch.nn.Module):
    """Expects 4 input channels, so every call with RGB fails."""

    def __init__(self):
        super().__init__()
        self.conv = fixed_conv(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(x))


def with_changes(**changes) -> str:
    meta = dict(SHIM_META)
    for key, value in changes.items():
        if value is None:
            del meta[key]
        else:
            meta[key] = value
    return json.dumps(meta)


# file name -> (module class, cutout_meta.json text or None for no metadata)
SHIM_MODELS = {
    "tiny_valid.pt": (TinyMatte, json.dumps(SHIM_META)),
    "tiny_tuple.pt": (ReturnsTuple, json.dumps(SHIM_META)),
    "tiny_list.pt": (ReturnsList, json.dumps(SHIM_META)),
    "tiny_dict.pt": (ReturnsDict, json.dumps(SHIM_META)),
    "tiny_wrong_rank.pt": (WrongRank, json.dumps(SHIM_META)),
    "tiny_two_channels.pt": (TwoChannels, json.dumps(SHIM_META)),
    "tiny_nan.pt": (ReturnsNaN, json.dumps(SHIM_META)),
    "tiny_uint8.pt": (ReturnsUInt8, json.dumps(SHIM_META)),
    "tiny_fails.pt": (FailsInForward, json.dumps(SHIM_META)),
    "tiny_no_meta.pt": (TinyMatte, None),
    "tiny_meta_not_json.pt": (TinyMatte, '{"format": 1, "kind": '),
    "tiny_meta_format_2.pt": (TinyMatte, with_changes(format=2)),
    "tiny_meta_kind_depth.pt": (TinyMatte, with_changes(kind="depth")),
    "tiny_meta_no_name.pt": (TinyMatte, with_changes(name=None)),
    "tiny_meta_size_0.pt": (TinyMatte, with_changes(input_height=0)),
    "tiny_meta_size_9000.pt": (TinyMatte, with_changes(input_width=9000)),
    "tiny_meta_size_fraction.pt": (TinyMatte, with_changes(input_width=63.5)),
    "tiny_meta_std_0.pt": (TinyMatte, with_changes(std=[0.2, 0.0, 0.2])),
    "tiny_meta_mean_2.pt": (TinyMatte, with_changes(mean=[0.5, 0.5])),
}


def resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The shim's resize: bilinear, align_corners=False, antialiased when shrinking."""
    if x.shape[2] == height and x.shape[3] == width:
        return x
    shrink = height < x.shape[2] or width < x.shape[3]
    return F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False,
                         antialias=shrink)


def reference_alpha(module: torch.nn.Module, rgb: np.ndarray) -> np.ndarray:
    """What cutout_shim_predict_alpha must return for one H x W x 3 uint8 image."""
    height, width = rgb.shape[:2]
    x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None]
    x = (x.to(torch.float32) / 255.0).clamp(0.0, 1.0)
    x = resize(x, SHIM_SIDE, SHIM_SIDE)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    x = (x - mean) / std
    with torch.inference_mode():
        y = module(x)
    y = resize(y.to(torch.float32), height, width).clamp(0.0, 1.0)
    return y[0, 0].numpy().astype("<f4")


def write_newer_torch_model(source: str, target: str) -> None:
    """`source` with its code calling an op no torch has, as a file saved by
    a newer torch looks to an older libtorch (torch 2.13 scripts
    aten::_upsample_lanczos2d_aa into F.interpolate; libtorch 1.13 has no such
    op)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename.endswith(".py") and b"torch.sigmoid(" in data:
                data = data.replace(b"torch.sigmoid(", b"torch._sigmoid_of_a_newer_torch(")
            new.writestr(item, data)


def write_shim(out_dir: str, photo: str) -> None:
    torch.manual_seed(0)
    for name, (module_class, meta) in SHIM_MODELS.items():
        save_scripted(os.path.join(out_dir, name), module_class(), meta)

    write_newer_torch_model(os.path.join(out_dir, "tiny_valid.pt"), os.path.join(out_dir, "tiny_newer_torch.pt"))

    with zipfile.ZipFile(os.path.join(out_dir, "zip_not_a_model.pt"), "w") as archive:
        archive.writestr("archive/readme.txt", "a zip archive, but not a TorchScript model\n")
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")

    rgb = np.array(Image.open(photo).convert("RGB"))
    module = torch.jit.load(os.path.join(out_dir, "tiny_valid.pt")).eval()
    reference_alpha(module, rgb).tofile(os.path.join(out_dir, "expected_photo_alpha.f32"))
    crop = rgb[CROP_Y:CROP_Y + CROP_H, CROP_X:CROP_X + CROP_W]
    reference_alpha(module, crop).tofile(os.path.join(out_dir, "expected_crop_alpha.f32"))
    native = rgb[NATIVE_Y:NATIVE_Y + SHIM_SIDE, NATIVE_X:NATIVE_X + SHIM_SIDE]
    reference_alpha(module, native).tofile(os.path.join(out_dir, "expected_native_alpha.f32"))
    with open(os.path.join(out_dir, "expected.txt"), "w") as f:
        f.write(f"{rgb.shape[0]} {rgb.shape[1]}\n{CROP_Y} {CROP_X} {CROP_H} {CROP_W}\n"
                f"{NATIVE_Y} {NATIVE_X} {SHIM_SIDE} {SHIM_SIDE}\n")


# ---- cli: tiny.pt --------------------------------------------------------------

CLI_META = {
    "format": 1,
    "name": "tiny",
    "kind": "alpha",
    "license": "MIT",
    "input_height": 64,
    "input_width": 64,
    "mean": [0.5, 0.5, 0.5],
    "std": [0.5, 0.5, 0.5],
}


class Brightness(torch.nn.Module):
    """alpha = sigmoid(4 * 3x3 local mean of the channel mean)."""

    def __init__(self):
        super().__init__()
        self.blur = torch.nn.Conv2d(3, 1, kernel_size=3, padding=1, bias=False)
        with torch.no_grad():
            self.blur.weight.fill_(1.0 / 27.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(4.0 * self.blur(x))


def write_cli(out_dir: str) -> None:
    save_scripted(os.path.join(out_dir, "tiny.pt"), Brightness(), json.dumps(CLI_META))


# ---- reliability: a good model and every bad one ---------------------------------

RELIABILITY_SIDE = 32
RELIABILITY_META = {
    "format": 1,
    "name": "reliability",
    "kind": "alpha",
    "license": "CC0-1.0",
    "input_height": RELIABILITY_SIDE,
    "input_width": RELIABILITY_SIDE,
    "mean": [0.5, 0.5, 0.5],
    "std": [0.5, 0.5, 0.5],
}


class Good(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(4.0 * x.mean(dim=1, keepdim=True))


class WideRange(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 3.5 * x.mean(dim=1, keepdim=True) + 0.5


class Float64Out(Good):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(4.0 * x.mean(dim=1, keepdim=True)).double()


class NaNOut(Good):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(4.0 * x.mean(dim=1, keepdim=True)).clone()
        y[:, :, 3, 5] = float("nan")
        return y


class InfOut(Good):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(4.0 * x.mean(dim=1, keepdim=True)).clone()
        y[:, :, 0, 0] = float("inf")
        return y


class Int64Out(Good):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.mean(dim=1, keepdim=True) > 0).long()


class BoolOut(Good):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1, keepdim=True) > 0


class TwoChannelsOut(Good):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.sigmoid(x.mean(dim=1, keepdim=True))
        return torch.cat([y, y], dim=1)


class Rank3Out(Good):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x.mean(dim=1))


class DoubledBatch(Good):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(torch.cat([x, x]).mean(dim=1, keepdim=True))


class ScalarOut(Good):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x.mean())


class NoneOut(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> None:
        return None


class StringOut(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> str:
        return "alpha"


class TupleIntFirst(Good):
    def forward(self, x: torch.Tensor) -> Tuple[int, torch.Tensor]:
        return 1, torch.sigmoid(x.mean(dim=1, keepdim=True))


class Raises(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 3:
            raise RuntimeError("this model refuses to run")
        return x


RELIABILITY_MODELS = {
    "good.pt": (Good, RELIABILITY_META),
    "wide_range.pt": (WideRange, RELIABILITY_META),
    "float64_out.pt": (Float64Out, RELIABILITY_META),
    "nan_out.pt": (NaNOut, RELIABILITY_META),
    "inf_out.pt": (InfOut, RELIABILITY_META),
    "int64_out.pt": (Int64Out, RELIABILITY_META),
    "bool_out.pt": (BoolOut, RELIABILITY_META),
    "two_channels.pt": (TwoChannelsOut, RELIABILITY_META),
    "rank3_out.pt": (Rank3Out, RELIABILITY_META),
    "doubled_batch.pt": (DoubledBatch, RELIABILITY_META),
    "scalar_out.pt": (ScalarOut, RELIABILITY_META),
    "none_out.pt": (NoneOut, RELIABILITY_META),
    "string_out.pt": (StringOut, RELIABILITY_META),
    "tuple_int_first.pt": (TupleIntFirst, RELIABILITY_META),
    "raises.pt": (Raises, RELIABILITY_META),
    "no_meta.pt": (Good, None),
    "kind_depth.pt": (Good, dict(RELIABILITY_META, kind="depth")),
}


def write_reliability(out: str) -> None:
    for name, (module_class, meta) in RELIABILITY_MODELS.items():
        save_scripted(os.path.join(out, name), module_class(), None if meta is None else json.dumps(meta))

    with open(os.path.join(out, "good.pt"), "rb") as f:
        good = f.read()
    noise = random.Random(7)
    files = {
        "empty.pt": b"",
        "truncated.pt": good[: len(good) // 2],
        "corrupt.pt": good[:200] + bytes(noise.randrange(256) for _ in range(len(good) - 400))
        + good[-200:],
        "random.pt": bytes(noise.randrange(256) for _ in range(4096)),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    Image.new("RGB", (8, 8), (200, 10, 10)).save(os.path.join(out, "png_image.pt"), "PNG")
    torch.save(Good().state_dict() | {"w": torch.ones(2)}, os.path.join(out, "state_dict.pt"))
    os.makedirs(os.path.join(out, "folder.pt"), exist_ok=True)



# ---- Hostile files: what any user could be tricked into putting into a
# model folder, made at run time by tests/python/test_hostile_models.py.
# Each one that would run code, if the code ran, creates (or writes) a
# sentinel file the test names; the test checks that it never appears.
# Every writer takes the output path and returns it.

HOSTILE_META = {"format": 1, "name": "hostile", "kind": "alpha", "license": "MIT", "input_height": 32,
        "input_width": 32, "mean": [0.5, 0.5, 0.5], "std": [1.0, 1.0, 1.0]}


def _save_hostile(module, path):
    torch.jit.save(torch.jit.script(module), path, _extra_files={"cutout_meta.json": json.dumps(HOSTILE_META)})
    return path


def forward_writes_file(path, sentinel):
    """A cutout model (metadata and all) whose forward maps `sentinel` with
    torch.from_file(..., shared=True), which creates and writes it."""
    class WritesFile(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.sentinel = sentinel

        def forward(self, x):
            # The mapped values reach the output, so the compiler keeps the call.
            mapped = torch.from_file(self.sentinel, True, 16).fill_(1.0)
            return torch.sigmoid(x[:, :1]) + 0.0 * mapped.sum()

    return _save_hostile(WritesFile(), path)


def setstate_writes_file(path, sentinel):
    """A model whose submodule's __setstate__, which torch::jit::load runs
    while it reads the file, maps `sentinel` as forward_writes_file does."""
    class Payload(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.sentinel = sentinel
            self.written = 0.0

        @torch.jit.export
        def __getstate__(self) -> Tuple[str, bool]:
            return (self.sentinel, self.training)

        @torch.jit.export
        def __setstate__(self, state: Tuple[str, bool]) -> None:
            self.sentinel = state[0]
            self.training = state[1]
            self.written = float(torch.from_file(self.sentinel, True, 16).fill_(1.0).sum())

        def forward(self, x):
            return x

    class Outer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.payload = Payload()

        def forward(self, x):
            return torch.sigmoid(self.payload(x)[:, :1])

    return _save_hostile(Outer(), path)


def draws_random_numbers(path):
    """A model that seeds nothing but draws from torch's generator (the
    graph check refuses random state, as it does file and thread ops)."""
    class Noisy(torch.nn.Module):
        def forward(self, x):
            return torch.sigmoid(x[:, :1] + torch.rand_like(x[:, :1]))

    return _save_hostile(Noisy(), path)


def prints(path):
    """A model whose forward prints (I/O, not tensor arithmetic)."""
    class Talks(torch.nn.Module):
        def forward(self, x):
            print("hello from a model file")
            return torch.sigmoid(x[:, :1])

    return _save_hostile(Talks(), path)


def torchscript_with_appended_bytes(path, sentinel):
    """forward_writes_file's archive with 6 bytes appended (the start of a
    zip end record): Python's zipfile no longer calls it a zip, while
    torch.load still reads it as TorchScript."""
    forward_writes_file(path, sentinel)
    with open(path, "ab") as f:
        f.write(b"PK\x05\x06\x00\x00")
    return path


def safetensors_file(path, entries, data, extra_header=None):
    """A safetensors file with the given header entries (name -> dict) and
    data bytes, written as they are (no checks)."""
    header = dict(entries)
    if extra_header:
        header.update(extra_header)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)
    return path


def safetensors_overlapping(path, copies=50):
    """One 16 KB F32 tensor's bytes named `copies` times: every entry
    points at the same span, so reading them all would make copies x 16 KB
    of tensors from a 16 KB file."""
    shape = [64, 64]
    entries = {f"bb.patch_embed.proj.weight{i}": {"dtype": "F32", "shape": shape,
                                                  "data_offsets": [0, 64 * 64 * 4]} for i in range(copies)}
    return safetensors_file(path, entries, bytes(64 * 64 * 4))


def safetensors_overflowing_shape(path):
    """A tensor of shape [2**62, 4]: its size overflows 64-bit arithmetic."""
    entries = {"bb.patch_embed.proj.weight": {"dtype": "F32", "shape": [2 ** 62, 4], "data_offsets": [0, 16]}}
    return safetensors_file(path, entries, bytes(16))


def safetensors_many_entries(path, count=100000):
    """A header of `count` empty tensors: a small file with a huge header."""
    entries = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(count)}
    return safetensors_file(path, entries, b"")


def symlink_loop(folder, model_names: List[str]):
    """`folder` with the given (empty) model files and two links to itself,
    a -> . and b -> ., so a walk that follows links never ends."""
    import os

    os.makedirs(folder, exist_ok=True)
    for name in model_names:
        with open(os.path.join(folder, name), "wb") as f:
            f.write(b"\x08\x07")
    os.symlink(".", os.path.join(folder, "a"))
    os.symlink(".", os.path.join(folder, "b"))
    return folder


def main() -> int:
    sets = {"shim": 3, "cli": 2, "reliability": 2}
    if len(sys.argv) < 3 or sets.get(sys.argv[1]) != len(sys.argv) - 1:
        print(__doc__, file=sys.stderr)
        return 2
    which, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    if which == "shim":
        write_shim(out_dir, sys.argv[3])
    elif which == "cli":
        write_cli(out_dir)
    else:
        write_reliability(out_dir)
    print(f"{which}: {len(os.listdir(out_dir))} files in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
