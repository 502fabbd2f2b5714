"""cutout-dask: the cutout command's work spread over a Dask cluster.

The client (``client.py``, run as ``tools/cutout-dask``) lists the inputs,
names their outputs, skips what a manifest already records as done, and
sends chunks of paths to the workers; each worker process runs them through
one files session (``worker.py``), the command's own file pipeline loaded
from libcutout_files.so (``files_library.py``), so every output file is
byte for byte what ``cutout`` writes with the same options. Only the client
writes the manifest (``manifest.py``), one JSON line per input.
"""
