#!/usr/bin/env python3
"""Temporal stability and frame-batch cost of the Advanced node.

  python3 -m benchmarks.temporal_benchmark [--frames 48] [--strengths 0.4,0.6,0.8]
                                            [--rss 25,300] [--speed-frames 10]

1. Quality: synthetic videos with exact truth (tests/support/temporal_support.py),
   the repository's two cut-outs over two of its photos, moving by 0.6 px a
   frame and standing still under noise; per-frame mattes against each
   strength: dtSSD, MAE, and the lag the smoothing adds on the moving ones.
   "no flicker" rows: the per-frame mattes of a moving video made perfectly
   consistent along the known motion (temporal_support.consistent): what
   taking all the flicker out, and changing nothing else, would score.
2. Speed: frames/s at 1920 x 1080, per frame and temporal.
3. Memory: peak RSS of one call of B frames at 1920 x 1080 (uint8 frames),
   each B in a fresh process, with the inputs' and outputs' own bytes, so
   that what the call needs on top of them shows.
Prints markdown tables, and the machine's CPU.
"""

import argparse
import os
import subprocess
import sys
import time

import torch
from PIL import Image

from tests.support import edge_support as es
from tests.support import temporal_support as ts
from tests.support.machine import cpu_model

ROOT = es.ROOT
PHOTOS = os.path.join(ROOT, "tests", "data", "photos")
PAIRS = (("rgba_bear_tuxpaint.png", "product_coffee.png"),
         ("rgba_lightbulb_tuxpaint.png", "transparent_water_drop_aqua.jpg"))
STEP = (0.6, 0.25)


def quality(context, frames_n, strengths):
    print(f"\n### Quality: {frames_n} frames of 640 x 480, {len(PAIRS)} cut-outs\n")
    print("| video | temporal | dtSSD | MAE | lag added (frames) |")
    print("| --- | --- | --- | --- | --- |")
    totals = {}
    for cut_name, bg_name in PAIRS:
        with Image.open(os.path.join(PHOTOS, cut_name)) as cut, Image.open(os.path.join(PHOTOS, bg_name)) as bg:
            videos = {"moving": ts.moving(cut, bg, 480, 640, frames_n, STEP),
                      "noisy": ts.noisy(cut, bg, 480, 640, frames_n)}
        for kind, (frames, truth) in videos.items():
            base = None
            for s in [0.0] + strengths:
                m = es.remove_background(context, frames, temporal=s)[1]
                rows = [(s, m)]
                if s == 0.0 and kind == "moving":
                    # The same mattes with all their flicker taken out: how
                    # much of the dtSSD is flicker at all.
                    rows.append(("no flicker", ts.consistent(m, STEP)))
                for label, mattes in rows:
                    sc = ts.scores(mattes, truth)
                    lag = ts.lag_frames(mattes, truth, STEP[0]) if kind == "moving" else 0.0
                    if base is None:
                        base = (sc, lag)
                    added = lag - base[1]
                    t = totals.setdefault((kind, label), [0.0, 0.0, 0.0, 0])
                    t[0] += sc["dtSSD"]
                    t[1] += sc["MAE"]
                    t[2] += added
                    t[3] += 1
                    shown = label if isinstance(label, str) else f"{label:g}"
                    print(f"| {kind} {cut_name.split('_')[1]} | {shown} | {sc['dtSSD']:.3f} | {sc['MAE']:.4f} | "
                          f"{'' if kind != 'moving' else f'{added:+.2f}'} |", flush=True)
    print("\n| video | temporal | mean dtSSD | vs per frame | mean MAE | vs per frame | lag added |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind in ("moving", "noisy"):
        b = totals[(kind, 0.0)]
        for s in [0.0] + strengths + (["no flicker"] if kind == "moving" else []):
            t = totals[(kind, s)]
            print(f"| {kind} | {s if isinstance(s, str) else f'{s:g}'} | {t[0] / t[3]:.3f} | {100 * (t[0] / b[0] - 1):+.0f}% | "
                  f"{t[1] / t[3]:.4f} | {100 * (t[1] / b[1] - 1):+.1f}% | "
                  f"{'' if kind != 'moving' else f'{t[2] / t[3]:+.2f}'} |")


def speed(context, n):
    print(f"\n### Speed: {n} frames of 1920 x 1080 in one call\n")
    with Image.open(os.path.join(PHOTOS, PAIRS[0][0])) as cut, Image.open(os.path.join(PHOTOS, PAIRS[0][1])) as bg:
        frames, _ = ts.moving(cut, bg, 1080, 1920, n, STEP)
    print("| temporal | frames/s |")
    print("| --- | --- |")
    es.remove_background(context, frames[:1])  # load the model outside the timing
    for s in (0.0, 0.6):
        start = time.perf_counter()
        es.remove_background(context, frames, temporal=s)
        print(f"| {s:g} | {n / (time.perf_counter() - start):.2f} |", flush=True)


def rss_child(library, models, batch):
    """Runs one call of `batch` uint8 frames and prints its peak RSS (MiB)."""
    context = es.open_context(library, [models])
    frames = torch.full((batch, 1080, 1920, 3), 128, dtype=torch.uint8)
    frames[:, 300:800, 600:1300] = 230
    es.remove_background(context, frames[:1], temporal=0.6)
    out = es.remove_background(context, frames, temporal=0.6)
    with open("/proc/self/status") as f:
        peak = [l for l in f if l.startswith("VmHWM")][0].split()[1]
    print(int(peak) // 1024, sum(t.numel() * t.element_size() for t in out) >> 20)


def memory(library, models, batches):
    print("\n### Memory: one call of B uint8 frames of 1920 x 1080, temporal 0.6\n")
    print("| B | inputs MiB | outputs MiB | peak RSS MiB | peak - inputs - outputs MiB |")
    print("| --- | --- | --- | --- | --- |")
    for b in batches:
        r = subprocess.run([sys.executable, __file__, "--rss-child", str(b), "--library", library,
                            "--models", models], capture_output=True, text=True, check=True)
        peak, outputs = (int(v) for v in r.stdout.split()[-2:])
        inputs = (b * 1080 * 1920 * 3) >> 20
        print(f"| {b} | {inputs} | {outputs} | {peak} | {peak - inputs - outputs} |", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--library", default=os.path.join(ROOT, "build", "libcutout.so"))
    p.add_argument("--models", default=os.path.join(ROOT, "models"))
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--strengths", default="0.4,0.6,0.8")
    p.add_argument("--speed-frames", type=int, default=10)
    p.add_argument("--rss", default="25,300", help="batch sizes for the memory table ('' skips it)")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: quality,speed,memory")
    p.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.rss_child:
        rss_child(a.library, a.models, a.rss_child)
        return 0
    skip = set(filter(None, a.skip.split(",")))
    print(f"CPU: {cpu_model()}; torch threads {torch.get_num_threads()}")
    context = es.open_context(a.library, [a.models])
    if "quality" not in skip:
        quality(context, a.frames, [float(s) for s in a.strengths.split(",")])
    if "speed" not in skip:
        speed(context, a.speed_frames)
    if "memory" not in skip and a.rss:
        memory(a.library, a.models, [int(b) for b in a.rss.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
