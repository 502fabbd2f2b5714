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


# At most this many tensors in one header: BiRefNet Swin-L has about 1,600;
# a header of a million tiny entries is an attack on memory, not a model.
SAFETENSORS_MAX_TENSORS = 65536


def _header_error(path, what):
    return WeightsFileError(f"{path}: not a valid safetensors file ({what})")


def safetensors_header(path):
    """(name -> entry dict without __metadata__, in file order; offset of
    the data), new objects the caller owns. Reads only the header, and
    checks all of it before anything else reads the file: every dtype known,
    every shape a list of sizes, every byte range [begin, end] with
    end - begin = the size the dtype and shape need (computed with Python
    integers, so no shape overflows), the ranges disjoint and in order,
    covering the data exactly up to the end of the file, at most
    SAFETENSORS_MAX_TENSORS tensors. So reading every tensor reads each byte
    of the file at most once. Raises WeightsFileError naming the first
    fault, OSError when the file cannot be read."""
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
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise WeightsFileError(f"{path}: not a safetensors file (its header is not JSON: {e})")
    if not isinstance(header, dict):
        raise WeightsFileError(f"{path}: not a safetensors file (its header is not a JSON object)")
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    if len(tensors) > SAFETENSORS_MAX_TENSORS:
        raise _header_error(path, f"{len(tensors)} tensors, at most {SAFETENSORS_MAX_TENSORS} allowed")
    data_size = size - 8 - length
    spans = []
    for name, entry in tensors.items():
        if not isinstance(entry, dict) or "dtype" not in entry or "shape" not in entry:
            raise WeightsFileError(f"{path}: not a safetensors file (entry {name!r} has no dtype and shape)")
        dtype, shape, span = entry["dtype"], entry["shape"], entry.get("data_offsets")
        if dtype not in SAFETENSORS_DTYPES:
            raise WeightsFileError(f"{path}: tensor {name!r} has dtype {dtype!r}; expected one of "
                                   f"{', '.join(SAFETENSORS_DTYPES)}")
        if (not isinstance(shape, list) or len(shape) > 8
                or not all(type(d) is int and d >= 0 for d in shape)):
            raise WeightsFileError(f"{path}: tensor {name!r} has shape {shape!r}; expected a list of at "
                                   f"most 8 sizes")
        if (not isinstance(span, list) or len(span) != 2 or not all(type(v) is int for v in span)
                or not 0 <= span[0] <= span[1]):
            raise WeightsFileError(f"{path}: tensor {name!r} has data_offsets {span!r}; expected [begin, end]")
        count = 1
        for d in shape:
            count *= d  # Python integers: no overflow
        need = count * SAFETENSORS_DTYPES[dtype][1]
        if span[1] - span[0] != need:
            raise WeightsFileError(f"{path}: tensor {name!r} ({dtype} {shape}) needs {need} bytes, "
                                   f"its data_offsets give {span[1] - span[0]}")
        spans.append((span[0], span[1], name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin != position:
            what = "overlaps the one before" if begin < position else f"leaves a gap at byte {position}"
            raise _header_error(path, f"tensor {name!r} at bytes {begin}..{end} {what}")
        position = end
    if position > data_size:
        begin, end, name = next(span for span in spans if span[1] > data_size)
        raise WeightsFileError(f"{path}: tensor {name!r} ends at byte {end} of the data, but the file "
                               f"holds {data_size} (truncated?)")
    if position < data_size:
        raise _header_error(path, f"the tensors cover {position} of its {data_size} bytes of data")
    return tensors, 8 + length


def read_safetensors_tensor(f, start, name, entry):
    """The tensor `name` (a new torch tensor, float types as stored) of an
    open safetensors file f whose header safetensors_header checked (entry
    is its header entry, start its data offset). Reads only that tensor's
    bytes. Raises OSError when they cannot be read."""
    import torch

    dtype, shape, span = entry["dtype"], entry["shape"], entry["data_offsets"]
    numpy_dtype, _ = SAFETENSORS_DTYPES[dtype]
    f.seek(start + span[0])
    raw = f.read(span[1] - span[0])
    if len(raw) != span[1] - span[0]:
        raise OSError(f"tensor {name!r}: short read ({len(raw)} of {span[1] - span[0]} bytes)")
    values = np.frombuffer(raw, dtype=numpy_dtype).reshape(shape)
    if dtype == "BF16":
        return torch.from_numpy(values.astype("=u2").view(np.int16).copy()).view(torch.bfloat16)
    return torch.from_numpy(values.astype(values.dtype.newbyteorder("="), copy=True))


def read_safetensors(path):
    """name -> torch tensor (a copy, float types as stored: float32,
    float16 or bfloat16) of every tensor in a safetensors file, after
    safetensors_header checked the whole header. Raises WeightsFileError
    as it does; OSError when the file cannot be read. The tensors are the
    caller's; one call per thread."""
    tensors, start = safetensors_header(path)
    with open(path, "rb") as f:
        return {name: read_safetensors_tensor(f, start, name, entry) for name, entry in tensors.items()}


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


def sniff_format(path):
    """What the file's bytes are: "torchscript" (a TorchScript archive:
    code), "pth" (torch.save's zip or a plain pickle), "safetensors" or
    "onnx" (anything else; the ONNX reader decides). A zip archive is opened
    with torch's own reader, the one torch.load uses, and counts as
    TorchScript exactly when torch.load would hand it to torch.jit.load (it
    has constants.pkl) or it holds code/ records: bytes appended after a
    TorchScript archive do not hide it, as they would from Python's zipfile.
    Raises WeightsFileError for a zip archive torch's reader refuses,
    OSError when the file cannot be read."""
    import torch

    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK\x03\x04"):
        try:
            records = torch._C.PyTorchFileReader(path).get_all_records()
        except Exception as e:  # the reader raises RuntimeError, and others for odd files
            raise WeightsFileError(f"{path}: not a plain weights file (a zip archive that torch's reader "
                                   f"refuses: {str(e).splitlines()[0] if str(e) else type(e).__name__})")
        # Record names come without the archive's top folder ("data.pkl").
        if "constants.pkl" in records or any(r.startswith("code/") for r in records):
            return "torchscript"
        return "pth"
    if head[:1] == b"\x80":  # a pickle (torch.save's legacy format)
        return "pth"
    if len(head) >= 9 and head[8:9] == b"{":  # safetensors: header length, then JSON
        return "safetensors"
    return "onnx"


# The formats each file name extension may hold; a file whose bytes are
# another format is refused (a TorchScript archive named .pth or .onnx).
EXTENSION_FORMATS = {".pth": "pth", ".pt": "pth", ".bin": "pth", ".ckpt": "pth",
                     ".safetensors": "safetensors", ".onnx": "onnx"}


def checked_format(path):
    """sniff_format(path), after checking that it is the format the file's
    extension names and not TorchScript. Raises WeightsFileError for a
    TorchScript archive, an unknown extension or a mismatch, OSError when
    the file cannot be read."""
    ext = os.path.splitext(path)[1].lower()
    expected = EXTENSION_FORMATS.get(ext)
    if expected is None:
        raise WeightsFileError(f"{path}: expected a file named .onnx, .safetensors, .pth, .pt, .bin or .ckpt, "
                               f"got {ext or 'no extension'}")
    kind = sniff_format(path)
    if kind == "torchscript":
        raise WeightsFileError(f"{path}: a TorchScript archive, not a weights file: it holds code, so it is "
                               f"refused unread (a cutout model, with cutout_meta.json inside, goes into "
                               f"models/ as it is)")
    if kind != expected:
        raise WeightsFileError(f"{path}: named {ext}, but its bytes are a {kind} file; refused")
    return kind


def is_torchscript_archive(path):
    """True for a TorchScript archive by torch's own reader (sniff_format);
    a zip archive the reader refuses counts as one too (refused unread).
    Never raises for a readable file."""
    try:
        return sniff_format(path) == "torchscript"
    except WeightsFileError:
        return True


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
