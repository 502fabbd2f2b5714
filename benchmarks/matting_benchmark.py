"""Masks in, mattes out: the mask modes (hint, trimap), edge_refinement
matting and despeckle of CutoutRemoveBackgroundAdvanced against exact soft
ground truth, and what the matting solver costs. Prints four tables.

Ground truth: the tuxpaint-stamps-default stamps whose alpha is largely
partial (smoke, fur, feathers, wings, foliage: at least --soft of their
visible pixels), composited exactly over mate-backgrounds photos (the data
of benchmarks/quality_benchmark.py, fetched with apt-get download on first
use; tests/support/quality_support.py makes and scores the composites).
Guide masks come from the truth (tests/support/matting_support.py):
  coarse      the truth at 0.5, its edge moved 2..8 px, holes punched in
  model mask  the model's own matte at 0.5
  trimap      unknown within 10 px of the true edge and of partial pixels
Each guide is scored as a matte too, so "hint" can be read against the mask
it started from.

Usage: python3 -m benchmarks.matting_benchmark [--library build/libcutout.so]
       [--models models] [--model isnet] [--count 16] [--data build/quality-data]
       [--soft 0.15] [--tables modes,refinement,despeckle,cost]
"""

import argparse
import glob
import os
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image

from benchmarks.quality_benchmark import CANVASES, prepare
from tests.support import edge_support as es
from tests.support import matting_support as ms
from tests.support import quality_support as qs


