"""Speed and memory of cutout's BiRefNet, per released variant, at the
variant's own input size.

Usage:
    python3 -m benchmarks.bench_birefnet [--reps N] [--threads T] [--only NAME ...]
    python3 -m benchmarks.bench_birefnet --linear [--threads T]

Each network (the variants that share a backbone and an input size share
one) is measured in its own child process: it is built with the stand-in
weights of python_wrapper/model_import/birefnet_weights.py (speed does not depend
on the values), scripted and frozen as the library's loader does, run once
to warm up and then N times on a 1 x 3 x H x W input; the table gives the
median seconds per image and the child's peak resident memory (weights,
TorchScript and the forward pass; the stand-in generation briefly holds a
second copy of the weights, which the peak can include). The CUDA column
is measured the same way when torch sees a GPU, else says "not measured".
Prints a Markdown table; results go into benchmarks/RESULTS.md by hand.
--linear times, instead, one of Swin-L's qkv layers at 1024 x 1024 (1296
tokens of 768 channels to 2304) as F.linear and as the 1 x 1 convolution
birefnet_swin.Dense runs, which is why Dense exists.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from tests.support.machine import cpu_model



def networks():
    """(backbone, [height, width]) -> variant names, in VARIANTS order."""
    from python_wrapper.model_import.birefnet_import import VARIANTS

    grouped = {}
    for name, variant in VARIANTS.items():
        grouped.setdefault((variant["backbone"], tuple(variant["input_size"])), []).append(name)
    return grouped


def measure(backbone, height, width, reps, device):
    """Seconds per image (median of reps) after one warm-up pass."""
    import torch

    from python_wrapper.model_import import birefnet_weights
    from python_wrapper.model_import.birefnet_model import BiRefNet, CutoutBiRefNet

    net = BiRefNet(backbone).eval()
    net.load_state_dict(birefnet_weights.stand_in_weights(net))
    module = torch.jit.freeze(torch.jit.script(CutoutBiRefNet(net, "logits").eval().to(device)))
    x = torch.rand(1, 3, height, width, device=device)
    times = []
    with torch.no_grad():
        for i in range(reps + 1):
            start = time.perf_counter()
            module(x)
            if device == "cuda":
                torch.cuda.synchronize()
            if i > 0:
                times.append(time.perf_counter() - start)
    result = {"seconds": statistics.median(times)}
    if device == "cuda":
        result["peak_mib"] = torch.cuda.max_memory_allocated() / 2 ** 20
    else:
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def linear_vs_convolution(threads, reps=5):
    """Prints the median seconds of F.linear and of Dense on the same layer."""
    import torch
    import torch.nn.functional as F

    from python_wrapper.model_import.birefnet_swin import Dense

    torch.set_num_threads(threads)
    layer = Dense(768, 2304).eval()
    x = torch.randn(1296, 768)
    rows = []
    for label, run in (("F.linear", lambda: F.linear(x, layer.weight, layer.bias)), ("1 x 1 convolution", lambda: layer(x))):
        times = []
        with torch.no_grad():
            for _ in range(reps + 1):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
        rows.append((label, statistics.median(times[1:])))
    for label, seconds in rows:
        print(f"{label:>18}: {seconds * 1000:8.1f} ms  (1296 x 768 -> 2304, {threads} threads, median of {reps})")


def child(args):
    import torch

    torch.set_num_threads(args.threads)
    height, width = args.size
    print(json.dumps(measure(args.backbone, height, width, args.reps, args.device)))
    return 0


def run_child(backbone, size, reps, threads, device):
    command = [sys.executable, os.path.abspath(__file__), "--child", "--backbone", backbone, "--size",
               str(size[0]), str(size[1]), "--reps", str(reps), "--threads", str(threads), "--device", device]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        return None, done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
    return json.loads(done.stdout.strip().splitlines()[-1]), None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="timed passes per network (default 3)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all cores)")
    parser.add_argument("--only", nargs="*", help="variant names to measure (default: all)")
    parser.add_argument("--linear", action="store_true", help="time a linear layer as F.linear and as Dense")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backbone", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    if args.linear:
        linear_vs_convolution(args.threads)
        return 0
    import torch

    cuda = torch.cuda.is_available()
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores, {args.threads} torch threads; torch {torch.__version__}; "
          f"{args.reps} timed passes after one warm-up, medians; CUDA: "
          f"{torch.cuda.get_device_name(0) if cuda else 'none'}")
    print()
    print("| variants | backbone | input (H x W) | CPU s/img | CPU peak RSS | CUDA s/img | CUDA peak memory |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (backbone, size), names in networks().items():
        if args.only and not set(names) & set(args.only):
            continue
        cpu, error = run_child(backbone, size, args.reps, args.threads, "cpu")
        cpu_cells = (f"{cpu['seconds']:.2f}", f"{cpu['peak_mib'] / 1024:.2f} GiB") if cpu else (f"failed: {error}", "-")
        if cuda:
            gpu, error = run_child(backbone, size, args.reps, args.threads, "cuda")
            gpu_cells = (f"{gpu['seconds']:.3f}", f"{gpu['peak_mib'] / 1024:.2f} GiB") if gpu else (f"failed: {error}", "-")
        else:
            gpu_cells = ("not measured", "not measured")
        print(f"| {', '.join(names)} | {backbone} | {size[0]} x {size[1]} | {cpu_cells[0]} | {cpu_cells[1]} | "
              f"{gpu_cells[0]} | {gpu_cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
