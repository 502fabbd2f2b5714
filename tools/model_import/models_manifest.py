"""Reading and writing a model folder's manifest.json: one entry per model
with its file, source, licence and metadata (models/manifest.json is the
repository's). Lists of numbers stay on one line, as the file is written
by hand too."""

import json
import os
import re

NUMBER_LIST = re.compile(r"\[\s*(-?[\d.eE+-]+(?:\s*,\s*-?[\d.eE+-]+)*)\s*\]")


def dumps(document):
    """JSON text with two-space indents and one-line number lists."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return NUMBER_LIST.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text) + "\n"


def load(path):
    """The manifest at path, or an empty one when there is none. Raises
    ValueError for a file that is not a manifest."""
    if not os.path.exists(path):
        return {"format": 1, "models": {}}
    with open(path) as f:
        document = json.load(f)
    if not isinstance(document, dict) or not isinstance(document.get("models"), dict):
        raise ValueError(f"{path}: not a model manifest (expected an object with \"models\")")
    return document


def register(path, name, entry):
    """Adds or replaces models[name] and writes the file atomically.
    Raises ValueError for a file that is not a manifest, OSError when it
    cannot be written."""
    document = load(path)
    document["models"][name] = entry
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(dumps(document))
    os.replace(tmp, path)
