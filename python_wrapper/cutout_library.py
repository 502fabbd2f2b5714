"""ctypes binding of libcutout (plugin/include/cutout.h), independent of ComfyUI.

``load_library()`` loads the shared library once per path, then refuses it
unless its ABI version is the one these structs mirror and it was built
against the torch release running in this process (two libtorch copies in
one process crash). ``Context`` owns a ``cutout_context``; ``Context.run``
runs a node on torch tensors and returns torch tensors.

Errors: everything the library reports becomes a ``CutoutError`` carrying the
library's message and status: ``CutoutInputError`` (also a ValueError) for
bad input, ``CutoutCancelled`` when the abort callback stopped the call, and
``CutoutRuntimeError`` (also a RuntimeError) for the rest. A library that
cannot be used raises ``CutoutLoadError`` (a RuntimeError) naming the
command that rebuilds it.

Threading: a loaded library and a Context may be used from several threads;
the library releases nothing it shares with Python, and ctypes releases the
GIL during a call. Callbacks run on the calling thread before run() returns.
"""

import ctypes
import os
import re
import shlex
import sys
import threading
from pathlib import Path

import torch

from . import dlpack_bridge
from .dlpack_bridge import BorrowedTensor, DLManagedTensorPointer, DLTensor

# The CUTOUT_ABI_VERSION whose struct layouts this file mirrors.
ABI_VERSION = 1

PACKAGE_DIR = Path(__file__).resolve().parent
REPOSITORY_DIR = PACKAGE_DIR.parent
INSTALL_SCRIPT = PACKAGE_DIR / "install.py"

# Environment variable naming the library file to load instead of the one
# install.py builds.
LIBRARY_ENV = "CUTOUT_LIBRARY"

# cutout_status values (fixed forever by cutout.h).
CUTOUT_OK = 0
CUTOUT_CANCELLED = 1
CUTOUT_ERR_INVALID_ARGUMENT = -1
CUTOUT_ERR_INVALID_INPUT = -2
CUTOUT_ERR_LIMIT = -3
CUTOUT_ERR_UNKNOWN_NODE = -4
CUTOUT_ERR_MODEL_NOT_FOUND = -5
CUTOUT_ERR_MODEL_INVALID = -6
CUTOUT_ERR_DEVICE = -7
CUTOUT_ERR_OUT_OF_MEMORY = -8
CUTOUT_ERR_INFERENCE = -9
CUTOUT_ERR_SPEC = -10
CUTOUT_ERR_INTERNAL = -12

# cutout_value_kind values.
VALUE_TENSOR = 1
VALUE_INT = 2
VALUE_FLOAT = 3
VALUE_BOOL = 4
VALUE_STRING = 5


def library_file_name():
    """The platform's file name of the library, e.g. "libcutout.so"."""
    if sys.platform == "win32":
        return "cutout.dll"
    if sys.platform == "darwin":
        return "libcutout.dylib"
    return "libcutout.so"


def default_library_path():
    """Where install.py puts the library: <repository>/build/libcutout.so,
    unless CUTOUT_LIBRARY names another file."""
    override = os.environ.get(LIBRARY_ENV)
    if override:
        return Path(override)
    return REPOSITORY_DIR / "build" / library_file_name()


