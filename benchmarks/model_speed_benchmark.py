"""Seconds per image of each model through the library, at the model's own
input size and at a process resolution of 1024, in fp32 and bf16. Prints a
Markdown table.

Each call is the Advanced node on one photo (tests/data/photos, 768 x 512
by default) in the model's own fit; every configuration is loaded and run
once before timing, then the configurations take turns, round after round,
so drift on a shared CPU spreads over all of them; the table gives the
median. bf16 is left out where the CPU has no native bf16 (the library
refuses it there).

Usage: python3 -m benchmarks.model_speed_benchmark [--library build/libcutout.so]
       [--models models] [--model isnet --model u2netp] [--rounds 7]
       [--photo tests/data/photos/portrait_hair_kodim04.png]
"""

import argparse
import json
import os
import statistics
import sys
import time

import torch

from tests.support import edge_support as es


def native_size(models_dir, model):
    files = {"cutout_meta.json": ""}
    torch.jit.load(os.path.join(models_dir, f"{model}.pt"), map_location="cpu", _extra_files=files)
    return json.loads(files["cutout_meta.json"])["input_size"][0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", default=os.path.join(es.ROOT, "build", "libcutout.so"))
    parser.add_argument("--models", default=os.path.join(es.ROOT, "models"))
    parser.add_argument("--model", action="append", help="model name (repeatable; default isnet and u2netp)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--photo", default=os.path.join(es.ROOT, "tests", "data", "photos",
                                                        "portrait_hair_kodim04.png"))
    args = parser.parse_args()

    context = es.open_context(args.library, [args.models])
    image = es.batch(es.load_image(args.photo)[..., :3])
    configs = []
    for model in args.model or ["isnet", "u2netp"]:
        native = native_size(args.models, model)
        for side in sorted({native, 1024}):
            for precision in ("fp32", "bf16"):
                options = {"model": model, "precision": precision,
                           "process_resolution": 0 if side == native else side}
                try:
                    es.remove_background(context, image, **options)  # load and first call
                except Exception as e:  # the library refuses bf16 without native support
                    print(f"skipped {model} {precision} at {side}: {e}", file=sys.stderr)
                    continue
                configs.append(((model, side, side == native, precision), options, []))
    for _ in range(args.rounds):
        for _, options, times in configs:
            start = time.perf_counter()
            es.remove_background(context, image, **options)
            times.append(time.perf_counter() - start)
    print(f"{image.shape[2]} x {image.shape[1]} photo; the library on all {len(os.sched_getaffinity(0))} cores; "
          f"median of {args.rounds} interleaved rounds\n")
    print("| model | model input | precision | s per image | images/s |")
    print("| --- | --- | --- | --- | --- |")
    for (model, side, native, precision), _, times in configs:
        median = statistics.median(times)
        label = f"{side}² ({'its own' if native else 'process_resolution'})"
        print(f"| {model} | {label} | {precision} | {median:.3f} | {1 / median:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
