"""Guide masks made from a true alpha, for the mask modes and despeckle of
CutoutRemoveBackgroundAdvanced. Shared by python3 -m benchmarks.matting_benchmark
and the regression test tests/model/test_matting.py.

Everything is deterministic for a given numpy Generator; masks are H x W
float32 arrays in 0..1.
  coarse_mask     what a user's rough selection looks like: the true alpha
                  at 0.5 with its edge moved 2..8 px in or out, and small
                  holes punched in it
  true_trimap     0 / 1 / 0.5 (unknown) with an unknown band around the
                  true edge and over every soft pixel
  speckled        a clean 0/1 mask with specks added outside and holes inside
  soft_fraction   how much of a cut-out's alpha is partial
"""

import numpy as np
import torch
import torch.nn.functional as F


def _grow(mask, px):
    """Square dilation (px > 0) or erosion (px < 0) of a 0/1 H x W array."""
    if px == 0:
        return mask.copy()
    t = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
    r = abs(px)
    t = t if px > 0 else 1.0 - t
    t = F.max_pool2d(t, 2 * r + 1, stride=1, padding=r)
    t = t if px > 0 else 1.0 - t
    return t[0, 0].numpy()


def _disc(height, width, y, x, radius):
    yy, xx = np.ogrid[:height, :width]
    return (yy - y) ** 2 + (xx - x) ** 2 <= radius * radius


def coarse_mask(alpha, rng, holes=4):
    """The true alpha binarised at 0.5, its edge moved by 2..8 px (eroded or
    dilated, chosen by rng), then `holes` discs of radius 3..6 px punched in
    where it is foreground."""
    mask = (alpha >= 0.5).astype(np.float32)
    px = int(rng.integers(2, 9)) * (1 if rng.random() < 0.5 else -1)
    mask = _grow(mask, px)
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    for _ in range(holes if len(ys) else 0):
        k = int(rng.integers(0, len(ys)))
        mask[_disc(h, w, ys[k], xs[k], int(rng.integers(3, 7)))] = 0.0
    return mask


def true_trimap(alpha, band=10):
    """0 background, 1 foreground, 0.5 unknown: unknown within `band` px of
    the 0.5 edge or of any partial pixel (0 < alpha < 1), as matting
    benchmarks draw them."""
    hard = (alpha >= 0.5).astype(np.float32)
    edge = _grow(hard, 1) - _grow(hard, -1)
    partial = ((alpha > 0.0) & (alpha < 1.0)).astype(np.float32)
    unknown = _grow(np.maximum(edge, partial), band) > 0.5
    return np.where(unknown, 0.5, hard).astype(np.float32)


def speckled(mask, rng, specks=12, holes=12, max_area=40):
    """A 0/1 mask with `specks` foreground blobs added in the background and
    `holes` background blobs punched in the foreground, each of at most
    max_area pixels (discs of radius 1..3), at least 8 px from the edge."""
    out = mask.astype(np.float32).copy()
    h, w = out.shape
    radius_max = max(1, int(np.sqrt(max_area / np.pi)))
    far_out = _grow(mask, 8 + radius_max) < 0.5
    far_in = _grow(mask, -(8 + radius_max)) > 0.5
    for count, where, value in ((specks, far_out, 1.0), (holes, far_in, 0.0)):
        ys, xs = np.nonzero(where)
        for _ in range(count if len(ys) else 0):
            k = int(rng.integers(0, len(ys)))
            out[_disc(h, w, ys[k], xs[k], int(rng.integers(1, radius_max + 1)))] = value
    return out


def soft_fraction(alpha):
    """The share of a cut-out's visible pixels whose alpha is partial."""
    visible = alpha > 0.02
    partial = visible & (alpha < 0.98)
    return float(partial.sum()) / max(1, int(visible.sum()))
