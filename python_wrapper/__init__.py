"""cutout's Python side: a plain binding of libcutout and libcutout_files
(cutout_library, files_library, dlpack_bridge; ctypes and DLPack), the
ComfyUI nodes (comfy_nodes and the modules it uses) and the model importer
(model_import).

Importing this package, or its binding, loads nothing and imports nothing
of ComfyUI: the library is loaded when a caller asks for it
(cutout_library.load_library), and the nodes are registered only by
ComfyUI's entry module, the repository's root __init__.py.
"""
