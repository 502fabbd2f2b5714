"""cutout for ComfyUI: background removal nodes driven by libcutout.

ComfyUI imports this package (directly, or through the repository's root
__init__.py) and reads the two mappings below. Importing it registers the
``cutout`` model folder (and background_removal, BiRefNet, RMBG and rembg
where missing: foreign_models) with ComfyUI's folder_paths and loads the library
once; a library that is missing, from another cutout version or built against
another torch makes the import fail with the command that rebuilds it.
"""

from .comfy_nodes import load as _load

NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = _load()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