def rebuild_command():
    """The shell command that rebuilds the library against the running torch."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(INSTALL_SCRIPT))}"


# --------------------------------------------------------------------------
# Errors


class CutoutLoadError(RuntimeError):
    """The library is missing, is not libcutout, or does not fit this process."""


class CutoutError(Exception):
    """A failure reported by the library: ``status`` (an int) and its name."""

    def __init__(self, message, status, status_name):
        super().__init__(message)
        self.status = status
        self.status_name = status_name


class CutoutInputError(CutoutError, ValueError):
    """An input failed its spec (CUTOUT_ERR_INVALID_INPUT, CUTOUT_ERR_LIMIT)."""


class CutoutRuntimeError(CutoutError, RuntimeError):
    """Any other failure (model, device, memory, inference, internal)."""


class CutoutModelNotFound(CutoutRuntimeError):
    """CUTOUT_ERR_MODEL_NOT_FOUND: no file for that model name."""


class CutoutCancelled(CutoutError):
    """The abort callback returned true; the call left no outputs behind."""


_INPUT_STATUSES = (CUTOUT_ERR_INVALID_INPUT, CUTOUT_ERR_LIMIT)


def _error_for(status, message, status_name):
    text = f"{message} [{status_name}]" if message else status_name
    if status == CUTOUT_CANCELLED:
        return CutoutCancelled(text, status, status_name)
    if status in _INPUT_STATUSES:
        return CutoutInputError(text, status, status_name)
    if status == CUTOUT_ERR_MODEL_NOT_FOUND:
        return CutoutModelNotFound(text, status, status_name)
    return CutoutRuntimeError(text, status, status_name)


# --------------------------------------------------------------------------
# Structs of cutout.h (layout of CUTOUT_ABI_VERSION 1)

ProgressCallback = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)
AbortCallback = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p)


class ContextParams(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("model_dirs", ctypes.POINTER(ctypes.c_char_p)),
        ("num_model_dirs", ctypes.c_size_t),
        ("device", ctypes.c_char_p),
        ("num_threads", ctypes.c_int32),
        ("nodes_json", ctypes.c_char_p),
        ("cpu_shared_passes", ctypes.c_bool),
        ("no_direct_convolutions", ctypes.c_bool),
    ]


class Input(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("kind", ctypes.c_int),
        ("tensor", ctypes.POINTER(DLTensor)),
        ("i", ctypes.c_int64),
        ("f", ctypes.c_double),
        ("b", ctypes.c_bool),
        ("s", ctypes.c_char_p),
    ]


class RunParams(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("progress", ProgressCallback),
        ("progress_user", ctypes.c_void_p),
        ("should_abort", AbortCallback),
        ("abort_user", ctypes.c_void_p),
    ]


# --------------------------------------------------------------------------
# Version checks (pure functions, so their messages can be tested directly)


def release_of(version):
    """(major, minor, patch) of a version string such as "2.3.1+cu121" or
    "1.13.0a0"; None when it does not start with a number."""
    match = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def check_abi_version(library_abi, library_path):
    """Raises CutoutLoadError unless the library's ABI is ABI_VERSION."""
    if library_abi != ABI_VERSION:
        raise CutoutLoadError(
            f"{library_path}: ABI version mismatch (expected {ABI_VERSION}, got {library_abi}). "
            f"The library was built from another version of cutout than this Python package. "
            f"Rebuild it from this checkout with: {rebuild_command()}"
        )


def check_torch_version(library_torch, running_torch, library_path):
    """Raises CutoutLoadError unless the library was built against the torch
    release running now (local suffixes like "+cu121" and pre-release tags
    like "a0" are ignored). A library whose version is not a number ("none")
    carries no libtorch and passes."""
    built = release_of(library_torch)
    if built is None:
        return
    running = release_of(running_torch.split("+", 1)[0])
    if built != running:
        raise CutoutLoadError(
            f"{library_path}: torch version mismatch (expected a library built against torch "
            f"{running_torch}, got one built against libtorch {library_torch}). Loading it would "
            f"put two different libtorch copies in this process, which crashes. Rebuild it "
            f"against the running torch with: {rebuild_command()}"
        )


