"""Files shipped with lmf-tui — presets, the sizing table, demo data — wherever it is installed.

The repository keeps them at its top level (`presets/`, `assets/`); a wheel carries them inside the
`engine` package as `engine/shipped/<name>` (setup.py's build step copies them there).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent  # the repository, for a source checkout or editable install


def shipped_dir(name: str) -> Path:
    """The shipped folder `name` ("presets" or "assets"): the installed copy, else the repository's."""
    packaged = Path(str(files("engine") / "shipped" / name))
    return packaged if packaged.is_dir() else SOURCE_ROOT / name


def shipped_root() -> Path:
    """The folder holding `presets/` and `assets/`: presets' relative paths (assets/data) resolve against it."""
    return shipped_dir("presets").parent
