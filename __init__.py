"""ComfyUI's entry point when this repository is cloned into
ComfyUI/custom_nodes/. Registration happens here and nowhere else: this
loads libcutout once, registers the ``cutout`` model folder (and the
background_removal, BiRefNet, RMBG and rembg folders where missing) with
ComfyUI's folder_paths, and hands ComfyUI the two mappings. A library that
is missing, from another cutout version or built against another torch
makes the import fail with the command that rebuilds it.
"""

from .python_wrapper.comfy_nodes import load as _load

NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = _load()

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
