"""Hostile files any user could be tricked into putting into a model folder,
made here for the tests of test_hostile_models.py. Each one that would run
code, if the code ran, creates (or writes) a sentinel file the test names;
the tests check that it never appears.

Every writer takes the output path and returns it; torch is imported by the
caller (Debian's python3-torch or a pip wheel, 1.13 and 2.x alike).
"""

import json
import struct
from typing import List, Tuple

import torch

META = {"format": 1, "name": "hostile", "kind": "alpha", "license": "MIT", "input_height": 32,
        "input_width": 32, "mean": [0.5, 0.5, 0.5], "std": [1.0, 1.0, 1.0]}


def _save(module, path):
    torch.jit.save(torch.jit.script(module), path, _extra_files={"cutout_meta.json": json.dumps(META)})
    return path


def forward_writes_file(path, sentinel):
    """A cutout model (metadata and all) whose forward maps `sentinel` with
    torch.from_file(..., shared=True), which creates and writes it."""
    class WritesFile(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.sentinel = sentinel

        def forward(self, x):
            # The mapped values reach the output, so the compiler keeps the call.
            mapped = torch.from_file(self.sentinel, True, 16).fill_(1.0)
            return torch.sigmoid(x[:, :1]) + 0.0 * mapped.sum()

    return _save(WritesFile(), path)


def setstate_writes_file(path, sentinel):
    """A model whose submodule's __setstate__, which torch::jit::load runs
    while it reads the file, maps `sentinel` as forward_writes_file does."""
    class Payload(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.sentinel = sentinel
            self.written = 0.0

        @torch.jit.export
        def __getstate__(self) -> Tuple[str, bool]:
            return (self.sentinel, self.training)

        @torch.jit.export
        def __setstate__(self, state: Tuple[str, bool]) -> None:
            self.sentinel = state[0]
            self.training = state[1]
            self.written = float(torch.from_file(self.sentinel, True, 16).fill_(1.0).sum())

        def forward(self, x):
            return x

    class Outer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.payload = Payload()

        def forward(self, x):
            return torch.sigmoid(self.payload(x)[:, :1])

    return _save(Outer(), path)


def draws_random_numbers(path):
    """A model that seeds nothing but draws from torch's generator (the
    graph check refuses random state, as it does file and thread ops)."""
    class Noisy(torch.nn.Module):
        def forward(self, x):
            return torch.sigmoid(x[:, :1] + torch.rand_like(x[:, :1]))

    return _save(Noisy(), path)


def prints(path):
    """A model whose forward prints (I/O, not tensor arithmetic)."""
    class Talks(torch.nn.Module):
        def forward(self, x):
            print("hello from a model file")
            return torch.sigmoid(x[:, :1])

    return _save(Talks(), path)


def torchscript_with_appended_bytes(path, sentinel):
    """forward_writes_file's archive with 6 bytes appended (the start of a
    zip end record): Python's zipfile no longer calls it a zip, while
    torch.load still reads it as TorchScript."""
    forward_writes_file(path, sentinel)
    with open(path, "ab") as f:
        f.write(b"PK\x05\x06\x00\x00")
    return path


def safetensors_file(path, entries, data, extra_header=None):
    """A safetensors file with the given header entries (name -> dict) and
    data bytes, written as they are (no checks)."""
    header = dict(entries)
    if extra_header:
        header.update(extra_header)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        f.write(data)
    return path


def safetensors_overlapping(path, copies=50):
    """One 16 KB F32 tensor's bytes named `copies` times: every entry
    points at the same span, so reading them all would make copies x 16 KB
    of tensors from a 16 KB file."""
    shape = [64, 64]
    entries = {f"bb.patch_embed.proj.weight{i}": {"dtype": "F32", "shape": shape,
                                                  "data_offsets": [0, 64 * 64 * 4]} for i in range(copies)}
    return safetensors_file(path, entries, bytes(64 * 64 * 4))


def safetensors_overflowing_shape(path):
    """A tensor of shape [2**62, 4]: its size overflows 64-bit arithmetic."""
    entries = {"bb.patch_embed.proj.weight": {"dtype": "F32", "shape": [2 ** 62, 4], "data_offsets": [0, 16]}}
    return safetensors_file(path, entries, bytes(16))


def safetensors_many_entries(path, count=100000):
    """A header of `count` empty tensors: a small file with a huge header."""
    entries = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(count)}
    return safetensors_file(path, entries, b"")


def symlink_loop(folder, model_names: List[str]):
    """`folder` with the given (empty) model files and two links to itself,
    a -> . and b -> ., so a walk that follows links never ends."""
    import os

    os.makedirs(folder, exist_ok=True)
    for name in model_names:
        with open(os.path.join(folder, name), "wb") as f:
            f.write(b"\x08\x07")
    os.symlink(".", os.path.join(folder, "a"))
    os.symlink(".", os.path.join(folder, "b"))
    return folder
