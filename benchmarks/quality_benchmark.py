#!/usr/bin/python3
"""Matte quality against exact ground truth, per model and option.

The test set is made, once, from two Debian packages: the RGBA stamps of
tuxpaint-stamps-default (GPL-2+; real alpha channels: fur, glass, soft and
hard edges) composited over the photos of mate-backgrounds (nature and
abstract; GPL-2+). The packages are fetched with `apt-get download` into
the data folder and unpacked there with dpkg-deb; nothing is installed.
Composites are exact (tests/support/quality_support.py): the true alpha of every
pixel is known. Not part of the test suite; tests/model/test_quality.py
runs a small fixed subset made from the repository's own photos.

Usage:
  python3 -m benchmarks.quality_benchmark [--library build/libcutout.so] [--models models]
      [--model isnet ...] [--count 40] [--data build/quality-data]
      [--configs default,best,stretch,letterbox,...] [--precision auto]

Prints one table per model: the mean of each metric over the composites,
per option set, and how long a call took on average.
"""

import argparse
import glob
import os
import subprocess
import sys
import time

import torch
from PIL import Image

from tests.support import edge_support as es
from tests.support import quality_support as qs

PACKAGES = ("tuxpaint-stamps-default", "mate-backgrounds")
CANVASES = ((768, 1024), (1024, 768), (640, 1024), (1024, 576))  # height, width
CONFIGS = {
    "default": {},
    "best": {"quality": "best"},
    "stretch": {"fit": "stretch"},
    "stretch-best": {"fit": "stretch", "quality": "best"},
    "letterbox": {"fit": "letterbox"},
    "letterbox-best": {"fit": "letterbox", "quality": "best"},
    "balanced": {"fit": "balanced"},
}


def prepare(data_dir):
    """The unpacked packages under data_dir/root, fetched on first use."""
    root = os.path.join(data_dir, "root")
    marker = os.path.join(data_dir, ".unpacked")
    if os.path.exists(marker):
        return root
    debs = os.path.join(data_dir, "debs")
    os.makedirs(debs, exist_ok=True)
    print(f"quality_benchmark: fetching {' '.join(PACKAGES)} into {debs}", file=sys.stderr)
    subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
    for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
        subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    open(marker, "w").close()
    return root


def test_set(root, count):
    """count (rgb, alpha, label) composites, the same every run."""
    stamps = sorted(glob.glob(os.path.join(root, "usr/share/tuxpaint/stamps/**/*.png"), recursive=True))
    photos = sorted(glob.glob(os.path.join(root, "usr/share/backgrounds/mate/nature/*.jpg")) +
                    glob.glob(os.path.join(root, "usr/share/backgrounds/mate/abstract/*.jpg")))
    if not stamps or not photos:
        sys.exit(f"quality_benchmark: no stamps or photos under {root}")
    usable = []
    step = max(1, len(stamps) // (count * 3))
    for path in stamps[::step]:
        with Image.open(path) as img:
            img.load()
            if qs.usable_cutout(img):
                usable.append((path, img.copy()))
        if len(usable) == count:
            break
    backgrounds = [Image.open(p) for p in photos]
    items = []
    for i, (path, cutout) in enumerate(usable):
        h, w = CANVASES[i % len(CANVASES)]
        rgb, alpha = qs.compose(cutout, backgrounds[i % len(backgrounds)], h, w, i)
        items.append((rgb, alpha, os.path.basename(path)))
    return items


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", default=os.path.join(es.ROOT, "build", "libcutout.so"))
    parser.add_argument("--models", default=os.path.join(es.ROOT, "models"))
    parser.add_argument("--model", action="append", help="model name (repeatable; default isnet)")
    parser.add_argument("--count", type=int, default=40, help="composites (default 40)")
    parser.add_argument("--data", default=os.path.join(es.ROOT, "build", "quality-data"))
    parser.add_argument("--configs", default="default,best,stretch,letterbox,stretch-best,letterbox-best",
                        help=f"comma-separated, from {', '.join(CONFIGS)}")
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()

    items = test_set(prepare(args.data), args.count)
    context = es.open_context(args.library, [args.models])
    print(f"{len(items)} composites; precision {args.precision}; torch threads {torch.get_num_threads()}")
    for model in args.model or ["isnet"]:
        print(f"\n### {model}\n")
        print("| options | " + " | ".join(qs.METRICS) + " | s per image |")
        print("| --- |" + " --- |" * (len(qs.METRICS) + 1))
        for name in args.configs.split(","):
            options = dict(CONFIGS[name], model=model, precision=args.precision)
            scores, seconds = [], 0.0
            for rgb, alpha, _ in items:
                image = torch.from_numpy(rgb)[None].contiguous()
                start = time.perf_counter()
                mask = es.remove_background(context, image, **options)[1][0]
                seconds += time.perf_counter() - start
                scores.append(qs.score(mask, alpha))
            m = qs.mean_scores(scores)
            print(f"| {name} | {m['MAE']:.4f} | {m['MSE']:.4f} | {m['SAD']:.2f} | {m['Grad']:.2f} | "
                  f"{m['IoU']:.4f} | {m['BF']:.4f} | {seconds / len(items):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
