"""Where the nodes look for models inside ComfyUI.

ComfyUI keeps models under ``models/<kind>/`` and lets users add folders in
extra_model_paths.yaml; both go through its ``folder_paths`` module. This
registers the key ``cutout`` (default folder ``models/cutout/``, files
``*.pt``) and lists, in search order: every folder registered under that key,
then the repository's own ``models/`` (where the fetch tool puts the default
model). Outside ComfyUI (no ``folder_paths``) only the repository folder is
used.

Threading: call register() once at import; the rest only reads.
"""

import os

from .cutout_library import REPOSITORY_DIR

FOLDER_KEY = "cutout"
MODEL_EXTENSION = ".pt"
REPOSITORY_MODELS_DIR = REPOSITORY_DIR / "models"


def _folder_paths():
    try:
        import folder_paths  # ComfyUI's module
    except ImportError:
        return None
    return folder_paths


def default_comfy_models_dir():
    """ComfyUI's models/cutout/ folder, or None outside ComfyUI."""
    folder_paths = _folder_paths()
    if folder_paths is None:
        return None
    return os.path.join(folder_paths.models_dir, FOLDER_KEY)


def register():
    """Registers the ``cutout`` key with ComfyUI's folder_paths (no-op outside
    ComfyUI). Keeps folders that extra_model_paths.yaml already added under
    the key, puts models/cutout/ first as for ComfyUI's own kinds, and limits
    the listing to *.pt files."""
    folder_paths = _folder_paths()
    if folder_paths is None:
        return
    default_dir = default_comfy_models_dir()
    entry = folder_paths.folder_names_and_paths.get(FOLDER_KEY)
    paths = list(entry[0]) if entry is not None else []
    if default_dir not in paths:
        paths.insert(0, default_dir)
    folder_paths.folder_names_and_paths[FOLDER_KEY] = (paths, {MODEL_EXTENSION})


def search_dirs():
    """Model folders in search order, without duplicates."""
    dirs = []
    folder_paths = _folder_paths()
    if folder_paths is not None and FOLDER_KEY in folder_paths.folder_names_and_paths:
        dirs.extend(folder_paths.get_folder_paths(FOLDER_KEY))
    dirs.append(str(REPOSITORY_MODELS_DIR))
    unique = []
    for d in dirs:
        d = os.path.abspath(d)
        if d not in unique:
            unique.append(d)
    return unique


def where_to_put_models():
    """The folder a user should copy a model file into."""
    return default_comfy_models_dir() or str(REPOSITORY_MODELS_DIR)
