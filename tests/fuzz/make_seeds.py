"""Writes the seed inputs of the fuzz targets into tests/fuzz/corpus/.

Usage: /usr/bin/python3 tests/fuzz/make_seeds.py

The seeds are committed; run this again only to change them. Fuzzing adds
more inputs next to them (run_fuzz.sh with CUTOUT_FUZZ_MERGE=1).

- nodes_json/: the real nodes.json and variants of it that are valid,
  almost valid, or valid but odd (optional inputs without defaults, other
  widget types, two nodes).
- node_tensors/: byte strings in the layout fuzz_node_tensors.c reads,
  describing valid calls (each dtype, strides, masks, batching, abort) and
  invalid ones (a wrong channel count, negative stride, CUDA, int32, ...).
- any_node/: one call per node of nodes.json with every input given.
- image_decode/: small PNG files of every colour type and bit depth, with
  and without transparency, interlaced, and baseline, progressive,
  grayscale and CMYK JPEG files.
"""

import io
import json
import os
import struct
import zlib
from pathlib import Path

from PIL import Image

FUZZ_DIR = Path(__file__).resolve().parent
REPOSITORY_DIR = FUZZ_DIR.parent.parent
CORPUS = FUZZ_DIR / "corpus"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    mode = "w" if isinstance(data, str) else "wb"
    with open(folder / name, mode) as f:
        f.write(data)


# ---------------------------------------------------------------- nodes.json


def nodes_json_seeds():
    with open(REPOSITORY_DIR / "nodes.json") as f:
        real = json.load(f)
    write("nodes_json", "nodes.json", json.dumps(real, indent=2))

    def variant(name, change):
        doc = json.loads(json.dumps(real))
        change(doc)
        write("nodes_json", name, json.dumps(doc))

    node = lambda doc: doc["nodes"][0]  # noqa: E731
    inputs = lambda doc: {i["name"]: i for i in node(doc)["inputs"]}  # noqa: E731

    def model_optional_without_default(doc):
        spec = inputs(doc)["model"]
        spec["required"] = False
        del spec["default"]

    def batch_size_from_zero(doc):
        spec = inputs(doc)["batch_size"]
        spec["min"] = 0
        spec["default"] = 0

    def batch_size_optional_without_default(doc):
        spec = inputs(doc)["batch_size"]
        spec["required"] = False
        del spec["default"]
        del spec["min"]

    def image_optional(doc):
        inputs(doc)["image"]["required"] = False

    def extra_widgets(doc):
        node(doc)["inputs"] += [
            {"name": "strength", "type": "FLOAT", "required": False, "default": 0.5,
             "min": 0.0, "max": 1.0},
            {"name": "invert", "type": "BOOLEAN", "required": False, "default": False},
            {"name": "note", "type": "STRING", "required": False, "default": ""},
            {"name": "method", "type": "COMBO", "required": False, "options": ["a", "b"],
             "default": "a"},
        ]

    def fixed_model_list(doc):
        spec = inputs(doc)["model"]
        del spec["options_from"]
        spec["options"] = ["stub", "isnet"]
        spec["default"] = "stub"

    def two_nodes(doc):
        doc["nodes"].append(dict(node(doc), id="CutoutOther"))

    def outputs_swapped(doc):
        node(doc)["outputs"].reverse()

    variant("model_optional_without_default.json", model_optional_without_default)
    variant("batch_size_from_zero.json", batch_size_from_zero)
    variant("batch_size_optional_without_default.json", batch_size_optional_without_default)
    variant("image_optional.json", image_optional)
    variant("extra_widgets.json", extra_widgets)
    variant("fixed_model_list.json", fixed_model_list)
    variant("two_nodes.json", two_nodes)
    variant("outputs_swapped.json", outputs_swapped)
    variant("schema_version_2.json", lambda doc: doc.update(schema_version=2))
    write("nodes_json", "truncated.json", json.dumps(real)[:300])
    write("nodes_json", "empty_object.json", "{}")


# -------------------------------------------------------------- node tensors

F32, U8, F16, BF16 = 0, 1, 2, 3   # code byte < 208 picks usual[code % 4]
COMPACT = 0                        # stride selector < 96: row-major stride


def stride(value):
    """Selector for a small explicit stride -8..31."""
    return 96 + (value + 8)


def tensor(dims, dtype=F32, strides=None, rank_byte=None, flags=0, device=0, offset=0):
    """One descriptor in fuzz_node_tensors.c's layout. dims are 0..16."""
    if strides is not None:
        flags |= 0x08
    out = bytes([flags, rank_byte if rank_byte is not None else 0])
    out += bytes(dims)
    out += bytes(strides if strides is not None else [COMPACT] * len(dims))
    out += bytes([dtype, device, offset])
    return out


def rank_byte(ndim):
    """A rank byte >= 160 that decodes to ndim (-2 .. 9)."""
    for b in range(160, 256):
        if b % 12 - 2 == ndim:
            return b
    raise ValueError(ndim)


def call(image, mask=None, batch_size=1, abort_at=0, fill_mode=1, fill=bytes(range(100)),
         variant=0):
    out = bytes([variant]) + image
    out += bytes([200 if mask is not None else 0])
    out += mask if mask is not None else tensor([1, 1, 1])
    out += bytes([batch_size - 1, 191 + abort_at if abort_at else 0, fill_mode])
    return out + fill


