"""``python -m bench``: run every benchmark and write bench/RESULTS.md (see bench/run.py)."""

import sys

from bench.run import main

# Guarded: the re-analysis section starts a Dask LocalCluster, whose worker processes re-import
# the main module; unguarded, each worker would start the bench again.
if __name__ == "__main__":
    sys.exit(main())
