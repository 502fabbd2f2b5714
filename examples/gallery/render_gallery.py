"""Renders before/after contact sheets of the demo photos (four of
tests/data/photos, the ones tools/bootstrap cuts out) into examples/gallery/<stem>.png: the input; with the default options
(quality fast) the cutout over a checkerboard and the mask; with quality
best the same two; and the best cutout on a colour, side by side. Then one
sheet of a guide mask turned into a matte (mask_hint_squirrel.png): the
soft-alpha composite of tests/data/matting, a hard, rough mask of the kind
SAM or a brush gives, the matte with mask_mode restrict and with hint, the
hint cutout over a checkerboard, and the true alpha.

Usage, from the repository root:
       python3 -m examples.gallery.render_gallery [--library build/libcutout.so]
       [--models models] [--height 320] [--color '#2f6fdf']
"""

import argparse
import os
import sys

import numpy as np
import torch

from tests.support import edge_support as es
from tests.support import matting_support as ms

PHOTOS = ["animal_fur_chelsea.png", "portrait_astronaut.png", "portrait_hair_kodim04.png", "product_coffee.png"]
GALLERY = os.path.join(es.ROOT, "examples", "gallery")
GAP = 8


def checkerboard(height, width, cell=16):
    y, x = np.mgrid[0:height, 0:width]
    light = ((y // cell + x // cell) % 2 == 0)[:, :, None]
    return np.where(light, 0.93, 0.75).astype(np.float32) * np.ones((1, 1, 3), np.float32)


def resize(panel, height):
    t = torch.from_numpy(np.ascontiguousarray(panel)).permute(2, 0, 1).unsqueeze(0)
    width = max(1, round(t.shape[3] * height / t.shape[2]))
    t = torch.nn.functional.interpolate(t, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return t[0].permute(1, 2, 0).clamp(0, 1).numpy()


def sheet(panels, height):
    panels = [resize(p, height) for p in panels]
    width = sum(p.shape[1] for p in panels) + GAP * (len(panels) + 1)
    out = np.ones((height + 2 * GAP, width, 3), np.float32)
    x = GAP
    for p in panels:
        out[GAP:GAP + height, x:x + p.shape[1]] = p
        x += p.shape[1] + GAP
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", default=os.path.join(es.ROOT, "build", "libcutout.so"))
    parser.add_argument("--models", default=os.path.join(es.ROOT, "models"))
    parser.add_argument("--height", type=int, default=320)
    parser.add_argument("--color", default="#2f6fdf")
    args = parser.parse_args()

    ctx = es.open_context(args.library, [args.models])
    os.makedirs(GALLERY, exist_ok=True)
    for name in PHOTOS:
        photo = es.load_image(os.path.join(es.TESTDATA, name))[:, :, :3]
        image = es.batch(photo)
        panels = [photo]
        for quality in ("fast", "best"):
            out, mask, _ = es.remove_background(ctx, image, foreground="estimate", quality=quality)
            rgba = out[0].numpy()
            a = rgba[:, :, 3:]
            board = checkerboard(*a.shape[:2])
            panels.append(rgba[:, :, :3] * a + board * (1 - a))
            panels.append(np.repeat(mask[0].numpy()[:, :, None], 3, axis=2))
        panels.append(es.composite(ctx, out, background="color", color=args.color)[0].numpy())
        path = os.path.join(GALLERY, os.path.splitext(name)[0] + ".png")
        es.save_image(path, sheet(panels, args.height))
        print(path)
    print(mask_modes_sheet(ctx, args.height))
    return 0


def mask_modes_sheet(ctx, height):
    """The hint sheet (see the module's docstring); returns its path."""
    folder = os.path.join(es.ROOT, "tests", "data", "matting")
    photo = es.load_image(os.path.join(folder, "squirrel_over_aqua.png"))[:, :, :3]
    truth = es.load_image(os.path.join(folder, "squirrel_over_aqua_alpha.png"))
    truth = truth[:, :, 0] if truth.ndim == 3 else truth
    hard = ms.coarse_mask(truth, np.random.default_rng(7))
    guide = torch.from_numpy(hard)[None]
    gray = lambda m: np.repeat(np.asarray(m)[:, :, None], 3, axis=2)
    panels = [photo, gray(hard)]
    for mode in ("restrict", "hint"):
        out, mask, _ = es.remove_background(ctx, es.batch(photo), mask=guide, mask_mode=mode,
                                            foreground="estimate")
        panels.append(gray(mask[0].numpy()))
    rgba = out[0].numpy()
    a = rgba[:, :, 3:]
    panels.append(rgba[:, :, :3] * a + checkerboard(*a.shape[:2]) * (1 - a))
    panels.append(gray(truth))
    path = os.path.join(GALLERY, "mask_hint_squirrel.png")
    es.save_image(path, sheet(panels, height))
    return path


if __name__ == "__main__":
    sys.exit(main())
