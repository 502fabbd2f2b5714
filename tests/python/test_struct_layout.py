"""The ctypes structs of the binding against the C headers: a program
compiled from cutout.h and dlpack.h (struct_layout.c) prints each struct's
size and field offsets, and every ctypes declaration must agree. A params
struct that starts with struct_size may declare a prefix of the C fields
(the library reads only struct_size bytes); every other struct must declare
them all."""

import ctypes
import os
import subprocess
from collections import defaultdict

import pytest

from python_wrapper import cutout_library, dlpack_bridge

DECLARED = {
    "cutout_context_params": cutout_library.ContextParams,
    "cutout_input": cutout_library.Input,
    "cutout_run_params": cutout_library.RunParams,
    "DLDevice": dlpack_bridge.DLDevice,
    "DLDataType": dlpack_bridge.DLDataType,
    "DLTensor": dlpack_bridge.DLTensor,
    "DLManagedTensor": dlpack_bridge.DLManagedTensor,
}


def c_layouts():
    """{struct: (sizeof, [(field, offset), ...])} as the C compiler lays them out."""
    program = os.environ.get("CUTOUT_TEST_STRUCT_LAYOUT")
    if not program:
        pytest.fail("CUTOUT_TEST_STRUCT_LAYOUT: expected the struct_layout program (ctest sets it)",
                    pytrace=False)
    output = subprocess.run([program], capture_output=True, text=True, check=True).stdout
    sizes, fields = {}, defaultdict(list)
    for line in output.splitlines():
        struct, field, value = line.split()
        if field == "sizeof":
            sizes[struct] = int(value)
        else:
            fields[struct].append((field, int(value)))
    return {struct: (sizes[struct], fields[struct]) for struct in sizes}


@pytest.mark.parametrize("struct", sorted(DECLARED))
def test_ctypes_declaration_matches_c(struct):
    size, fields = c_layouts()[struct]
    declared = DECLARED[struct]
    names = [name for name, _ in declared._fields_]
    assert names == [name for name, _ in fields[:len(names)]], f"{struct}: fields out of order or renamed"
    for name, offset in fields[:len(names)]:
        assert getattr(declared, name).offset == offset, f"{struct}.{name}"
    if len(names) == len(fields):
        assert ctypes.sizeof(declared) == size
    else:
        # A prefix: only a struct_size-versioned params struct may stop early,
        # and it must end where the first field it leaves out begins.
        assert names[0] == "struct_size", f"{struct} declares {len(names)} of {len(fields)} fields"
        assert ctypes.sizeof(declared) == fields[len(names)][1]


def test_every_struct_is_declared_once():
    sources = [p for p in os.listdir(os.path.dirname(cutout_library.__file__)) if p.endswith(".py")]
    seen = defaultdict(list)
    for name in sources:
        with open(os.path.join(os.path.dirname(cutout_library.__file__), name), encoding="utf-8") as f:
            for line in f:
                if line.startswith("class ") and "ctypes.Structure" in line:
                    seen[line.split()[1].split("(")[0]].append(name)
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}
    assert set(cls.__name__ for cls in DECLARED.values()) == set(seen)
