"""Reading and writing a model folder's manifest.json: one entry per model
with its file, source, licence and metadata (models/manifest.json is the
repository's). Lists of numbers stay on one line, as the file is written
by hand too."""

import contextlib
import json
import os
import re
import tempfile

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

NUMBER_LIST = re.compile(r"\[\s*(-?[\d.eE+-]+(?:\s*,\s*-?[\d.eE+-]+)*)\s*\]")


def dumps(document):
    """JSON text with two-space indents and one-line number lists."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return NUMBER_LIST.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text) + "\n"


def load(path):
    """The manifest at path, or an empty one when there is none. Raises
    ValueError for a file that is not a manifest."""
    if not os.path.exists(path):
        return {"format": 1, "models": {}}
    with open(path) as f:
        document = json.load(f)
    if not isinstance(document, dict) or not isinstance(document.get("models"), dict):
        raise ValueError(f"{path}: not a model manifest (expected an object with \"models\")")
    return document


def replace_atomically(path, write):
    """Calls write(tmp) on a new private temporary file beside path
    (mkstemp: a symbolic link planted at a fixed name is never followed),
    then renames it over path; on any failure the temporary file is
    removed and the error propagates."""
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


@contextlib.contextmanager
def _locked(path):
    """Holds an exclusive lock on path + ".lock" (POSIX flock, waiting for
    another writer); without fcntl (Windows) no lock is taken."""
    if fcntl is None:
        yield
        return
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def register(path, name, entry):
    """Adds or replaces models[name] and writes the file atomically, under
    a lock, so two imports into one folder at once both keep their entries.
    Raises ValueError for a file that is not a manifest, OSError when it
    cannot be written or locked."""
    with _locked(path):
        document = load(path)
        document["models"][name] = entry
        replace_atomically(path, lambda tmp: _write_text(tmp, dumps(document)))
