"""Checks tests/run-pip-wheel runs with a given Python, on a library built
against a pip torch wheel. The package is imported the way ComfyUI imports a
custom node folder (the repository's __init__.py, with the stand-ins for
ComfyUI's own modules), so what is checked is what a user meets.

    python wheel_build_checks.py refused REPOSITORY LIBRARY
        This Python's torch is not the one LIBRARY was built against: the
        package must refuse it before it loads it, naming install.py.
    python wheel_build_checks.py loads REPOSITORY LIBRARY
        The package loads LIBRARY and lists its nodes; a context on "cuda"
        either works or fails with a message that names CUDA.
    python wheel_build_checks.py same_masks DIR_A DIR_B
        The masks (PNG) of the same names in both folders differ by at most
        MASK_LEVELS levels of 255 anywhere: two conversions of one model, by
        two torch versions, cut out the same.

Prints one line saying what it saw; exits non-zero when that is not what
was expected.
"""

import importlib.util
import os
import sys

# Two float32 conversions of one ONNX graph agree to rounding; one level of
# 255 leaves room for a pixel that rounds the other way.
MASK_LEVELS = 1


def load_standins(repository):
    """ComfyUI's own modules (folder_paths, comfy.utils,
    comfy.model_management) as the tests' stand-ins, registered by file
    under their ComfyUI names, as ComfyUI would have imported them."""
    standins = os.path.join(repository, "tests", "python", "comfy_standins")
    for name, relative in (("folder_paths", "folder_paths.py"), ("comfy", "comfy/__init__.py"),
                           ("comfy.utils", "comfy/utils.py"),
                           ("comfy.model_management", "comfy/model_management.py")):
        if name in sys.modules:
            continue
        search = [os.path.join(standins, "comfy")] if name == "comfy" else None
        spec = importlib.util.spec_from_file_location(name, os.path.join(standins, relative),
                                                      submodule_search_locations=search)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


def import_package(repository, library):
    """The repository imported as ComfyUI would, with `library` as its
    library. Raises what the import raises."""
    os.environ["CUTOUT_LIBRARY"] = library
    load_standins(repository)
    spec = importlib.util.spec_from_file_location("cutout_custom_node", os.path.join(repository, "__init__.py"),
                                                  submodule_search_locations=[repository])
    package = importlib.util.module_from_spec(spec)
    sys.modules["cutout_custom_node"] = package
    spec.loader.exec_module(package)
    return package


def refused(repository, library):
    import torch

    try:
        import_package(repository, library)
    except Exception as error:  # the package's CutoutLoadError, as ComfyUI would show it
        message = str(error).splitlines()[0]
        if "torch version mismatch" not in message or "install.py" not in message:
            sys.exit(f"torch {torch.__version__}: refused, but not with the rebuild command: {message}")
        print(f"torch {torch.__version__}: {message}")
        return
    sys.exit(f"torch {torch.__version__}: a library built against another torch was loaded")


def loads(repository, library):
    import torch

    package = import_package(repository, library)
    cutout_library = sys.modules["cutout_custom_node.python_wrapper.cutout_library"]
    nodes = ", ".join(sorted(package.NODE_CLASS_MAPPINGS))
    try:
        cutout_library.Context(cutout_library.load_library(library), device="cuda")
        cuda = "a context on cuda works"
    except cutout_library.CutoutError as error:
        if "cuda" not in str(error).lower():
            sys.exit(f"device cuda refused without naming CUDA: {error}")
        cuda = f"device cuda: {error}"
    print(f"torch {torch.__version__}: loads ({nodes}); {cuda}")


def same_masks(folder_a, folder_b):
    import numpy as np
    from PIL import Image

    names = sorted(os.listdir(folder_a))
    if not names or names != sorted(os.listdir(folder_b)):
        sys.exit(f"same_masks: expected the same masks in {folder_a} and {folder_b}")
    worst = 0
    for name in names:
        with Image.open(os.path.join(folder_a, name)) as a, Image.open(os.path.join(folder_b, name)) as b:
            diff = np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16))
        worst = max(worst, int(diff.max()))
    if worst > MASK_LEVELS:
        sys.exit(f"same_masks: {folder_a} and {folder_b} differ by up to {worst} levels (at most {MASK_LEVELS})")
    print(f"same_masks: {len(names)} mask(s) agree within {worst} level(s) of 255")


if __name__ == "__main__":
    checks = {"refused": refused, "loads": loads, "same_masks": same_masks}
    if len(sys.argv) != 4 or sys.argv[1] not in checks:
        sys.exit(__doc__)
    checks[sys.argv[1]](sys.argv[2], sys.argv[3])
