"""Synthetic video with exact ground truth and exact motion, and the
metrics temporal stability is scored with. Shared by
python3 -m benchmarks.temporal_benchmark and the regression test
tests/model/test_temporal.py.

A Scene is RGBA cut-outs (their alpha is the truth) over a background
photo, each moving by its own affine motion a frame (a sub-pixel step, a
turn, a growth), the frames rounded to 8 bits as a video's would be, and
optionally each frame with its own camera-like noise (Gaussian, sigma in
0..1 units, per pixel and channel). scenes() is the set measured.

Metrics of predicted mattes a_t against the truth g_t (T x H x W, 0..1):
  dtSSD     mean over t >= 1 of 100 sqrt(mean(((a_t - a_t-1) - (g_t - g_t-1))^2))
            (as the RVM paper computes it)
  MC-dtSSD  the same after moving frame t-1 to frame t by the true motion
            (W below), for the mattes and the truth alike, an 8 px border
            left out: a shape error that moves with the subject cancels,
            and what is left is flicker
  MAE       mean over frames of mean |a_t - g_t|
  lag       how many frames the mattes trail the truth (see lag_frames);
            compared between per-frame and temporal mattes, it is what the
            smoothing adds
"""

import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import quality_support as qs


class Subject:
    """An RGBA cut-out in a scene: `width` pixels wide, centred at `centre`
    (x, y) in frame 0, moving per frame by `step` (dx, dy) pixels, turning
    by `turn` degrees and growing by the factor `grow` about its centre."""

    def __init__(self, cutout, width, centre, step=(0.0, 0.0), turn=0.0, grow=1.0, mirror=False):
        self.cutout, self.width, self.centre = cutout, width, centre
        self.step, self.turn, self.grow, self.mirror = step, turn, grow, mirror

    def to_frame(self, t):
        """3 x 3 matrix taking frame-0 pixel positions to frame t's."""
        cx, cy = self.centre
        a = math.radians(self.turn * t)
        s = self.grow ** t
        rs = np.array([[s * math.cos(a), -s * math.sin(a)], [s * math.sin(a), s * math.cos(a)]])
        m = np.eye(3)
        m[:2, :2] = rs
        m[:2, 2] = np.array([cx + self.step[0] * t, cy + self.step[1] * t]) - rs @ np.array([cx, cy])
        return m

    def layer(self, height, width):
        """(premultiplied colour 3 x H x W, alpha 1 x H x W) in frame 0."""
        img = self.cutout.convert("RGBA")
        if self.mirror:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        cw = max(1, round(self.width))
        ch = max(1, round(img.height * cw / img.width))
        rgba = np.asarray(img.resize((cw, ch), Image.LANCZOS), np.float32) / 255.0
        x, y = round(self.centre[0] - cw / 2), round(self.centre[1] - ch / 2)
        alpha = np.zeros((height, width), np.float32)
        fg = np.zeros((height, width, 3), np.float32)
        alpha[y:y + ch, x:x + cw] = rgba[..., 3]
        fg[y:y + ch, x:x + cw] = rgba[..., :3] * rgba[..., 3:4]
        return torch.from_numpy(fg).permute(2, 0, 1), torch.from_numpy(alpha)[None]


def _sampled(t, matrix):
    """C x H x W sampled at matrix @ (x, y, 1) for every pixel (x, y):
    bilinear, zeros outside."""
    _, h, w = t.shape
    return _sampled_at(t, _positions(h, w, matrix))


def _positions(h, w, matrix):
    """H x W x 2 pixel positions matrix @ (x, y, 1)."""
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                            indexing="ij")
    m = torch.from_numpy(matrix)
    px = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    py = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    return torch.stack([px, py], -1)


def _sampled_at(t, positions):
    """C x H x W sampled (bilinear, zeros outside) at H x W x 2 pixel positions."""
    _, h, w = t.shape
    grid = torch.stack([(positions[..., 0] + 0.5) * (2.0 / w) - 1.0,
                        (positions[..., 1] + 0.5) * (2.0 / h) - 1.0], -1).float()
    return F.grid_sample(t[None], grid[None], mode="bilinear", padding_mode="zeros",
                         align_corners=False)[0]


