"""What runs on a Dask worker: a chunk of image paths through one files
session per worker process.

The session is opened at the worker's first chunk and kept: the model is
loaded once per worker, and the context has as many threads as the worker
(``dask worker --nthreads``). Chunks run one at a time in a process, so an
image has all of those threads; a chunk with other options closes the
session and opens one for them. Outputs are always written with replace
semantics, because a chunk that Dask runs again after its worker died
finds the files its first run wrote (the client decides beforehand which
existing files a run may replace).

Workers find libcutout_files.so as files_library.default_library_path()
says and the model as the command does (CUTOUT_MODEL_PATH, models/).
"""

import threading
import time

from python_wrapper import files_library

_lock = threading.Lock()
_session = None  # (key, Session) of the last chunk


def _worker_threads():
    """The running Dask worker's thread count; 0 (every core) elsewhere."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError):
        return 0


def _session_for(options, threads):
    """The process's session for these options, opened when needed."""
    global _session
    key = (tuple(options), threads)
    if _session is not None and _session[0] == key:
        return _session[1]
    if _session is not None:
        _session[1].close()
        _session = None
    session = files_library.load().open(options, threads=threads, overwrite=True)
    _session = (key, session)
    return session


def _result(path, status, seconds, message, fatal=False):
    return {"input": path, "status": status, "seconds": round(seconds, 4), "message": message,
            "fatal": fatal}


def process_chunk(options, paths):
    """Runs each image of ``paths`` (a list of str) through the session for
    the cutout ``options``; returns one dict per path, in order: input,
    status ("ok" or "failed"), seconds, message, and fatal, which is true
    when the model (or the session) cannot be used, so that every image
    would fail the same way: the images after it are then not tried.
    Never raises for an image or a session; Dask's own errors pass."""
    with _lock:
        try:
            session = _session_for(options, _worker_threads())
        except (files_library.FilesLoadError, files_library.FilesError) as exc:
            return [_result(p, "failed", 0.0, str(exc), fatal=True) for p in paths]
        results = []
        fatal_message = None
        for path in paths:
            if fatal_message is not None:
                results.append(_result(path, "failed", 0.0, fatal_message, fatal=True))
                continue
            start = time.monotonic()
            status, message = session.process(path)
            seconds = time.monotonic() - start
            if status == files_library.OK:
                results.append(_result(path, "ok", seconds, ""))
            else:
                fatal = status == files_library.MODEL_UNUSABLE
                if fatal:
                    fatal_message = message
                results.append(_result(path, "failed", seconds, message, fatal=fatal))
        return results
