"""What a .safetensors or .pth file holds, read as data.

A safetensors file is an 8-byte little-endian header length, a JSON header
naming each tensor (dtype, shape, byte range) and the raw bytes; the names
are read from the header alone, the tensors (F32, F16, BF16 and the
integer types) by read_safetensors. A .pth file is read with
torch.load(weights_only=True), which refuses anything but tensors and
plain containers, so no code in it runs. Both give the parameter names, which say whether the weights are a
BiRefNet-family network (official names: a Swin backbone under "bb.", a
"decoder.", "squeeze_module." ...).
"""

import json
import os
import struct
import zipfile

import numpy as np

SAFETENSORS_HEADER_LIMIT = 100 * 1024 * 1024
BIREFNET_PREFIXES = ("bb.", "decoder.", "squeeze_module.")


class WeightsFileError(Exception):
    """A weights file that cannot be read as data."""


def safetensors_names(path):
    """(parameter names in file order, dtype and shape of each). Raises
    WeightsFileError for a file whose header is not safetensors'."""
    tensors, _ = safetensors_header(path)
    return list(tensors), {k: (v["dtype"], v["shape"]) for k, v in tensors.items()}


# safetensors dtype -> (numpy dtype of the stored bytes, bytes per value).
# BF16 has no numpy type: its bytes are the high half of a float32.
SAFETENSORS_DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2), "I64": ("<i8", 8),
                      "I32": ("<i4", 4), "I16": ("<i2", 2), "I8": ("i1", 1), "U8": ("u1", 1),
                      "BOOL": ("?", 1), "F64": ("<f8", 8)}


def safetensors_header(path):
    """(header dict without __metadata__, offset of the data), new objects
    the caller owns; reads only the header. Raises WeightsFileError when it
    is not a safetensors header, OSError when the file cannot be read."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise WeightsFileError(f"{path}: too short for a safetensors file ({size} bytes)")
        length = struct.unpack("<Q", head)[0]
        if length < 2 or length > min(SAFETENSORS_HEADER_LIMIT, size - 8):
            raise WeightsFileError(f"{path}: not a safetensors file (header length {length} in a "
                                   f"{size}-byte file)")
        try:
            header = json.loads(f.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise WeightsFileError(f"{path}: not a safetensors file (its header is not JSON: {e})")
    if not isinstance(header, dict):
        raise WeightsFileError(f"{path}: not a safetensors file (its header is not a JSON object)")
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    for name, entry in tensors.items():
        if not isinstance(entry, dict) or "dtype" not in entry or "shape" not in entry:
            raise WeightsFileError(f"{path}: not a safetensors file (entry {name!r} has no dtype and shape)")
    return tensors, 8 + length


def read_safetensors(path):
    """name -> torch tensor (a copy, float types as stored: float32,
    float16 or bfloat16) of every tensor in a safetensors file. Raises
    WeightsFileError naming the first tensor whose dtype is unknown, whose
    shape or byte range is malformed, or whose bytes lie past the end of
    the file (a truncated download); OSError when it cannot be read. The
    tensors are the caller's; one call per thread."""
    import torch

    tensors, start = safetensors_header(path)
    data_size = os.path.getsize(path) - start
    out = {}
    with open(path, "rb") as f:
        for name, entry in tensors.items():
            dtype, shape, span = entry["dtype"], entry["shape"], entry.get("data_offsets")
            if dtype not in SAFETENSORS_DTYPES:
                raise WeightsFileError(f"{path}: tensor {name!r} has dtype {dtype!r}; expected one of "
                                       f"{', '.join(SAFETENSORS_DTYPES)}")
            if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
                raise WeightsFileError(f"{path}: tensor {name!r} has shape {shape!r}; expected a list of sizes")
            if (not isinstance(span, list) or len(span) != 2 or not all(isinstance(v, int) for v in span)
                    or not 0 <= span[0] <= span[1]):
                raise WeightsFileError(f"{path}: tensor {name!r} has data_offsets {span!r}; expected [begin, end]")
            numpy_dtype, width = SAFETENSORS_DTYPES[dtype]
            count = int(np.prod(shape)) if shape else 1
            if span[1] - span[0] != count * width:
                raise WeightsFileError(f"{path}: tensor {name!r} ({dtype} {shape}) needs {count * width} bytes, "
                                       f"its data_offsets give {span[1] - span[0]}")
            if span[1] > data_size:
                raise WeightsFileError(f"{path}: tensor {name!r} ends at byte {span[1]} of the data, but the file "
                                       f"holds {data_size} (truncated?)")
            f.seek(start + span[0])
            values = np.frombuffer(f.read(span[1] - span[0]), dtype=numpy_dtype).reshape(shape)
            if dtype == "BF16":
                tensor = torch.from_numpy(values.astype("=u2").view(np.int16).copy()).view(torch.bfloat16)
            else:
                tensor = torch.from_numpy(values.astype(values.dtype.newbyteorder("="), copy=True))
            out[name] = tensor
    return out


