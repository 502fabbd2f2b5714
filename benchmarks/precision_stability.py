"""How stable the bf16-against-fp32 comparison of the test photos is.

tests/model/test_precision_quality.c holds bf16 (what `auto` runs where it measured faster)
to a mean abs difference <= 1e-3 and IoU@0.5 >= 0.995 against fp32 on each
photo. This script asks how much of a photo's result is chance: it adds
uniform noise of a given amplitude (far below one 8-bit step) to the photo,
runs fp32 and bf16 on the same noisy input, and prints both numbers per
seed. A second table runs fp32 alone on noisy input against fp32 on the
clean photo: the model's own sensitivity, which no precision can beat.

Usage: python3 -m benchmarks.precision_stability [--library build/libcutout.so]
       [--models models] [--seeds 6] [--noise 2e-6] [--fp32-noise 1e-3]
       [photo.png ...]      (default: portrait_hair_kodim04.png)
"""

import argparse
import os

import numpy as np
import torch

from tests.support import edge_support as es

BASIC = "CutoutRemoveBackground"


def matte(context, image, precision):
    """The MASK of the basic node for one H x W x C image, as H x W."""
    outputs = es.run_node(context, BASIC, 2, image=image.unsqueeze(0).contiguous(),
                          model="isnet", batch_size=1, precision=precision)
    return outputs[1][0].clone()


def compare(a, b):
    """(mean abs difference, IoU of the masks at 0.5) of two mattes."""
    fa, fb = a >= 0.5, b >= 0.5
    union = (fa | fb).sum().item()
    iou = (fa & fb).sum().item() / union if union else 1.0
    return (a - b).abs().mean().item(), iou


def noisy(image, amplitude, seed):
    """image plus uniform noise in [-amplitude/2, amplitude/2], clamped to 0..1."""
    if amplitude == 0:
        return image
    generator = torch.Generator().manual_seed(seed)
    noise = (torch.rand(image.shape, generator=generator) - 0.5) * amplitude
    return (image + noise).clamp(0.0, 1.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", default=os.path.join(es.ROOT, "build", "libcutout.so"))
    parser.add_argument("--models", default=os.path.join(es.ROOT, "models"))
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--noise", type=float, default=2e-6)
    parser.add_argument("--fp32-noise", type=float, default=1e-3)
    parser.add_argument("photos", nargs="*", default=["portrait_hair_kodim04.png"])
    args = parser.parse_args()

    context = es.open_context(args.library, model_dirs=[args.models], num_threads=2)
    print(f"bf16 against fp32 on the same input, noise amplitude {args.noise:g} "
          f"(seed 0: the photo itself)")
    print(f"{'photo':34} {'seed':>4} {'mean|d|':>9} {'IoU@0.5':>8}")
    for name in args.photos:
        photo = torch.from_numpy(np.ascontiguousarray(es.load_image(os.path.join(es.TESTDATA, name))))
        for seed in range(args.seeds):
            image = noisy(photo, args.noise if seed else 0.0, seed)
            mean, iou = compare(matte(context, image, "fp32"), matte(context, image, "bf16"))
            print(f"{name:34} {seed:4d} {mean:9.2e} {iou:8.5f}", flush=True)

    print(f"\nfp32 on noisy input against fp32 on the photo, noise amplitude {args.fp32_noise:g}")
    print(f"{'photo':34} {'seed':>4} {'mean|d|':>9} {'IoU@0.5':>8}")
    for name in args.photos:
        photo = torch.from_numpy(np.ascontiguousarray(es.load_image(os.path.join(es.TESTDATA, name))))
        clean = matte(context, photo, "fp32")
        for seed in range(1, 4):
            mean, iou = compare(clean, matte(context, noisy(photo, args.fp32_noise, seed), "fp32"))
            print(f"{name:34} {seed:4d} {mean:9.2e} {iou:8.5f}", flush=True)


if __name__ == "__main__":
    main()
