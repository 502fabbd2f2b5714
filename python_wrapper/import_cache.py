"""Files of other packs' folders (foreign_models), imported once into
ComfyUI's models/cutout/imported/ and run from there.

One entry per source file, named after its label and a hash of its path
(e.g. ``RMBG_RMBG-2.0_model-1a2b3c4d5e6f``):

- ``NAME.pt``: the model import_model() wrote (python_wrapper/model_import);
- ``NAME.json``: the record: the source's path, size and mtime (ns), the
  sha256 and size of NAME.pt, the importer's manifest entry, or the
  importer's refusal;
- ``.work/NAME.lock``: the lock two processes sharing the folder take
  before they judge or rebuild the entry; ``.work/`` also holds each
  import's scratch folder until it is renamed into place.

When is a file imported (again)?

- The entry is used as it is when the record's path, size and mtime are
  the source's now, and NAME.pt has the size and sha256 the record names
  (hashed once per process, then trusted while its size and mtime stay).
- A source whose size or mtime changed (also a touched one) is imported
  again, and its entry replaced. A file replaced by another of the same
  size and the same mtime to the nanosecond is taken as unchanged: the
  source is not hashed on each run (a BiRefNet file is about 1 GB).
- A missing, unreadable or corrupt record or NAME.pt is rebuilt.
- A refused file is recorded as refused, and each run raises the same
  message without trying again, until the file changes or the importer
  does (the record names a hash of python_wrapper/model_import's sources, so an
  update that learns a new kind of file tries again).

Nothing is written in place: NAME.pt and NAME.json are written in the
scratch folder and renamed over the old ones, NAME.pt first, so a crash or
a Cancel at any point leaves an entry that is either whole or rebuilt.

verify: import_model() compares an ONNX conversion with onnxruntime-node
when the checkout has it (tools/fetch-model --with-reference) and node is
on PATH; a ComfyUI install usually has neither, and then the check is
skipped and the record says so.

Threading: ensure() may run on any thread; entries are locked per file.
"""

import datetime
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading

from . import model_folders, model_import_tools
from .cutout_library import REPOSITORY_DIR
from .file_lock import FileLock

RECORD_FORMAT = 1
WORK_SUBDIR = ".work"
NAME_STEM_LIMIT = 40  # stem + "-" + 12 hex digits stays under the library's 63
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")

log = logging.getLogger("cutout")


class ImportRefused(RuntimeError):
    """The importer refused a file (recorded, not retried until it changes)."""


class ImportUnavailable(RuntimeError):
    """A file could not be imported and the importer did not refuse it
    (missing tools or Python packages, an unreadable source, a full disk,
    a crash inside the converter); nothing is recorded, so the next run
    tries again."""


# --------------------------------------------------------------------------
# Names and records


def cache_dir():
    """models/cutout/imported/ of this ComfyUI; None outside ComfyUI."""
    return model_folders.imported_models_dir()


def entry_name(label, source_path):
    """The library model name of a source's cache entry: readable (the
    label's characters the library allows) and unique (a hash of the path)."""
    stem = os.path.splitext(label)[0]
    stem = "".join(c if c in NAME_CHARS else "_" for c in stem).lstrip(".")[:NAME_STEM_LIMIT] or "model"
    digest = hashlib.sha256(os.path.normcase(os.path.abspath(source_path)).encode("utf-8")).hexdigest()
    return f"{stem}-{digest[:12]}"


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_importer_id = None
_importer_id_lock = threading.Lock()


def importer_id():
    """A hash of python_wrapper/model_import/*.py: changes when the importer does."""
    global _importer_id
    with _importer_id_lock:
        if _importer_id is None:
            digest = hashlib.sha256()
            folder = model_import_tools.PACKAGE_DIR
            names = sorted(n for n in os.listdir(folder) if n.endswith(".py")) if folder.is_dir() else []
            for name in names:
                digest.update(name.encode("utf-8") + b"\0")
                digest.update((folder / name).read_bytes())
            _importer_id = digest.hexdigest()[:16]
        return _importer_id


