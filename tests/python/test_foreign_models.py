"""Files of other packs' model folders (background_removal, BiRefNet, RMBG,
rembg) in the model list, imported once into models/cutout/imported/ on
first use: listing, running, reuse, re-import of a changed file, refusals,
corrupt entries, Cancel and two imports at once.

The ONNX files are built here: U-2-Net-shaped graphs (320 x 320 input,
seven 3x3 convolutions, each with a sigmoid), which the importer runs with
rembg's U-2-Net settings (ImageNet normalisation, min-max of the first
output, stretch fit). On a 320 x 320 photo the library resizes nothing, so
the expected matte is computed here from the graph's own weights.
"""

import importlib.util
import json
import os
import struct
import subprocess
import sys
import threading

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

import comfy.model_management
import comfy.utils
import harness
from harness import folder_paths

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
BIREFNET_NAMES = ["bb.layers.0.blocks.0.attn.qkv.weight", "bb.patch_embed.proj.weight",
                  "decoder.conv_out1.0.weight", "squeeze_module.0.dec_att.aspp1.atrous_conv.weight"]


def u2net_like_onnx(path, seed):
    """A U-2-Net-shaped ONNX graph with random 3x3 convolutions; returns the
    first output's weight and bias as torch tensors."""
    rng = np.random.default_rng(seed)
    nodes, inits, outs = [], [], []
    for k in range(7):
        inits += [numpy_helper.from_array(rng.normal(0, 0.5, (1, 3, 3, 3)).astype(np.float32), f"w{k}"),
                  numpy_helper.from_array(np.array([0.1 * k], np.float32), f"b{k}")]
        nodes += [helper.make_node("Conv", ["x", f"w{k}", f"b{k}"], [f"c{k}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Sigmoid", [f"c{k}"], [f"y{k}"])]
        outs.append(helper.make_tensor_value_info(f"y{k}", TensorProto.FLOAT, [1, 1, 320, 320]))
    graph = helper.make_graph(nodes, "u2net_like",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 320, 320])], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return (torch.from_numpy(numpy_helper.to_array(inits[0]).copy()),
            torch.from_numpy(numpy_helper.to_array(inits[1]).copy()))


def expected_matte(image, weight, bias):
    """The graph's first output as the importer runs it (min-max), for a
    320 x 320 image (no resize)."""
    x = (image.permute(0, 3, 1, 2) - IMAGENET_MEAN) / IMAGENET_STD
    y = torch.sigmoid(F.conv2d(x, weight, bias, padding=1))
    low, high = y.amin(dim=(1, 2, 3), keepdim=True), y.amax(dim=(1, 2, 3), keepdim=True)
    return ((y - low) / (high - low))[:, 0]


def safetensors_file(path, names):
    """A header-only safetensors file naming `names` (2 floats each)."""
    header = {n: {"dtype": "F32", "shape": [2], "data_offsets": [8 * i, 8 * i + 8]} for i, n in enumerate(names)}
    text = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(8 * len(names)))


