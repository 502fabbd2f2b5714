"""The run's manifest: a JSON-lines file that only the client writes.

The first line names the cutout options the run uses::

    {"cutout_dask_manifest": 1, "options": ["-o", "out", "--mask"]}

then one line per input as its result arrives::

    {"input": "a.jpg", "output": "out/a.png", "mask": "out/a_mask.png",
     "status": "ok", "seconds": 0.41, "message": ""}

("mask" only with --mask; with --mask-only "output" is the mask). A run
appends; the last line of an input is its state, so a rerun skips every
input whose last line says "ok". A line cut short by a killed client (the
last one, without its newline) is ignored; any other line that is not such
an object is an error. The next run cuts such a line off before it
appends.

Threading: one Manifest per process, used from one thread.
"""

import json
import os

FORMAT = 1
HEADER_KEY = "cutout_dask_manifest"
ITEM_KEYS = ("input", "status")


class ManifestError(Exception):
    """The manifest cannot be read or written, or belongs to another run
    (``options_differ`` is then true)."""

    def __init__(self, message, options_differ=False):
        super().__init__(message)
        self.options_differ = options_differ


def _read(path):
    """(header, items, size): an existing manifest, and its size without a
    last line cut short."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror}") from exc
    if not data:
        return None, [], 0
    lines = data.split(b"\n")
    complete = data.endswith(b"\n")
    if complete:
        lines.pop()  # the empty string after the final newline
    header, items = None, []
    for number, raw in enumerate(lines, start=1):
        torn = number == len(lines) and not complete
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            record = None
        if number == 1:
            if not isinstance(record, dict) or record.get(HEADER_KEY) != FORMAT or \
                    not isinstance(record.get("options"), list):
                raise ManifestError(f"{path}: line 1: expected a cutout-dask manifest header "
                                    f'{{"{HEADER_KEY}": {FORMAT}, "options": [...]}}')
            header = record
        elif isinstance(record, dict) and all(isinstance(record.get(k), str) for k in ITEM_KEYS):
            items.append(record)
        elif not torn:
            raise ManifestError(f"{path}: line {number}: expected a JSON object with "
                                f'"input" and "status", got {raw[:80]!r}')
    return header, items, data.rfind(b"\n") + 1


class Manifest:
    """The manifest at ``path`` for a run with the cutout ``options``.

    Reading it is all the constructor does: ``existed`` tells whether a
    manifest was there (a resume), ``done`` is the set of inputs whose last
    line says "ok". Nothing is written before start(), so a run that stops
    while planning leaves no manifest behind. Raises ManifestError when the
    file cannot be read, is not a manifest, or was written with other
    options."""

    def __init__(self, path, options):
        self.path = path
        self.options = list(options)
        self.existed = False
        self.done = set()
        self._complete_size = None
        self._file = None
        if os.path.exists(path):
            header, items, self._complete_size = _read(path)
            if header is not None and header["options"] != self.options:
                raise ManifestError(
                    f"{path}: written for the options {header['options']}, got {self.options} "
                    f"(use another manifest for other options)", options_differ=True)
            for record in items:
                if record["status"] == "ok":
                    self.done.add(record["input"])
                else:
                    self.done.discard(record["input"])
            self.existed = header is not None

    def start(self):
        """Opens the file for appending, after cutting off a last line cut
        short; a new manifest gets its header. Raises ManifestError when it
        cannot be written."""
        try:
            if self._complete_size is not None:
                os.truncate(self.path, self._complete_size)
            self._file = open(self.path, "a", encoding="utf-8")
            if not self.existed:
                self._write({HEADER_KEY: FORMAT, "options": self.options})
            self._file.flush()
        except OSError as exc:
            raise ManifestError(f"{self.path}: cannot write: {exc.strerror}") from exc

    def _write(self, record):
        # ASCII escapes keep names that are not UTF-8 (os.fsdecode's
        # surrogates) exact across a write and a read.
        self._file.write(json.dumps(record) + "\n")

    def record(self, records):
        """Appends one line per record (dicts with input, output, mask,
        status, seconds, message) and flushes them to the file, so that a
        killed client loses none of them. After start() only."""
        for r in records:
            self._write(r)
        self._file.flush()

    def close(self):
        """Flushes the file to disk and closes it; nothing if never started."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