class Scene:
    """A synthetic video with exact truth and exact motion.

    frames  T x H x W x 3 float32, rounded to 8-bit levels
    truth   T x H x W, the exact alpha
    warp(x, t)  the plane x (H x W) of frame t - 1 moved to frame t by the
            true motion (bilinear): each pixel follows the subject nearest
            to it in frame t; with no subject, nothing moves."""

    def __init__(self, subjects, background, height, width, frames, noise=0.0, seed=7):
        self.subjects, self.height, self.width = subjects, height, width
        bg = torch.from_numpy(qs.cover(background, height, width))
        layers = [s.layer(height, width) for s in subjects]
        generator = torch.Generator().manual_seed(seed)
        images, truth = [], []
        for t in range(frames):
            rgb, alpha = bg.clone(), torch.zeros(height, width)
            for s, (fg, a) in zip(subjects, layers):
                back = np.linalg.inv(s.to_frame(t))
                f, at = _sampled(fg, back).permute(1, 2, 0), _sampled(a, back)[0]
                rgb = f + rgb * (1.0 - at[..., None])
                alpha = at + alpha * (1.0 - at)
            if noise > 0.0:
                rgb = rgb + torch.randn(rgb.shape, generator=generator) * noise
            images.append(torch.round(rgb.clamp(0.0, 1.0) * 255.0) / 255.0)
            truth.append(alpha)
        self.frames, self.truth = torch.stack(images).contiguous(), torch.stack(truth)

    def warp(self, x, t):
        if not self.subjects:
            return x
        h, w = self.height, self.width
        here = _positions(h, w, np.eye(3))
        best, positions = None, here.clone()
        for s in self.subjects:
            centre = s.to_frame(t) @ np.array([s.centre[0], s.centre[1], 1.0])
            d = (here[..., 0] - centre[0]) ** 2 + (here[..., 1] - centre[1]) ** 2
            source = _positions(h, w, s.to_frame(t - 1) @ np.linalg.inv(s.to_frame(t)))
            nearer = d < best if best is not None else torch.ones_like(d, dtype=torch.bool)
            positions = torch.where(nearer[..., None], source, positions)
            best = d if best is None else torch.minimum(best, d)
        return _sampled_at(x[None].float(), positions)[0]


def wooden_table(photos):
    """The wooden table at the coffee photo's right edge, turned to
    landscape: a background with texture and no subject of its own."""
    with Image.open(os.path.join(photos, "product_coffee.png")) as img:
        return img.crop((490, 0, 600, 300)).transpose(Image.ROTATE_90)


def scenes(photos, height, width, frames, names=None):
    """The synthetic videos the temporal smoothing is measured on, each a
    Scene over the wooden table of the coffee photo (a background with no
    subject of its own), motions given at 512 x 384 and scaled to the size:
      shift   the bear moving 2.37 px right and 1.21 px down a frame
      turn    the bear turning 1 degree and growing 1% a frame, drifting
      two     two bears moving apart from each other in different directions
      bulb    the light bulb (see-through glass) moving 1.7 px right, 0.6 down
      noisy   the bear standing still, each frame with its own noise (sigma 0.02)
    photos is the folder with the repository's photos; names picks some
    (default all)."""
    def photo(name):
        with Image.open(os.path.join(photos, name)) as img:
            return img.convert("RGBA")
    bear, bulb = photo("rgba_bear_tuxpaint.png"), photo("rgba_lightbulb_tuxpaint.png")
    table = wooden_table(photos)
    k, cx, cy = width / 512.0, width / 512.0, height / 384.0

    def at(x, y):
        return (x * cx, y * cy)

    def step(dx, dy):
        return (dx * k, dy * k)

    made = {
        "shift": lambda: ([Subject(bear, 200 * k, at(170, 170), step(2.37, 1.21))], 0.0),
        "turn": lambda: ([Subject(bear, 200 * k, at(250, 190), step(0.5, 0.3), turn=1.0, grow=1.01)], 0.0),
        "two": lambda: ([Subject(bear, 150 * k, at(120, 200), step(-0.8, -0.6)),
                         Subject(bear, 120 * k, at(390, 180), step(1.1, 0.8), mirror=True)], 0.0),
        "bulb": lambda: ([Subject(bulb, 150 * k, at(200, 190), step(1.7, 0.6))], 0.0),
        "noisy": lambda: ([Subject(bear, 200 * k, at(250, 190))], 0.02),
    }
    out = {}
    for name in names or made:
        subjects, noise = made[name]()
        out[name] = Scene(subjects, table, height, width, frames, noise=noise)
    return out


def mc_dtssd(mattes, scene, border=8):
    """Motion-compensated dtSSD: dtSSD after moving frame t - 1 to frame t
    by the scene's true motion, for the mattes and the truth alike, with
    `border` pixels left out on every side."""
    truth, values = scene.truth, []
    inner = (slice(border, truth.shape[1] - border), slice(border, truth.shape[2] - border))
    for t in range(1, truth.shape[0]):
        d = (mattes[t] - scene.warp(mattes[t - 1], t)) - (truth[t] - scene.warp(truth[t - 1], t))
        values.append(100.0 * float(d[inner].pow(2).mean().sqrt()))
    return float(np.mean(values))


def dtssd(mattes, truth):
    d = (mattes[1:] - mattes[:-1]) - (truth[1:] - truth[:-1])
    return float((100.0 * d.pow(2).flatten(1).mean(1).sqrt()).mean())


def mae(mattes, truth):
    return float((mattes - truth).abs().flatten(1).mean(1).mean())


def lag_frames(mattes, truth):
    """How many frames the mattes trail the truth, for any motion: the k
    that best explains a_t - g_t as k (g_t-1 - g_t), over all frames t >= 1
    (0: on time, 1: a whole frame behind)."""
    behind = (truth[:-1] - truth[1:]).flatten()
    return float(((mattes[1:] - truth[1:]).flatten() * behind).sum() / behind.pow(2).sum().clamp_min(1e-12))
