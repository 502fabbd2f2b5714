"""ONNX files users already have, and how each is run.

rembg publishes the checksum of every file of its model zoo (~/.u2net/);
its session for that file says the input size, the normalisation and what
it does with the first output. A file whose checksum is listed is run the
same way here. A file that is not listed but whose graph has the shape of
a family (U-2-Net's 320 x 320 input and seven sigmoid outputs, IS-Net's
1024 x 1024 input and sigmoid first output) gets that family's settings.

"minmax": rembg stretches the first output to 0..1 per image; "logits":
BiRefNet's output goes through a sigmoid (as its authors' own inference
does; rembg also stretches it afterwards, which we leave out).
"""

IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
DIS = {"mean": [0.485, 0.456, 0.406], "std": [1.0, 1.0, 1.0]}


def preset(family, size, norm, output, upstream_license):
    # Every rembg session resizes the image to the square input, as these
    # networks were trained: the fit is stretch.
    return {"family": family, "input_size": [size, size], "mean": norm["mean"], "std": norm["std"],
            "output": output, "fit": "stretch", "upstream_license": upstream_license}


U2NET = preset("U-2-Net", 320, IMAGENET, "minmax", "Apache-2.0 (U-2-Net)")
ISNET = preset("IS-Net (DIS)", 1024, DIS, "minmax", "see the DIS project and the file's source")
BIREFNET = preset("BiRefNet", 1024, IMAGENET, "logits", "MIT (BiRefNet)")

# rembg's name for the file -> (checksum kind, checksum, settings).
REMBG_FILES = {
    "u2net": ("md5", "60024c5c889badc19c04ad937298a77b", U2NET),
    "u2netp": ("md5", "8e83ca70e441ab06c318d82300c84806", U2NET),
    "u2net_human_seg": ("md5", "c09ddc2e0104f800e3e1bb4652583d1f", U2NET),
    "silueta": ("md5", "55e59e0d8062d2f5d013f4725ee84782", dict(U2NET, upstream_license="unknown (rembg)")),
    "isnet-general-use": ("md5", "fc16ebd8b0c10d971d3513d564d01e29", ISNET),
    "isnet-anime": ("md5", "6f184e756bb3bd901c8849220a83e38e",
                    dict(ISNET, upstream_license="Apache-2.0 (anime-segmentation)")),
    "birefnet-general": ("md5", "7a35a0141cbbc80de11d9c9a28f52697", BIREFNET),
    "birefnet-general-lite": ("md5", "4fab47adc4ff364be1713e97b7e66334", BIREFNET),
    "birefnet-portrait": ("md5", "c3a64a6abf20250d090cd055f12a3b67", BIREFNET),
    "birefnet-dis": ("md5", "2d4d44102b446f33a4ebb2e56c051f2b", BIREFNET),
    "birefnet-hrsod": ("md5", "c017ade5de8a50ff0fd74d790d268dda", BIREFNET),
    "birefnet-cod": ("md5", "f6d0d21ca89d287f17e7afe9f5fd3b45", BIREFNET),
    "birefnet-massive": ("md5", "33e726a2136a3d59eb0fdf613e31e3e9", BIREFNET),
    "bria-rmbg": ("sha256", "5b486f08200f513f460da46dd701db5fbb47d79b4be4b708a19444bcd4e79958",
                  dict(BIREFNET, family="RMBG-2.0 (BiRefNet architecture)", output="minmax",
                       upstream_license="CC-BY-NC-4.0 (BRIA AI)")),
}


def by_checksum(md5, sha256):
    """(rembg name, settings) of a listed file, or None."""
    for name, (kind, value, settings) in REMBG_FILES.items():
        if (kind == "md5" and value == md5) or (kind == "sha256" and value == sha256):
            return name, settings
    return None


def by_signature(graph):
    """(description, settings) when the graph has a known family's shape, or None."""
    dims = graph.input_dims()
    first = graph.producer.get(graph.source(graph.outputs[0]))
    sigmoid_first = first is not None and first.op_type == "Sigmoid"
    sigmoid_outputs = sum(1 for o in graph.outputs
                          if graph.producer.get(o) is not None and graph.producer[o].op_type == "Sigmoid")
    if dims[2:] == [320, 320] and len(graph.outputs) == 7 and sigmoid_outputs == 7:
        return "a U-2-Net graph (320 x 320 input, seven sigmoid outputs)", U2NET
    if dims[2:] == [1024, 1024] and sigmoid_first and len(graph.outputs) >= 6:
        return "an IS-Net graph (1024 x 1024 input, sigmoid side outputs)", ISNET
    return None
