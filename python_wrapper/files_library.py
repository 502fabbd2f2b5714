"""ctypes binding of libcutout_files.so (examples/cli/cutout_files.h).

``load()`` loads the library once per process and checks its ABI version.
``FilesLibrary.open()`` makes a ``Session``: the cutout command's options and
one library context. Paths cross as bytes (``os.fsencode``), so any file
name the system allows goes through unchanged.

Errors: ``FilesError`` carries the library's status and message; a library
that is missing or of another version raises ``FilesLoadError``.

Threading: a Session may be used from several threads (the library allows
it); worker.py still runs one chunk at a time so that one image has all the
worker's threads.
"""

import ctypes
import os
import threading
from pathlib import Path

# The CUTOUT_FILES_ABI_VERSION these declarations mirror.
ABI_VERSION = 1

# cutout_files_status values.
OK = 0
FAILED = 1
MODEL_UNUSABLE = 2
USAGE = 3
SETUP = 4

STATUS_NAMES = {OK: "ok", FAILED: "failed", MODEL_UNUSABLE: "model unusable", USAGE: "usage",
                SETUP: "setup"}

# Environment variable naming the library file, for a build elsewhere.
LIBRARY_ENV = "CUTOUT_FILES_LIBRARY"

MESSAGE_CAP = 2048
# Output names are the output folder, a stem and a suffix: this covers any
# path the system accepts (PATH_MAX is 4096) twice over.
NAME_CAP = 16384

ListCallback = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_void_p)


class FilesLoadError(RuntimeError):
    """libcutout_files.so is missing or does not match this binding."""


class FilesError(Exception):
    """A failure the library reported: ``status`` and the message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def default_library_path():
    """$CUTOUT_FILES_LIBRARY, else build/libcutout_files.so of this checkout."""
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[1] / "build" / "libcutout_files.so"


_loaded = {}
_load_lock = threading.Lock()


def load(path=None):
    """The FilesLibrary at ``path`` (default_library_path()), loaded once
    per process. Raises FilesLoadError naming the file and what is wrong."""
    path = Path(path) if path is not None else default_library_path()
    with _load_lock:
        if path not in _loaded:
            _loaded[path] = FilesLibrary(path)
        return _loaded[path]


def _message(buffer):
    return os.fsdecode(buffer.value)


class FilesLibrary:
    """The loaded library. Build it with ``cmake --build build``."""

    def __init__(self, path):
        if not path.is_file():
            raise FilesLoadError(f"{path}: no such file (build it with: cmake --build build; "
                                 f"or set {LIBRARY_ENV})")
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:
            raise FilesLoadError(f"{path}: cannot be loaded: {exc}") from exc
        lib.cutout_files_abi_version.restype = ctypes.c_int
        lib.cutout_files_abi_version.argtypes = []
        found = lib.cutout_files_abi_version()
        if found != ABI_VERSION:
            raise FilesLoadError(f"{path}: ABI version {found}, expected {ABI_VERSION}; "
                                 f"rebuild it from this checkout")
        lib.cutout_files_open.restype = ctypes.c_int
        lib.cutout_files_open.argtypes = [
            ctypes.c_int, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int32, ctypes.c_bool,
            ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_size_t]
        lib.cutout_files_list.restype = ctypes.c_int
        lib.cutout_files_list.argtypes = [ctypes.c_char_p, ListCallback, ctypes.c_void_p,
                                          ctypes.c_char_p, ctypes.c_size_t]
        lib.cutout_files_output_names.restype = ctypes.c_int
        lib.cutout_files_output_names.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t,
            ctypes.c_char_p, ctypes.c_size_t]
        lib.cutout_files_process.restype = ctypes.c_int
        lib.cutout_files_process.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                             ctypes.c_size_t]
        lib.cutout_files_close.restype = None
        lib.cutout_files_close.argtypes = [ctypes.c_void_p]
        self.path = path
        self._lib = lib

    def open(self, options, threads, overwrite):
        """A Session with the command's ``options`` (a list of str, no
        program name, no inputs), ``threads`` for the context (0: every
        core) and whether existing outputs may be replaced. Raises
        FilesError (status USAGE, MODEL_UNUSABLE or SETUP) with the
        library's message. The caller closes the session."""
        encoded = [os.fsencode(o) for o in options]
        argv = (ctypes.c_char_p * (len(encoded) + 1))(*encoded, None)
        handle = ctypes.c_void_p()
        err = ctypes.create_string_buffer(MESSAGE_CAP)
        status = self._lib.cutout_files_open(len(encoded), argv, threads, overwrite,
                                             ctypes.byref(handle), err, MESSAGE_CAP)
        if status != OK:
            raise FilesError(status, _message(err))
        return Session(self._lib, handle)

    def list_entry(self, entry):
        """The image paths of one INPUT entry (a file, or a directory's
        images sorted by name), as the command lists it. Raises FilesError
        (FAILED) with the reason, e.g. "cannot open: No such file or
        directory"."""
        paths = []

        def collect(path, _user):
            paths.append(os.fsdecode(path))

        callback = ListCallback(collect)
        err = ctypes.create_string_buffer(MESSAGE_CAP)
        status = self._lib.cutout_files_list(os.fsencode(entry), callback, None, err,
                                             MESSAGE_CAP)
        if status != OK:
            raise FilesError(status, _message(err))
        return paths


class Session:
    """One cutout_files session: the options and one loaded model. Not
    made directly: FilesLibrary.open(). Close it (or use ``with``)."""

    def __init__(self, lib, handle):
        self._lib = lib
        self._handle = handle
        self._rgba = ctypes.create_string_buffer(NAME_CAP)
        self._mask = ctypes.create_string_buffer(NAME_CAP)
        self._names_lock = threading.Lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check_open(self):
        if not self._handle:
            raise FilesError(USAGE, "the session is closed")

    def output_names(self, input_path):
        """(rgba, mask): the files written for ``input_path``, each None
        when not written. Reads no file. Raises FilesError (FAILED) when a
        name does not fit, (USAGE) after close()."""
        self._check_open()
        with self._names_lock:
            status = self._lib.cutout_files_output_names(
                self._handle, os.fsencode(input_path), self._rgba, NAME_CAP, self._mask,
                NAME_CAP)
            if status != OK:
                raise FilesError(status, f"{input_path}: output name too long")
            return (os.fsdecode(self._rgba.value) or None, os.fsdecode(self._mask.value) or None)

    def process(self, input_path):
        """Removes the background of one image file and writes its outputs.
        Returns (status, message): OK and "", FAILED (this image) or
        MODEL_UNUSABLE (every image would fail) with the reason. Raises
        FilesError (USAGE) after close()."""
        self._check_open()
        err = ctypes.create_string_buffer(MESSAGE_CAP)
        status = self._lib.cutout_files_process(self._handle, os.fsencode(input_path), err,
                                                MESSAGE_CAP)
        return status, (_message(err) if status != OK else "")

    def close(self):
        """Frees the context and its models; later calls raise FilesError.
        Must not run while another thread is in process()."""
        if self._handle:
            self._lib.cutout_files_close(self._handle)
            self._handle = None
