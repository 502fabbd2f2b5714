"""Planning a run on the client, before any image is sent.

The inputs are listed as the command lists them (files_library's
list_entry: a file, or a directory's images sorted by name), an input named
twice is kept once, and every output is named by the library. An input
then fails before any work, as in the command, when one of its outputs is
also an earlier input's output, or is one of the input files. Inputs the
manifest records as done are left out.

Threading: one thread; nothing is shared.
"""

import os

from python_wrapper.files_library import FilesError


class PlanError(Exception):
    """The list of inputs cannot be read."""


class Item:
    """One input and the files it writes (None: not written)."""

    __slots__ = ("input", "rgba", "mask")

    def __init__(self, input_path, rgba, mask):
        self.input = input_path
        self.rgba = rgba
        self.mask = mask

    def record(self, status, seconds, message):
        """The manifest line of this item's result."""
        r = {"input": self.input, "output": self.rgba or self.mask}
        if self.rgba and self.mask:
            r["mask"] = self.mask
        r.update(status=status, seconds=seconds, message=message)
        return r


def read_list(source):
    """The paths listed in the file ``source`` ("-": standard input), one
    per line, as the command's --files-from reads them: the newline ends a
    path, nothing else is stripped, empty lines are skipped. Raises
    PlanError when the list cannot be read or a line holds a NUL byte."""
    try:
        f = open(0 if source == "-" else source, "rb", closefd=source != "-")
    except OSError as exc:
        raise PlanError(f"--files-from {source}: cannot open: {exc.strerror}") from exc
    paths = []
    with f:
        try:
            for number, line in enumerate(f, start=1):
                if line.endswith(b"\n"):
                    line = line[:-1]
                if b"\0" in line:
                    raise PlanError(f"--files-from {source}: line {number}: holds a NUL byte "
                                    f"(expected one path per line)")
                if line:
                    paths.append(os.fsdecode(line))
        except OSError as exc:
            raise PlanError(f"--files-from {source}: cannot read: {exc.strerror}") from exc
    return paths


class Plan:
    """What a run does.

    pending: the Items to send, in input order. failed: manifest records of
    entries and inputs that failed before any work. already_done: inputs
    the manifest records as done. duplicates: inputs named more than once
    (kept once). existing: outputs of pending Items that exist already."""

    def __init__(self):
        self.pending = []
        self.failed = []
        self.already_done = 0
        self.duplicates = 0
        self.existing = []


class _RealDirs:
    """realpath() of folders, each resolved once."""

    def __init__(self):
        self._cache = {}

    def key(self, path):
        """(resolved folder, file name): equal for two names of one file
        unless a hard link or a linked file stands between them."""
        folder, name = os.path.split(path)
        folder = folder or "."
        if folder not in self._cache:
            self._cache[folder] = os.path.realpath(folder)
        return self._cache[folder], name


def _listing(folder, cache):
    """The names in ``folder``, read once per run."""
    if folder not in cache:
        try:
            cache[folder] = set(os.listdir(folder or "."))
        except OSError:
            cache[folder] = set()
    return cache[folder]


def make_plan(library, session, entries, done):
    """Lists ``entries`` (INPUT arguments and listed paths) and plans their
    outputs with ``session``; ``done`` is the manifest's set of finished
    inputs. Returns a Plan."""
    plan = Plan()
    images = []
    seen = set()
    for entry in entries:
        try:
            listed = library.list_entry(entry)
        except FilesError as exc:
            plan.failed.append(Item(entry, None, None).record("failed", 0.0, exc.message))
            continue
        for path in listed:
            if path in seen:
                plan.duplicates += 1
            else:
                seen.add(path)
                images.append(path)

    dirs = _RealDirs()
    inputs_by_file = {}
    for path in images:
        inputs_by_file.setdefault(dirs.key(path), path)
    owner = {}  # output path -> the first input that writes it
    listings = {}
    for path in images:
        rgba, mask = session.output_names(path)
        item = Item(path, rgba, mask)
        problem = None
        for out in (rgba, mask):
            if out is None:
                continue
            first = owner.setdefault(out, path)
            if problem is None and first != path:
                problem = f"output {out} is also the output of {first}"
        if path in done:
            plan.already_done += 1
            continue
        for out in (rgba, mask):
            if problem is not None or out is None:
                continue
            folder, name = os.path.split(out)
            if name not in _listing(folder, listings):
                continue
            same = inputs_by_file.get(dirs.key(out))
            if same is not None:
                problem = f"output {out} is the input file {same}; refusing to overwrite it"
            else:
                plan.existing.append(out)
        if problem is not None:
            plan.failed.append(item.record("failed", 0.0, problem))
        else:
            plan.pending.append(item)
    return plan
