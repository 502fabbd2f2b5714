"""Writes the tiny TorchScript models and reference mattes that test_shim uses.

Usage: python3 make_tiny_models.py OUT_DIR PHOTO_PNG

Every model is a 3x3 convolution with fixed weights followed by a sigmoid
(native input 64 x 64, any batch size), saved with or without the
"cutout_meta.json" extra file. Variants return the wrong rank, NaN, a tuple,
..., or carry bad metadata. Besides the models it writes:
  zip_not_a_model.pt        a valid zip archive that holds no TorchScript
  expected_photo_alpha.f32  the valid model's matte for PHOTO_PNG (H*W float32,
                            little endian), computed the way the shim must
  expected_crop_alpha.f32   the same for the crop rows CROP_Y.., cols CROP_X..
  expected_native_alpha.f32 the same for a crop of exactly the model's input
                            size at NATIVE_Y, NATIVE_X (no resizing at all)
  expected.txt              "H W" of the photo, then "y x h w" of each crop
"""

import json
import os
import sys
import zipfile
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SIDE = 64
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
# A crop smaller than the model input, so that the input is upscaled and the
# matte downscaled (the other resize directions than for the full photo).
CROP_Y, CROP_X, CROP_H, CROP_W = 100, 200, 40, 50
NATIVE_Y, NATIVE_X = 150, 300

GOOD_META = {
    "format": 1,
    "name": "tiny",
    "kind": "alpha",
    "license": "CC0-1.0",
    "input_height": SIDE,
    "input_width": SIDE,
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
    meta = dict(GOOD_META)
    for key, value in changes.items():
        if value is None:
            del meta[key]
        else:
            meta[key] = value
    return json.dumps(meta)


# file name -> (module class, cutout_meta.json text or None for no metadata)
MODELS = {
    "tiny_valid.pt": (TinyMatte, json.dumps(GOOD_META)),
    "tiny_tuple.pt": (ReturnsTuple, json.dumps(GOOD_META)),
    "tiny_list.pt": (ReturnsList, json.dumps(GOOD_META)),
    "tiny_dict.pt": (ReturnsDict, json.dumps(GOOD_META)),
    "tiny_wrong_rank.pt": (WrongRank, json.dumps(GOOD_META)),
    "tiny_two_channels.pt": (TwoChannels, json.dumps(GOOD_META)),
    "tiny_nan.pt": (ReturnsNaN, json.dumps(GOOD_META)),
    "tiny_uint8.pt": (ReturnsUInt8, json.dumps(GOOD_META)),
    "tiny_fails.pt": (FailsInForward, json.dumps(GOOD_META)),
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


def save(out_dir: str, name: str, module_class, meta) -> None:
    module = torch.jit.script(module_class().eval())
    extra = {} if meta is None else {"cutout_meta.json": meta}
    torch.jit.save(module, os.path.join(out_dir, name), _extra_files=extra)


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
    x = resize(x, SIDE, SIDE)
    mean = torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)
    x = (x - mean) / std
    with torch.inference_mode():
        y = module(x)
    y = resize(y.to(torch.float32), height, width).clamp(0.0, 1.0)
    return y[0, 0].numpy().astype("<f4")


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir, photo = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)

    for name, (module_class, meta) in MODELS.items():
        save(out_dir, name, module_class, meta)

    with zipfile.ZipFile(os.path.join(out_dir, "zip_not_a_model.pt"), "w") as archive:
        archive.writestr("archive/readme.txt", "a zip archive, but not a TorchScript model\n")
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")

    rgb = np.array(Image.open(photo).convert("RGB"))
    module = torch.jit.load(os.path.join(out_dir, "tiny_valid.pt")).eval()
    reference_alpha(module, rgb).tofile(os.path.join(out_dir, "expected_photo_alpha.f32"))
    crop = rgb[CROP_Y:CROP_Y + CROP_H, CROP_X:CROP_X + CROP_W]
    reference_alpha(module, crop).tofile(os.path.join(out_dir, "expected_crop_alpha.f32"))
    native = rgb[NATIVE_Y:NATIVE_Y + SIDE, NATIVE_X:NATIVE_X + SIDE]
    reference_alpha(module, native).tofile(os.path.join(out_dir, "expected_native_alpha.f32"))
    with open(os.path.join(out_dir, "expected.txt"), "w") as f:
        f.write(f"{rgb.shape[0]} {rgb.shape[1]}\n{CROP_Y} {CROP_X} {CROP_H} {CROP_W}\n"
                f"{NATIVE_Y} {NATIVE_X} {SIDE} {SIDE}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