def read_pth(path):
    """name -> tensor (the caller's) of a .pth state dict, loaded with
    weights_only=True. Raises WeightsFileError as pth_names does."""
    import torch

    if is_torchscript_archive(path):
        raise WeightsFileError(f"{path}: a TorchScript archive, not a weights file")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the unpickler raises several types for what it refuses
        raise WeightsFileError(f"{path}: not a plain weights file (torch.load with weights_only=True "
                               f"refused it: {str(e).splitlines()[0] if str(e) else type(e).__name__})")
    return state_dict_of(loaded)


def state_dict_of(loaded):
    """The name -> tensor mapping inside what torch.load returned (a state
    dict, or one under "state_dict" / "model")."""
    import torch

    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
            break
    if not isinstance(loaded, dict):
        return {}
    return {k: v for k, v in loaded.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def is_torchscript_archive(path):
    """True for a TorchScript zip: torch.load hands those to torch.jit.load
    (libtorch 1.13 even with weights_only=True), which runs their code."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("/constants.pkl") or "/code/" in n for n in archive.namelist())


def pth_names(path):
    """(parameter names, dtype and shape of each) of a .pth file. Raises
    WeightsFileError for a TorchScript archive and when
    torch.load(weights_only=True) refuses the file."""
    import torch

    if is_torchscript_archive(path):
        raise WeightsFileError(f"{path}: a TorchScript archive, not a weights file; import-model does not load "
                               f"it (a cutout model, with cutout_meta.json inside, goes into models/ as it is)")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the unpickler raises several types for what it refuses
        raise WeightsFileError(f"{path}: not a plain weights file (torch.load with weights_only=True "
                               f"refused it: {str(e).splitlines()[0] if str(e) else type(e).__name__})")
    tensors = state_dict_of(loaded)
    return list(tensors), {k: (str(v.dtype).replace("torch.", ""), list(v.shape)) for k, v in tensors.items()}


def looks_like_birefnet(names):
    """True when the names follow the official BiRefNet layout (training's
    "module." / "_orig_mod." prefixes allowed)."""
    for prefix in ("module.", "_orig_mod."):
        names = [n[len(prefix):] if n.startswith(prefix) else n for n in names]
    found = {p for p in BIREFNET_PREFIXES if any(n.startswith(p) for n in names)}
    return "bb." in found and len(found) >= 2 and any(".attn." in n for n in names if n.startswith("bb."))


def weights_names(path, kind):
    """(parameter names, dtype and shape of each) of a "safetensors" or
    "pth" file, new lists the caller owns. Raises WeightsFileError for a
    file that is not one."""
    return safetensors_names(path) if kind == "safetensors" else pth_names(path)


def describe_weights(path, kind):
    """One paragraph saying what a weights file import-model does not
    recognise holds: its first names and shapes. Raises WeightsFileError
    for a file that is not one."""
    names, shapes = weights_names(path, kind)
    if not names:
        return f"{path}: a {kind} file with no named tensors"
    first = ", ".join(f"{n} {shapes[n][1]}" for n in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return (f"{path}: a {kind} file with {len(names)} tensors ({first}{more}); their names match no network "
            f"import-model knows (it converts BiRefNet-family weights: a Swin backbone under 'bb.', a 'decoder.')")
