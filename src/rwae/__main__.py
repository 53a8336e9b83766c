"""`python -m rwae` (and `torchrun -m rwae`) run the CLI."""

import sys

from rwae.cli import main

if __name__ == "__main__":
    sys.exit(main())
