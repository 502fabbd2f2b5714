"""import_model(): a model file a user already has -> DEST/NAME.pt with its
metadata, registered in DEST/manifest.json.

ONNX files are converted (onnx_convert), checked against onnxruntime on a
photo (onnx_check) and described by what is known about them: rembg's zoo
files by checksum or graph shape (known_models), anything else by its graph
and the caller's settings. .safetensors and .pth files are read as data
(weights_files); BiRefNet-family weights are loaded into cutout's own
BiRefNet (birefnet_import) and scripted, anything else is refused with what
it holds. The file is never executed.
"""

import hashlib
import json
import os

import torch

from . import birefnet_import, known_models, models_manifest, onnx_check, weights_files
from .onnx_convert import OUTPUT_KINDS, convert_image_model, load_onnx
from .onnx_graph import ConversionError, Graph
from .weights_files import WeightsFileError, describe_weights, looks_like_birefnet, weights_names

META_FILE = "cutout_meta.json"
FITS = ("stretch", "balanced", "letterbox")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
TEXT_LIMIT = 63  # the library's limit for a model's name and licence


class ImportFailure(Exception):
    """A file that cannot be imported, or settings that do not fit it."""


def file_kind(path):
    """"onnx", "safetensors" or "pth": what the file's bytes are (read with
    torch's own reader for a zip archive), which must be what its extension
    names. Raises ImportFailure for a TorchScript archive, an unknown
    extension or a mismatch; OSError when the file cannot be read."""
    try:
        return weights_files.checked_format(path)
    except weights_files.WeightsFileError as e:
        raise ImportFailure(str(e))


def checksums(path):
    md5, sha256 = hashlib.md5(), hashlib.sha256()  # md5: rembg publishes its files' md5
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            md5.update(block)
            sha256.update(block)
    return md5.hexdigest(), sha256.hexdigest()


def model_name(src, name):
    name = name or os.path.splitext(os.path.basename(src))[0]
    if not name or name[0] == "." or not set(name) <= NAME_CHARS or len(name) > TEXT_LIMIT:
        raise ImportFailure(f"--name: expected 1..{TEXT_LIMIT} letters, digits, '.', '_' or '-' "
                            f"(not starting with '.'), got {name!r}")
    return name


def three_numbers(flag, values, positive):
    if values is None:
        return None
    if len(values) != 3 or not all(isinstance(v, (int, float)) for v in values) or (
            positive and min(values) <= 0):
        raise ImportFailure(f"{flag}: expected 3 numbers{' > 0' if positive else ''} (R G B), got {values}")
    return [float(v) for v in values]


def settings(graph, md5, sha256, overrides):
    """(settings dict, how the file was recognised or None, its upstream's
    licence or None). Caller's overrides win; raises ImportFailure naming
    every setting still missing."""
    known = known_models.by_checksum(md5, sha256)
    recognised, base = None, {}
    if known:
        recognised, base = f"rembg's {known[0]} ({known[1]['family']}, checksum match)", known[1]
    else:
        signature = known_models.by_signature(graph)
        if signature:
            recognised, base = f"{signature[0]}: {signature[1]['family']} settings", signature[1]
    chosen = {k: base.get(k) for k in ("input_size", "mean", "std", "output", "fit")}
    if chosen["input_size"] is None:
        dims = graph.input_dims()[2:]
        chosen["input_size"] = dims if len(dims) == 2 and None not in dims else None
    if chosen["output"] is None:
        first = graph.producer.get(graph.source(graph.outputs[0]))
        chosen["output"] = "probability" if first is not None and first.op_type == "Sigmoid" else None
    for key, value in overrides.items():
        if value is not None:
            chosen[key] = value
    flags = {"input_size": "--size", "mean": "--mean", "std": "--std", "output": "--output-kind"}
    missing = [flag for key, flag in flags.items() if chosen[key] is None]
    if missing:
        raise ImportFailure(f"the file is not one import-model recognises and its graph does not say "
                            f"everything needed: pass {', '.join(missing)}")
    if chosen["output"] not in OUTPUT_KINDS:
        raise ImportFailure(f"--output-kind: expected one of {', '.join(OUTPUT_KINDS)}, got {chosen['output']!r}")
    if chosen["fit"] is not None and chosen["fit"] not in FITS:
        raise ImportFailure(f"--fit: expected one of {', '.join(FITS)}, got {chosen['fit']!r}")
    return chosen, recognised, base.get("upstream_license")


def run_at(module, height, width):
    x = torch.rand(1, 3, height, width) - 0.5
    with torch.no_grad():
        return module(x)


