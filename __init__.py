"""Entry point for ComfyUI when this repository is cloned into
ComfyUI/custom_nodes/: the nodes live in python_wrapper/."""

from .python_wrapper import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
