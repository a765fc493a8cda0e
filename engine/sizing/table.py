"""The reference table presets/sizing.yaml: minimum GPU memory by model size and method."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ..shipped import shipped_dir

TABLE_PATH = shipped_dir("presets") / "sizing.yaml"


@cache
def reference_rows(path: Path = TABLE_PATH) -> tuple[dict[str, Any], ...]:
    """Every row of the table; empty when the file is not shipped."""
    try:
        return tuple(yaml.safe_load(path.read_text(encoding="utf-8"))["rows"])
    except (OSError, KeyError, TypeError):
        return ()


def reference_row(params_b: float, method: str, bits: int) -> dict[str, Any] | None:
    """The row for a model of params_b billion parameters trained with method/bits, if the table has one."""
    for row in reference_rows():
        low, high = row["params_b"]
        if low <= params_b <= high and row["method"] == method and row["bits"] == bits:
            return row
    return None
