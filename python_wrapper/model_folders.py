"""Where the nodes look for models inside ComfyUI.

ComfyUI keeps models under ``models/<kind>/`` and lets users add folders in
extra_model_paths.yaml; both go through its ``folder_paths`` module. This
registers the key ``cutout`` (default folder ``models/cutout/``, files
``*.pt``) and lists every folder registered under that key. The library
searches those first, then its own folders (see
``Context.search_dirs()``): the search rule is the library's, and this
module only says what ComfyUI adds to it. The last folder it adds is
models/cutout/imported/, the cache of files imported from other packs'
folders (foreign_models, import_cache); the model list hides its entries.

Threading: call register() once at import; the rest only reads.
"""

import os

FOLDER_KEY = "cutout"
MODEL_EXTENSION = ".pt"
IMPORTED_SUBDIR = "imported"


def folder_paths_module():
    """ComfyUI's folder_paths module, or None outside ComfyUI."""
    try:
        import folder_paths  # ComfyUI's module
    except ImportError:
        return None
    return folder_paths


def default_comfy_models_dir():
    """ComfyUI's models/cutout/ folder, or None outside ComfyUI."""
    folder_paths = folder_paths_module()
    if folder_paths is None:
        return None
    return os.path.join(folder_paths.models_dir, FOLDER_KEY)


def register():
    """Registers the ``cutout`` key with ComfyUI's folder_paths (no-op outside
    ComfyUI). Keeps folders that extra_model_paths.yaml already added under
    the key, puts models/cutout/ first as for ComfyUI's own kinds, and limits
    the listing to *.pt files."""
    folder_paths = folder_paths_module()
    if folder_paths is None:
        return
    default_dir = default_comfy_models_dir()
    entry = folder_paths.folder_names_and_paths.get(FOLDER_KEY)
    paths = list(entry[0]) if entry is not None else []
    if default_dir not in paths:
        paths.insert(0, default_dir)
    folder_paths.folder_names_and_paths[FOLDER_KEY] = (paths, {MODEL_EXTENSION})


def imported_models_dir():
    """ComfyUI's models/cutout/imported/, where files of other packs' folders
    are imported on first use (import_cache); None outside ComfyUI."""
    models_dir = default_comfy_models_dir()
    return os.path.join(models_dir, IMPORTED_SUBDIR) if models_dir is not None else None


def host_dirs():
    """The model folders ComfyUI registers under the ``cutout`` key, in its
    order and without duplicates, then imported_models_dir() (last, so that
    a user's own model of the same name wins); [] outside ComfyUI."""
    folder_paths = folder_paths_module()
    dirs = []
    if folder_paths is not None and FOLDER_KEY in folder_paths.folder_names_and_paths:
        dirs.extend(folder_paths.get_folder_paths(FOLDER_KEY))
    if folder_paths is not None:
        dirs.append(imported_models_dir())
    unique = []
    for d in dirs:
        d = os.path.abspath(d)
        if d not in unique:
            unique.append(d)
    return unique


def where_to_put_models(context):
    """The folder a user should copy a model file into: ComfyUI's
    models/cutout/, else the last folder the library searches (the
    repository's models/ for a library built in the repository)."""
    dirs = context.search_dirs()
    return default_comfy_models_dir() or (dirs[-1] if dirs else "models")