def soft_set(root, count, soft):
    """count (rgb, alpha, name) composites of soft-alpha stamps, the same every run."""
    stamps = sorted(glob.glob(os.path.join(root, "usr/share/tuxpaint/stamps/**/*.png"), recursive=True))
    photos = sorted(glob.glob(os.path.join(root, "usr/share/backgrounds/mate/nature/*.jpg")) +
                    glob.glob(os.path.join(root, "usr/share/backgrounds/mate/abstract/*.jpg")))
    picked = []
    for path in stamps:
        with Image.open(path) as img:
            img.load()
            if not qs.usable_cutout(img):
                continue
            alpha = np.asarray(img.convert("RGBA"), dtype=np.float32)[..., 3] / 255.0
            if ms.soft_fraction(alpha) >= soft:
                picked.append((path, img.copy()))
    # Spread over the whole list (its order is by theme), the same every run.
    step = max(1, len(picked) // count)
    picked = picked[::step][:count]
    backgrounds = [Image.open(p) for p in photos]
    items = []
    for i, (path, cutout) in enumerate(picked):
        h, w = CANVASES[i % len(CANVASES)]
        rgb, alpha = qs.compose(cutout, backgrounds[(3 * i) % len(backgrounds)], h, w, i)
        items.append((rgb, alpha, os.path.basename(path)))
    return items


def run(context, rgb, mask=None, **options):
    """(matte, seconds) of one node call."""
    image = es.batch(rgb)
    guide = None if mask is None else torch.from_numpy(np.ascontiguousarray(mask))[None]
    start = time.perf_counter()
    out = es.remove_background(context, image, mask=guide, **options)[1][0].numpy()
    return out, time.perf_counter() - start


def row(name, scores, seconds):
    m = qs.mean_scores(scores)
    print(f"| {name} | {m['MAE']:.4f} | {m['Grad']:.2f} | {m['IoU']:.4f} | {seconds:.2f} |", flush=True)
    return m


def table(title):
    print(f"\n### {title}\n")
    print("| matte | MAE | Grad | IoU | s per image |")
    print("| --- | --- | --- | --- | --- |")


def modes_table(context, items, model):
    """The model alone, each guide as it is, and hint / trimap from it."""
    rows = {k: ([], 0.0) for k in ("model", "coarse", "hint coarse", "model mask",
                                   "hint model mask", "true trimap", "trimap")}

    def add(key, pred, alpha, seconds=0.0):
        scores, total = rows[key]
        scores.append(qs.score(pred, alpha))
        rows[key] = (scores, total + seconds)

    for i, (rgb, alpha, _) in enumerate(items):
        rng = np.random.default_rng(500 + i)
        base, t = run(context, rgb, model=model)
        add("model", base, alpha, t)
        coarse = ms.coarse_mask(alpha, rng)
        add("coarse", coarse, alpha)
        pred, t = run(context, rgb, coarse, model=model, mask_mode="hint")
        add("hint coarse", pred, alpha, t)
        own = (base >= 0.5).astype(np.float32)
        add("model mask", own, alpha)
        pred, t = run(context, rgb, own, model=model, mask_mode="hint")
        add("hint model mask", pred, alpha, t)
        tri = ms.true_trimap(alpha)
        add("true trimap", np.where(tri == 0.5, base, tri), alpha)
        pred, t = run(context, rgb, tri, model=model, mask_mode="trimap")
        add("trimap", pred, alpha, t)
    table(f"mask modes ({model}, {len(items)} soft composites)")
    labels = {"model": "model alone", "coarse": "coarse mask (as a matte)",
              "hint coarse": "hint from the coarse mask", "model mask": "model's matte at 0.5",
              "hint model mask": "hint from the model's matte at 0.5",
              "true trimap": "true trimap, model inside the unknown",
              "trimap": "trimap (true, 10 px band)"}
    means = {k: row(labels[k], s, t / len(items)) for k, (s, t) in rows.items()}
    print(f"\nhint vs coarse: MAE {100 * (1 - means['hint coarse']['MAE'] / means['coarse']['MAE']):.0f}% lower; "
          f"hint vs model mask: {100 * (1 - means['hint model mask']['MAE'] / means['model mask']['MAE']):.0f}% lower; "
          f"trimap vs model: {100 * (1 - means['trimap']['MAE'] / means['model']['MAE']):.0f}% lower")


def refinement_table(context, items, model):
    table(f"edge_refinement ({model})")
    means = {}
    for refine in ("none", "guided", "matting"):
        scores, total = [], 0.0
        for rgb, alpha, _ in items:
            pred, t = run(context, rgb, model=model, edge_refinement=refine)
            scores.append(qs.score(pred, alpha))
            total += t
        means[refine] = row(refine, scores, total / len(items))
    return means


def despeckle_table(context, items, area):
    """Specks and holes of at most 40 px added to the clean 0/1 truth, given
    as a trimap with no unknown pixel (so the matte is the mask itself), with
    and without despeckle. The truths have islands and holes of their own
    below the area (a leaf, a gap between fingers), which despeckle removes
    as it should: so the despeckled mask is also scored against the clean
    mask despeckled alike, and the clean mask's own loss is its own row."""
    print(f"\n### despeckle = {area} (specks and holes of at most 40 px on the true mask at 0.5)\n")
    print("| mask | IoU against the clean mask | IoU against the clean mask despeckled |")
    print("| --- | --- | --- |")
    before, after, own, fair = [], [], [], []
    for i, (rgb, alpha, _) in enumerate(items):
        clean = (alpha >= 0.5).astype(np.float32)
        noisy = ms.speckled(clean, np.random.default_rng(900 + i))
        before.append(qs.score(noisy, clean)["IoU"])
        out, _ = run(context, rgb, noisy, mask_mode="trimap", despeckle=area, model="u2netp")
        clean_out, _ = run(context, rgb, clean, mask_mode="trimap", despeckle=area, model="u2netp")
        after.append(qs.score(out, clean)["IoU"])
        own.append(qs.score(clean_out, clean)["IoU"])
        fair.append(qs.score(out, clean_out)["IoU"])
    print(f"| speckled | {np.mean(before):.4f} | |")
    print(f"| clean, despeckled (its own small parts gone) | {np.mean(own):.4f} | 1 |")
    print(f"| speckled, despeckled | {np.mean(after):.4f} | {np.mean(fair):.4f} (worst {np.min(fair):.4f}) |")


def cost_one(args):
    """One solver timing in this process: prints 'seconds peak_mib'."""
    side, band = args.cost_one
    item = soft_set(prepare(args.data), 1, args.soft)[0]
    cutout_rgb, cutout_alpha = item[0], item[1]
    rgb = np.asarray(Image.fromarray((cutout_rgb * 255).astype(np.uint8)).resize((side, side)),
                     dtype=np.float32) / 255.0
    alpha = np.asarray(Image.fromarray((cutout_alpha * 255).astype(np.uint8)).resize((side, side)),
                       dtype=np.float32) / 255.0
    tri = ms.true_trimap(alpha, band)
    context = es.open_context(args.library, [args.models])
    known = (tri >= 0.5).astype(np.float32)
    # The warm-up and the baseline have no unknown pixel: the peak they
    # reach is the call's without the solver, so the growth after is its own.
    run(context, rgb, known, model="u2netp", mask_mode="trimap")
    _, plain = run(context, rgb, known, model="u2netp", mask_mode="trimap")
    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _, solved = run(context, rgb, tri, model="u2netp", mask_mode="trimap")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    unknown = float((tri == 0.5).mean())
    print(f"{solved - plain:.3f} {max(0, peak_kib - base_kib) / 1024:.0f} {unknown:.3f}")


def cost_table(args):
    print("\n### matting solver cost (trimap mode; seconds beyond the same call with no unknown pixel)\n")
    print("| image | unknown band | unknown share | solver s | peak RSS growth MiB |")
    print("| --- | --- | --- | --- | --- |")
    for side in (1024, 2048):
        for band in (5, 10, 20, 40):
            out = subprocess.run([sys.executable, "-m", "benchmarks.matting_benchmark", "--cost-one",
                                  str(side), str(band), "--library", args.library, "--models",
                                  args.models, "--data", args.data, "--soft", str(args.soft)],
                                 capture_output=True, text=True, check=True, cwd=es.ROOT)
            seconds, mib, share = out.stdout.split()[-3:]
            print(f"| {side} x {side} | {band} px | {float(share):.2f} | {float(seconds):.2f} | {mib} |",
                  flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", default=os.path.join(es.ROOT, "build", "libcutout.so"))
    parser.add_argument("--models", default=os.path.join(es.ROOT, "models"))
    parser.add_argument("--model", default="isnet")
    parser.add_argument("--count", type=int, default=16, help="composites (default 16)")
    parser.add_argument("--data", default=os.path.join(es.ROOT, "build", "quality-data"))
    parser.add_argument("--soft", type=float, default=0.15,
                        help="least share of partial alpha in a stamp (default 0.15)")
    parser.add_argument("--despeckle", type=int, default=64)
    parser.add_argument("--tables", default="modes,refinement,despeckle,cost",
                        help="the tables to print, comma-separated (default all four)")
    parser.add_argument("--cost-one", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cost_one:
        cost_one(args)
        return 0

    tables = set(args.tables.split(","))
    unknown = tables - {"modes", "refinement", "despeckle", "cost"}
    if unknown:
        parser.error(f"--tables: unknown {', '.join(sorted(unknown))}")
    if tables - {"cost"}:
        items = soft_set(prepare(args.data), args.count, args.soft)
        context = es.open_context(args.library, [args.models])
        print(f"{len(items)} soft composites ({', '.join(name for _, _, name in items)}); "
              f"torch threads {torch.get_num_threads()}")
        if "modes" in tables:
            modes_table(context, items, args.model)
        if "refinement" in tables:
            refinement_table(context, items, args.model)
        if "despeckle" in tables:
            despeckle_table(context, items, args.despeckle)
    if "cost" in tables:
        cost_table(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
