#!/usr/bin/python3
"""Images per second of tools/cutout-dask against the plain cutout command,
and the cost of one Dask task; prints two tables.

    python3 -m benchmarks.dask_benchmark [--images N] [--small N] [--reps N] [--tasks N] [--model NAME]
                         [--table 1|2]

Table 1, the default model (models/isnet.pt, precision auto) on 1024 x 1024
crops of tests/data/photos, each configuration run end to end twice, on
SMALL and on N images (default 8 and 24), medians of --reps rounds (default
3): "marginal" is the images/s of
the N - SMALL images more, so process start, cluster start and model load
are left out; "startup" is what the first run took beyond SMALL images at
the marginal rate. Rows: the command with 2 threads and with 1 thread; the
runner with 1 and 2 local workers of 1 thread each (16 images a chunk);
the command with the tiny model of tests/support/make_test_models.py (set cli), which is
the cost of decoding, resizing and encoding an image with almost no model.

Table 2, on a local cluster of 2 workers of 1 thread: an empty task
(`len` of an empty list) sent and awaited one at a time, the same with
every task in flight at once, and a chunk of one 64 x 64 image through the
runner's worker with the tiny model of tests/support/make_test_models.py (set cli), minus
the time the worker spent on the image.

Needs a release build (build/cutout, build/libcutout_files.so) and the
fetched model; run it alone on the machine (it times wall clock).
"""

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from PIL import Image

from tests.support.machine import cpu_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CLI = os.path.join(ROOT, "build", "cutout")
RUNNER = os.path.join(ROOT, "tools", "cutout-dask")
PHOTOS = os.path.join(ROOT, "tests", "data", "photos")
SIDE = 1024
PLANNED_FILES = 50000


def machine():
    """The CPU's model name, its cores and the memory, for the record."""
    name = cpu_model()
    with open("/proc/meminfo") as f:
        kib = int(f.readline().split()[1])
    return f"{name}, {os.cpu_count()} cores, {kib / 2**20:.0f} GiB, {platform.platform()}"


