"""What a model file says about itself: the licence and source written in
the cutout_meta.json inside its TorchScript archive (a zip), read as data
without loading the model. Shown in the model input's tooltip."""

import functools
import json
import os
import zipfile

META_FILE = "cutout_meta.json"
META_MAX_BYTES = 1 << 20  # metadata is a few hundred bytes; more is not ours


@functools.lru_cache(maxsize=256)
def _read(path, _mtime_ns, _size):
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.endswith("/extra/" + META_FILE) and info.file_size <= META_MAX_BYTES:
                return json.loads(archive.read(info))
    return {}


def provenance(path):
    """(licence, source) of the model file at path; ("unknown", "") for a
    file without readable metadata (never raises)."""
    try:
        stat = os.stat(path)
        meta = _read(path, stat.st_mtime_ns, stat.st_size)
    except (OSError, zipfile.BadZipFile, ValueError, RuntimeError):  # not a TorchScript archive
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    license, source = meta.get("license"), meta.get("source")
    return (license if isinstance(license, str) and license else "unknown",
            source if isinstance(source, str) else "")
