"""The cutout-dask command: the client of a run.

    cutout-dask [options] INPUT... [-- CUTOUT_OPTIONS...]

It plans the run (plan.py), sends chunks of paths to a Dask cluster, keeps a
bounded number of chunks in flight, and appends each result to the
manifest as it arrives, once per input even when Dask runs a chunk again
after its worker died. A chunk whose workers keep dying is split into
single images, so that one image that kills its worker fails alone. A
progress bar counts finished images; Ctrl-C cancels what is not finished.

Exit status, as the command's: 0 all done, 1 an image failed (or the run
could not start), 2 bad usage, 130 interrupted.
"""

import argparse
import json
import logging
import os
import re
import sys
import time
from collections import deque

from python_wrapper import files_library

from . import worker
from .manifest import Manifest, ManifestError
from .plan import PlanError, make_plan, read_list

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

CHUNK_SIZE_DEFAULT = 16
CHUNK_SIZE_MAX = 100000
# Chunks in flight per worker thread: one running and one waiting, so that
# no worker idles between two chunks.
IN_FLIGHT_PER_THREAD = 2
IN_FLIGHT_MIN = 4

PROGRAM = "cutout-dask"
# The manifest's name in the output folder when --manifest is not given.
DEFAULT_MANIFEST = ".cutout-dask-manifest.jsonl"


