"""Command line: ``python -m experiments {list, run NAME... | run --all, plot NAME...}``."""

import sys

from experiments._cli import main

if __name__ == "__main__":
  sys.exit(main())
