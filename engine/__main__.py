"""`python -m engine COMMAND ...`: the engine's own entry point, used for every child process."""

import sys

from .commands import main

if __name__ == "__main__":
    sys.exit(main())
