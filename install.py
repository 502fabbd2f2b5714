"""ComfyUI-Manager runs install.py at the package root: this one hands over
to python_wrapper/install.py (build against the running torch, fetch the
default model) with the same interpreter and arguments."""

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    script = Path(__file__).resolve().parent / "python_wrapper" / "install.py"
    sys.argv[0] = str(script)
    runpy.run_path(str(script), run_name="__main__")
