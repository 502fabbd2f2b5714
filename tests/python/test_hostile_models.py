"""A model file is data: the hostile files tests/support/make_test_models.py
writes are each refused with a one-line message before any of their code
runs, and no sentinel file is ever created.

- TorchScript through the cutout command (the real library): code in
  forward, in __setstate__ (which loading itself would run), random state,
  printing.
- Weights through tools/import-model: a TorchScript archive disguised as a
  .pth or .onnx file by 6 appended bytes; safetensors headers whose spans
  overlap, whose shape overflows, or that hold 100,000 entries.
- The ComfyUI model list on a folder with symlink loops, and the import
  lock on a filesystem without locks (ENOLCK).

Each hostile file is first shown to be hostile where that is safe to show:
torch.jit.load and a forward pass in a child process do create the sentinel.
"""

import errno
import importlib
import os
import subprocess
import sys
import time

import pytest

import harness
from tests.support import make_test_models as hostile_files

CLI = os.environ.get("CUTOUT_TEST_CLI")
PHOTO = harness.TESTDATA_DIR / "animal_fur_chelsea.png"
IMPORT_MODEL = harness.REPOSITORY_DIR / "tools" / "import-model"

needs_cli = pytest.mark.skipif(not CLI, reason="no cutout command in this build (CUTOUT_TEST_CLI unset)")


def wrapper_module(name):
    """python_wrapper.NAME, imported on its own: the binding's package
    imports nothing of ComfyUI."""
    return importlib.import_module(f"python_wrapper.{name}")


def run_cli(model_dir, name, out_dir):
    env = dict(os.environ, CUTOUT_MODEL_PATH=str(model_dir))
    return subprocess.run([CLI, "--model", name, "-o", str(out_dir), str(PHOTO)], env=env,
                          capture_output=True, text=True, timeout=120)


def run_import(path, dest):
    return subprocess.run([str(IMPORT_MODEL), str(path), "--dir", str(dest), "--no-verify"],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, CUTOUT_PYTHON=sys.executable))


def torch_runs_it(path, sentinel, forward):
    """Loads `path` with torch.jit.load in a child process (and runs its
    forward when asked): True when that created `sentinel`."""
    code = ("import sys, torch\nm = torch.jit.load(sys.argv[1])\n"
            + ("m(torch.zeros(1, 3, 8, 8))\n" if forward else ""))
    subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=120)
    created = sentinel.exists()
    if created:
        sentinel.unlink()
    return created


def refused_in_one_line(result, *needles):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    messages = [line for line in lines if all(n in line for n in needles)]
    return result.returncode != 0 and len(messages) == 1, result.stderr


@needs_cli
@pytest.mark.parametrize("where", ["forward", "setstate"])
def test_torchscript_code_that_writes_a_file_is_refused(tmp_path, where):
    sentinel = tmp_path / "sentinel.bin"
    models = tmp_path / "models"
    models.mkdir()
    if where == "forward":
        path = hostile_files.forward_writes_file(str(models / "evil.pt"), str(sentinel))
        needle = "aten::from_file"
    else:
        path = hostile_files.setstate_writes_file(str(models / "evil.pt"), str(sentinel))
        needle = "__setstate__"
    assert torch_runs_it(path, sentinel, forward=where == "forward"), "the hostile file did not act under torch"
    result = run_cli(models, "evil", tmp_path / "out")
    ok, stderr = refused_in_one_line(result, "evil.pt", needle)
    assert ok, stderr
    assert "refused before anything ran" in stderr
    assert not sentinel.exists()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@needs_cli
@pytest.mark.parametrize("maker,op", [(hostile_files.draws_random_numbers, "aten::rand_like"),
                                      (hostile_files.prints, "prim::Print")])
def test_ops_outside_the_allowlist_are_refused(tmp_path, maker, op):
    models = tmp_path / "models"
    models.mkdir()
    maker(str(models / "odd.pt"))
    result = run_cli(models, "odd", tmp_path / "out")
    ok, stderr = refused_in_one_line(result, "odd.pt", op)
    assert ok, stderr
    assert "hello from a model file" not in result.stdout + result.stderr


@pytest.mark.parametrize("suffix", [".pth", ".onnx"])
def test_torchscript_disguised_as_weights_is_refused(tmp_path, suffix):
    sentinel = tmp_path / "sentinel.bin"
    path = tmp_path / f"weights{suffix}"
    hostile_files.torchscript_with_appended_bytes(str(path), str(sentinel))
    import zipfile
    assert not zipfile.is_zipfile(path), "the disguise no longer fools Python's zipfile"
    result = run_import(path, tmp_path / "dest")
    ok, stderr = refused_in_one_line(result, str(path), "TorchScript archive")
    assert ok, stderr
    assert not sentinel.exists()
    assert not (tmp_path / "dest" / "weights.pt").exists()


@pytest.mark.parametrize("maker,needle", [
    (hostile_files.safetensors_overlapping, "overlaps the one before"),
    (hostile_files.safetensors_overflowing_shape, "needs 73786976294838206464 bytes"),
    (hostile_files.safetensors_many_entries, "100000 tensors, at most 65536"),
])
def test_hostile_safetensors_are_refused_from_the_header(tmp_path, maker, needle):
    path = tmp_path / "model.safetensors"
    maker(str(path))
    result = run_import(path, tmp_path / "dest")
    ok, stderr = refused_in_one_line(result, str(path), needle)
    assert ok, stderr


def test_the_safetensors_reader_reads_each_byte_once(tmp_path):
    from python_wrapper.model_import import weights_files

    path = tmp_path / "good.safetensors"
    hostile_files.safetensors_file(str(path), {
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "b": {"dtype": "F16", "shape": [3], "data_offsets": [16, 22]},
    }, bytes(range(22)))
    tensors = weights_files.read_safetensors(str(path))
    assert sum(t.numel() * t.element_size() for t in tensors.values()) == 22
    hostile_files.safetensors_file(str(path), {
        "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
    }, bytes(20))
    with pytest.raises(weights_files.WeightsFileError, match="cover 16 of its 20 bytes"):
        weights_files.safetensors_header(str(path))


def test_model_list_of_a_looped_folder_ends(tmp_path, stub_library_path):
    foreign_models = harness.submodule(harness.load_package(stub_library_path), "foreign_models")
    folder = hostile_files.symlink_loop(str(tmp_path / "RMBG"), ["one.onnx", "two.pth"])
    os.symlink(os.path.join(folder, "one.onnx"), os.path.join(folder, "same_file.onnx"))
    start = time.monotonic()
    found = foreign_models._walk(folder, (".onnx", ".pth"))
    assert time.monotonic() - start < 1.0
    assert sorted(found) in (["one.onnx", "two.pth"], ["same_file.onnx", "two.pth"]), found


def test_a_lock_error_other_than_busy_fails_at_once(tmp_path, monkeypatch):
    file_lock = wrapper_module("file_lock")
    if file_lock.fcntl is None:
        pytest.skip("POSIX locks only")

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(file_lock.fcntl, "flock", no_locks)
    start = time.monotonic()
    with pytest.raises(OSError, match="cannot lock .*entry.lock"):
        with file_lock.FileLock(str(tmp_path / "entry.lock")):
            pass
    assert time.monotonic() - start < 1.0
