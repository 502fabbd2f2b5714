"""The example workflows parse, name only nodes that exist (ours from
NODE_CLASS_MAPPINGS, core ones from the table below), wire outputs to inputs
of the same type, and give our node values its INPUT_TYPES accepts. The UI
file and the API file of a workflow describe the same graph."""

import json

import pytest

import harness

WORKFLOWS_DIR = harness.REPOSITORY_DIR / "examples" / "workflows"

# Core ComfyUI nodes the examples use: inputs (name -> type; widget types in
# lower case are literal values) and output types, as in ComfyUI's nodes.py
# and comfy_extras/nodes_mask.py.
CORE_NODES = {
    "LoadImage": ({"image": "combo", "upload": "widget"}, ["IMAGE", "MASK"]),
    "SaveImage": ({"images": "IMAGE", "filename_prefix": "string"}, []),
    "PreviewImage": ({"images": "IMAGE"}, []),
    "ImageBatch": ({"image1": "IMAGE", "image2": "IMAGE"}, ["IMAGE"]),
    "InvertMask": ({"mask": "MASK"}, ["MASK"]),
    "MaskToImage": ({"mask": "MASK"}, ["IMAGE"]),
}
CORE_WIDGET_COUNT = {"LoadImage": 2, "SaveImage": 1, "PreviewImage": 0, "ImageBatch": 0,
                     "InvertMask": 0, "MaskToImage": 0}
SOCKET_TYPES = {"IMAGE", "MASK"}

API_FILES = sorted(WORKFLOWS_DIR.glob("*_api.json"))
UI_FILES = sorted(p for p in WORKFLOWS_DIR.glob("*.json") if not p.name.endswith("_api.json"))


def test_examples_exist():
    assert [p.name for p in API_FILES] == ["batch_with_mask_api.json", "remove_background_api.json"]
    assert [p.name for p in UI_FILES] == ["batch_with_mask.json", "remove_background.json"]


class Catalogue:
    """Inputs and outputs of every node type a workflow may name."""

    def __init__(self, package):
        self.ours = package.NODE_CLASS_MAPPINGS
        self.nodes = {name: spec for name, spec in CORE_NODES.items()}
        for name, cls in self.ours.items():
            types = cls.INPUT_TYPES()
            inputs = {}
            for group in ("required", "optional"):
                for input_name, (kind, _options) in types.get(group, {}).items():
                    inputs[input_name] = kind if isinstance(kind, str) else "combo"
            self.nodes[name] = (inputs, list(cls.RETURN_TYPES))

    def inputs(self, node_type):
        return self.nodes[node_type][0]

    def outputs(self, node_type):
        return self.nodes[node_type][1]

    def check_our_value(self, node_type, name, value):
        types = self.ours[node_type].INPUT_TYPES()
        group = "required" if name in types["required"] else "optional"
        kind, options = types[group][name]
        if isinstance(kind, list):
            assert value in kind, (node_type, name, value)
        elif kind == "INT":
            assert isinstance(value, int) and options["min"] <= value <= options["max"], (name, value)
        elif kind == "FLOAT":
            assert options["min"] <= value <= options["max"], (name, value)
        elif kind == "BOOLEAN":
            assert isinstance(value, bool)
        else:
            assert kind == "STRING" and isinstance(value, str)

    def required(self, node_type):
        if node_type in self.ours:
            return set(self.ours[node_type].INPUT_TYPES()["required"])
        return {n for n, t in CORE_NODES[node_type][0].items() if t != "widget"}


@pytest.fixture
def catalogue(stub_package):
    return Catalogue(stub_package)


@pytest.mark.parametrize("path", API_FILES, ids=lambda p: p.name)
def test_api_workflow(catalogue, path):
    workflow = json.loads(path.read_text())
    assert workflow, "empty workflow"
    assert any(node["class_type"] in catalogue.ours for node in workflow.values())
    for node_id, node in workflow.items():
        node_type = node["class_type"]
        assert node_type in catalogue.nodes, f"{path.name}: node {node_id}: unknown type {node_type}"
        known = catalogue.inputs(node_type)
        assert set(node["inputs"]) <= set(known), (node_id, set(node["inputs"]) - set(known))
        assert catalogue.required(node_type) <= set(node["inputs"]), node_id
        for name, value in node["inputs"].items():
            if known[name] in SOCKET_TYPES:
                source_id, slot = value
                source_type = workflow[source_id]["class_type"]
                assert catalogue.outputs(source_type)[slot] == known[name], (node_id, name)
            elif node_type in catalogue.ours:
                catalogue.check_our_value(node_type, name, value)


def ui_graph(workflow):
    """The UI workflow reduced to the API form: {id: (type, inputs)}."""
    links = {row[0]: row for row in workflow["links"]}
    graph = {}
    for node in workflow["nodes"]:
        inputs = {}
        for slot, socket in enumerate(node.get("inputs", [])):
            if socket.get("link") is not None:
                _, source, source_slot, target, target_slot, _ = links[socket["link"]]
                assert (target, target_slot) == (node["id"], slot)
                inputs[socket["name"]] = [str(source), source_slot]
        graph[str(node["id"])] = (node["type"], inputs, node.get("widgets_values", []))
    return graph


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_workflow(catalogue, path):
    workflow = json.loads(path.read_text())
    assert workflow["version"] == 0.4
    nodes = {node["id"]: node for node in workflow["nodes"]}
    assert workflow["last_node_id"] == max(nodes)
    assert workflow["last_link_id"] == max(row[0] for row in workflow["links"])
    for link_id, source, source_slot, target, target_slot, link_type in workflow["links"]:
        output = nodes[source]["outputs"][source_slot]
        socket = nodes[target]["inputs"][target_slot]
        assert link_id in output["links"] and socket["link"] == link_id
        assert output["type"] == socket["type"] == link_type
        assert catalogue.outputs(nodes[source]["type"])[source_slot] == link_type
        assert catalogue.inputs(nodes[target]["type"])[socket["name"]] == link_type
    for node in workflow["nodes"]:
        node_type = node["type"]
        assert node_type in catalogue.nodes, f"{path.name}: unknown node type {node_type}"
        assert [o["type"] for o in node["outputs"]] == catalogue.outputs(node_type)
        if node_type in catalogue.ours:
            widget_names = [name for name, kind in catalogue.inputs(node_type).items()
                            if kind not in SOCKET_TYPES]
            assert len(node["widgets_values"]) == len(widget_names)
            for name, value in zip(widget_names, node["widgets_values"]):
                catalogue.check_our_value(node_type, name, value)
        else:
            assert len(node["widgets_values"]) == CORE_WIDGET_COUNT[node_type], node_type


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_and_api_files_describe_the_same_graph(catalogue, path):
    graph = ui_graph(json.loads(path.read_text()))
    api = json.loads((path.parent / (path.stem + "_api.json")).read_text())
    assert set(graph) == set(api)
    for node_id, (node_type, links, widgets) in graph.items():
        api_node = api[node_id]
        assert api_node["class_type"] == node_type
        api_links = {k: v for k, v in api_node["inputs"].items() if isinstance(v, list)}
        assert links == api_links, node_id
        api_values = [v for v in api_node["inputs"].values() if not isinstance(v, list)]
        assert api_values == widgets[:len(api_values)], node_id
