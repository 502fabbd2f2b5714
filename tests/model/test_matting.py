"""Masks in, mattes out (ctest label "model"): the mask modes, edge_refinement
matting and despeckle of CutoutRemoveBackgroundAdvanced on a short soft-alpha
composite with exact truth (tests/data/matting: a squirrel with a furry tail,
20% of its visible alpha partial), with U2-Netp (the model matters less than
the solver here, and it is fast; fp32, so that every CPU computes the same
model matte). Each mode must beat its baseline by the margins below, set
from what was measured on this composite when they were written (in
brackets), less room for other CPUs:
  hint     from a coarse mask (the truth at 0.5, edge moved, holes punched):
           MAE at most HINT_VS_COARSE of the coarse mask's [0.86];
  trimap   with the true trimap (10 px band): MAE at most TRIMAP_VS_MODEL
           of the model's alone [0.92];
  matting  (edge_refinement): MAE and gradient error below none's and
           guided's, IoU not lower than none's by more than 0.002;
  despeckle  specks and holes of at most 40 px added to the true mask:
           despeckle 64 wins back at least DESPECKLE_RECOVERY of the IoU they
           cost [0.83; the rest is fine fur the truth itself has as islands].
Bad values of the new inputs are refused with one line naming the input.

Usage: test_matting.py LIBCUTOUT MODELS_DIR MATTING_DATA_DIR
"""

import os
import sys

import numpy as np
import torch
from PIL import Image

from tests.support import edge_support as es
from tests.support import matting_support as ms
from tests.support import quality_support as qs

MODEL = "u2netp"
HINT_VS_COARSE = 0.92
TRIMAP_VS_MODEL = 0.97
DESPECKLE_RECOVERY = 0.75
IOU_SLACK = 0.002


def load(folder):
    with Image.open(os.path.join(folder, "squirrel_over_aqua.png")) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    with Image.open(os.path.join(folder, "squirrel_over_aqua_alpha.png")) as img:
        alpha = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    return rgb, alpha


def matte(context, rgb, mask=None, **options):
    guide = None if mask is None else torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]
    return es.remove_background(context, es.batch(rgb), mask=guide, model=MODEL,
                                precision="fp32", **options)[1][0].numpy()


def refused(context, rgb, mask, expected, **options):
    """The call fails with one line that contains `expected`."""
    try:
        matte(context, rgb, mask, **options)
    except Exception as e:  # the binding raises with the library's message
        text = str(e)
        ok = expected in text and "\n" not in text.strip()
        print(f"{'ok' if ok else 'FAIL'}: refused {options}: {text}")
        return ok
    print(f"FAIL: {options} was accepted (expected an error containing {expected!r})")
    return False


def main():
    library, models, data = sys.argv[1:4]
    context = es.model_context(library, models, MODEL)
    if context is None:
        return 1
    rgb, alpha = load(data)
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(("ok: " if ok else "FAIL: ") + what)
        failures += 0 if ok else 1

    base = matte(context, rgb)
    model = qs.score(base, alpha)
    print(f"model alone: MAE {model['MAE']:.4f} Grad {model['Grad']:.2f} IoU {model['IoU']:.4f}")

    coarse = ms.coarse_mask(alpha, np.random.default_rng(7))
    rough = qs.score(coarse, alpha)
    hint = qs.score(matte(context, rgb, coarse, mask_mode="hint"), alpha)
    check(hint["MAE"] <= HINT_VS_COARSE * rough["MAE"],
          f"hint MAE {hint['MAE']:.4f} <= {HINT_VS_COARSE} x coarse {rough['MAE']:.4f}")

    trimap = qs.score(matte(context, rgb, ms.true_trimap(alpha), mask_mode="trimap"), alpha)
    check(trimap["MAE"] <= TRIMAP_VS_MODEL * model["MAE"],
          f"trimap MAE {trimap['MAE']:.4f} <= {TRIMAP_VS_MODEL} x model {model['MAE']:.4f}")

    guided = qs.score(matte(context, rgb, edge_refinement="guided"), alpha)
    matting = qs.score(matte(context, rgb, edge_refinement="matting"), alpha)
    check(matting["MAE"] < min(model["MAE"], guided["MAE"]) and
          matting["Grad"] < min(model["Grad"], guided["Grad"]) and
          matting["IoU"] >= model["IoU"] - IOU_SLACK,
          f"matting MAE {matting['MAE']:.4f} Grad {matting['Grad']:.2f} IoU {matting['IoU']:.4f} "
          f"against none ({model['MAE']:.4f}, {model['Grad']:.2f}, {model['IoU']:.4f}) and guided "
          f"({guided['MAE']:.4f}, {guided['Grad']:.2f})")

    clean = (alpha >= 0.5).astype(np.float32)
    noisy = ms.speckled(clean, np.random.default_rng(9))
    iou_noisy = qs.score(noisy, clean)["IoU"]
    iou_fixed = qs.score(matte(context, rgb, noisy, mask_mode="trimap", despeckle=64), clean)["IoU"]
    check(iou_noisy < 1.0 - IOU_SLACK and iou_fixed - iou_noisy >= DESPECKLE_RECOVERY * (1.0 - iou_noisy),
          f"despeckle: IoU {iou_noisy:.4f} speckled -> {iou_fixed:.4f}")

    small = np.ones((10, 10), np.float32)
    out_of_range = ms.true_trimap(alpha) * 2.0 - 0.5
    for mask, expected, options in (
        (None, "mask: mask_mode hint needs a mask", {"mask_mode": "hint"}),
        (small, "mask: mask_mode trimap needs the image's size 320 x 384 (got 10 x 10)",
         {"mask_mode": "trimap"}),
        (out_of_range, "mask: a trimap holds 0 (background), 1 (foreground)", {"mask_mode": "trimap"}),
        (coarse, "mask_band", {"mask_mode": "hint", "mask_band": 0}),
        (coarse, "mask_band", {"mask_mode": "hint", "mask_band": 65}),
        (None, "despeckle", {"despeckle": -1}),
        (None, "mask_mode", {"mask_mode": "lasso"}),
    ):
        check(refused(context, rgb, mask, expected, **options), f"bad input refused: {options}")

    print("PASS" if failures == 0 else f"FAIL: {failures} check(s)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