def built_torch_version(library_path):
    """The torch release the build recorded beside the library
    (LIBRARY.torch-version, one line such as "2.13.0"); None when there is
    no such file (a build from before it was written) or it is empty."""
    try:
        text = Path(str(library_path) + ".torch-version").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def loaded_libtorch_copies():
    """Distinct files of libc10 mapped into this process (Linux; [] elsewhere)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            fields = [line.split(None, 5) for line in maps]
    except OSError:
        return []
    paths = {f[5].strip() for f in fields if len(f) == 6}
    copies = set()
    for path in paths:
        if re.match(r"libc10\.(so|dylib)", os.path.basename(path)):
            copies.add(os.path.realpath(path))
    return sorted(copies)


# --------------------------------------------------------------------------
# The library


class CutoutLibrary:
    """One loaded libcutout with its function prototypes declared."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise CutoutLoadError(
                f"{self.path}: the cutout library is not built (expected the file to exist). "
                f"Build it against the running torch with: {rebuild_command()}"
            )
        # Before loading: a library built against another torch can crash
        # this process while it loads (two libtorch copies register the same
        # operators), so its build's record beside it is checked first.
        built_against = built_torch_version(self.path)
        if built_against is not None:
            check_torch_version(built_against, torch.__version__, self.path)
        try:
            self.dll = ctypes.CDLL(str(self.path))
        except OSError as error:
            raise CutoutLoadError(
                f"{self.path}: cannot be loaded ({error}). Rebuild it with: {rebuild_command()}"
            ) from error
        # Versions first: a library of another ABI may lack later symbols.
        try:
            self._declare_versions()
            check_abi_version(int(self.dll.cutout_abi_version()), self.path)
            self.torch_version = self.dll.cutout_torch_version().decode("utf-8", "replace")
            check_torch_version(self.torch_version, torch.__version__, self.path)
            self._declare()
        except AttributeError as error:
            raise CutoutLoadError(
                f"{self.path}: not a cutout library (missing symbol: {error}). "
                f"Rebuild it with: {rebuild_command()}"
            ) from error
        copies = loaded_libtorch_copies()
        if len(copies) > 1:
            raise CutoutLoadError(
                f"{self.path}: two libtorch copies are loaded in this process (expected one, got "
                f"{', '.join(copies)}), which crashes. Rebuild the library against the running "
                f"torch with: {rebuild_command()}"
            )
        self.version = self.dll.cutout_version_string().decode("utf-8", "replace")
        self.nodes_json = self.dll.cutout_nodes_json().decode("utf-8")

    def _declare_versions(self):
        d = self.dll
        d.cutout_abi_version.restype = ctypes.c_int32
        d.cutout_abi_version.argtypes = []
        d.cutout_torch_version.restype = ctypes.c_char_p
        d.cutout_torch_version.argtypes = []

    def _declare(self):
        d = self.dll
        d.cutout_version_string.restype = ctypes.c_char_p
        d.cutout_version_string.argtypes = []
        d.cutout_nodes_json.restype = ctypes.c_char_p
        d.cutout_nodes_json.argtypes = []
        d.cutout_status_string.restype = ctypes.c_char_p
        d.cutout_status_string.argtypes = [ctypes.c_int]
        d.cutout_last_error.restype = ctypes.c_char_p
        d.cutout_last_error.argtypes = []
        d.cutout_context_default_params.restype = ContextParams
        d.cutout_context_default_params.argtypes = []
        d.cutout_context_create.restype = ctypes.c_int
        d.cutout_context_create.argtypes = [ctypes.POINTER(ContextParams), ctypes.POINTER(ctypes.c_void_p)]
        d.cutout_context_destroy.restype = None
        d.cutout_context_destroy.argtypes = [ctypes.c_void_p]
        d.cutout_context_model_count.restype = ctypes.c_int64
        d.cutout_context_model_count.argtypes = [ctypes.c_void_p]
        d.cutout_context_model_name.restype = ctypes.c_char_p
        d.cutout_context_model_name.argtypes = [ctypes.c_void_p, ctypes.c_int64]
        d.cutout_context_model_dir_count.restype = ctypes.c_int64
        d.cutout_context_model_dir_count.argtypes = [ctypes.c_void_p]
        d.cutout_context_model_dir.restype = ctypes.c_char_p
        d.cutout_context_model_dir.argtypes = [ctypes.c_void_p, ctypes.c_int64]
        d.cutout_context_model_path.restype = ctypes.c_int
        d.cutout_context_model_path.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
        d.cutout_run_default_params.restype = RunParams
        d.cutout_run_default_params.argtypes = []
        d.cutout_node_run.restype = ctypes.c_int
        d.cutout_node_run.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(Input),
            ctypes.c_size_t,
            ctypes.POINTER(RunParams),
            ctypes.POINTER(DLManagedTensorPointer),
            ctypes.c_size_t,
        ]

    def error(self, status):
        """The CutoutError for `status`, with the calling thread's message.
        Call it right after the failing call, on the same thread."""
        message = self.dll.cutout_last_error().decode("utf-8", "replace")
        name = self.dll.cutout_status_string(status).decode("ascii", "replace")
        return _error_for(status, message, name)


_libraries = {}
_libraries_lock = threading.Lock()


def load_library(path=None):
    """The CutoutLibrary at `path` (default: default_library_path()), loaded
    once per process and checked (ABI, torch version). Raises CutoutLoadError."""
    resolved = Path(path) if path is not None else default_library_path()
    resolved = resolved.resolve() if resolved.exists() else resolved
    with _libraries_lock:
        library = _libraries.get(resolved)
        if library is None:
            library = CutoutLibrary(resolved)
            _libraries[resolved] = library
        return library


# --------------------------------------------------------------------------
# Context


