"""Ground truth for matte quality: exact composites of RGBA cut-outs over
photos, and the metrics a matte is scored with. Shared by
python3 -m benchmarks.quality_benchmark and the regression test tests/model/test_quality.py.

A composite is made in float32 from an RGBA cut-out (its alpha is the ground
truth) placed over a background photo, then rounded to 8 bits as a photo
would be: the model sees an ordinary RGB image whose true alpha is known
exactly. Everything here is deterministic (placements come from the index).

Metrics of a predicted matte `a` against the truth `g` (H x W, 0..1):
  MAE, MSE          mean |a - g|, mean (a - g)^2
  SAD               sum |a - g| / 1000
  Grad              sum (|grad a| - |grad g|)^2 / 1000, Gaussian-derivative
                    gradients with sigma 1.4 (the alphamatting.com measure)
  IoU               IoU of (a >= 0.5) and (g >= 0.5)
  BF                boundary F-measure of the masks at 0.5: boundary pixels
                    count as matched within a disc of 0.8% of the diagonal
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def cover(photo, height, width):
    """The RGB photo (PIL image) resized to cover height x width and
    centre-cropped, as H x W x 3 float32 in 0..1."""
    scale = max(width / photo.width, height / photo.height)
    w, h = max(width, round(photo.width * scale)), max(height, round(photo.height * scale))
    img = photo.convert("RGB").resize((w, h), Image.LANCZOS)
    left, top = (w - width) // 2, (h - height) // 2
    img = img.crop((left, top, left + width, top + height))
    return np.asarray(img, dtype=np.float32) / 255.0


def compose(cutout, background, height, width, index):
    """(rgb, alpha): the RGBA cut-out (PIL image) over `background` (PIL
    image) on a height x width canvas. The cut-out's longer side is 55-80%
    of the canvas's shorter one, its place comes from `index`. rgb is
    H x W x 3 float32 rounded to 8-bit levels; alpha is the exact truth."""
    rng = np.random.default_rng(1000 + index)
    side = min(height, width) * rng.uniform(0.55, 0.8)
    scale = side / max(cutout.width, cutout.height)
    cw, ch = max(1, round(cutout.width * scale)), max(1, round(cutout.height * scale))
    rgba = np.asarray(cutout.convert("RGBA").resize((cw, ch), Image.LANCZOS), dtype=np.float32) / 255.0
    x = int(rng.integers(0, max(1, width - cw + 1)))
    y = int(rng.integers(0, max(1, height - ch + 1)))
    alpha = np.zeros((height, width), np.float32)
    fg = np.zeros((height, width, 3), np.float32)
    alpha[y:y + ch, x:x + cw] = rgba[..., 3]
    fg[y:y + ch, x:x + cw] = rgba[..., :3]
    bg = cover(background, height, width)
    rgb = fg * alpha[..., None] + bg * (1.0 - alpha[..., None])
    rgb = np.round(np.clip(rgb, 0.0, 1.0) * 255.0) / 255.0
    return rgb.astype(np.float32), alpha


def usable_cutout(img, min_side=160):
    """Whether an RGBA image is a cut-out worth scoring: big enough, with a
    real alpha channel, covering 10..90% of its box."""
    if min(img.size) < min_side or img.mode not in ("RGBA", "LA", "P"):
        return False
    alpha = np.asarray(img.convert("RGBA"), dtype=np.float32)[..., 3] / 255.0
    coverage = float((alpha >= 0.5).mean())
    return 0.1 <= coverage <= 0.9 and float((alpha < 0.02).mean()) > 0.05


def _gaussian_derivative_kernels(sigma=1.4):
    radius = int(math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-t * t / (2 * sigma * sigma))
    g = g / g.sum()
    dg = -t / (sigma * sigma) * g
    dg = dg / dg.abs().mul(t.abs()).sum()  # unit response to a unit ramp
    gx = (g[:, None] * dg[None, :]).float()
    return gx, gx.t().contiguous(), radius


def _gradient_magnitude(m):
    gx, gy, r = _gaussian_derivative_kernels()
    x = F.pad(m[None, None], (r, r, r, r), mode="replicate")
    dx = F.conv2d(x, gx[None, None])
    dy = F.conv2d(x, gy[None, None])
    return torch.sqrt(dx * dx + dy * dy)[0, 0]


def _boundary(mask):
    m = mask.float()[None, None]
    eroded = -F.max_pool2d(-m, 3, stride=1, padding=1)
    return (m - eroded)[0, 0] > 0


def _dilate_disc(mask, radius):
    r = max(1, int(radius))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    disc = ((t[:, None] ** 2 + t[None, :] ** 2) <= r * r).float()
    hit = F.conv2d(mask.float()[None, None], disc[None, None], padding=r)
    return hit[0, 0] > 0


def boundary_f(pred_mask, true_mask):
    """Boundary F-measure with a tolerance of 0.8% of the image diagonal."""
    h, w = true_mask.shape
    radius = round(0.008 * math.hypot(h, w))
    bp, bt = _boundary(pred_mask), _boundary(true_mask)
    if not bp.any() and not bt.any():
        return 1.0
    if not bp.any() or not bt.any():
        return 0.0
    precision = (bp & _dilate_disc(bt, radius)).sum().item() / bp.sum().item()
    recall = (bt & _dilate_disc(bp, radius)).sum().item() / bt.sum().item()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


METRICS = ("MAE", "MSE", "SAD", "Grad", "IoU", "BF")


def score(pred, truth):
    """The metrics of one matte (H x W arrays or tensors, 0..1) as a dict."""
    a = torch.as_tensor(np.asarray(pred), dtype=torch.float32)
    g = torch.as_tensor(np.asarray(truth), dtype=torch.float32)
    d = a - g
    pa, pg = a >= 0.5, g >= 0.5
    union = (pa | pg).sum().item()
    grad = (_gradient_magnitude(a) - _gradient_magnitude(g)) ** 2
    return {
        "MAE": d.abs().mean().item(),
        "MSE": (d * d).mean().item(),
        "SAD": d.abs().sum().item() / 1000.0,
        "Grad": grad.sum().item() / 1000.0,
        "IoU": (pa & pg).sum().item() / union if union else 1.0,
        "BF": boundary_f(pa, pg),
    }


def mean_scores(scores):
    """The mean of each metric over a list of score dicts."""
    return {k: float(np.mean([s[k] for s in scores])) for k in METRICS}