def make_images(folder, count):
    """`count` different SIDE x SIDE RGB crops of the photos, as PNG."""
    os.makedirs(folder)
    photos = sorted(n for n in os.listdir(PHOTOS) if n.endswith(".png"))
    for k in range(count):
        with Image.open(os.path.join(PHOTOS, photos[k % len(photos)])) as im:
            rgb = im.convert("RGB")
        scale = SIDE / min(rgb.size) * (1.0 + 0.05 * (k // len(photos)))
        big = rgb.resize((round(rgb.width * scale) + 1, round(rgb.height * scale) + 1))
        x, y = (k * 29) % (big.width - SIDE + 1), (k * 31) % (big.height - SIDE + 1)
        big.crop((x, y, x + SIDE, y + SIDE)).save(os.path.join(folder, f"b{k:03d}.png"))


def timed(command, env):
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"dask_benchmark: {' '.join(command)} failed:\n{done.stderr}")
    return seconds


def configurations(model):
    """(label, function(input folder, output folder, manifest) -> argv)."""
    opts = ["--model", model]

    def command(threads, name=model):
        return lambda src, out, manifest: [CLI, "--model", name, "-q", "--threads",
                                           str(threads), "-o", out, src]

    def runner(workers):
        return lambda src, out, manifest: [
            sys.executable, RUNNER, "--local-workers", str(workers), "--worker-threads", "1",
            "--chunk-size", "16", "--manifest", manifest, "-q", src, "--", *opts, "-o", out]

    return [("cutout, 1 process, 2 threads", command(2)),
            ("cutout, 1 process, 1 thread", command(1)),
            ("cutout-dask, 1 worker x 1 thread", runner(1)),
            ("cutout-dask, 2 workers x 1 thread", runner(2)),
            ("cutout, 1 thread, tiny model: decode, resize and encode", command(1, "tiny"))]


def throughput_table(tmp, model, small, large, reps):
    make_images(os.path.join(tmp, "small"), small)
    make_images(os.path.join(tmp, "large"), large)
    env = dict(os.environ)
    configs = configurations(model)
    times = {label: {"small": [], "large": []} for label, _ in configs}
    # Rounds interleave the configurations, so that a slow spell of the
    # machine does not fall on one of them only.
    for rep in range(reps):
        for run, (label, argv) in enumerate(configs):
            for name in ("small", "large"):
                out = os.path.join(tmp, f"out{rep}_{run}_{name}")
                manifest = os.path.join(tmp, f"manifest{rep}_{run}_{name}.jsonl")
                times[label][name].append(timed(argv(os.path.join(tmp, name), out, manifest),
                                                env))
    print(f"\n1024 x 1024, model {model} (precision auto), {small} and {large} images, "
          f"medians of {reps} rounds\n")
    print("| configuration | s for %d | s for %d | marginal images/s | end-to-end images/s "
          "(%d) | startup s |" % (small, large, large))
    print("| --- | --- | --- | --- | --- | --- |")
    for label, _ in configs:
        t_small = statistics.median(times[label]["small"])
        t_large = statistics.median(times[label]["large"])
        marginal = (large - small) / (t_large - t_small)
        startup = t_small - small / marginal
        print(f"| {label} | {t_small:.1f} | {t_large:.1f} | {marginal:.2f} | "
              f"{large / t_large:.2f} | {startup:.1f} |")
    read = [os.path.getsize(os.path.join(tmp, "large", n)) for n in os.listdir(
        os.path.join(tmp, "large"))]
    out = os.path.join(tmp, "out0_0_large")
    written = [os.path.getsize(os.path.join(out, n)) for n in os.listdir(out)]
    print(f"\nPer image: {statistics.mean(read) / 1e6:.2f} MB read (PNG), "
          f"{statistics.mean(written) / 1e6:.2f} MB written (RGBA PNG)")


def overhead_table(tmp, tasks):
    from distributed import Client, LocalCluster, wait

    from examples.dask.cutout_dask import worker

    os.environ.setdefault("CUTOUT_FILES_LIBRARY", os.path.join(ROOT, "build",
                                                               "libcutout_files.so"))
    image = os.path.join(tmp, "tiny.png")
    with Image.open(os.path.join(PHOTOS, "product_coffee.png")) as im:
        im.convert("RGB").resize((64, 64)).save(image)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           silence_logs=logging.CRITICAL,
                           scheduler_kwargs={"dashboard": False,
                                             "dashboard_address": "127.0.0.1:0"})
    client = Client(cluster)
    try:
        wait(client.map(len, [[]] * 50, pure=False))  # connections and workers warm
        start = time.monotonic()
        for _ in range(tasks):
            client.submit(len, [], pure=False).result()
        one_at_a_time = (time.monotonic() - start) / tasks

        start = time.monotonic()
        wait(client.map(len, [[]] * tasks, pure=False))
        all_in_flight = (time.monotonic() - start) / tasks

        options = ["--model", "tiny", "-o", os.path.join(tmp, "o")]
        for _ in range(2):  # each worker opens its session and loads the model
            client.submit(worker.process_chunk, options, [image], pure=False).result()
        gaps = []
        for _ in range(tasks // 4):
            start = time.monotonic()
            result = client.submit(worker.process_chunk, options, [image], pure=False).result()
            gaps.append(time.monotonic() - start - result[0]["seconds"])
            assert result[0]["status"] == "ok", result
        chunk_overhead = statistics.median(gaps)
    finally:
        client.close()
        cluster.close()
    planning = planning_time(tmp, PLANNED_FILES)
    print(f"\nPer task, local cluster of 2 workers x 1 thread, {tasks} tasks\n")
    print("| task | ms per task |")
    print("| --- | --- |")
    print(f"| empty task, one at a time (round trip) | {one_at_a_time * 1e3:.2f} |")
    print(f"| empty task, all in flight (throughput) | {all_in_flight * 1e3:.2f} |")
    print(f"| one-image chunk, tiny model, minus the image's own time (median) | "
          f"{chunk_overhead * 1e3:.2f} |")
    print(f"| planning on the client, per listed file ({PLANNED_FILES} files, local disk) | "
          f"{planning * 1e3:.3f} |")


def planning_time(tmp, count):
    """Seconds per input of the client's planning (listing, naming, checks)
    over `count` empty files named in a list."""
    from examples.dask.cutout_dask import plan
    from python_wrapper import files_library

    folder = os.path.join(tmp, "many")
    os.makedirs(folder)
    paths = [os.path.join(folder, f"p{k:07d}.jpg") for k in range(count)]
    for path in paths:
        open(path, "w").close()
    listing = os.path.join(tmp, "many.txt")
    with open(listing, "w") as f:
        f.write("\n".join(paths) + "\n")
    library = files_library.load()
    start = time.monotonic()
    with library.open(["--model", "tiny", "-o", os.path.join(tmp, "many_out")], 1,
                      False) as session:
        planned = plan.make_plan(library, session, plan.read_list(listing), set())
    seconds = time.monotonic() - start
    assert len(planned.pending) == count, "planning lost inputs"
    return seconds / count


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=24, help="images of the longer runs")
    p.add_argument("--small", type=int, default=8, help="images of the shorter runs")
    p.add_argument("--tasks", type=int, default=400, help="tasks for the overhead table")
    p.add_argument("--reps", type=int, default=3, help="rounds of table 1 (medians)")
    p.add_argument("--model", default="isnet")
    p.add_argument("--table", choices=("1", "2"), help="only this table")
    args = p.parse_args()
    if not 1 <= args.small < args.images or args.tasks < 4 or args.reps < 1:
        p.error("expected 1 <= --small < --images, --tasks >= 4 and --reps >= 1")
    for path in (CLI, os.path.join(ROOT, "build", "libcutout_files.so")):
        if not os.path.exists(path):
            sys.exit(f"dask_benchmark: {path} is missing; build first (cmake --build build)")
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="cutout_dask_bench_") as tmp:
        # The tiny model comes first on the model path; the default model is
        # still found in models/.
        models = os.path.join(tmp, "models")
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "support", "make_test_models.py"),
                        "cli", models], check=True, capture_output=True)
        os.environ["CUTOUT_MODEL_PATH"] = models
        if args.table != "2":
            throughput_table(tmp, args.model, args.small, args.images, args.reps)
        if args.table != "1":
            overhead_table(tmp, args.tasks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