def node_tensor_seeds():
    seeds = {
        "rgb_float32": call(tensor([2, 4, 5, 3])),
        "rgba_uint8_mask": call(tensor([1, 6, 7, 4], U8), mask=tensor([1, 6, 7])),
        "float16_strided_bfloat16_mask": call(
            tensor([3, 4, 4, 3], F16, strides=[COMPACT] * 4),
            mask=tensor([4, 4], BF16, rank_byte=rank_byte(2))),
        "channels_first_view": call(tensor([1, 3, 2, 3], strides=[stride(18), stride(2),
                                                                 stride(1), stride(6)])),
        "broadcast_batch": call(tensor([3, 2, 2, 3], strides=[stride(0), COMPACT, COMPACT,
                                                              COMPACT]), batch_size=2),
        "mask_resized": call(tensor([1, 4, 5, 3]), mask=tensor([1, 2, 3])),
        "byte_offset": call(tensor([1, 2, 2, 3], offset=5)),
        "batches_of_three": call(tensor([5, 2, 2, 3], U8), batch_size=3),
        "nan_in_image": call(tensor([1, 2, 2, 3]), fill_mode=2, fill=bytes([10, 255, 20])),
        "inf_in_mask": call(tensor([1, 2, 2, 3]), mask=tensor([1, 2, 2]), fill_mode=2,
                            fill=bytes([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120,
                                        254])),
        "abort_second_poll": call(tensor([4, 2, 2, 3]), abort_at=2),
        "five_channels": call(tensor([1, 2, 2, 5])),
        "negative_stride": call(tensor([1, 2, 2, 3], strides=[COMPACT, stride(-6), COMPACT,
                                                              COMPACT])),
        "zero_height": call(tensor([1, 0, 2, 3])),
        "three_dims": call(tensor([2, 2, 3], rank_byte=rank_byte(3))),
        "cuda_image": call(tensor([1, 2, 2, 3], device=230)),
        "mask_batch_mismatch": call(tensor([3, 2, 2, 3]), mask=tensor([2, 2, 2])),
        "broken_model": call(tensor([1, 2, 2, 3]), variant=201),
    }
    for name, data in seeds.items():
        write("node_tensors", name, data)


# ----------------------------------------------------------------- any node


def any_node_seeds():
    """One start per node of nodes.json: every input given (selector 100)
    with middling values; the fuzzer takes it from there."""
    with open(REPOSITORY_DIR / "nodes.json") as f:
        nodes = json.load(f)["nodes"]
    for index, node in enumerate(nodes):
        data = bytes([index])
        for spec in node["inputs"]:
            data += bytes([100])
            if spec["type"] in ("IMAGE", "MASK"):
                rank = 4 if spec["type"] == "IMAGE" else 3
                dims = [2, 6, 5, 3][:rank] if rank == 4 else [2, 6, 5]
                data += tensor(dims)
            else:
                data += bytes([100, 7, 3])
        data += bytes([0, 1]) + bytes(range(100))
        write("any_node", f"{node['id']}", data)


# ------------------------------------------------------------------- images


def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def raw_png(width, height, colour_type, bit_depth, rows, interlace=0):
    """A PNG from already-filtered scanline bytes (filter byte included)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) +
            png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def rgb16_png(width, height):
    rows = b""
    for y in range(height):
        rows += b"\x00" + b"".join(struct.pack(">HHH", x * 4000, y * 9000, 65535 - x * 999)
                                   for x in range(width))
    return raw_png(width, height, 2, 16, rows)


def interlaced_gray_png():
    # 1 x 1 gray, Adam7: only pass 1 holds a pixel.
    return raw_png(1, 1, 0, 8, b"\x00\x80", interlace=1)


def saved(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def image_seeds():
    base = Image.new("RGB", (12, 9))
    base.putdata([((x * 21) % 256, (y * 28) % 256, (x * y * 5) % 256)
                  for y in range(9) for x in range(12)])
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((12, 9)))
    palette = base.convert("P", palette=Image.ADAPTIVE, colors=16)
    palette_transparent = palette.copy()
    palette_transparent.info["transparency"] = 3
    seeds = {
        "rgb8.png": saved(base, "PNG"),
        "rgba8.png": saved(rgba, "PNG"),
        "palette.png": saved(palette, "PNG"),
        "palette_trns.png": saved(palette_transparent, "PNG", transparency=3),
        "gray8.png": saved(base.convert("L"), "PNG"),
        "gray_alpha.png": saved(rgba.convert("LA"), "PNG"),
        "gray1.png": saved(base.convert("1"), "PNG"),
        "gray16.png": saved(base.convert("I").point(lambda v: v * 200).convert("I;16"), "PNG"),
        "rgb16.png": rgb16_png(6, 4),
        "gray_interlaced.png": interlaced_gray_png(),
        "baseline.jpg": saved(base, "JPEG", quality=80),
        "progressive.jpg": saved(base, "JPEG", quality=80, progressive=True),
        "gray.jpg": saved(base.convert("L"), "JPEG"),
        "subsampling_444.jpg": saved(base, "JPEG", subsampling=0),
        "cmyk.jpg": saved(base.convert("CMYK"), "JPEG"),
        "flat_colour.jpg": saved(Image.new("RGB", (40, 24), (9, 99, 199)), "JPEG",
                                     quality=50),
    }
    for name, data in seeds.items():
        write("image_decode", name, data)


def main():
    nodes_json_seeds()
    node_tensor_seeds()
    any_node_seeds()
    image_seeds()
    for target in sorted(os.listdir(CORPUS)):
        print(f"{target}: {len(os.listdir(CORPUS / target))} seeds")


if __name__ == "__main__":
    main()