class Context:
    """A cutout_context: model directories, a device, and the models it loads.

    Models load lazily on first use and stay loaded until the Context is
    garbage-collected or closed. Safe to share between threads; close() only
    when no run() is in progress.
    """

    def __init__(self, library, model_dirs=(), device="cpu", num_threads=None, nodes_json=None):
        self.library = library
        self.model_dirs = tuple(str(d) for d in model_dirs)
        self.device = device
        dirs = [d.encode("utf-8") for d in self.model_dirs]
        dir_array = (ctypes.c_char_p * max(len(dirs), 1))(*dirs)
        params = library.dll.cutout_context_default_params()
        params.struct_size = ctypes.sizeof(ContextParams)
        params.model_dirs = ctypes.cast(dir_array, ctypes.POINTER(ctypes.c_char_p))
        params.num_model_dirs = len(dirs)
        params.device = device.encode("utf-8")
        # libtorch's thread count is process-wide and shared with the host's
        # torch: by default keep whatever the host chose.
        params.num_threads = torch.get_num_threads() if num_threads is None else int(num_threads)
        params.nodes_json = nodes_json.encode("utf-8") if nodes_json is not None else None
        handle = ctypes.c_void_p()
        status = library.dll.cutout_context_create(ctypes.byref(params), ctypes.byref(handle))
        if status != CUTOUT_OK:
            raise library.error(status)
        self._handle = handle

    def close(self):
        """Frees the context and its models. Outputs already returned stay valid."""
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            self.library.dll.cutout_context_destroy(handle)

    def __del__(self):
        self.close()

    def model_names(self):
        """Names of the models found in the search directories, in order."""
        dll = self.library.dll
        names = []
        for i in range(dll.cutout_context_model_count(self._handle)):
            name = dll.cutout_context_model_name(self._handle, i)
            if name is not None:
                names.append(name.decode("utf-8", "replace"))
        return names

    def search_dirs(self):
        """The folders this context searches for models, in order: the library's
        own rule (the given model_dirs, CUTOUT_MODEL_PATH, then models/ beside
        the library and one folder up)."""
        dll = self.library.dll
        dirs = []
        for i in range(dll.cutout_context_model_dir_count(self._handle)):
            d = dll.cutout_context_model_dir(self._handle, i)
            if d is not None:
                dirs.append(os.fsdecode(d))
        return dirs

    def model_path(self, name):
        """The file model `name` loads from. Raises CutoutModelNotFound."""
        buffer = ctypes.create_string_buffer(4096)
        status = self.library.dll.cutout_context_model_path(
            self._handle, name.encode("utf-8"), buffer, ctypes.sizeof(buffer)
        )
        if status != CUTOUT_OK:
            raise self.library.error(status)
        return buffer.value.decode("utf-8", "replace")

    def run(self, node_id, inputs, num_outputs, progress=None, should_abort=None):
        """Runs node `node_id` and returns its outputs as torch tensors.

        inputs: (name, kind, value) triples; kind is one of VALUE_*; a
        VALUE_TENSOR value is a torch tensor the library reads in place.
        progress(done, total) is called after each batch item; should_abort()
        is polled and stops the call when it returns true. Either may raise:
        the exception stops the call and is re-raised here once the library
        has returned, after every output has been freed.

        Returns float32 tensors on the inputs' device. Raises CutoutError.
        """
        keep_alive = []
        array = (Input * max(len(inputs), 1))()
        for slot, (name, kind, value) in zip(array, inputs):
            encoded_name = name.encode("utf-8")
            keep_alive.append(encoded_name)
            slot.name = encoded_name
            slot.kind = kind
            if kind == VALUE_TENSOR:
                borrowed = BorrowedTensor(value)
                keep_alive.append(borrowed)
                slot.tensor = borrowed.pointer
            elif kind == VALUE_INT:
                slot.i = int(value)
            elif kind == VALUE_FLOAT:
                slot.f = float(value)
            elif kind == VALUE_BOOL:
                slot.b = bool(value)
            elif kind == VALUE_STRING:
                encoded = str(value).encode("utf-8")
                keep_alive.append(encoded)
                slot.s = encoded
            else:
                raise ValueError(f"{name}: unknown value kind {kind}")

        # No Python exception may cross back into C: callbacks catch
        # everything, remember the first exception, and stop the call.
        pending = []

        def on_progress(done, total, _user):
            if pending:
                return
            try:
                if progress is not None:
                    progress(int(done), int(total))
            except BaseException as error:  # noqa: B036 - re-raised after the call
                pending.append(error)

        def on_abort(_user):
            if pending:
                return True
            try:
                return bool(should_abort()) if should_abort is not None else False
            except BaseException as error:  # noqa: B036 - re-raised after the call
                pending.append(error)
                return True

        params = self.library.dll.cutout_run_default_params()
        params.struct_size = ctypes.sizeof(RunParams)
        params.progress = ProgressCallback(on_progress)
        params.should_abort = AbortCallback(on_abort)
        keep_alive.append(params)

        outputs = (DLManagedTensorPointer * max(num_outputs, 1))()
        status = self.library.dll.cutout_node_run(
            self._handle,
            node_id.encode("utf-8"),
            array,
            len(inputs),
            ctypes.byref(params),
            outputs,
            num_outputs,
        )
        if status != CUTOUT_OK:
            error = self.library.error(status)
            if pending:
                raise pending[0] from error
            raise error
        if pending:
            for i in range(num_outputs):
                dlpack_bridge.free_managed_tensor(outputs[i])
            raise pending[0]
        return _take_outputs(outputs, num_outputs)


def _take_outputs(outputs, count):
    """Moves each owned output into a torch tensor; on a failure frees the
    ones not yet moved and re-raises."""
    tensors = []
    for i in range(count):
        try:
            tensors.append(dlpack_bridge.managed_tensor_to_torch(outputs[i]))
        except BaseException:
            for j in range(i + 1, count):
                dlpack_bridge.free_managed_tensor(outputs[j])
            raise
    return tensors