def read_record(path):
    """The record at path, or None when it is missing or not a record."""
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return None
    if not isinstance(record.get("source"), dict) or record.get("status") not in ("imported", "refused"):
        return None
    return record


def _write_json(path, document, scratch):
    tmp = os.path.join(scratch, os.path.basename(path) + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def _same_source(record, path, stat):
    source = record["source"]
    return (source.get("path") == path and source.get("size") == stat.st_size
            and source.get("mtime_ns") == stat.st_mtime_ns)


# NAME.pt files hashed in this process: path -> (size, mtime_ns, sha256).
_checked_models = {}
_checked_lock = threading.Lock()


def _model_intact(model_path, record):
    """True when model_path has the size and sha256 the record names."""
    expected = record.get("model") or {}
    try:
        stat = os.stat(model_path)
    except OSError:
        return False
    if stat.st_size != expected.get("size"):
        return False
    with _checked_lock:
        known = _checked_models.get(model_path)
    if known is None or known[:2] != (stat.st_size, stat.st_mtime_ns):
        try:
            known = (stat.st_size, stat.st_mtime_ns, file_sha256(model_path))
        except OSError:
            return False
        with _checked_lock:
            _checked_models[model_path] = known
    return known[2] == expected.get("sha256")


def verify_available():
    """True when import_model's onnxruntime check can run here."""
    package = os.path.join(model_import_tools.PACKAGE_DIR, "node_modules", "onnxruntime-node", "package.json")
    return os.path.isfile(package) and shutil.which("node") is not None


# --------------------------------------------------------------------------
# What the tooltip says


def describe(foreign):
    """One short phrase on the state of a listed file's entry (never raises)."""
    directory = cache_dir()
    if directory is None:
        return "imported on first use"
    name = entry_name(foreign.label, foreign.path)
    record = read_record(os.path.join(directory, name + ".json"))
    try:
        stat = os.stat(foreign.path)
    except OSError:
        return "unreadable"
    if record is None:
        return "imported on first use (takes a while once)"
    if not _same_source(record, foreign.path, stat):
        return "changed since its import: imported again on next use"
    if record["status"] == "refused":
        if record.get("importer") != importer_id():
            return "refused by an older importer: tried again on next use"
        return "refused when imported (choose it to see why)"
    license = ((record.get("entry") or {}).get("license") or {}).get("weights", "unknown")
    return f"imported, licence {license}"


# --------------------------------------------------------------------------
# Importing


def _refusal_message(foreign, text):
    return (f"model {foreign.label}: cannot be imported: {text} (refused on first use; not tried again "
            f"until the file changes or cutout's importer is updated. tools/import-model in the cutout "
            f"folder imports a file with settings given by hand, into models/cutout/)")


def ensure(foreign, progress=None, check_cancel=None):
    """Imports the listed file `foreign` (a foreign_models.ForeignModel) into
    the cache unless its entry is current; returns the entry's library model
    name.

    progress(fraction, message) follows the import's steps; check_cancel()
    is called between them and while waiting for another process's import
    of the same file: what it raises (ComfyUI's interrupt) stops the import,
    leaves the old entry (if any) as it was, and propagates. Raises
    ImportRefused (recorded) or ImportUnavailable (not recorded).
    """
    directory = cache_dir()
    if directory is None:
        raise ImportUnavailable(f"model {foreign.label}: importing needs ComfyUI's models folder")
    work = os.path.join(directory, WORK_SUBDIR)
    try:
        os.makedirs(work, exist_ok=True)
    except OSError as error:
        raise ImportUnavailable(f"model {foreign.label}: cannot create the import cache {directory} ({error})")
    name = entry_name(foreign.label, foreign.path)
    record_path = os.path.join(directory, name + ".json")
    model_path = os.path.join(directory, name + ".pt")
    lock = FileLock(os.path.join(work, name + ".lock"), while_waiting=check_cancel)
    try:
        lock.__enter__()
    except OSError as error:  # ENOLCK and the like: waiting would never end
        raise ImportUnavailable(f"model {foreign.label}: cannot lock its import cache entry ({error})") from None
    try:
        return _ensure_locked(foreign, name, directory, work, record_path, model_path, progress, check_cancel)
    finally:
        lock.__exit__(None, None, None)


def _remove_stale_scratch(work, name):
    """Removes the scratch folders (work/NAME.XXXXXXXX) an import of this
    entry killed midway left. Only under the entry's lock: no live import of
    the entry can own one then."""
    prefix = name + "."
    try:
        leftovers = [e.path for e in os.scandir(work)
                     if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for path in leftovers:
        log.info("cutout: removing %s, left by an import that did not finish", path)
        shutil.rmtree(path, ignore_errors=True)


def _ensure_locked(foreign, name, directory, work, record_path, model_path, progress, check_cancel):
    """ensure()'s work once the entry's lock is held."""
    _remove_stale_scratch(work, name)
    try:
        stat = os.stat(foreign.path)
    except OSError as error:
        raise ImportUnavailable(f"model {foreign.label}: cannot read {foreign.path} ({error.strerror})")
    record = read_record(record_path)
    if record is not None and _same_source(record, foreign.path, stat):
        if record["status"] == "refused" and record.get("importer") == importer_id():
            raise ImportRefused(_refusal_message(foreign, record.get("refusal", "")))
        if record["status"] == "imported" and _model_intact(model_path, record):
            return name
    _import(foreign, stat, name, directory, work, progress, check_cancel)
    return name


def _import(foreign, stat, name, directory, work, progress, check_cancel):
    try:
        importer = model_import_tools.module("importer")
    except model_import_tools.ToolsUnavailable as error:
        raise ImportUnavailable(f"model {foreign.label}: cannot be imported: {error}") from None

    stopped = []  # what the host's callbacks raised (a Cancel), which passes through unchanged

    def report(fraction, message):
        log.info("cutout: importing %s: [%3.0f%%] %s", foreign.label, fraction * 100, message)
        try:
            if progress is not None:
                progress(fraction, message)
            if check_cancel is not None:
                check_cancel()
        except BaseException as error:
            stopped.append(error)
            raise

    verify = verify_available()
    record = {"format": RECORD_FORMAT,
              "source": {"path": foreign.path, "label": foreign.label, "size": stat.st_size,
                         "mtime_ns": stat.st_mtime_ns},
              "importer": importer_id(),
              "imported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    record_path = os.path.join(directory, name + ".json")
    model_path = os.path.join(directory, name + ".pt")
    scratch = tempfile.mkdtemp(prefix=name + ".", dir=work)
    try:
        if check_cancel is not None:
            check_cancel()
        try:
            entry = importer.import_model(foreign.path, scratch, name=name, progress=report, verify=verify,
                                          root=str(REPOSITORY_DIR))
        except importer.ImportFailure as failure:
            record.update(status="refused", refusal=str(failure))
            _write_json(record_path, record, scratch)
            if os.path.exists(model_path):
                os.remove(model_path)  # the model of the file as it was before
            log.warning("cutout: %s", _refusal_message(foreign, failure))
            raise ImportRefused(_refusal_message(foreign, failure)) from None
        except OSError:
            raise
        except Exception as error:  # noqa: BLE001 - a converter crash, named with the file
            if stopped and error is stopped[-1]:
                raise
            raise ImportUnavailable(f"model {foreign.label}: importing {foreign.path} failed "
                                    f"({type(error).__name__}: {error})") from error
        produced = os.path.join(scratch, entry["file"])
        if not verify:
            entry["verification"] = {"skipped": "no onnxruntime-node (tools/fetch-model --with-reference) "
                                                 "or no node on PATH"}
        record.update(status="imported", entry=entry,
                      model={"file": name + ".pt", "size": os.path.getsize(produced),
                             "sha256": file_sha256(produced)})
        os.replace(produced, model_path)
        _write_json(record_path, record, scratch)
    except OSError as error:
        raise ImportUnavailable(f"model {foreign.label}: importing {foreign.path} failed: {error}") from error
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
