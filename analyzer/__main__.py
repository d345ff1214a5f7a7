"""``python -m analyzer``: the command line."""

import sys

from analyzer.cli import main

if __name__ == "__main__":
    sys.exit(main())
