"""Writes the model files of the reliability tests: one good tiny model and
every kind of bad one a user may drop into a model folder.

Usage: /usr/bin/python3 make_bad_models.py OUT_DIR

Every TorchScript model here takes B x 3 x 32 x 32 (mean 0.5, std 0.5) and
carries the "cutout_meta.json" extra file, unless its name says otherwise.

  good.pt            alpha = sigmoid(4 * channel mean): a working model
  wide_range.pt      returns values from -3 to 4 (clamped to 0..1 by the shim)
  float64_out.pt     returns float64 (accepted, converted)
  nan_out.pt         one NaN in every matte
  inf_out.pt         +Inf in every matte
  int64_out.pt       returns an int64 tensor
  bool_out.pt        returns a bool tensor
  two_channels.pt    B x 2 x H x W
  rank3_out.pt       B x H x W
  doubled_batch.pt   twice the batch that came in
  scalar_out.pt      a 0-dim tensor
  none_out.pt        returns None
  string_out.pt      returns a string
  tuple_int_first.pt returns (1, matte)
  raises.pt          raises an exception in forward
  no_meta.pt         good.pt without its metadata
  kind_depth.pt      metadata says "kind": "depth"
  empty.pt           0 bytes
  truncated.pt       the first half of good.pt
  corrupt.pt         good.pt with its middle overwritten by noise
  random.pt          4 KiB of noise
  png_image.pt       a PNG photo renamed
  state_dict.pt      torch.save() of a state dict (a zip, but not TorchScript)
  folder.pt/         a directory
"""

import json
import os
import random
import sys
from typing import Tuple

import torch

SIDE = 32
META = {
    "format": 1,
    "name": "reliability",
    "kind": "alpha",
    "license": "CC0-1.0",
    "input_height": SIDE,
    "input_width": SIDE,
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


class TwoChannels(Good):
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


MODELS = {
    "good.pt": (Good, META),
    "wide_range.pt": (WideRange, META),
    "float64_out.pt": (Float64Out, META),
    "nan_out.pt": (NaNOut, META),
    "inf_out.pt": (InfOut, META),
    "int64_out.pt": (Int64Out, META),
    "bool_out.pt": (BoolOut, META),
    "two_channels.pt": (TwoChannels, META),
    "rank3_out.pt": (Rank3Out, META),
    "doubled_batch.pt": (DoubledBatch, META),
    "scalar_out.pt": (ScalarOut, META),
    "none_out.pt": (NoneOut, META),
    "string_out.pt": (StringOut, META),
    "tuple_int_first.pt": (TupleIntFirst, META),
    "raises.pt": (Raises, META),
    "no_meta.pt": (Good, None),
    "kind_depth.pt": (Good, dict(META, kind="depth")),
}


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, (module_class, meta) in MODELS.items():
        extra = {} if meta is None else {"cutout_meta.json": json.dumps(meta)}
        torch.jit.save(torch.jit.script(module_class().eval()), os.path.join(out, name),
                       _extra_files=extra)

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
    from PIL import Image  # only for the renamed photo

    Image.new("RGB", (8, 8), (200, 10, 10)).save(os.path.join(out, "png_image.pt"), "PNG")
    torch.save(Good().state_dict() | {"w": torch.ones(2)}, os.path.join(out, "state_dict.pt"))
    os.makedirs(os.path.join(out, "folder.pt"), exist_ok=True)
    print(f"{len(os.listdir(out))} model files in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
