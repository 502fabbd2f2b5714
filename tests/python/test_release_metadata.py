"""Release metadata: one version everywhere, a licence, a changelog entry,
and the fields the Comfy Registry reads from pyproject.toml."""

import ctypes
import json
import os
import re
import subprocess
import tomllib

import pytest

import harness

ROOT = harness.REPOSITORY_DIR


def pyproject():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def nodes_json_version():
    return json.loads((ROOT / "nodes.json").read_text())["version"]


def test_versions_agree(stub_library_path):
    version = nodes_json_version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    assert pyproject()["project"]["version"] == version
    library = ctypes.CDLL(str(stub_library_path))
    library.cutout_version_string.restype = ctypes.c_char_p
    assert library.cutout_version_string().decode() == version
    # The changelog has a section for the version being released.
    assert re.search(rf"^## {re.escape(version)}\b", (ROOT / "CHANGELOG.md").read_text(), re.M)


def test_the_command_reports_the_same_version():
    cli = os.environ.get("CUTOUT_TEST_CLI")
    if not cli:
        pytest.skip("the cutout command is not built (CUTOUT_BUILD_EXAMPLES=OFF)")
    out = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith(f"cutout {nodes_json_version()} "), out


def test_pyproject_has_what_the_registry_needs():
    project = pyproject()["project"]
    for field in ("name", "version", "description", "requires-python", "classifiers"):
        assert project.get(field), field
    assert project["license"] == {"file": "LICENSE"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert any(c.startswith("Operating System ::") for c in project["classifiers"])
    assert set(project["urls"]) >= {"Repository", "Issues"}
    comfy = pyproject()["tool"]["comfy"]
    for field in ("PublisherId", "DisplayName", "Icon"):
        assert comfy.get(field), field
    # What the registry ships must be able to build itself: no prebuilt library.
    assert not any("libcutout" in path for path in comfy.get("includes", []))
    assert (ROOT / "install.py").is_file()


def test_notice_lists_every_fetched_model():
    notice = (ROOT / "NOTICE").read_text()
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text())
    for name, model in manifest["models"].items():
        if model.get("imported"):
            continue  # a file the user imported (tools/import-model): its licence is theirs
        source = model["source"]
        assert source["npm_package"] in notice and source["npm_version"] in notice, name
        assert model["license"]["weights"] in notice, name
