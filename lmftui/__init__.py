"""lmf-tui: the terminal app and command line (never imports torch in its own process)."""

__version__ = "0.1.0"
