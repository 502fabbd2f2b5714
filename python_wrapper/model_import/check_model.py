"""Compare a converted model with onnxruntime on a photo.

Usage:
    python3 -m python_wrapper.model_import.check_model MODEL.pt MODEL.onnx [PHOTO]

MODEL.pt's embedded cutout_meta.json gives the input size, normalisation
and output kind (onnx_check.py says how the two mattes
are made). Prints the largest absolute difference. Exit status 0 when it
is within the tolerance (1e-3), 1 with a message otherwise (also when
onnxruntime-node is missing).
"""

import json
import os
import sys

import torch

from . import onnx_check
from .onnx_convert import load_onnx
from .onnx_graph import ConversionError

# The repository: python_wrapper/model_import/ is two folders below it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    if len(sys.argv) not in (3, 4):
        print("usage: check_model.py MODEL.pt MODEL.onnx [PHOTO]", file=sys.stderr)
        return 1
    pt_path, onnx_path = sys.argv[1], sys.argv[2]
    photo = sys.argv[3] if len(sys.argv) == 4 else None
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        files = {"cutout_meta.json": ""}
        module = torch.jit.load(pt_path, map_location="cpu", _extra_files=files).eval()
        meta = json.loads(files["cutout_meta.json"])
        result = onnx_check.check_module(module, load_onnx(onnx_path), meta, ROOT, photo)
    except (onnx_check.CheckError, ConversionError, OSError, RuntimeError, ValueError) as e:
        print(f"check_model: error: {pt_path}: {e}", file=sys.stderr)
        return 1
    print(f"check_model: {os.path.basename(pt_path)} against onnxruntime {result['onnxruntime']} on "
          f"{result['photo']} at {result['size'][0]} x {result['size'][1]}: "
          f"max abs difference {result['max_abs_difference']:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
