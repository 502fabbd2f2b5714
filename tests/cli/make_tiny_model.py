"""Writes tiny.pt, a small TorchScript matting model for the cutout command tests.

Usage: python3 make_tiny_model.py OUT_DIR

The model takes B x 3 x 64 x 64 (normalised with mean 0.5, std 0.5, so
values in -1..1) and returns B x 1 x 64 x 64 in 0..1: a steep sigmoid of the
local brightness, so that light pixels are foreground and dark ones
background. It carries its metadata in the extra file "cutout_meta.json",
as every cutout model does.
"""

import json
import os
import sys

import torch

META = {
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


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    module = torch.jit.script(Brightness().eval())
    path = os.path.join(out_dir, "tiny.pt")
    torch.jit.save(module, path, _extra_files={"cutout_meta.json": json.dumps(META)})
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