class UsageError(Exception):
    """Bad usage: one line saying what was wrong."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _positive(name, high):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not 1 <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{name}: expected an integer from 1 to {high}, got '{text}'")
        return value
    return parse


def _parser():
    p = _Parser(
        prog=PROGRAM, add_help=False,
        usage=f"{PROGRAM} [options] INPUT... [-- CUTOUT_OPTIONS...]",
        description="Removes the background of PNG and JPEG files on a Dask cluster, with the "
                    "cutout command's options (after --) and byte for byte its output files.")
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="an image file, or a directory of them (sorted by name, not recursive)")
    p.add_argument("--files-from", metavar="FILE",
                   help="also read inputs from FILE, one path per line ('-': standard input)")
    p.add_argument("--manifest", metavar="FILE",
                   help="JSON lines, one per input; a rerun skips the inputs done (default: "
                        f"{DEFAULT_MANIFEST} in the output folder)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running scheduler, e.g. tls://10.0.0.5:8786")
    where.add_argument("--scheduler-file", metavar="FILE",
                       help="the file a scheduler wrote with dask scheduler --scheduler-file")
    where.add_argument("--local-workers", metavar="N", type=_positive("--local-workers", 1024),
                       help="start N worker processes on this machine")
    p.add_argument("--worker-threads", metavar="N", type=_positive("--worker-threads", 1024),
                   default=1, help="threads of each local worker (default 1)")
    p.add_argument("--chunk-size", metavar="N", default=CHUNK_SIZE_DEFAULT,
                   type=_positive("--chunk-size", CHUNK_SIZE_MAX),
                   help=f"images per task (default {CHUNK_SIZE_DEFAULT})")
    p.add_argument("--overwrite", action="store_true",
                   help="a first run may replace output files that exist")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    p.add_argument("--insecure", action="store_true",
                   help="allow a scheduler without TLS (tcp://): anyone who reaches it can run "
                        "work as the workers' user")
    p.add_argument("--tls-ca-file", metavar="FILE", help="CA certificate of the cluster (PEM)")
    p.add_argument("--tls-cert", metavar="FILE", help="this client's certificate (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="this client's private key (PEM)")
    p.add_argument("--help", "-h", action="store_true", help="print this help and exit")
    return p


def parse_arguments(argv):
    """(runner arguments, cutout options): argv split at the first "--"."""
    if "--" in argv:
        cut = argv.index("--")
        own, cutout_options = argv[:cut], argv[cut + 1:]
    else:
        own, cutout_options = argv, []
    if "-h" in own or "--help" in own:
        return argparse.Namespace(help=True), cutout_options
    args = _parser().parse_args(own)
    if args.worker_threads != 1 and args.local_workers is None:
        raise UsageError("--worker-threads: only for --local-workers (a remote worker's "
                         "threads are its dask worker --nthreads)")
    tls = [args.tls_ca_file, args.tls_cert, args.tls_key]
    if any(tls):
        if not all(tls):
            raise UsageError("--tls-ca-file, --tls-cert, --tls-key: expected all three, got "
                             + ", ".join(n for n, v in zip(("--tls-ca-file", "--tls-cert",
                                                             "--tls-key"), tls) if v))
        if args.scheduler is None or not args.scheduler.startswith("tls://"):
            raise UsageError("--tls-*: expected --scheduler tls://HOST:PORT, got "
                             + (f"'{args.scheduler}'" if args.scheduler else
                                "no --scheduler"))
        for name, value in zip(("--tls-ca-file", "--tls-cert", "--tls-key"), tls):
            if not os.path.isfile(value):
                raise UsageError(f"{name}: expected a readable PEM file, got '{value}'")
    # The scheduler's address, read once ("" when a scheduler file cannot be
    # read yet; Dask reports that when it connects).
    args.scheduler_address = args.scheduler or (scheduler_file_address(args.scheduler_file)
                                                if args.scheduler_file is not None else "")
    if args.scheduler_address and not args.scheduler_address.startswith("tls://") and not args.insecure:
        got = (f"expected tls://HOST:PORT, got '{args.scheduler}'" if args.scheduler is not None else
               f"its scheduler is '{args.scheduler_address}', not tls://")
        raise UsageError(f"{'--scheduler' if args.scheduler is not None else '--scheduler-file'}: {got} (a "
                         f"scheduler without TLS runs whatever anyone who reaches it sends; --insecure to use "
                         f"it anyway)")
    if args.insecure and args.local_workers is not None:
        raise UsageError("--insecure: only for --scheduler or --scheduler-file (--local-workers "
                         "always uses TLS)")
    if not args.inputs and args.files_from is None:
        raise UsageError("no input given (expected image files, directories or --files-from)")
    return args, cutout_options


def scheduler_file_address(path):
    """The address a dask scheduler wrote into its --scheduler-file; ""
    when the file cannot be read as one (Dask then reports it)."""
    try:
        with open(path) as f:
            address = json.load(f).get("address", "")
    except (OSError, ValueError, AttributeError):
        return ""
    return address if isinstance(address, str) else ""


def security_of(args):
    """The Dask Security for the scheduler connection: the --tls-* files,
    with encryption required; otherwise Dask's own configuration (the
    distributed.comm.tls keys of a DASK_CONFIG file, or none)."""
    from distributed import Security

    if args.tls_ca_file:
        return Security(tls_ca_file=args.tls_ca_file, tls_client_cert=args.tls_cert,
                        tls_client_key=args.tls_key, require_encryption=True)
    return Security()


def connect(args):
    """(client, cluster or None): a Client of the scheduler the arguments
    name, or of a LocalCluster it starts (bound to 127.0.0.1)."""
    from distributed import Client, LocalCluster, Security

    if args.local_workers is not None:
        # TLS with a key and certificate made for this run only: another
        # user of the machine can reach 127.0.0.1, but cannot join or submit
        # without them. No dashboard, and the scheduler's HTTP endpoint on a
        # free local port rather than 8787, which another cluster may hold.
        security = Security.temporary()
        cluster = LocalCluster(n_workers=args.local_workers,
                               threads_per_worker=args.worker_threads, processes=True,
                               host="127.0.0.1", protocol="tls://", security=security,
                               silence_logs=logging.CRITICAL,
                               scheduler_kwargs={"dashboard": False,
                                                 "dashboard_address": "127.0.0.1:0"})
        return Client(cluster, security=security), cluster
    address = args.scheduler_address
    if not address.startswith("tls://"):
        print(f"{PROGRAM}: warning: the scheduler {address or 'of ' + args.scheduler_file} has no TLS: anyone who reaches it can run "
              f"work as the workers' user", file=sys.stderr)
    if args.scheduler_file is not None:
        return Client(scheduler_file=args.scheduler_file, security=security_of(args)), None
    return Client(args.scheduler, security=security_of(args)), None


class Progress:
    """A one-line bar on stderr, drawn only when it is a terminal."""

    def __init__(self, total, enabled):
        self.total = total
        self.done = 0
        self.enabled = enabled and total > 1
        self.drawn = False
        self.start = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.start

    def advance(self, count):
        self.done += count
        if not self.enabled:
            return
        width = 30
        filled = self.done * width // self.total
        rate = self.done / max(self.elapsed(), 1e-9)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total}"
                         f" images, {rate:.2f} images/s, {self.elapsed():.1f} s")
        sys.stderr.flush()
        self.drawn = True

    def clear(self):
        if self.drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self.drawn = False


def _say(progress, text):
    progress.clear()
    print(f"{PROGRAM}: {text}", file=sys.stderr)


class Run:
    """The chunks of one run, sent and collected."""

    def __init__(self, client, options, items, chunk_size, manifest, progress):
        self.client = client
        self.options = options
        self.queue = deque(items[i:i + chunk_size] for i in range(0, len(items), chunk_size))
        self.manifest = manifest
        self.progress = progress
        self.in_flight = {}  # future -> list of Items
        self.recorded = set()
        self.done = 0
        self.failed = 0
        self.fatal = None
        self._window = IN_FLIGHT_MIN
        self._window_at = 0.0

    def _window_size(self):
        """Chunks to keep in flight for the workers there are now (workers
        may join later), asked of the scheduler at most once a second."""
        now = time.monotonic()
        if now - self._window_at >= 1.0:
            threads = sum(self.client.nthreads().values())
            self._window = max(IN_FLIGHT_MIN, IN_FLIGHT_PER_THREAD * threads)
            self._window_at = now
        return self._window

    def _submit(self, futures, chunk):
        future = self.client.submit(worker.process_chunk, self.options,
                                    [item.input for item in chunk], pure=False)
        self.in_flight[future] = chunk
        futures.add(future)

    def _fill(self, futures):
        while self.queue and self.fatal is None and len(self.in_flight) < self._window_size():
            self._submit(futures, self.queue.popleft())

    def _record(self, chunk, results):
        by_input = {item.input: item for item in chunk}
        records = []
        for r in results:
            item = by_input.get(r["input"])
            if item is None or item.input in self.recorded:
                continue  # exactly one line per input, whatever arrives twice
            self.recorded.add(item.input)
            records.append(item.record(r["status"], r["seconds"], r["message"]))
            if r["status"] == "ok":
                self.done += 1
            else:
                self.failed += 1
                _say(self.progress, f"{item.input}: {r['message']}")
            if r.get("fatal") and self.fatal is None:
                self.fatal = r["message"]
        self.manifest.record(records)
        self.progress.advance(len(records))

    def _collect(self, future):
        from distributed.scheduler import KilledWorker

        chunk = self.in_flight.pop(future)
        try:
            results = future.result()
        except KilledWorker:
            if len(chunk) > 1:
                for item in reversed(chunk):
                    self.queue.appendleft([item])
                return
            results = [{"input": chunk[0].input, "status": "failed", "seconds": 0.0,
                        "message": "its worker process died on every try"}]
        except Exception as exc:  # a worker without the library, a lost connection, ...
            results = [{"input": item.input, "status": "failed", "seconds": 0.0,
                        "message": f"worker error: {type(exc).__name__}: {exc}"}
                       for item in chunk]
        self._record(chunk, results)

    def run(self):
        """Sends every chunk and collects every result; returns the number
        of images skipped after a fatal error (never sent, or cancelled)."""
        from distributed import as_completed

        futures = as_completed()
        try:
            self._fill(futures)
            for future in futures:
                self._collect(future)
                self._fill(futures)
                if self.fatal is not None:
                    break
        except KeyboardInterrupt:
            self.client.cancel(list(self.in_flight))
            raise
        skipped = sum(len(chunk) for chunk in self.queue)
        skipped += sum(len(chunk) for chunk in self.in_flight.values())
        if self.in_flight:
            self.client.cancel(list(self.in_flight))
        return skipped


# What to do instead of a cutout option that a session refuses.
_SESSION_OPTION_HINTS = {
    "--overwrite": f" (give {PROGRAM} --overwrite, before --)",
    "--quiet": f" (give {PROGRAM} --quiet, before --)",
    "--files-from": f" (give {PROGRAM} --files-from, before --)",
    "--threads": f" ({PROGRAM} gives each worker's session the worker's threads)",
    "--shard": f" ({PROGRAM} spreads the inputs over the workers itself)",
}


# output_files.c names a temporary file ".<final name>.cutout-XXXXXX" (mkstemp).
_TEMPORARY_NAME = re.compile(r"^\.(?P<final>.+)\.cutout-[A-Za-z0-9_]{6}$")


def remove_stale_temporaries(items):
    """Removes the temporary files that workers killed while writing left
    next to the outputs of ``items``; returns how many. Only after every
    chunk has finished, when no worker writes any of them any more."""
    finals = {}
    for item in items:
        for out in (item.rgba, item.mask):
            if out is not None:
                folder, name = os.path.split(out)
                finals.setdefault(folder, set()).add(name)
    removed = 0
    for folder, names in finals.items():
        try:
            listing = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in listing:
            match = _TEMPORARY_NAME.match(entry)
            if match and match.group("final") in names:
                try:
                    os.unlink(os.path.join(folder, entry))
                    removed += 1
                except OSError:
                    pass
    return removed


def _open(options, overwrite):
    """The library and a session for naming outputs (its model is not loaded)."""
    library = files_library.load()
    return library, library.open(options, threads=1, overwrite=overwrite)


def main(argv):
    try:
        args, options = parse_arguments(argv)
    except UsageError as exc:
        print(f"{PROGRAM}: {exc}\nTry '{PROGRAM} --help'.", file=sys.stderr)
        return EXIT_USAGE
    if args.help:
        _parser().print_help()
        return 0
    try:
        return _main(args, options)
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(args, options):
    try:
        library, session = _open(options, args.overwrite)
    except files_library.FilesLoadError as exc:
        print(f"{PROGRAM}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except files_library.FilesError as exc:
        if exc.status != files_library.USAGE:
            print(f"{PROGRAM}: {exc.message}", file=sys.stderr)
            return EXIT_FAILED
        hint = next((h for option, h in _SESSION_OPTION_HINTS.items()
                     if exc.message.startswith(option + ":")), "")
        print(f"{PROGRAM}: cutout options: {exc.message}{hint}\nTry '{PROGRAM} --help'.",
              file=sys.stderr)
        return EXIT_USAGE
    with session:
        folder = os.path.dirname(next(n for n in session.output_names("x.png") if n))
        if not os.path.isabs(folder) and args.local_workers is None:
            print(f"{PROGRAM}: cutout options: -o: workers that may run elsewhere write it, so "
                  f"expected an absolute folder, got '{folder}'\nTry '{PROGRAM} --help'.",
                  file=sys.stderr)
            return EXIT_USAGE
        manifest_path = args.manifest
        if manifest_path is None:
            # A resumable run needs its manifest: by default it lives with the
            # outputs, so a rerun of the same command finds it.
            manifest_path = os.path.join(os.path.abspath(folder or "."), DEFAULT_MANIFEST)
            try:
                os.makedirs(os.path.dirname(manifest_path), exist_ok=True)
            except OSError as exc:
                print(f"{PROGRAM}: cannot create the output folder for the manifest: {exc}", file=sys.stderr)
                return EXIT_FAILED
            if not args.quiet:
                print(f"{PROGRAM}: manifest: {manifest_path}", file=sys.stderr)
        try:
            manifest = Manifest(manifest_path, options)
        except ManifestError as exc:
            print(f"{PROGRAM}: --manifest {exc}", file=sys.stderr)
            return EXIT_USAGE if exc.options_differ else EXIT_FAILED
        try:
            entries = list(args.inputs)
            if args.files_from is not None:
                entries += read_list(args.files_from)
            # Workers open the paths in their own working folder: send them
            # whole (joined, not normalised, so that a/../b stays a/../b).
            entries = [os.path.join(os.getcwd(), e) for e in entries]
            plan = make_plan(library, session, entries, manifest.done)
        except PlanError as exc:
            print(f"{PROGRAM}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    try:
        return _run(args, options, plan, manifest)
    finally:
        manifest.close()


def _run(args, options, plan, manifest):
    if plan.existing and not args.overwrite and not manifest.existed:
        print(f"{PROGRAM}: {len(plan.existing)} output file(s) exist already, e.g. "
              f"{plan.existing[0]} (use --overwrite to replace them, or the manifest of the "
              f"run that wrote them to resume it)", file=sys.stderr)
        return EXIT_FAILED
    client = cluster = None
    if plan.pending:
        try:
            client, cluster = connect(args)
        except (OSError, TimeoutError) as exc:
            where = args.scheduler or args.scheduler_file or "the local cluster"
            print(f"{PROGRAM}: cannot connect to {where}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    try:
        return _send(args, options, plan, manifest, client)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _send(args, options, plan, manifest, client):
    """Records the planning failures, runs the pending items on ``client``
    and prints the summary; returns the exit status."""
    try:
        manifest.start()
    except ManifestError as exc:
        print(f"{PROGRAM}: --manifest {exc}", file=sys.stderr)
        return EXIT_FAILED
    total = len(plan.pending) + len(plan.failed)
    progress = Progress(total, not args.quiet and sys.stderr.isatty())
    for record in plan.failed:
        _say(progress, f"{record['input']}: {record['message']}")
    manifest.record(plan.failed)
    progress.advance(len(plan.failed))

    done = failed = never_sent = 0
    if plan.pending:
        run = Run(client, options, plan.pending, args.chunk_size, manifest, progress)
        try:
            never_sent = run.run()
        except KeyboardInterrupt:
            progress.clear()
            print(f"{PROGRAM}: interrupted: {run.done} of {total} images done", file=sys.stderr)
            return EXIT_INTERRUPTED
        done, failed = run.done, run.failed
        if run.fatal is None:
            remove_stale_temporaries(plan.pending)
        else:
            progress.clear()
            print(f"{PROGRAM}: stopped, since every image would fail: {run.fatal}; "
                  f"{never_sent} image(s) skipped", file=sys.stderr)
    progress.clear()
    failed += len(plan.failed)
    if not args.quiet:
        extra = []
        if plan.already_done:
            extra.append(f"{plan.already_done} done before")
        if plan.duplicates:
            extra.append(f"{plan.duplicates} named twice")
        print(f"{total} image(s): {done} done, {failed + never_sent} failed"
              f"{' or skipped' if never_sent else ''}"
              f"{' (' + ', '.join(extra) + ')' if extra else ''}, {progress.elapsed():.1f} s",
              file=sys.stderr)
    return EXIT_FAILED if failed or never_sent else 0
