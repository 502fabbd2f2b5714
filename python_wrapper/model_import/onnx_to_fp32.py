"""Write a float32 copy of an ONNX model that stores float16 weights.

Usage:
    python3 -m python_wrapper.model_import.onnx_to_fp32 IN.onnx OUT.onnx

The copy (onnx_float32.py) has the same nodes, names and
outputs; float16 initializers and Constant tensors are widened to float32
and every Cast between float types becomes an Identity. It is the reference
of the parity test of the fp32 TorchScript conversion.

Exit status 0 on success, 1 with a message on stderr on any error.
"""

import os
import sys

import onnx

from .onnx_float32 import to_float32


def main():
    if len(sys.argv) != 3:
        print("usage: onnx_to_fp32.py IN.onnx OUT.onnx", file=sys.stderr)
        return 1
    source, target = sys.argv[1], sys.argv[2]
    try:
        model = onnx.load(source)
    except Exception as e:  # protobuf raises several types for a bad file
        print(f"onnx_to_fp32: error: {source}: not a readable ONNX model ({e})", file=sys.stderr)
        return 1
    onnx.save(to_float32(model), target + ".tmp")
    os.replace(target + ".tmp", target)
    print(f"wrote float32 copy {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
