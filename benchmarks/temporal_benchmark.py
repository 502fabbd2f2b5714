#!/usr/bin/env python3
"""Temporal stability and frame-batch cost of the Advanced node.

  python3 -m benchmarks.temporal_benchmark [--frames 24] [--strengths 0.4,0.5,0.6,0.8]
                                            [--model isnet] [--videos shift,turn,...]
                                            [--rss 25,300] [--speed-frames 10]

1. Quality: the synthetic videos of tests/support/temporal_support.py
   (scenes(): the bear moving by a sub-pixel step, turning and growing, two
   bears moving apart, the see-through light bulb moving, the bear still
   under noise) at 512 x 384, with exact truth and exact motion; per-frame
   mattes against each strength: MC-dtSSD (flicker along the true motion),
   dtSSD, MAE, and the lag the smoothing adds.
2. Speed: frames/s at 1920 x 1080, per frame and temporal, and what the
   smoothing (motion estimate included) costs a frame.
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

from tests.support import edge_support as es
from tests.support import temporal_support as ts
from tests.support.machine import cpu_model

ROOT = es.ROOT
PHOTOS = os.path.join(ROOT, "tests", "data", "photos")
HEIGHT, WIDTH = 384, 512


def quality(context, frames_n, strengths, model, videos):
    print(f"\n### Quality: {frames_n} frames of {WIDTH} x {HEIGHT}, {model}\n")
    print("| video | temporal | MC-dtSSD | vs per frame | dtSSD | vs per frame | MAE | vs per frame | lag added |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, scene in ts.scenes(PHOTOS, HEIGHT, WIDTH, frames_n, videos).items():
        base = None
        for s in [0.0] + strengths:
            m = es.remove_background(context, scene.frames, temporal=s, model=model)[1]
            row = (ts.mc_dtssd(m, scene), ts.dtssd(m, scene.truth), ts.mae(m, scene.truth),
                   ts.lag_frames(m, scene.truth))
            base = base or row
            cells = " | ".join(f"{v:.{4 if k == 2 else 3}f} | {100 * (v / base[k] - 1):+.{1 if k == 2 else 0}f}%"
                               for k, v in enumerate(row[:3]))
            print(f"| {name} | {s:g} | {cells} | {row[3] - base[3]:+.2f} |", flush=True)


def speed(context, n):
    print(f"\n### Speed: {n} frames of 1920 x 1080 in one call\n")
    frames = ts.scenes(PHOTOS, 1080, 1920, n, ["shift"])["shift"].frames
    print("| temporal | frames/s | s a frame | smoothing s a frame |")
    print("| --- | --- | --- | --- |")
    es.remove_background(context, frames[:1])  # load the model outside the timing
    plain = None
    for s in (0.0, 0.6):
        start = time.perf_counter()
        es.remove_background(context, frames, temporal=s)
        per = (time.perf_counter() - start) / n
        plain = plain or per
        print(f"| {s:g} | {1.0 / per:.2f} | {per:.3f} | {per - plain:.3f} |", flush=True)


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
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--strengths", default="0.4,0.5,0.6,0.8")
    p.add_argument("--model", default="isnet", help="the model of the quality table (default isnet)")
    p.add_argument("--videos", default="", help="comma-separated videos of the quality table (default all)")
    p.add_argument("--speed-frames", type=int, default=10)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="the library's threads (default: every core)")
    p.add_argument("--rss", default="25,300", help="batch sizes for the memory table ('' skips it)")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: quality,speed,memory")
    p.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.rss_child:
        rss_child(a.library, a.models, a.rss_child)
        return 0
    skip = set(filter(None, a.skip.split(",")))
    print(f"CPU: {cpu_model()}; the library on {a.threads} threads")
    context = es.open_context(a.library, [a.models], num_threads=a.threads)
    if "quality" not in skip:
        quality(context, a.frames, [float(s) for s in a.strengths.split(",")], a.model,
                [v for v in a.videos.split(",") if v] or None)
    if "speed" not in skip:
        speed(context, a.speed_frames)
    if "memory" not in skip and a.rss:
        memory(a.library, a.models, [int(b) for b in a.rss.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
