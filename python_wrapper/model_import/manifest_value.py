"""Print one value of a model's entry in models/manifest.json.

Usage:
    python3 -m python_wrapper.model_import.manifest_value MANIFEST MODEL KEY[.KEY...]

Strings and numbers print as they are; objects and lists print as compact
JSON. Exit status 1 with a message naming the missing key when it is absent.
"""

import json
import sys


def main():
    if len(sys.argv) != 4:
        print("usage: manifest_value.py MANIFEST MODEL KEY[.KEY...]", file=sys.stderr)
        return 1
    path, model, keys = sys.argv[1:]
    try:
        with open(path) as f:
            value = json.load(f)["models"][model]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"manifest_value: {path}: no model '{model}' ({e})", file=sys.stderr)
        return 1
    walked = f"models.{model}"
    for key in keys.split("."):
        walked += "." + key
        if not isinstance(value, dict) or key not in value:
            print(f"manifest_value: {path}: missing key {walked}", file=sys.stderr)
            return 1
        value = value[key]
    print(value if isinstance(value, (str, int, float)) else json.dumps(value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
