"""docs/nodes.md, generated from nodes.json: the nodes, their inputs with
types, defaults, ranges and options, and their outputs, so the page cannot
restate the spec by hand and drift from it.

Usage, from the repository root:
    python3 -m tests.support.nodes_doc --write   rewrite docs/nodes.md
    python3 -m tests.support.nodes_doc --check   exit 1 when docs/nodes.md is out of date
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODES_JSON = os.path.join(ROOT, "nodes.json")
NODES_MD = os.path.join(ROOT, "docs", "nodes.md")


def cell(text):
    """Text fit for one Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def value_range(spec):
    """'min..max, step S' of a numeric input, or ''."""
    if "min" not in spec and "max" not in spec:
        return ""
    text = f"{spec.get('min', '')}..{spec.get('max', '')}"
    step = spec.get("step")
    return text + (f", step {step}" if step not in (None, 1) else "")


def choices(spec):
    """The options of a COMBO input, or where they come from."""
    if "options" in spec:
        return ", ".join(f"`{option}`" for option in spec["options"])
    if "options_from" in spec:
        return f"the installed {spec['options_from']}"
    return ""


def default(spec):
    if "default" not in spec:
        return ""
    value = spec["default"]
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"`{value}`"


def render(document):
    lines = [
        "# Nodes",
        "",
        "<!-- Generated from nodes.json by `python3 -m tests.support.nodes_doc --write`;",
        "     a test fails when this page is out of date. Edit nodes.json, not this page. -->",
        "",
        f"nodes.json version {document['version']} (schema {document['schema_version']}). Every host "
        "builds its inputs from the same spec the library checks them against: a value outside "
        "a range or not among the options is refused with a message naming the input.",
        "",
    ]
    for node in document["nodes"]:
        lines += [f"## {node['id']}: {node['display_name']}", "",
                  f"Category `{node['category']}`. {node['description']}", "",
                  "| input | type | required | default | range or options | what it does |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for spec in node["inputs"]:
            extent = value_range(spec) or choices(spec)
            lines.append(f"| `{spec['name']}` | {spec['type']} | {'yes' if spec['required'] else 'no'} "
                         f"| {default(spec)} | {cell(extent)} | {cell(spec.get('tooltip', ''))} |")
        lines += ["", "| output | type | what it holds |", "| --- | --- | --- |"]
        for output in node["outputs"]:
            lines.append(f"| `{output['name']}` | {output['type']} | {cell(output.get('tooltip', ''))} |")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite docs/nodes.md")
    mode.add_argument("--check", action="store_true", help="fail when docs/nodes.md is out of date")
    args = parser.parse_args()
    with open(NODES_JSON, encoding="utf-8") as f:
        expected = render(json.load(f))
    if args.write:
        os.makedirs(os.path.dirname(NODES_MD), exist_ok=True)
        with open(NODES_MD, "w", encoding="utf-8") as f:
            f.write(expected)
        print(f"wrote {NODES_MD}")
        return 0
    try:
        with open(NODES_MD, encoding="utf-8") as f:
            current = f.read()
    except OSError:
        current = None
    if current != expected:
        print("docs/nodes.md is out of date with nodes.json: run "
              "python3 -m tests.support.nodes_doc --write from the repository root", file=sys.stderr)
        return 1
    print("docs/nodes.md matches nodes.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
