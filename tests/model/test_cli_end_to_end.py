"""End to end: the `cutout` command on real photos against an independent
onnxruntime reference.

Usage (ctest runs it, label "model"):
    python3 tests/model/test_cli_end_to_end.py --cli CUTOUT --root REPO \
        --testdata PHOTOS_DIR --workdir DIR

Runs `cutout --mask -o DIR/out PHOTO...` once on every photo (the model is
found through CUTOUT_MODEL_PATH=REPO/models) and checks, per photo:
  * <stem>.png is 8-bit RGBA of the photo's size and its RGB equals the
    photo's RGB exactly wherever alpha > 0;
  * <stem>_mask.png is 8-bit gray and equals the output's alpha exactly;
  * IoU at 0.5 between the mask and the reference matte is >= 0.98 and
    their mean absolute difference is <= 0.01. The
    reference: the default (balanced) fit written independently: PIL
    decode, PIL bilinear resize to the aspect ratio sqrt(w / h) inside
    1024 x 1024, (pixel - 128) / 256, centred with zero padding,
    onnxruntime on the original models/isnet.onnx, the matte cropped back
    and resized to the photo's size (PIL bilinear), times the photo's own
    alpha for RGBA photos.
Fails (never skips) when the model or the reference is missing.
"""

import argparse
import os
import shutil
import subprocess

import numpy as np
from PIL import Image

import model_test_support as support
from model_test_support import check

MIN_IOU = 0.98
MAX_MEAN_DIFF = 0.01  # mean |alpha - reference| over the photo, alpha in 0..1


def run_cli(cli, photos, out_dir, models_dir):
    env = dict(os.environ, CUTOUT_MODEL_PATH=models_dir)
    command = [cli, "--mask", "-o", out_dir] + photos
    (proc, seconds) = support.timed(lambda: subprocess.run(command, capture_output=True, text=True, env=env))
    check(proc.returncode == 0, f"{' '.join(command)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    print(f"cutout on {len(photos)} photos: {seconds:.1f} s")


def read_png(path, mode, size):
    check(os.path.exists(path), f"{path}: not written by cutout")
    image = Image.open(path)
    check(image.format == "PNG", f"{path}: expected a PNG, got {image.format}")
    check(image.mode == mode, f"{path}: expected 8-bit {mode}, got mode {image.mode}")
    check(image.size == size, f"{path}: expected size {size}, got {image.size}")
    return np.asarray(image)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True, help="the cutout program")
    parser.add_argument("--root", required=True, help="repository root")
    parser.add_argument("--testdata", required=True, help="directory of test photos")
    parser.add_argument("--workdir", required=True, help="scratch directory (emptied first)")
    args = parser.parse_args()
    paths = support.Paths(args.root, args.testdata)
    paths.require(paths.pt, paths.onnx)
    check(os.access(args.cli, os.X_OK), f"--cli {args.cli}: not an executable program")

    photos = paths.photos()
    out_dir = os.path.join(args.workdir, "out")
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(out_dir)
    run_cli(args.cli, photos, out_dir, os.path.dirname(paths.pt))

    loaded = [support.load_photo(p) for p in photos]
    references, ort_ms = support.run_onnxruntime(paths, paths.onnx,
                                                 [support.model_input_balanced(rgb) for rgb, _ in loaded])
    print(f"onnxruntime reference: {np.mean(ort_ms):.0f} ms per image")

    print(f"  {'photo':36s} {'size':>10s}  IoU@0.5  mean|a-ref|  rgb")
    failures = []
    for photo, (rgb, alpha_in), reference in zip(photos, loaded, references):
        name = os.path.basename(photo)
        stem = os.path.splitext(name)[0]
        width, height = rgb.size
        expected = support.matte_from_balanced(reference, width, height)
        if alpha_in is not None:
            expected = expected * alpha_in

        rgba = read_png(os.path.join(out_dir, stem + ".png"), "RGBA", rgb.size)
        mask = read_png(os.path.join(out_dir, stem + "_mask.png"), "L", rgb.size)
        check(np.array_equal(mask, rgba[..., 3]), f"{stem}_mask.png: differs from the alpha channel of {stem}.png")

        source = np.asarray(rgb)
        visible = rgba[..., 3] > 0
        check(np.array_equal(rgba[..., :3][visible], source[visible]),
              f"{stem}.png: RGB differs from the input where alpha > 0 "
              f"({int((rgba[..., :3] != source).any(axis=2)[visible].sum())} pixels)")
        rgb_note = "exact (all pixels)" if np.array_equal(rgba[..., :3], source) else "exact where alpha > 0"

        alpha = mask.astype(np.float32) / 255.0
        iou = support.iou_at_half(alpha, expected)
        mean_diff = float(np.abs(alpha - expected).mean())
        print(f"  {name:36s} {width:>4d}x{height:<5d}  {iou:.4f}   {mean_diff:.4f}      {rgb_note}")
        if iou < MIN_IOU:
            failures.append(f"{name}: IoU@0.5 {iou:.4f} < {MIN_IOU}")
        if mean_diff > MAX_MEAN_DIFF:
            failures.append(f"{name}: mean |alpha - reference| {mean_diff:.4f} > {MAX_MEAN_DIFF}")
    check(not failures, "; ".join(failures))
    print(f"cutout end to end: {len(photos)} photos ok")


if __name__ == "__main__":
    raise SystemExit(support.run_main(main))
