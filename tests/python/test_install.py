"""python_wrapper/install.py: what it asks for before it builds, and how it
builds against a torch wheel. The build itself runs in tests/run-torch2
(against a wheel-style torch folder) and in every ComfyUI install."""

import importlib.util
import tomllib
import types

import harness

INSTALL = harness.REPOSITORY_DIR / "python_wrapper" / "install.py"


def load_install():
    spec = importlib.util.spec_from_file_location("cutout_install_under_test", INSTALL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nothing_missing_on_a_machine_that_builds():
    install = load_install()
    # This machine has just built the library the other tests load.
    assert install.missing_build_tools(None) == []


def test_missing_programs_are_named_with_the_command_that_installs_them(tmp_path):
    install = load_install()
    missing = install.missing_build_tools(None, path=str(tmp_path))
    assert missing[:4] == ["cmake", "make", "a C compiler", "a C++ compiler"]
    message = install.missing_message(missing)
    assert "missing cmake, make, a C compiler, a C++ compiler" in message
    assert message.endswith("sudo apt-get install cmake make gcc g++")


def test_missing_headers_are_named(tmp_path, monkeypatch):
    install = load_install()
    empty = tmp_path / "include"
    empty.mkdir()
    monkeypatch.setattr(install, "include_dirs", lambda extra=(): [empty] + list(extra))
    missing = install.missing_build_tools(None)
    assert "the cJSON headers (cjson/cJSON.h)" in missing
    assert "the DLPack header (dlpack/dlpack.h)" in missing
    assert "libcjson-dev libdlpack-dev" in install.missing_message(missing)
    # A wheel's own ATen/dlpack.h stands in for libdlpack-dev.
    wheel = tmp_path / "torch"
    (wheel / "include" / "ATen").mkdir(parents=True)
    (wheel / "include" / "ATen" / "dlpack.h").write_text("/* dlpack */\n")
    assert "the DLPack header (dlpack/dlpack.h)" not in install.missing_build_tools(wheel)


def test_a_wheel_is_built_from_its_folder_without_a_second_onednn(tmp_path):
    install = load_install()
    wheel = tmp_path / "site-packages" / "torch"
    (wheel / "include" / "torch").mkdir(parents=True)
    (wheel / "include" / "torch" / "script.h").write_text("/* torch */\n")
    fake_torch = types.SimpleNamespace(__file__=str(wheel / "__init__.py"), __version__="2.11.0+cu130",
                                       _C=types.SimpleNamespace(_GLIBCXX_USE_CXX11_ABI=True))
    assert install.wheel_dir(fake_torch) == wheel.resolve()
    args = install.torch_configure_args(fake_torch, install.wheel_dir(fake_torch))
    assert f"-DCUTOUT_TORCH_DIR={wheel.resolve()}" in args
    assert "-DCUTOUT_TORCH_CXX11_ABI=1" in args
    assert "-DCUTOUT_WITH_ONEDNN=OFF" in args


def test_a_distribution_torch_uses_the_system_libtorch(tmp_path):
    install = load_install()
    folder = tmp_path / "dist-packages" / "torch"
    folder.mkdir(parents=True)
    fake_torch = types.SimpleNamespace(__file__=str(folder / "__init__.py"), __version__="1.13.1",
                                       _C=types.SimpleNamespace())
    assert install.wheel_dir(fake_torch) is None
    assert install.torch_configure_args(fake_torch, None) == []


def test_fetching_the_models_names_npm_and_the_modules_in_the_same_message(tmp_path):
    install = load_install()
    missing = install.missing_build_tools(None, path=str(tmp_path))[:1]
    missing += install.missing_fetch_tools(path=str(tmp_path), has_module=lambda name: name == "numpy")
    assert missing == ["cmake", "npm (to fetch the models)", "onnx", "PIL"]
    message = install.missing_message(missing)
    assert "missing cmake, npm (to fetch the models), the Python module onnx, the Python module PIL" in message
    assert "sudo apt-get install cmake npm && " in message
    assert message.endswith(f"-m pip install -r {harness.REPOSITORY_DIR / 'requirements.txt'}")


def test_requirements_txt_and_pyproject_state_the_same_modules():
    install = load_install()
    lines = (harness.REPOSITORY_DIR / "requirements.txt").read_text().splitlines()
    required = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert required == list(install.CONVERSION_MODULES.values())
    with open(harness.REPOSITORY_DIR / "pyproject.toml", "rb") as file:
        assert tomllib.load(file)["project"]["dependencies"] == required