def smoke_test(module, size):
    """Runs the module at its own size (it must give 1 x 1 x H x W in 0..1)
    and at another; returns False when only the exported size works."""
    height, width = size
    y = run_at(module, height, width)
    if y.dim() != 4 or tuple(y.shape[:2]) != (1, 1) or not bool(torch.isfinite(y).all()):
        raise ImportFailure(f"converted model at {height} x {width}: expected a finite 1 x 1 x H x W matte, "
                            f"got shape {tuple(y.shape)}")
    if float(y.min()) < -1e-3 or float(y.max()) > 1 + 1e-3:
        raise ImportFailure(f"converted model: its output spans {float(y.min()):.3g}..{float(y.max()):.3g}, "
                            f"not 0..1: pass --output-kind logits or minmax")
    other = [max(64, (s * 3 // 4) // 32 * 32) for s in size]
    try:
        run_at(module, *other)
        return True
    except RuntimeError:  # TorchScript raises RuntimeError for a shape the graph cannot take
        return False


def save(module, meta, path):
    """Saves through a private temporary file renamed into place
    (models_manifest.replace_atomically)."""
    models_manifest.replace_atomically(
        path, lambda tmp: torch.jit.save(module, tmp, _extra_files={META_FILE: json.dumps(meta, indent=2)}))


def write_model(module, meta, entry, dest_dir):
    """Saves module as DEST_DIR/entry["file"] (through a temporary file)
    and registers entry; refuses a broken manifest before writing
    anything. One writer per folder at a time. Raises ImportFailure for a
    broken manifest, OSError when the folder cannot be written."""
    os.makedirs(dest_dir, exist_ok=True)
    manifest = os.path.join(dest_dir, "manifest.json")
    try:
        models_manifest.load(manifest)
    except ValueError as e:
        raise ImportFailure(str(e))
    save(module, meta, os.path.join(dest_dir, entry["file"]))
    models_manifest.register(manifest, meta["name"], entry)


def import_weights(src, kind, dest_dir, name, license, overrides, variant, report):
    """A .safetensors / .pth file: BiRefNet-family weights become a scripted
    CutoutBiRefNet; anything else is refused with what the file holds.
    license is the caller's (None when not stated). Returns the manifest
    entry (the caller's); raises ImportFailure naming what was wrong."""
    try:
        names, _ = weights_names(src, kind)
        if not looks_like_birefnet(names):
            raise ImportFailure(describe_weights(src, kind))
    except WeightsFileError as e:
        raise ImportFailure(str(e))
    output = overrides["output"] or "logits"
    if output not in OUTPUT_KINDS:
        raise ImportFailure(f"--output-kind: expected one of {', '.join(OUTPUT_KINDS)}, got {output!r}")
    if overrides["fit"] is not None and overrides["fit"] not in FITS:
        raise ImportFailure(f"--fit: expected one of {', '.join(FITS)}, got {overrides['fit']!r}")
    report(0.05, f"reading {len(names)} BiRefNet tensors")
    try:
        module, eager, facts = birefnet_import.build(src, kind, variant, output)
        report(0.6, "comparing the TorchScript module with the eager one")
        difference = birefnet_import.compare(module, eager)
    except birefnet_import.BirefnetImportError as e:
        raise ImportFailure(str(e))
    known = birefnet_import.VARIANTS[facts["variant"]]
    height, width = overrides["input_size"] or known["input_size"]
    stated = license is not None
    license = license or known["license"] or "unknown"
    backbone = birefnet_import.BACKBONE_NAMES[facts["backbone"]]
    recognised = f"{facts['variant']} weights ({backbone} backbone; variant from {facts['chosen_by']})"
    _, sha256 = checksums(src)
    meta = {"format": 1, "name": name, "kind": "alpha", "license": license,
            "input_size": [height, width], "input_height": height, "input_width": width,
            "mean": overrides["mean"] or birefnet_import.IMAGENET_MEAN,
            "std": overrides["std"] or birefnet_import.IMAGENET_STD, "output": output,
            "fit": overrides["fit"] or "stretch", "source": f"imported {os.path.basename(src)} (sha256 {sha256})",
            "description": f"{recognised}, built as cutout's BiRefNet in float32 TorchScript; the final "
                           f"prediction as alpha ({output})."}
    if stated:
        notes = "as stated when imported"
    elif known["license"]:
        notes = f"not stated when imported; the {facts['variant']} weights are published under {known['license']}"
    else:
        notes = f"not stated when imported; the file's upstream publishes it under {known['upstream_license']}"
    entry = {"file": f"{name}.pt", "imported": True,
             "source": {"file": os.path.basename(src), "size": os.path.getsize(src), "sha256": sha256,
                        "recognised_as": recognised, "tensors": facts["tensors"]},
             "license": {"weights": license, "notes": notes},
             "meta": meta,
             "verification": {"check": "TorchScript module against the eager module, random 2 x 3 x 64 x 96 input",
                              "max_abs_difference": difference}}
    if known["notice"]:
        entry["warnings"] = [known["notice"]]
    report(0.8, f"writing {entry['file']}")
    write_model(module, meta, entry, dest_dir)
    report(1.0, f"{facts['variant']} -> {os.path.join(dest_dir, entry['file'])}")
    return entry


def import_model(src, dest_dir, name=None, license=None, mean=None, std=None, size=None, output_kind=None,
                 fit=None, progress=None, verify=True, root=None, variant=None):
    """Imports `src` as DEST_DIR/NAME.pt and registers it in
    DEST_DIR/manifest.json; returns the manifest entry.

    size: [height, width]; mean, std: 3 numbers each (0..1 units); output_kind:
    one of OUTPUT_KINDS; fit: one of FITS. Unset values come from the file's
    known settings or its graph. progress(fraction, message) is called as
    the steps go. verify compares the result with onnxruntime-node on a
    photo (needs it installed under ROOT/tools); a BiRefNet weights file is
    always compared with its eager module instead. variant: a
    birefnet_import.VARIANTS name, for weights files only (default: from
    the file's name and backbone). Raises ImportFailure with a message
    naming what was wrong: the file (not a model, weights we do not convert,
    a BiRefNet layout with unknown, missing or mis-shaped tensors,
    unsupported ONNX ops), a setting, or the check. Single-threaded; the
    caller owns the returned dict. An entry may carry "warnings" (lines
    the caller shows, such as a non-commercial licence).
    """
    report = progress or (lambda fraction, message: None)
    root = root or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if not os.path.isfile(src):
        raise ImportFailure(f"{src}: no such file")
    name = model_name(src, name)
    stated_license = license
    license = license or "unknown"
    if len(license.encode()) > TEXT_LIMIT:
        raise ImportFailure(f"--license: expected at most {TEXT_LIMIT} bytes (an SPDX id such as "
                            f"Apache-2.0), got {len(license.encode())}")
    overrides = {"input_size": size, "mean": three_numbers("--mean", mean, False),
                 "std": three_numbers("--std", std, True), "output": output_kind, "fit": fit}
    kind = file_kind(src)
    if kind != "onnx":
        return import_weights(src, kind, dest_dir, name, stated_license, overrides, variant, report)
    if variant is not None:
        raise ImportFailure("--variant: only for BiRefNet weights files (.safetensors, .pth), not ONNX")
    report(0.05, "reading the ONNX file")
    md5, sha256 = checksums(src)
    try:
        model = load_onnx(src)
        chosen, recognised, upstream = settings(Graph(model), md5, sha256, overrides)
        report(0.15, "converting to TorchScript")
        module, graph, count = convert_image_model(model, chosen["output"])
    except ConversionError as e:
        raise ImportFailure(str(e))
    height, width = chosen["input_size"]
    report(0.6, f"running the converted model at {height} x {width}")
    any_size = smoke_test(module, chosen["input_size"])
    meta = {"format": 1, "name": name, "kind": "alpha", "license": license,
            "input_size": [height, width], "input_height": height, "input_width": width,
            "mean": chosen["mean"], "std": chosen["std"], "output": chosen["output"],
            "source": f"imported {os.path.basename(src)} (sha256 {sha256})",
            "description": f"{recognised or 'ONNX model'}, converted to float32 TorchScript; the first "
                           f"output as alpha ({chosen['output']})."}
    if chosen["fit"]:
        meta["fit"] = chosen["fit"]
    if not any_size:
        meta["fixed_input_size"] = True
    entry = {"file": f"{name}.pt", "imported": True,
             "source": {"file": os.path.basename(src), "size": os.path.getsize(src), "sha256": sha256,
                        "recognised_as": recognised},
             "license": {"weights": license, "notes": "as stated when imported" if license != "unknown"
                         else "not stated when imported" + (f"; the file's upstream publishes it under {upstream}"
                                                             if upstream else "")},
             "meta": meta}
    if verify:
        report(0.75, "comparing with onnxruntime on a photo")
        try:
            entry["verification"] = onnx_check.check_module(module, model, meta, root)
        except onnx_check.CheckError as e:
            raise ImportFailure(str(e))
    else:
        entry["verification"] = {"skipped": "not asked for"}
    write_model(module, meta, entry, dest_dir)
    report(1.0, f"{count} ops -> {os.path.join(dest_dir, entry['file'])}")
    return entry
