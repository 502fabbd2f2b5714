"""pytest fixtures for the ComfyUI package tests; see harness.py for the setup."""

import ctypes

import pytest

import harness
from harness import folder_paths

import comfy.model_management  # the stand-ins (on the tests' PYTHONPATH)
import comfy.utils


@pytest.fixture(scope="session")
def real_library_path():
    return harness.library_path("CUTOUT_TEST_LIBRARY", "libcutout.so")


@pytest.fixture(scope="session")
def stub_library_path():
    return harness.library_path("CUTOUT_TEST_STUB_LIBRARY", "libcutout_stub.so")


@pytest.fixture(scope="session")
def fake_abi_library_path():
    return harness.library_path("CUTOUT_TEST_FAKE_ABI_LIBRARY", "tests", "python", "libcutout_fake_abi.so")


@pytest.fixture(scope="session")
def fake_torch_library_path():
    return harness.library_path("CUTOUT_TEST_FAKE_TORCH_LIBRARY", "tests", "python", "libcutout_fake_torch.so")


@pytest.fixture(scope="session")
def fake_api_library_path():
    return harness.library_path("CUTOUT_TEST_FAKE_API_LIBRARY", "tests", "python", "libcutout_fake_api.so")


@pytest.fixture(scope="session")
def comfy_root(tmp_path_factory):
    """A ComfyUI folder whose models/cutout/ holds the stub and tiny models."""
    root = tmp_path_factory.mktemp("ComfyUI")
    harness.write_models(root / "models" / "cutout")
    return root


@pytest.fixture(autouse=True)
def comfy_state(comfy_root):
    """Fresh stand-in state (folders, progress log, interrupt flag) per test."""
    folder_paths.reset(comfy_root / "models")
    comfy.utils.reset()
    comfy.model_management.interrupt_current_processing(False)
    yield
    comfy.utils.reset()
    comfy.model_management.interrupt_current_processing(False)


@pytest.fixture
def stub_package(stub_library_path):
    return harness.load_package(stub_library_path)


@pytest.fixture
def real_package(real_library_path):
    return harness.load_package(real_library_path)


@pytest.fixture
def stub_counters(stub_library_path):
    """The stub library's allocation and call counters (tests/c/stub_shim.h)."""
    dll = ctypes.CDLL(str(stub_library_path))
    dll.stub_live_tensors.restype = ctypes.c_int64
    dll.stub_predict_calls.restype = ctypes.c_int64
    dll.stub_predict_count.restype = ctypes.c_int64
    dll.stub_predict_count.argtypes = [ctypes.c_int64]
    dll.stub_models_loaded.restype = ctypes.c_int64
    dll.stub_reset()
    return dll
