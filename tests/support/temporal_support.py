"""Synthetic video with exact ground truth, and the metrics temporal
stability is scored with. Shared by python3 -m benchmarks.temporal_benchmark and the
regression test tests/model/test_temporal.py.

Two sequences from an RGBA cut-out (its alpha is the truth) over a
background photo, each frame rounded to 8 bits as a video frame would be:
  moving  the cut-out moves by a known sub-pixel step per frame (bilinear
          resampling of its premultiplied colour and alpha);
  noisy   the cut-out stands still and every frame gets its own camera-like
          noise (Gaussian, sigma in 0..1 units, per pixel and channel).

Metrics of predicted mattes a_t against the truth g_t (T x H x W, 0..1):
  dtSSD   mean over t >= 1 of 100 sqrt(mean(((a_t - a_t-1) - (g_t - g_t-1))^2))
          (as the RVM paper computes it)
  MAE     mean over frames of mean |a_t - g_t|
  lag     for the moving sequence: how many frames the matte's centroid is
          behind the truth's, mean over frames; compared between per-frame
          and temporal mattes, it is what the smoothing adds
  consistent  for the moving sequence: the per-frame mattes moved back by
          the known motion, averaged, and moved forward again. It has no
          flicker at all, only the model's mean error carried along by the
          motion, so its dtSSD shows how much of the per-frame dtSSD is
          flicker at all.
"""

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import quality_support as qs


def _layer(cutout, background, height, width):
    """(premultiplied fg 3 x H x W, alpha 1 x H x W, background H x W x 3):
    the cut-out at 60% of the shorter side, its left edge at 15% of the width."""
    side = min(height, width) * 0.6
    scale = side / max(cutout.width, cutout.height)
    cw, ch = max(1, round(cutout.width * scale)), max(1, round(cutout.height * scale))
    rgba = np.asarray(cutout.convert("RGBA").resize((cw, ch), Image.LANCZOS), np.float32) / 255.0
    x, y = int(width * 0.15), (height - ch) // 2
    alpha = np.zeros((height, width), np.float32)
    fg = np.zeros((height, width, 3), np.float32)
    alpha[y:y + ch, x:x + cw] = rgba[..., 3]
    fg[y:y + ch, x:x + cw] = rgba[..., :3] * rgba[..., 3:4]
    bg = qs.cover(background, height, width)
    return (torch.from_numpy(fg).permute(2, 0, 1), torch.from_numpy(alpha)[None],
            torch.from_numpy(bg))


def _shifted(t, dx, dy):
    """C x H x W shifted right by dx and down by dy pixels (bilinear, zeros outside)."""
    _, h, w = t.shape
    theta = torch.tensor([[[1.0, 0.0, -2.0 * dx / w], [0.0, 1.0, -2.0 * dy / h]]])
    grid = F.affine_grid(theta, (1, 1, h, w), align_corners=False)
    return F.grid_sample(t[None], grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)[0]


def _frame(fg, alpha, bg):
    rgb = fg.permute(1, 2, 0) + bg * (1.0 - alpha[0, ..., None])
    return torch.round(rgb.clamp(0.0, 1.0) * 255.0) / 255.0


def moving(cutout, background, height, width, frames, step=(0.6, 0.25)):
    """(frames T x H x W x 3 float32, truth T x H x W): the cut-out moving by
    `step` = (dx, dy) pixels per frame."""
    fg, alpha, bg = _layer(cutout, background, height, width)
    images, truth = [], []
    for t in range(frames):
        f, a = _shifted(fg, step[0] * t, step[1] * t), _shifted(alpha, step[0] * t, step[1] * t)
        images.append(_frame(f, a, bg))
        truth.append(a[0])
    return torch.stack(images).contiguous(), torch.stack(truth)


def noisy(cutout, background, height, width, frames, sigma=0.02, seed=7):
    """(frames, truth): the cut-out standing still, each frame with its own noise."""
    fg, alpha, bg = _layer(cutout, background, height, width)
    clean = fg.permute(1, 2, 0) + bg * (1.0 - alpha[0, ..., None])
    generator = torch.Generator().manual_seed(seed)
    images = []
    for _ in range(frames):
        noise = torch.randn(clean.shape, generator=generator) * sigma
        images.append(torch.round((clean + noise).clamp(0.0, 1.0) * 255.0) / 255.0)
    return torch.stack(images).contiguous(), alpha[0].expand(frames, height, width).clone()


def consistent(mattes, step):
    """T x H x W: the per-frame mattes of a sequence moving by `step` =
    (dx, dy) per frame, without their flicker (see the module's text)."""
    frames = mattes.shape[0]
    back = torch.stack([_shifted(mattes[t][None], -step[0] * t, -step[1] * t)[0] for t in range(frames)])
    mean = back.mean(0, keepdim=True)
    return torch.stack([_shifted(mean, step[0] * t, step[1] * t)[0] for t in range(frames)])


def dtssd(mattes, truth):
    d = (mattes[1:] - mattes[:-1]) - (truth[1:] - truth[:-1])
    return float((100.0 * d.pow(2).flatten(1).mean(1).sqrt()).mean())


def mae(mattes, truth):
    return float((mattes - truth).abs().flatten(1).mean(1).mean())


def centroid_x(mattes):
    w = mattes.shape[-1]
    xs = torch.arange(w, dtype=torch.float32)
    mass = mattes.sum(dim=(1, 2)).clamp_min(1e-6)
    return (mattes.sum(dim=1) * xs).sum(dim=1) / mass


def lag_frames(mattes, truth, step_x):
    """Mean frames the matte's centroid trails the truth's (positive: behind)."""
    return float(((centroid_x(truth) - centroid_x(mattes)) / step_x).mean())


def scores(mattes, truth):
    return {"dtSSD": dtssd(mattes, truth), "MAE": mae(mattes, truth)}
