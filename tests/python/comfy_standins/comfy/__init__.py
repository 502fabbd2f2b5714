"""Stand-in for ComfyUI's `comfy` package in the tests (only what the nodes use)."""
