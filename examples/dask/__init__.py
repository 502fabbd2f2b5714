"""The Dask runner (cutout_dask), a host of libcutout_files."""
