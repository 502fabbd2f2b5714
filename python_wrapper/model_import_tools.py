"""The model importer (python_wrapper/model_import), imported on first use.

The nodes import it only when a foreign model is listed or converted, so
that loading the package needs neither onnx nor the importer's time, and a
Python that lacks one of the importer's packages gets a message naming it
instead of an ImportError.

Threading: module() may be called from any thread; Python's import lock
makes the first import happen once.
"""

import importlib
import sys
from pathlib import Path

# The importer's folder: its sources (hashed by import_cache) and, once
# tools/fetch-model --with-reference ran, onnxruntime-node.
PACKAGE_DIR = Path(__file__).resolve().parent / "model_import"

# Import names whose pip package is called otherwise.
PIP_NAMES = {"PIL": "pillow"}


class ToolsUnavailable(RuntimeError):
    """The model importer is missing, or a Python package it needs is."""


def module(name):
    """The submodule model_import/<name>.py, e.g. module("importer").

    Raises ToolsUnavailable naming the file when the importer is incomplete,
    or the Python package this Python lacks (onnx, numpy, PIL) when one of
    the importer's imports fails.
    """
    package = f"{__package__}.model_import"
    try:
        return importlib.import_module(f"{package}.{name}")
    except ImportError as error:
        missing = getattr(error, "name", None) or str(error)
        if missing.startswith(package):
            raise ToolsUnavailable(f"{PACKAGE_DIR}: the model importer is incomplete (expected "
                                   f"{missing[len(package) + 1:]}.py there)") from error
        top = missing.split(".")[0]
        raise ToolsUnavailable(
            f"the model importer needs the Python package '{top}', which the Python running "
            f"ComfyUI ({sys.executable}) lacks: install it into that Python "
            f"(pip install {PIP_NAMES.get(top, top)})"
        ) from error
