"""The repository's tools/model_import package, loaded by path.

The converter lives in tools/ (the import-model command uses it too); the
ComfyUI package loads it from its own checkout with importlib, under a name
of its own, so the nodes and the command always run the same converter and
nothing is put on sys.path.

Threading: module() may be called from any thread; loading happens once.
"""

import importlib
import importlib.util
import sys
import threading

from .cutout_library import REPOSITORY_DIR

TOOLS_DIR = REPOSITORY_DIR / "tools" / "model_import"

_lock = threading.Lock()

# Import names whose pip package is called otherwise.
PIP_NAMES = {"PIL": "pillow"}


class ToolsUnavailable(RuntimeError):
    """tools/model_import is missing, or a Python package it needs is."""


def _package_name():
    # One name per copy of this package, so that a reloaded copy loads the
    # tools again instead of reusing another copy's modules.
    return f"{__package__}._model_import"


def module(name):
    """The submodule tools/model_import/<name>.py, e.g. module("importer").

    Raises ToolsUnavailable naming the folder when the tools are not in the
    checkout, or the Python package this Python lacks (onnx, numpy, PIL)
    when one of the tools' imports fails.
    """
    package = _package_name()
    with _lock:
        if package not in sys.modules:
            init = TOOLS_DIR / "__init__.py"
            if not init.is_file():
                raise ToolsUnavailable(f"{TOOLS_DIR}: the model importer is missing (expected the "
                                       f"repository's tools/model_import folder next to python_wrapper/)")
            spec = importlib.util.spec_from_file_location(package, init,
                                                          submodule_search_locations=[str(TOOLS_DIR)])
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[package] = loaded
            try:
                spec.loader.exec_module(loaded)
            except BaseException:
                del sys.modules[package]
                raise
        try:
            return importlib.import_module(f"{package}.{name}")
        except ImportError as error:
            missing = getattr(error, "name", None) or str(error)
            if missing.startswith(package):
                raise ToolsUnavailable(f"{TOOLS_DIR}: the model importer is incomplete (expected "
                                       f"{missing[len(package) + 1:]}.py there)") from error
            top = missing.split(".")[0]
            raise ToolsUnavailable(
                f"the model importer needs the Python package '{top}', which the Python running "
                f"ComfyUI ({sys.executable}) lacks: install it into that Python "
                f"(pip install {PIP_NAMES.get(top, top)})"
            ) from error
