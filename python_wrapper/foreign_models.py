"""Model files of other background-removal packs, found through ComfyUI's
folder_paths and offered in the model list next to the library's own models.

| folder key | default folder | files listed |
| --- | --- | --- |
| background_removal | models/background_removal/ (core ComfyUI's) | *.safetensors, *.pth |
| BiRefNet | models/BiRefNet/ | *.safetensors, *.pth |
| RMBG | models/RMBG/ (ComfyUI-RMBG's, with subfolders) | *.safetensors, *.pth |
| rembg | models/rembg/ | *.onnx |

Each file is listed under the label "<key>/<path inside the folder>", with
"/" between folders on every platform (e.g. "RMBG/RMBG-2.0/model.safetensors");
a label has a "/", a library model name never does, so the two cannot be
confused. Folders are searched recursively, following links, skipping
hidden entries (".git", ".cache"); when two folders of one key hold the same
path, the first folder wins, as in ComfyUI. A .safetensors file whose header
names the tensors of another network than BiRefNet (ComfyUI-RMBG keeps
SAM, GroundingDINO and segformer files in the same folder) is left out;
one whose header cannot be read is listed, so that choosing it says why.
The files are imported on first use (import_cache); nothing here reads
more than a safetensors header.

Threading: register() once at import; the rest only reads.
"""

import os
import threading

from . import model_import_tools, model_folders

WEIGHTS_EXTENSIONS = (".safetensors", ".pth")
ONNX_EXTENSIONS = (".onnx",)
# In the order the model list shows them.
FOLDER_KEYS = (
    ("background_removal", WEIGHTS_EXTENSIONS),
    ("BiRefNet", WEIGHTS_EXTENSIONS),
    ("RMBG", WEIGHTS_EXTENSIONS),
    ("rembg", ONNX_EXTENSIONS),
)


def register():
    """Registers each key of FOLDER_KEYS with ComfyUI's folder_paths
    (no-op outside ComfyUI). A key ComfyUI or another pack registered keeps
    its folders and extensions (core's background_removal shares its
    extension set with other keys, so it is never changed); a key only
    extra_model_paths.yaml created gets its default folder first and our
    extensions, as model_folders.register() does for ``cutout``."""
    folder_paths = model_folders.folder_paths_module()
    if folder_paths is None:
        return
    for key, extensions in FOLDER_KEYS:
        default_dir = os.path.join(folder_paths.models_dir, key)
        entry = folder_paths.folder_names_and_paths.get(key)
        if entry is not None and entry[1]:
            continue  # registered by someone who said what it holds
        paths = list(entry[0]) if entry is not None else []
        if default_dir not in paths:
            paths.insert(0, default_dir)
        folder_paths.folder_names_and_paths[key] = (paths, set(extensions))


class ForeignModel:
    """One listed file: its label, absolute path and folder key."""

    __slots__ = ("label", "path", "key")

    def __init__(self, label, path, key):
        self.label, self.path, self.key = label, path, key

    def __repr__(self):
        return f"ForeignModel({self.label!r}, {self.path!r})"


# Limits of one folder's walk: a models folder is a few levels deep and holds
# at most some hundreds of files; past these the walk stops rather than hang
# ComfyUI's model list on a network share or a folder of symlink loops.
WALK_MAX_DEPTH = 8
WALK_MAX_ENTRIES = 10000


def _walk(folder, extensions):
    """Relative paths ("/"-separated) of the files under folder with one of
    the extensions, sorted; each file once. Symbolic links to folders are
    followed, but a folder (device, inode) already visited is not entered
    again, so a link loop (a -> .) ends; at most WALK_MAX_DEPTH levels and
    WALK_MAX_ENTRIES names are looked at. Never raises for an unreadable
    folder (it is skipped)."""
    found = []
    seen_dirs = set()
    seen_files = set()
    entries = 0
    stack = [(folder, 0)]
    while stack and entries < WALK_MAX_ENTRIES:
        current, depth = stack.pop()
        try:
            st = os.stat(current)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(current) as it:
                names = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in names:
            entries += 1
            if entries > WALK_MAX_ENTRIES:
                break
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
                is_file = not is_dir and entry.is_file(follow_symlinks=True)
            except OSError:
                continue
            if is_dir and depth + 1 < WALK_MAX_DEPTH:
                stack.append((entry.path, depth + 1))
            elif is_file and entry.name.lower().endswith(extensions):
                try:
                    target = os.stat(entry.path)
                except OSError:
                    continue
                if (target.st_dev, target.st_ino) in seen_files:
                    continue
                seen_files.add((target.st_dev, target.st_ino))
                relative = os.path.relpath(entry.path, folder)
                found.append(relative.replace(os.sep, "/"))
    return sorted(found)


_header_lock = threading.Lock()
_header_verdicts = {}  # (path, size, mtime_ns) -> listed?


def _is_listed(path):
    """False only for a .safetensors file whose header says it is another
    network than BiRefNet; the verdict is kept until the file changes."""
    if not path.lower().endswith(".safetensors"):
        return True
    try:
        stat = os.stat(path)
    except OSError:
        return False  # gone since the walk
    key = (path, stat.st_size, stat.st_mtime_ns)
    with _header_lock:
        if key in _header_verdicts:
            return _header_verdicts[key]
    try:
        weights = model_import_tools.module("weights_files")
        names, _ = weights.safetensors_names(path)
        listed = bool(weights.looks_like_birefnet(names))
    except (model_import_tools.ToolsUnavailable, OSError, AttributeError):
        listed = True  # no verdict without the tools: choosing it says why
    except Exception:  # noqa: BLE001 - WeightsFileError and the like: an unreadable header
        listed = True
    with _header_lock:
        _header_verdicts[key] = listed
    return listed


def folders(key):
    """The folders ComfyUI registers under `key`, absolute, in order,
    without duplicates; [] outside ComfyUI or for an unregistered key."""
    folder_paths = model_folders.folder_paths_module()
    if folder_paths is None or key not in folder_paths.folder_names_and_paths:
        return []
    unique = []
    for d in folder_paths.get_folder_paths(key):
        d = os.path.abspath(d)
        if d not in unique:
            unique.append(d)
    return unique


def list_models():
    """Every listed file, as ForeignModel, in FOLDER_KEYS order then by
    label. Never raises: an unreadable folder lists nothing."""
    models = []
    for key, extensions in FOLDER_KEYS:
        seen = set()
        for folder in folders(key):
            if not os.path.isdir(folder):
                continue
            for relative in _walk(folder, extensions):
                label = f"{key}/{relative}"
                path = os.path.join(folder, *relative.split("/"))
                if label in seen or not _is_listed(path):
                    continue
                seen.add(label)
                models.append(ForeignModel(label, path, key))
    models.sort(key=lambda m: ([k for k, _ in FOLDER_KEYS].index(m.key), m.label))
    return models


def is_label(name):
    """True when `name` has the shape of a label (a folder key, "/", a path)."""
    return any(name.startswith(key + "/") for key, _ in FOLDER_KEYS)


def find(label):
    """The ForeignModel listed under `label`, or None."""
    for model in list_models():
        if model.label == label:
            return model
    return None


def where_files_go():
    """One line naming the folders searched, for error messages."""
    parts = []
    for key, extensions in FOLDER_KEYS:
        dirs = folders(key)
        parts.append(f"{key} ({', '.join(extensions)}): {', '.join(dirs) if dirs else 'not registered'}")
    return "; ".join(parts)
