"""Helpers shared by the ComfyUI package tests (fixtures are in conftest.py).

- The package is imported the way ComfyUI imports a custom node folder: by
  path, under a module name derived from that path, next to stand-in
  `comfy.utils`, `comfy.model_management` and `folder_paths` modules
  (tests/python/comfy_standins) that record progress and can request an
  interrupt.
- Libraries come from the build: CUTOUT_TEST_LIBRARY (libcutout.so),
  CUTOUT_TEST_STUB_LIBRARY (libcutout_stub.so: a fake model, no libtorch),
  CUTOUT_TEST_FAKE_ABI_LIBRARY / _FAKE_TORCH_LIBRARY / _FAKE_API_LIBRARY
  (a wrong ABI, a wrong torch version, versions only). ctest sets them; by hand, CUTOUT_BUILD_DIR (default
  <repository>/build) is searched instead.
- Photos come from CUTOUT_TESTDATA (default tests/data/photos).
"""

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

TESTS_DIR = Path(__file__).resolve().parent
REPOSITORY_DIR = TESTS_DIR.parent.parent

# The stand-in, found through the tests' PYTHONPATH (tests/CMakeLists.txt).
import folder_paths  # noqa: E402

TESTDATA_DIR = Path(os.environ.get("CUTOUT_TESTDATA") or REPOSITORY_DIR / "tests" / "data" / "photos")
BUILD_DIR = Path(os.environ.get("CUTOUT_BUILD_DIR") or REPOSITORY_DIR / "build")

NODE_ID = "CutoutRemoveBackground"
STUB_MODEL_NAME = "stub"
TINY_MODEL_NAME = "tiny"
# The size is given both as "input_size" (the model tools' key) and as
# "input_height"/"input_width" (the shim's); readers ignore keys they do not use.
TINY_META = (
    '{"format":1,"name":"tiny","kind":"alpha","license":"MIT","input_size":[64,64],'
    '"input_height":64,"input_width":64,"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}'
)

PHOTOS = [
    "portrait_astronaut.png",
    "animal_fur_chelsea.png",
    "product_coffee.png",
    "multiple_people_kodim12.png",
    "portrait_hair_kodim04.png",
]


def library_path(env_name, *relative):
    """A built library named by env_name, else BUILD_DIR/relative; fails the
    test with what is missing."""
    value = os.environ.get(env_name)
    path = Path(value) if value else BUILD_DIR.joinpath(*relative)
    if not path.is_file():
        pytest.fail(f"{env_name}: expected a built library at {path} (build the project first, "
                    f"or set {env_name} / CUTOUT_BUILD_DIR)", pytrace=False)
    return path


class TinyAlphaModel(torch.nn.Module):
    """B x 3 x 64 x 64 normalised RGB -> B x 1 x 64 x 64 alpha; bright is foreground."""

    def forward(self, x):
        return torch.sigmoid(4.0 * x.mean(dim=1, keepdim=True))


def write_models(folder):
    """Writes the stub model and the tiny TorchScript model into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{STUB_MODEL_NAME}.pt").write_text("cutout-stub-model\n")
    torch.jit.save(torch.jit.script(TinyAlphaModel()), str(folder / f"{TINY_MODEL_NAME}.pt"),
                   _extra_files={"cutout_meta.json": TINY_META})


def load_custom_node(module_path):
    """Imports a custom node folder as ComfyUI's nodes.load_custom_node does:
    module name from the path, spec from its __init__.py, registered in
    sys.modules before it runs."""
    module_path = str(module_path)
    sys_module_name = module_path.replace(".", "_x_")
    for name in [n for n in sys.modules if n == sys_module_name or n.startswith(sys_module_name + ".")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location(sys_module_name, os.path.join(module_path, "__init__.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[sys_module_name] = module
    spec.loader.exec_module(module)
    return module


def load_package(library, folder=REPOSITORY_DIR, extra_model_dirs=()):
    """Loads the package against the library file `library`. extra_model_dirs
    play the part of extra_model_paths.yaml entries, which ComfyUI registers
    before it loads custom nodes."""
    previous = os.environ.get("CUTOUT_LIBRARY")
    os.environ["CUTOUT_LIBRARY"] = str(library)
    try:
        for d in extra_model_dirs:
            folder_paths.add_model_folder_path("cutout", str(d))
        return load_custom_node(folder)
    finally:
        if previous is None:
            os.environ.pop("CUTOUT_LIBRARY", None)
        else:
            os.environ["CUTOUT_LIBRARY"] = previous


def submodule(package, name):
    """A submodule of the loaded package (python_wrapper.<name>)."""
    prefix = package.__name__
    for candidate in (f"{prefix}.python_wrapper.{name}", f"{prefix}.{name}"):
        if candidate in sys.modules:
            return sys.modules[candidate]
    raise KeyError(name)


def node_class(package):
    return package.NODE_CLASS_MAPPINGS[NODE_ID]


def run_node(package, **kwargs):
    cls = node_class(package)
    return getattr(cls(), cls.FUNCTION)(**kwargs)


def load_photo(name, size=None, mode="RGB"):
    """[1, H, W, C] float32 in 0..1, as ComfyUI's LoadImage makes it;
    size (W, H) resizes it."""
    path = TESTDATA_DIR / name
    if not path.is_file():
        pytest.fail(f"missing test photo {path} (set CUTOUT_TESTDATA)", pytrace=False)
    image = Image.open(path).convert(mode)
    if size is not None:
        image = image.resize(size, Image.BILINEAR)
    return torch.from_numpy(np.asarray(image).astype(np.float32) / 255.0)[None]


def photo_batch(count, size=(96, 64)):
    """[count, H, W, 3]: different real photos resized to one size (W, H)."""
    return torch.cat([load_photo(PHOTOS[i % len(PHOTOS)], size) for i in range(count)])


def rss_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
