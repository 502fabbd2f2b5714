"""Fixtures for the ComfyUI package tests.

- The package is imported the way ComfyUI imports a custom node folder:
  by path, under a module name derived from that path, with stand-in
  `comfy.utils`, `comfy.model_management` and `folder_paths` modules
  (tests/python/comfy_standins) that record progress and can request an
  interrupt.
- Libraries come from the build: CUTOUT_TEST_LIBRARY (libcutout.so),
  CUTOUT_TEST_STUB_LIBRARY (libcutout_stub.so, a fake model that needs no
  libtorch), CUTOUT_TEST_FAKE_ABI_LIBRARY / CUTOUT_TEST_FAKE_TORCH_LIBRARY
  (version mismatches). ctest sets them; by hand, CUTOUT_BUILD_DIR (default
  <repository>/build) is searched instead.
- Photos come from CUTOUT_TESTDATA (default ../shared/testdata).
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
sys.path.insert(0, str(TESTS_DIR / "comfy_standins"))

import comfy.model_management  # noqa: E402  (the stand-ins)
import comfy.utils  # noqa: E402
import folder_paths  # noqa: E402

TESTDATA_DIR = Path(os.environ.get("CUTOUT_TESTDATA") or REPOSITORY_DIR.parent / "shared" / "testdata")
BUILD_DIR = Path(os.environ.get("CUTOUT_BUILD_DIR") or REPOSITORY_DIR / "build")

STUB_MODEL_NAME = "stub"
TINY_MODEL_NAME = "tiny"
TINY_META = (
    '{"format":1,"name":"tiny","kind":"alpha","license":"MIT","input_size":[64,64],'
    '"mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}'
)


def _library(env_name, *relative):
    value = os.environ.get(env_name)
    path = Path(value) if value else BUILD_DIR.joinpath(*relative)
    if not path.is_file():
        pytest.fail(f"{env_name}: expected a built library at {path} (build the project first, "
                    f"or set {env_name} / CUTOUT_BUILD_DIR)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def real_library_path():
    return _library("CUTOUT_TEST_LIBRARY", "libcutout.so")


@pytest.fixture(scope="session")
def stub_library_path():
    return _library("CUTOUT_TEST_STUB_LIBRARY", "libcutout_stub.so")


@pytest.fixture(scope="session")
def fake_abi_library_path():
    return _library("CUTOUT_TEST_FAKE_ABI_LIBRARY", "tests", "python", "libcutout_fake_abi.so")


@pytest.fixture(scope="session")
def fake_torch_library_path():
    return _library("CUTOUT_TEST_FAKE_TORCH_LIBRARY", "tests", "python", "libcutout_fake_torch.so")


# --------------------------------------------------------------------------
# A ComfyUI installation in a temporary folder, and the package loaded into it


class TinyAlphaModel(torch.nn.Module):
    """B x 3 x 64 x 64 normalised RGB -> B x 1 x 64 x 64 alpha: bright is foreground."""

    def forward(self, x):
        return torch.sigmoid(4.0 * x.mean(dim=1, keepdim=True))


@pytest.fixture(scope="session")
def comfy_root(tmp_path_factory):
    """A ComfyUI folder: models/cutout/ holds the stub model and the tiny
    TorchScript model."""
    root = tmp_path_factory.mktemp("ComfyUI")
    cutout_models = root / "models" / "cutout"
    cutout_models.mkdir(parents=True)
    (cutout_models / f"{STUB_MODEL_NAME}.pt").write_text("cutout-stub-model\n")
    scripted = torch.jit.script(TinyAlphaModel())
    torch.jit.save(scripted, str(cutout_models / f"{TINY_MODEL_NAME}.pt"),
                   _extra_files={"cutout_meta.json": TINY_META})
    return root


def load_custom_node(module_path):
    """Imports a custom node folder the way ComfyUI's nodes.load_custom_node
    does: module name from the path, spec from its __init__.py, registered in
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


def load_package(library_path, folder=REPOSITORY_DIR, extra_model_dirs=()):
    """Loads the package against `library_path`; extra_model_dirs play the
    part of extra_model_paths.yaml entries (registered before the package)."""
    previous = os.environ.get("CUTOUT_LIBRARY")
    os.environ["CUTOUT_LIBRARY"] = str(library_path)
    try:
        for d in extra_model_dirs:
            folder_paths.add_model_folder_path("cutout", str(d))
        return load_custom_node(folder)
    finally:
        if previous is None:
            os.environ.pop("CUTOUT_LIBRARY", None)
        else:
            os.environ["CUTOUT_LIBRARY"] = previous


@pytest.fixture(autouse=True)
def comfy_state(comfy_root):
    """Fresh stand-in state for every test."""
    folder_paths.reset(comfy_root / "models")
    comfy.utils.reset()
    comfy.model_management.interrupt_current_processing(False)
    yield
    comfy.utils.reset()
    comfy.model_management.interrupt_current_processing(False)


@pytest.fixture
def stub_package(stub_library_path):
    return load_package(stub_library_path)


@pytest.fixture
def real_package(real_library_path):
    return load_package(real_library_path)


def node_class(package):
    return package.NODE_CLASS_MAPPINGS["CutoutRemoveBackground"]


def run_node(package, **kwargs):
    cls = node_class(package)
    return getattr(cls(), cls.FUNCTION)(**kwargs)


# --------------------------------------------------------------------------
# Stub library counters (tests/c/stub_shim.h)


@pytest.fixture
def stub_counters(stub_library_path):
    import ctypes

    dll = ctypes.CDLL(str(stub_library_path))
    dll.stub_live_tensors.restype = ctypes.c_int64
    dll.stub_predict_calls.restype = ctypes.c_int64
    dll.stub_reset()
    return dll


# --------------------------------------------------------------------------
# Photos as ComfyUI IMAGE tensors


PHOTOS = [
    "portrait_astronaut.png",
    "animal_fur_chelsea.png",
    "product_coffee.png",
    "multiple_people_kodim12.png",
    "portrait_hair_kodim04.png",
]


def load_photo(name, size=None, mode="RGB"):
    """[1, H, W, C] float32 in 0..1, as ComfyUI's LoadImage makes it."""
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
