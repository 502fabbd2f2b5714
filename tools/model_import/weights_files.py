"""What a .safetensors or .pth file holds, read as data.

A safetensors file is an 8-byte little-endian header length, a JSON header
naming each tensor (dtype, shape, byte range) and the raw bytes; only the
header is read. A .pth file is read with torch.load(weights_only=True),
which refuses anything but tensors and plain containers, so no code in it
runs. Both give the parameter names, which say whether the weights are a
BiRefNet-family network (official names: a Swin backbone under "bb.", a
"decoder.", "squeeze_module." ...).
"""

import json
import os
import struct
import zipfile

SAFETENSORS_HEADER_LIMIT = 100 * 1024 * 1024
BIREFNET_PREFIXES = ("bb.", "decoder.", "squeeze_module.")


class WeightsFileError(Exception):
    """A weights file that cannot be read as data."""


def safetensors_names(path):
    """(parameter names in file order, dtype and shape of each). Raises
    WeightsFileError for a file whose header is not safetensors'."""
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
    return list(tensors), {k: (v["dtype"], v["shape"]) for k, v in tensors.items()}


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
    """True when the names follow the official BiRefNet layout."""
    found = {p for p in BIREFNET_PREFIXES if any(n.startswith(p) for n in names)}
    return "bb." in found and len(found) >= 2 and any(".attn." in n for n in names if n.startswith("bb."))


def describe_weights(path, kind):
    """One paragraph saying what the weights file holds."""
    names, shapes = safetensors_names(path) if kind == "safetensors" else pth_names(path)
    if not names:
        return f"{path}: a {kind} file with no named tensors"
    first = ", ".join(f"{n} {shapes[n][1]}" for n in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    if looks_like_birefnet(names):
        verdict = ("their names are BiRefNet's (a Swin backbone under 'bb.', a 'decoder.'): a BiRefNet-family "
                   "model (BiRefNet, RMBG-2.0 or a relative). Converting BiRefNet weights is not supported yet; "
                   "an ONNX export of the same model can be imported")
    else:
        verdict = "their names match no network import-model knows"
    return f"{path}: a {kind} file with {len(names)} tensors ({first}{more}); {verdict}"
