"""The GPU chunk cap of python_wrapper/comfy_memory.py, with torch.cuda's
free-memory query replaced, so that it runs on a machine without a GPU."""

import pytest
import torch

import harness


@pytest.fixture
def memory(stub_package):
    return harness.submodule(stub_package, "comfy_memory")


def fake_gpu(monkeypatch, free_bytes=None, error=None):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    def mem_get_info(device):
        if error is not None:
            raise error
        return free_bytes, 2 * free_bytes

    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)


def test_the_chunk_is_what_the_free_memory_holds(memory, monkeypatch):
    pixels = 1024 * 1024
    per_item = pixels * memory.BYTES_PER_INPUT_PIXEL
    # Room for exactly 5 items in the usable share of the free memory.
    fake_gpu(monkeypatch, free_bytes=int(5 * per_item / memory.FREE_SHARE) + 1)
    assert memory.chunk_for_free_memory(16, torch.device("cuda", 0), pixels) == 5
    # A batch_size below the cap is kept.
    assert memory.chunk_for_free_memory(3, torch.device("cuda", 0), pixels) == 3
    # Four times the pixels: a quarter of the items, never fewer than one.
    assert memory.chunk_for_free_memory(16, torch.device("cuda", 0), 4 * pixels) == 1
    fake_gpu(monkeypatch, free_bytes=1 << 20)
    assert memory.chunk_for_free_memory(16, torch.device("cuda", 0), pixels) == 1


def test_other_devices_and_unreadable_memory_keep_batch_size(memory, monkeypatch):
    fake_gpu(monkeypatch, free_bytes=1 << 20)
    assert memory.chunk_for_free_memory(16, torch.device("cpu"), 1024 * 1024) == 16
    fake_gpu(monkeypatch, error=RuntimeError("CUDA driver is too old"))
    assert memory.chunk_for_free_memory(16, torch.device("cuda", 0), 1024 * 1024) == 16


def test_soft_empty_cache_only_after_gpu_runs(memory):
    class ModelManagement:
        calls = 0

        def soft_empty_cache(self):
            ModelManagement.calls += 1

    mm = ModelManagement()
    memory.after_run(mm, torch.device("cpu"))
    assert ModelManagement.calls == 0
    memory.after_run(mm, torch.device("cuda", 0))
    assert ModelManagement.calls == 1
    memory.after_run(None, torch.device("cuda", 0))  # outside ComfyUI
    assert ModelManagement.calls == 1
