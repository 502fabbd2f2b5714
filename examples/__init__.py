"""Hosts of libcutout and libcutout_files; the Python ones run from the repository root with python3 -m."""