def other_network_pth(path):
    """A .pth of weights that are no network the importer knows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": {"features.0.weight": torch.zeros(4, 3, 3, 3)}}, str(path))


@pytest.fixture
def comfy_models(tmp_path):
    """A ComfyUI models/ folder of its own (comfy_root is shared by all tests), with
    the stub and tiny models in models/cutout/."""
    models = tmp_path / "ComfyUI" / "models"
    folder_paths.reset(models)
    harness.write_models(models / "cutout")
    return models


def model_choices(package):
    return harness.node_class(package).INPUT_TYPES()["required"]["model"]


def cache_files(models):
    folder = models / "cutout" / "imported"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def only_record(models):
    records = list((models / "cutout" / "imported").glob("*.json"))
    assert len(records) == 1, records
    return records[0], json.loads(records[0].read_text())


def stamp(path):
    stat = os.stat(path)
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@pytest.fixture
def import_calls(monkeypatch):
    """Counts the calls of python_wrapper/model_import's import_model made by a loaded
    package (the package loads the tools under a name of its own)."""
    calls = []

    def install(package):
        importer = harness.submodule(package, "model_import_tools").module("importer")
        original = importer.import_model

        def counted(src, *args, **kwargs):
            calls.append(src)
            return original(src, *args, **kwargs)

        monkeypatch.setattr(importer, "import_model", counted)
        return calls

    return install


def photo_320():
    return harness.load_photo("animal_fur_chelsea.png", size=(320, 320))


def run(package, model, **kwargs):
    return harness.run_node(package, image=kwargs.pop("image", photo_320()), model=model, batch_size=1,
                            precision="fp32", **kwargs)


# --------------------------------------------------------------------------
# Listing


def test_folder_keys_registered_and_files_listed(stub_library_path, comfy_models, tmp_path):
    # Core ComfyUI registers background_removal itself, with an extension set
    # it shares with other keys; extra_model_paths.yaml adds an RMBG folder
    # before custom nodes load.
    core_extensions = {".ckpt", ".pt", ".pth", ".safetensors"}
    folder_paths.folder_names_and_paths["background_removal"] = ([str(comfy_models / "background_removal")],
                                                                 core_extensions)
    extra = tmp_path / "shared" / "RMBG"
    folder_paths.add_model_folder_path("RMBG", str(extra))
    safetensors_file(comfy_models / "RMBG" / "RMBG-2.0" / "model.safetensors", BIREFNET_NAMES)
    safetensors_file(comfy_models / "RMBG" / "SAM" / "sam.safetensors", ["image_encoder.blocks.0.attn.qkv.weight"])
    other_network_pth(comfy_models / "RMBG" / "BEN" / "BEN2_Base.pth")
    (comfy_models / "RMBG" / "RMBG-2.0" / "config.json").parent.mkdir(parents=True, exist_ok=True)
    (comfy_models / "RMBG" / "RMBG-2.0" / "config.json").write_text("{}")
    safetensors_file(extra / "BiRefNet-HR" / "model.safetensors", BIREFNET_NAMES)
    safetensors_file(extra / "RMBG-2.0" / "model.safetensors", BIREFNET_NAMES)  # shadowed by the default folder
    safetensors_file(comfy_models / "background_removal" / "birefnet.safetensors", BIREFNET_NAMES)
    (comfy_models / "background_removal" / "broken.safetensors").write_bytes(b"not a header")
    other_network_pth(comfy_models / "BiRefNet" / "BiRefNet-general-epoch_244.pth")
    u2net_like_onnx(comfy_models / "rembg" / "u2net.onnx", 1)
    u2net_like_onnx(comfy_models / "rembg" / "zoo" / "isnet-general-use.onnx", 2)
    u2net_like_onnx(comfy_models / "rembg" / ".cache" / "hidden.onnx", 3)
    (comfy_models / "rembg" / "u2net.safetensors").write_bytes(b"x")  # rembg lists .onnx only

    package = harness.load_package(stub_library_path)

    registered = folder_paths.folder_names_and_paths
    assert registered["background_removal"][1] is core_extensions  # not replaced, not changed
    assert core_extensions == {".ckpt", ".pt", ".pth", ".safetensors"}
    assert registered["RMBG"] == ([str(comfy_models / "RMBG"), str(extra)], {".safetensors", ".pth"})
    assert registered["BiRefNet"] == ([str(comfy_models / "BiRefNet")], {".safetensors", ".pth"})
    assert registered["rembg"] == ([str(comfy_models / "rembg")], {".onnx"})

    choices, options = model_choices(package)
    library_models = choices[:choices.index("background_removal/birefnet.safetensors")]
    assert set(library_models) >= {"stub", "tiny"} and all("/" not in n for n in library_models)
    assert choices[len(library_models):] == [
        "background_removal/birefnet.safetensors",
        "background_removal/broken.safetensors",  # unreadable header: listed, choosing it says why
        "BiRefNet/BiRefNet-general-epoch_244.pth",
        "RMBG/BEN/BEN2_Base.pth",
        "RMBG/BiRefNet-HR/model.safetensors",
        "RMBG/RMBG-2.0/model.safetensors",
        "rembg/u2net.onnx",
        "rembg/zoo/isnet-general-use.onnx",
    ]
    assert "rembg/u2net.onnx: imported on first use" in options["tooltip"]
    assert "models/cutout/imported/" in options["tooltip"]
    assert cache_files(comfy_models) == []  # listing imports nothing


# --------------------------------------------------------------------------
# Importing and running


def test_first_use_imports_then_reuses_then_reimports_a_changed_file(real_library_path, comfy_models,
                                                                      import_calls):
    source = comfy_models / "rembg" / "u2net.onnx"
    weight, bias = u2net_like_onnx(source, 11)
    package = harness.load_package(real_library_path)
    calls = import_calls(package)
    image = photo_320()

    out_image, out_mask = run(package, "rembg/u2net.onnx", image=image)
    assert torch.allclose(out_mask, expected_matte(image, weight, bias), atol=1e-4)
    assert torch.equal(out_image[..., 3], out_mask)
    assert calls == [str(source)]
    # The import's own bar (percent) ran to the end before the node's (one item).
    assert comfy.utils.progress_log[-1] == (1, 1)
    import_bar = comfy.utils.progress_log[:-1]
    assert import_bar[-1] == (100, 100) and len(import_bar) >= 4
    assert [v for v, _ in import_bar] == sorted(v for v, _ in import_bar)

    record_path, record = only_record(comfy_models)
    model_path = record_path.with_suffix(".pt")
    assert record["status"] == "imported" and record["source"]["path"] == str(source)
    assert record["source"]["label"] == "rembg/u2net.onnx"
    assert record["entry"]["source"]["recognised_as"].startswith("a U-2-Net graph")
    verify_available = harness.submodule(package, "import_cache").verify_available()
    assert ("max_abs_difference" in record["entry"]["verification"]) == verify_available
    assert sorted(cache_files(comfy_models)) == sorted([record_path.name, model_path.name])
    # The cache entry is not offered as a model of its own.
    choices, options = model_choices(package)
    assert record_path.stem not in choices and "rembg/u2net.onnx" in choices
    assert "rembg/u2net.onnx: imported, licence unknown" in options["tooltip"]

    # Second use: nothing imported, the entry untouched.
    before = (stamp(record_path), stamp(model_path))
    comfy.utils.reset()
    _, again = run(package, "rembg/u2net.onnx", image=image)
    assert torch.equal(again, out_mask)
    assert calls == [str(source)]
    assert (stamp(record_path), stamp(model_path)) == before
    assert comfy.utils.progress_log == [(1, 1)]

    # A touched file is imported again.
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    run(package, "rembg/u2net.onnx", image=image)
    assert calls == [str(source)] * 2
    assert stamp(model_path) != before[1]
    assert only_record(comfy_models)[1]["source"]["mtime_ns"] == source.stat().st_mtime_ns

    # A changed file: its new weights run, and its entry replaces the old one.
    weight, bias = u2net_like_onnx(source, 12)
    _, changed = run(package, "rembg/u2net.onnx", image=image)
    assert calls == [str(source)] * 3
    assert torch.allclose(changed, expected_matte(image, weight, bias), atol=1e-4)
    assert not torch.allclose(changed, out_mask, atol=1e-2)
    assert len(cache_files(comfy_models)) == 2


def test_a_refused_file_is_a_clear_error_and_is_not_retried_until_it_changes(stub_library_path, comfy_models,
                                                                          import_calls, monkeypatch):
    source = comfy_models / "RMBG" / "BEN" / "BEN2_Base.pth"
    other_network_pth(source)
    package = harness.load_package(stub_library_path)
    calls = import_calls(package)
    import_cache = harness.submodule(package, "import_cache")

    with pytest.raises(RuntimeError) as refused:
        run(package, "RMBG/BEN/BEN2_Base.pth")
    message = str(refused.value)
    assert isinstance(refused.value, import_cache.ImportRefused)
    assert message.startswith("model RMBG/BEN/BEN2_Base.pth: cannot be imported: ")
    assert str(source) in message and "features.0.weight" in message
    assert "not tried again until the file changes" in message
    record_path, record = only_record(comfy_models)
    assert record["status"] == "refused" and str(source) in record["refusal"]
    assert not list((comfy_models / "cutout" / "imported").glob("*.pt"))
    assert "RMBG/BEN/BEN2_Base.pth: refused when imported" in model_choices(package)[1]["tooltip"]

    # The next runs say the same without trying again.
    before = stamp(record_path)
    with pytest.raises(import_cache.ImportRefused) as again:
        run(package, "RMBG/BEN/BEN2_Base.pth")
    assert str(again.value) == message
    assert len(calls) == 1 and stamp(record_path) == before

    # A changed file, or another importer, is tried again.
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    with pytest.raises(import_cache.ImportRefused):
        run(package, "RMBG/BEN/BEN2_Base.pth")
    assert len(calls) == 2
    monkeypatch.setattr(import_cache, "_importer_id", "an-older-importer")
    with pytest.raises(import_cache.ImportRefused):
        run(package, "RMBG/BEN/BEN2_Base.pth")
    assert len(calls) == 3


def test_a_corrupt_entry_is_rebuilt(real_library_path, comfy_models, import_calls):
    source = comfy_models / "rembg" / "silueta.onnx"
    weight, bias = u2net_like_onnx(source, 21)
    package = harness.load_package(real_library_path)
    calls = import_calls(package)
    image = photo_320()
    expected = expected_matte(image, weight, bias)
    run(package, "rembg/silueta.onnx", image=image)
    record_path, _ = only_record(comfy_models)
    model_path = record_path.with_suffix(".pt")

    # Same size, other bytes: the sha256 in the record catches it (the
    # models this process already hashed are trusted while size and mtime stay).
    data = bytearray(model_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_path.write_bytes(bytes(data))
    os.utime(model_path, ns=(model_path.stat().st_atime_ns, model_path.stat().st_mtime_ns + 10**9))
    _, mask = run(package, "rembg/silueta.onnx", image=image)
    assert len(calls) == 2 and torch.allclose(mask, expected, atol=1e-4)

    model_path.write_bytes(b"truncated")
    _, mask = run(package, "rembg/silueta.onnx", image=image)
    assert len(calls) == 3 and torch.allclose(mask, expected, atol=1e-4)

    record_path.write_text("{ not json")
    _, mask = run(package, "rembg/silueta.onnx", image=image)
    assert len(calls) == 4 and torch.allclose(mask, expected, atol=1e-4)

    model_path.unlink()
    _, mask = run(package, "rembg/silueta.onnx", image=image)
    assert len(calls) == 5 and torch.allclose(mask, expected, atol=1e-4)
    assert json.loads(record_path.read_text())["status"] == "imported"


def test_cancel_during_an_import_leaves_no_entry(stub_library_path, comfy_models, import_calls):
    u2net_like_onnx(comfy_models / "rembg" / "u2netp.onnx", 31)
    package = harness.load_package(stub_library_path)
    calls = import_calls(package)
    comfy.utils.request_interrupt_after(10)  # Cancel pressed once the import passes 10%
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        run(package, "rembg/u2netp.onnx")
    assert len(calls) == 1
    assert not comfy.model_management.processing_interrupted()  # ComfyUI's flag is consumed
    imported = comfy_models / "cutout" / "imported"
    assert cache_files(comfy_models) == []
    assert [p.name for p in (imported / ".work").iterdir() if p.is_dir()] == []  # no scratch left
    assert all(v < 100 for v, _ in comfy.utils.progress_log)


def test_two_imports_of_one_file_at_once_convert_it_once(stub_library_path, comfy_models, import_calls):
    source = comfy_models / "rembg" / "u2net_human_seg.onnx"
    u2net_like_onnx(source, 41)
    package = harness.load_package(stub_library_path)
    calls = import_calls(package)
    import_cache = harness.submodule(package, "import_cache")
    foreign = harness.submodule(package, "foreign_models").find("rembg/u2net_human_seg.onnx")
    names, errors = [], []

    def worker():
        try:
            names.append(import_cache.ensure(foreign))
        except BaseException as error:  # noqa: B036 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(names)) == 1 and len(calls) == 1
    assert names[0] + ".pt" in cache_files(comfy_models)


def test_missing_python_package_is_named_and_not_recorded(stub_library_path, comfy_models, monkeypatch):
    u2net_like_onnx(comfy_models / "rembg" / "u2net.onnx", 51)
    package = harness.load_package(stub_library_path)  # a fresh copy: the tools are not loaded yet
    monkeypatch.setitem(sys.modules, "onnx", None)  # what "import onnx" sees without it
    import_cache = harness.submodule(package, "import_cache")
    with pytest.raises(import_cache.ImportUnavailable) as unavailable:
        run(package, "rembg/u2net.onnx")
    assert "rembg/u2net.onnx" in str(unavailable.value)
    assert "needs the Python package 'onnx'" in str(unavailable.value)
    assert "pip install onnx" in str(unavailable.value)
    assert cache_files(comfy_models) == []


def test_a_converter_crash_names_the_file_and_is_not_recorded(stub_library_path, comfy_models, monkeypatch):
    source = comfy_models / "rembg" / "u2net.onnx"
    u2net_like_onnx(source, 61)
    package = harness.load_package(stub_library_path)
    importer = harness.submodule(package, "model_import_tools").module("importer")

    def crash(*args, **kwargs):
        raise RuntimeError("out of ideas")

    monkeypatch.setattr(importer, "convert_image_model", crash)
    import_cache = harness.submodule(package, "import_cache")
    with pytest.raises(import_cache.ImportUnavailable) as crashed:
        run(package, "rembg/u2net.onnx")
    assert str(crashed.value) == (f"model rembg/u2net.onnx: importing {source} failed "
                                  f"(RuntimeError: out of ideas)")
    assert cache_files(comfy_models) == []
    work = comfy_models / "cutout" / "imported" / ".work"
    assert [p.name for p in work.iterdir() if p.is_dir()] == []


def test_a_file_gone_since_the_listing_names_the_folders(stub_library_path, comfy_models):
    source = comfy_models / "BiRefNet" / "BiRefNet.pth"
    other_network_pth(source)
    package = harness.load_package(stub_library_path)
    assert "BiRefNet/BiRefNet.pth" in model_choices(package)[0]
    source.unlink()
    with pytest.raises(RuntimeError) as gone:
        run(package, "BiRefNet/BiRefNet.pth")
    assert "BiRefNet/BiRefNet.pth is no longer there" in str(gone.value)
    assert str(comfy_models / "BiRefNet") in str(gone.value)


WAIT_IN_ANOTHER_PROCESS = r"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("file_lock", sys.argv[1])
file_lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(file_lock)
polls = []

def give_up():
    polls.append(1)
    if len(polls) == int(sys.argv[3]):
        raise SystemExit("gave up after %d polls" % len(polls))

with file_lock.FileLock(sys.argv[2], while_waiting=give_up):
    print("locked after %d polls" % len(polls))
"""


def test_the_entry_lock_holds_against_another_process(tmp_path):
    lock_module = harness.REPOSITORY_DIR / "python_wrapper" / "file_lock.py"
    spec = importlib.util.spec_from_file_location("file_lock_here", lock_module)
    file_lock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(file_lock)
    lock_path = tmp_path / "entry.lock"

    def other_process():
        return subprocess.run([sys.executable, "-c", WAIT_IN_ANOTHER_PROCESS, str(lock_module), str(lock_path), "3"],
                              capture_output=True, text=True)

    with file_lock.FileLock(str(lock_path)):
        waiting = other_process()
    assert waiting.returncode == 1 and "gave up after 3 polls" in waiting.stderr
    free = other_process()
    assert free.returncode == 0 and free.stdout.strip() == "locked after 0 polls", free.stderr
