"""The wrapper refuses a library it must not use, before using it, and says
which command rebuilds it."""

import shlex
import sys

import pytest
import torch

import harness

REBUILD = f"{shlex.quote(sys.executable)} {shlex.quote(str(harness.REPOSITORY_DIR / 'python_wrapper' / 'install.py'))}"


@pytest.fixture
def library_module(stub_package):
    return harness.submodule(stub_package, "cutout_library")


def test_abi_mismatch(library_module, fake_abi_library_path):
    with pytest.raises(RuntimeError) as raised:
        library_module.load_library(fake_abi_library_path)
    message = str(raised.value)
    assert message.startswith(f"{fake_abi_library_path}: ABI version mismatch (expected 1, got 999).")
    assert message.endswith(f"Rebuild it from this checkout with: {REBUILD}")


def test_torch_version_mismatch(library_module, fake_torch_library_path):
    with pytest.raises(RuntimeError) as raised:
        library_module.load_library(fake_torch_library_path)
    message = str(raised.value)
    assert message.startswith(
        f"{fake_torch_library_path}: torch version mismatch (expected a library built against torch "
        f"{torch.__version__}, got one built against libtorch 0.4.1).")
    assert "two different libtorch copies in this process, which crashes" in message
    assert message.endswith(f"Rebuild it against the running torch with: {REBUILD}")


def test_the_recorded_torch_version_is_checked_before_loading(library_module, tmp_path):
    # Not a loadable library at all: only the record beside it can refuse it,
    # so the refusal proves nothing was loaded.
    library = tmp_path / "libcutout.so"
    library.write_bytes(b"not an ELF file")
    (tmp_path / "libcutout.so.torch-version").write_text("0.4.1\n")
    with pytest.raises(RuntimeError) as raised:
        library_module.load_library(library)
    message = str(raised.value)
    assert message.startswith(f"{library}: torch version mismatch (expected a library built against torch "
                              f"{torch.__version__}, got one built against libtorch 0.4.1).")
    assert message.endswith(f"Rebuild it against the running torch with: {REBUILD}")
    # Without the record, the same file gets as far as the loader, which fails.
    (tmp_path / "libcutout.so.torch-version").unlink()
    with pytest.raises(RuntimeError, match="cannot be loaded"):
        library_module.load_library(library)


def test_comfyui_import_fails_with_the_message(fake_torch_library_path):
    # What ComfyUI prints as "Cannot import ... module for custom nodes: <message>".
    with pytest.raises(RuntimeError, match="torch version mismatch") as raised:
        harness.load_package(fake_torch_library_path)
    assert REBUILD in str(raised.value)


def test_missing_library(library_module, tmp_path):
    missing = tmp_path / "build" / "libcutout.so"
    with pytest.raises(RuntimeError) as raised:
        library_module.load_library(missing)
    assert str(raised.value) == (
        f"{missing}: the cutout library is not built (expected the file to exist). "
        f"Build it against the running torch with: {REBUILD}")


def test_not_a_cutout_library(library_module, fake_api_library_path, tmp_path):
    # Right versions, none of the rest of the API: refused by name, not crashed on.
    with pytest.raises(RuntimeError) as raised:
        library_module.load_library(fake_api_library_path)
    assert str(raised.value).startswith(f"{fake_api_library_path}: not a cutout library (missing symbol: ")
    assert str(raised.value).endswith(f"Rebuild it with: {REBUILD}")
    not_a_library = tmp_path / "libcutout.so"
    not_a_library.write_bytes(b"\x7fELF, but only the first four bytes")
    with pytest.raises(RuntimeError, match=rf"^{tmp_path}/libcutout.so: cannot be loaded \("):
        library_module.load_library(not_a_library)


@pytest.mark.parametrize("version, release", [
    ("2.3.1+cu121", (2, 3, 1)),
    ("1.13.0a0", (1, 13, 0)),
    ("1.13.1", (1, 13, 1)),
    ("2.4", (2, 4, 0)),
    ("stub", None),
    ("", None),
])
def test_release_of(library_module, version, release):
    assert library_module.release_of(version) == release


def test_local_suffixes_and_pre_release_tags_are_ignored(library_module):
    check = library_module.check_torch_version
    check("2.3.1", "2.3.1+cu121", "lib")
    check("1.13.0", "1.13.0a0", "lib")
    check("stub", "2.3.1", "lib")  # a library without libtorch cannot clash
    with pytest.raises(RuntimeError, match=r"lib: torch version mismatch"):
        check("2.3.0", "2.3.1+cpu", "lib")
    with pytest.raises(RuntimeError, match=r"got one built against libtorch 2.4.0\)"):
        check("2.4.0", "2.3.1+cu121", "lib")
