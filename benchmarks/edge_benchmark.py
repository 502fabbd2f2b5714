"""Measures the edge options of CutoutRemoveBackgroundAdvanced against exact
ground truth, and what each option costs. Prints two tables.

Ground truth: the RGBA cut-outs in tests/data/photos (rgba_*.png: exact
alpha and exact foreground colour), composited over real photos from the
same folder (resized to cover, centred): I = F a + B (1 - a).

For each option, averaged over cut-outs x backgrounds:
  alpha MAE       mean |a_out - a_true|
  gradient error  mean | |grad a_out| - |grad a_true| | (central differences)
  edge colour     the output's RGB and the true F, each composited over a
                  contrasting solid colour K through the same alpha
                  m = min(a_out, a_true); RMSE over the band 0 < a_true < 1
Cost: extra time of each option per 1024 x 1024 image, relative to the
default run (whose time is the inference); timings on a shared CPU are noisy.

Usage: python3 -m benchmarks.edge_benchmark [--library build/libcutout.so]
       [--models models] [--testdata tests/data/photos] [--repeat N]
"""

import argparse
import os
import sys
import time

import numpy as np
import torch

from tests.support import edge_support as es

OPTIONS = [
    ("default (soft matte)", {}),
    ("fit = letterbox", {"fit": "letterbox"}),
    ("process_resolution = 512", {"process_resolution": 512}),
    ("threshold = 0.5", {"threshold": 0.5}),
    ("mask_blur = 2", {"mask_blur": 2}),
    ("mask_grow = 2", {"mask_grow": 2}),
    ("mask_grow = -2", {"mask_grow": -2}),
    ("edge_refinement = guided", {"edge_refinement": "guided"}),
    ("foreground = estimate", {"foreground": "estimate"}),
    ("guided + estimate", {"edge_refinement": "guided", "foreground": "estimate"}),
]
BACKGROUNDS = ["product_coffee.png", "multiple_people_kodim12.png", "transparent_water_drop_aqua.jpg"]


def cover(background, height, width):
    """background (h x w x 3) resized to cover height x width, centred."""
    t = torch.from_numpy(background).permute(2, 0, 1).unsqueeze(0)
    scale = max(height / t.shape[2], width / t.shape[3])
    rh, rw = max(height, round(t.shape[2] * scale)), max(width, round(t.shape[3] * scale))
    t = torch.nn.functional.interpolate(t, size=(rh, rw), mode="bilinear", align_corners=False, antialias=True)
    top, left = (rh - height) // 2, (rw - width) // 2
    return t[0, :, top:top + height, left:left + width].permute(1, 2, 0).clamp(0, 1).numpy()


def gradient_magnitude(a):
    gy, gx = np.gradient(a.astype(np.float64))
    return np.hypot(gx, gy)


def contrasting(background):
    """A saturated colour far from the background's mean colour."""
    mean = background.reshape(-1, 3).mean(0)
    return np.where(mean > 0.5, 0.0, 1.0).astype(np.float32)


def measure(ctx, cutout, background, options):
    fg, alpha = cutout[:, :, :3], cutout[:, :, 3]
    bg = cover(background, *alpha.shape)
    image = fg * alpha[:, :, None] + bg * (1.0 - alpha[:, :, None])
    out, mask, _ = es.remove_background(ctx, es.batch(image.astype(np.float32)), **options)
    rgb, a_out = out[0, :, :, :3].numpy(), mask[0].numpy()
    mae = float(np.abs(a_out - alpha).mean())
    grad = float(np.abs(gradient_magnitude(a_out) - gradient_magnitude(alpha)).mean())
    band = (alpha > 0) & (alpha < 1)
    m = np.minimum(a_out, alpha)[:, :, None]
    k = contrasting(bg)
    shown = rgb * m + k * (1 - m)
    truth = fg * m + k * (1 - m)
    colour = float(np.sqrt(((shown - truth) ** 2)[band].mean()))
    return mae, grad, colour


def timing(ctx, image, options, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        es.remove_background(ctx, image, **options)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", default=os.path.join(es.ROOT, "build", "libcutout.so"))
    parser.add_argument("--models", default=os.path.join(es.ROOT, "models"))
    parser.add_argument("--testdata", default=es.TESTDATA)
    parser.add_argument("--repeat", type=int, default=2, help="timing runs per option (best is kept)")
    args = parser.parse_args()

    ctx = es.open_context(args.library, [args.models])
    cutouts = sorted(n for n in os.listdir(args.testdata) if n.startswith("rgba_") and n.endswith(".png"))
    cutouts = {n: es.load_image(os.path.join(args.testdata, n)) for n in cutouts}
    backgrounds = {n: es.load_image(os.path.join(args.testdata, n))[:, :, :3] for n in BACKGROUNDS}
    print(f"{len(cutouts)} cut-outs x {len(backgrounds)} backgrounds: {', '.join(cutouts)} over {', '.join(backgrounds)}")

    rows = []
    for label, options in OPTIONS:
        scores = np.array([measure(ctx, c, b, options) for c in cutouts.values() for b in backgrounds.values()])
        rows.append((label, *scores.mean(0)))
    print()
    print(f"| {'option':<26} | alpha MAE | gradient error | edge colour RMSE |")
    print(f"|{'-' * 28}|-----------|----------------|------------------|")
    for label, mae, grad, colour in rows:
        print(f"| {label:<26} | {mae:9.4f} | {grad:14.4f} | {colour:16.4f} |")
    original = dict((r[0], r[3]) for r in rows)["default (soft matte)"]
    estimate = dict((r[0], r[3]) for r in rows)["foreground = estimate"]
    print(f"\nedge colour error: original {original:.4f}, estimate {estimate:.4f} "
          f"({100 * (1 - estimate / original):.1f}% lower)")

    photo = es.load_image(os.path.join(args.testdata, "portrait_astronaut.png"))[:, :, :3]
    image = es.batch(cover(photo, 1024, 1024).astype(np.float32))
    base = timing(ctx, image, {}, args.repeat)
    print(f"\ncost per 1024 x 1024 image (default run = inference: {base:.2f} s)")
    print(f"| {'option':<26} | time (s) | extra vs inference |")
    print(f"|{'-' * 28}|----------|--------------------|")
    for label, options in OPTIONS[1:]:
        t = timing(ctx, image, options, args.repeat)
        print(f"| {label:<26} | {t:8.2f} | {100 * (t - base) / base:+17.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
