"""python -m cutout_dask: the runner's command line (tools/cutout-dask)."""

import sys

from .client import main

sys.exit(main(sys.argv[1:]))
