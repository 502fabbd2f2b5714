"""The package as ComfyUI sees it: imported by path, classes generated from
the library's embedded nodes.json, models found through folder_paths."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

import harness
from harness import REPOSITORY_DIR, folder_paths

# Ids core ComfyUI owns; it silently drops a custom node that reuses one.
CORE_NODE_IDS = {"RemoveBackground", "LoadBackgroundRemovalModel", "LoadImage", "SaveImage",
                 "PreviewImage", "MaskToImage", "ImageToMask", "InvertMask", "JoinImageWithAlpha"}

SPEC_TYPES = {"IMAGE", "MASK", "INT", "FLOAT", "BOOLEAN", "COMBO", "STRING"}


def repository_spec():
    return json.loads((REPOSITORY_DIR / "nodes.json").read_text())


def test_the_repository_loads_like_a_custom_node(stub_library_path):
    package = harness.load_package(stub_library_path)
    spec_ids = [node["id"] for node in repository_spec()["nodes"]]
    assert set(package.NODE_CLASS_MAPPINGS) == set(package.NODE_DISPLAY_NAME_MAPPINGS)
    assert len(package.NODE_CLASS_MAPPINGS) == len(spec_ids)
    for node_id, cls in package.NODE_CLASS_MAPPINGS.items():
        assert node_id.startswith("Cutout"), node_id
        assert node_id not in CORE_NODE_IDS
        assert cls.__name__ == node_id


def test_the_binding_imports_nothing_of_comfyui_and_loads_nothing(tmp_path):
    # A clean interpreter, with the stand-ins importable: importing the
    # package and its binding must neither import them nor load a library
    # (CUTOUT_LIBRARY names a file that does not exist).
    code = (
        "import sys\n"
        "import python_wrapper, python_wrapper.cutout_library, python_wrapper.files_library\n"
        "import python_wrapper.dlpack_bridge, python_wrapper.model_import_tools\n"
        "assert not hasattr(python_wrapper, 'NODE_CLASS_MAPPINGS')\n"
        "comfy = sorted(n for n in sys.modules if n == 'folder_paths' or n.split('.')[0] == 'comfy')\n"
        "assert not comfy, comfy\n"
        "assert not python_wrapper.cutout_library._libraries, python_wrapper.cutout_library._libraries\n"
        "print('inert')\n"
    )
    env = dict(os.environ, CUTOUT_LIBRARY=str(tmp_path / "missing.so"),
               PYTHONPATH=os.pathsep.join([str(REPOSITORY_DIR), str(harness.TESTS_DIR / "comfy_standins")]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "inert", result.stderr


def test_embedded_spec_is_the_repository_nodes_json(stub_package, stub_library_path):
    library = harness.submodule(stub_package, "cutout_library").load_library(stub_library_path)
    assert json.loads(library.nodes_json) == repository_spec()


def test_class_attributes_come_from_nodes_json(stub_package):
    for node in repository_spec()["nodes"]:
        cls = stub_package.NODE_CLASS_MAPPINGS[node["id"]]
        assert stub_package.NODE_DISPLAY_NAME_MAPPINGS[node["id"]] == node["display_name"]
        assert cls.CATEGORY == node["category"] and cls.CATEGORY.startswith("image/")
        assert cls.DESCRIPTION == node["description"]
        assert cls.RETURN_TYPES == tuple(o["type"] for o in node["outputs"])
        assert cls.RETURN_NAMES == tuple(o["name"] for o in node["outputs"])
        assert cls.OUTPUT_TOOLTIPS == tuple(o["tooltip"] for o in node["outputs"])
        assert callable(getattr(cls(), cls.FUNCTION))


def test_input_types_match_nodes_json(stub_package):
    for node in repository_spec()["nodes"]:
        types = stub_package.NODE_CLASS_MAPPINGS[node["id"]].INPUT_TYPES()
        assert set(types) <= {"required", "optional"}
        required = [i["name"] for i in node["inputs"] if i["required"]]
        optional = [i["name"] for i in node["inputs"] if not i["required"]]
        assert list(types["required"]) == required
        assert list(types.get("optional", {})) == optional
        for spec_input in node["inputs"]:
            assert spec_input["type"] in SPEC_TYPES
            group = "required" if spec_input["required"] else "optional"
            comfy_type, options = types[group][spec_input["name"]]
            if spec_input["type"] == "COMBO":
                assert isinstance(comfy_type, list) and comfy_type
                if "options" in spec_input:
                    assert comfy_type == spec_input["options"]
            else:
                assert comfy_type == spec_input["type"]
            for key in ("default", "min", "max", "step", "tooltip"):
                if key in spec_input:
                    if key == "tooltip" and spec_input.get("options_from") == "models":
                        # then one line per installed model: see the provenance test
                        assert options[key].split("\n")[0] == spec_input[key]
                    else:
                        assert options[key] == spec_input[key], (spec_input["name"], key)


def test_model_folder_is_registered_and_listed(stub_package, comfy_root):
    assert folder_paths.get_folder_paths("cutout")[0] == str(comfy_root / "models" / "cutout")
    assert folder_paths.get_filename_list("cutout") == ["stub.pt", "tiny.pt"]
    choices = harness.node_class(stub_package).INPUT_TYPES()["required"]["model"][0]
    assert "stub" in choices and "tiny" in choices


def test_model_tooltip_shows_each_models_licence_and_source(stub_package, comfy_root):
    # A model file's own metadata, inside its TorchScript zip archive.
    listed = comfy_root / "models" / "cutout" / "provenance.pt"
    meta = {"license": "Apache-2.0", "source": "npm example-package@1.0.0 dist/model.onnx"}
    with zipfile.ZipFile(listed, "w") as archive:
        archive.writestr("provenance/extra/cutout_meta.json", json.dumps(meta))
    try:
        tooltip = harness.node_class(stub_package).INPUT_TYPES()["required"]["model"][1]["tooltip"]
        lines = tooltip.split("\n")
        assert "provenance: Apache-2.0, npm example-package@1.0.0 dist/model.onnx" in lines
        assert "stub: unknown" in lines  # a file without metadata
    finally:
        listed.unlink()


def test_extra_model_paths_are_honoured(stub_library_path, comfy_root, tmp_path):
    # extra_model_paths.yaml entries are registered before custom nodes load.
    extra = tmp_path / "shared_models"
    extra.mkdir()
    (extra / "extra_model.pt").write_text("cutout-stub-model\n")
    (extra / "notes.txt").write_text("not a model")
    package = harness.load_package(stub_library_path, extra_model_dirs=[extra])
    folders = folder_paths.get_folder_paths("cutout")
    assert folders == [str(comfy_root / "models" / "cutout"), str(extra)]
    assert "extra_model.pt" in folder_paths.get_filename_list("cutout")
    assert "notes.txt" not in folder_paths.get_filename_list("cutout")
    choices = harness.node_class(package).INPUT_TYPES()["required"]["model"][0]
    assert "extra_model" in choices and "notes" not in choices


def test_a_model_added_later_appears_without_a_restart(stub_package, comfy_root):
    node = harness.node_class(stub_package)
    assert "late" not in node.INPUT_TYPES()["required"]["model"][0]
    late = comfy_root / "models" / "cutout" / "late.pt"
    late.write_text("cutout-stub-model\n")
    try:
        assert "late" in node.INPUT_TYPES()["required"]["model"][0]
        image = harness.photo_batch(1)
        out_image, _ = harness.run_node(stub_package, image=image, model="late", batch_size=1)
        assert out_image.shape == (1, 64, 96, 4)
    finally:
        late.unlink()


def test_default_model_is_offered_even_when_missing(stub_library_path, tmp_path):
    # A ComfyUI without any model: the default still validates, and running
    # it explains where the file goes and which command fetches it. The
    # library also searches models/ next to itself, so it runs from a copy.
    lonely_library = tmp_path / "lib" / stub_library_path.name
    lonely_library.parent.mkdir()
    shutil.copy(stub_library_path, lonely_library)
    empty_models = tmp_path / "ComfyUI" / "models"
    folder_paths.reset(empty_models)
    package = harness.load_package(lonely_library)
    choices = harness.node_class(package).INPUT_TYPES()["required"]["model"][0]
    assert choices == ["isnet"]
    with pytest.raises(RuntimeError) as raised:
        harness.run_node(package, image=harness.photo_batch(1), model="isnet", batch_size=1)
    message = str(raised.value)
    assert "CUTOUT_ERR_MODEL_NOT_FOUND" in message
    assert str(empty_models / "cutout") in message
    assert "tools/fetch-model" in message and "install.py" in message
