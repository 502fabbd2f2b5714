"""Stand-in for ComfyUI's folder_paths: model kinds mapped to folders.

folder_names_and_paths[key] = ([folders], {extensions}); models_dir is set by
the tests to a temporary ComfyUI models/ folder. add_model_folder_path is
what ComfyUI calls for each entry of extra_model_paths.yaml.
"""

import os
import tempfile

# As in ComfyUI, models_dir is set from the moment the module is imported:
# pytest 8 imports the repository's __init__.py (the package) while it sets
# up the test session, before any fixture has called reset(). Nothing is
# written there; the fixtures point it at a temporary ComfyUI folder.
models_dir = os.path.join(tempfile.gettempdir(), "cutout-tests-comfyui", "models")
folder_names_and_paths = {}


def reset(new_models_dir):
    global models_dir
    models_dir = str(new_models_dir)
    folder_names_and_paths.clear()


def add_model_folder_path(folder_name, full_folder_path, is_default=False):
    if folder_name in folder_names_and_paths:
        paths = folder_names_and_paths[folder_name][0]
        if is_default:
            paths.insert(0, full_folder_path)
        else:
            paths.append(full_folder_path)
    else:
        folder_names_and_paths[folder_name] = ([full_folder_path], set())


def get_folder_paths(folder_name):
    return list(folder_names_and_paths[folder_name][0])


def get_filename_list(folder_name):
    folders, extensions = folder_names_and_paths[folder_name]
    found = set()
    for folder in folders:
        if not os.path.isdir(folder):
            continue
        for root, _dirs, files in os.walk(folder):
            for name in files:
                if not extensions or os.path.splitext(name)[1].lower() in extensions:
                    found.add(os.path.relpath(os.path.join(root, name), folder))
    return sorted(found)
