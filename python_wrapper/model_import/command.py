"""Import a model file you already have into cutout's model folder.

Usage (through tools/import-model):
    tools/import-model FILE [--name NAME] [--license TEXT] [--dir DIR]
        [--size S | --size HxW] [--mean R G B] [--std R G B]
        [--output-kind probability|logits|minmax] [--fit stretch|balanced|letterbox]
        [--variant NAME] [--no-verify]

FILE is an ONNX file (rembg's u2net, u2netp, u2net_human_seg, silueta,
isnet-general-use, isnet-anime, birefnet-* and bria-rmbg are recognised by
checksum; other U-2-Net and IS-Net graphs by their shape; anything else
needs the settings its graph does not state). It becomes DIR/NAME.pt
(default models/, NAME the file's name without .onnx) and an entry in
DIR/manifest.json: source file and sha256, licence as given (else
"unknown"), the metadata, and the largest difference from onnxruntime on a
photo (--no-verify skips that check, which needs onnxruntime-node:
tools/fetch-model --with-reference).

FILE may also be BiRefNet-family weights, .safetensors (F32, F16 or BF16)
or .pth, in the official layout: BiRefNet, BiRefNet_lite, BiRefNet_lite-2K,
BiRefNet_HR, BiRefNet_dynamic, the -matting variants and RMBG-2.0. They are
read as data (never executed), loaded into cutout's own BiRefNet (Swin-T or
Swin-L backbone, read from the weights' shapes) and saved as TorchScript;
the variant, which sets the input size, comes from --variant, else from the
file's or its folder's name, else the backbone (BiRefNet, BiRefNet_lite).
ImageNet normalisation, logits through a sigmoid, fit stretch, unless the
flags say otherwise. RMBG-2.0 is recorded as CC-BY-NC-4.0 (non-commercial)
unless --license says otherwise, and a warning says so. Other weights, or a
BiRefNet file with unknown, missing or mis-shaped tensors, are refused
with what the file holds.

Exit status 0 on success, 1 with a message on stderr otherwise.
"""

import argparse
import os
import sys

from .importer import ImportFailure, import_model

# The repository: python_wrapper/model_import/ is two folders below it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_size(text):
    parts = text.lower().split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values) < 16 or max(values) > 8192:
        raise argparse.ArgumentTypeError(f"expected S or HxW with sides 16..8192, got {text!r}")
    return values * 2 if len(values) == 1 else values


def main():
    paragraphs = __doc__.split("\n\n")
    parser = argparse.ArgumentParser(prog="tools/import-model", description=paragraphs[0],
                                     epilog="\n\n".join(paragraphs[2:4]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="the ONNX file, or BiRefNet-family .safetensors / .pth weights")
    parser.add_argument("--name", help="model name (default: the file's name without extension)")
    parser.add_argument("--license", help="the weights' licence as you know it, e.g. Apache-2.0 (default: unknown)")
    parser.add_argument("--dir", default=os.path.join(ROOT, "models"), help="model folder (default: models/)")
    parser.add_argument("--size", type=parse_size, help="input size the model was trained at: S or HxW")
    parser.add_argument("--mean", type=float, nargs=3, metavar=("R", "G", "B"), help="normalisation mean, 0..1 units")
    parser.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"), help="normalisation std, 0..1 units")
    parser.add_argument("--output-kind", help="probability, logits or minmax")
    parser.add_argument("--fit", help="the fit it was trained with: stretch, balanced or letterbox")
    parser.add_argument("--variant", help="BiRefNet weights only: BiRefNet, BiRefNet_lite, BiRefNet_HR, "
                        "BiRefNet_dynamic, BiRefNet-matting, RMBG-2.0, ... (default: from the file name)")
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime check")
    args = parser.parse_args()

    def progress(fraction, message):
        print(f"import-model: [{fraction * 100:3.0f}%] {message}", flush=True)

    try:
        entry = import_model(args.file, args.dir, name=args.name, license=args.license, mean=args.mean,
                             std=args.std, size=args.size, output_kind=args.output_kind, fit=args.fit,
                             progress=progress, verify=not args.no_verify, root=ROOT, variant=args.variant)
    except (ImportFailure, OSError) as e:
        print(f"import-model: error: {e}", file=sys.stderr)
        return 1
    meta = entry["meta"]
    print(f"import-model: {meta['name']}: {entry['source']['recognised_as'] or 'settings from the graph and flags'}")
    print(f"  input {meta['input_size'][0]} x {meta['input_size'][1]}, mean {meta['mean']}, std {meta['std']}, "
          f"output {meta['output']}, fit {meta.get('fit', 'not stated (the library uses balanced)')}")
    print(f"  licence: {entry['license']['weights']} ({entry['license']['notes']})")
    check = entry["verification"]
    if "onnxruntime" in check:
        print(f"  against onnxruntime {check['onnxruntime']} on {check['photo']}: "
              f"max abs difference {check['max_abs_difference']:.3g}")
    elif "max_abs_difference" in check:
        print(f"  {check['check']}: max abs difference {check['max_abs_difference']:.3g}")
    for warning in entry.get("warnings", []):
        print(f"import-model: warning: {warning}", file=sys.stderr)
    if meta.get("fixed_input_size"):
        print("  note: the graph only runs at its exported input size; keep process_resolution at 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
