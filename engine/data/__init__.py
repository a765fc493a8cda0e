"""The data pipeline: dataset_info.json, normalised rows, chat templates, tokenization, packing, collation.

Light to import: the heavy parts (datasets, torch, transformers) load when their functions are first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

IGNORE_INDEX = -100

_LAZY = {
    "build_datasets": "pipeline", "DataBundle": "pipeline", "make_collator": "collator",
    "load_aligned_rows": "rows", "DataReport": "report", "Template": "templates", "get_template": "templates",
    "read_dataset_info": "dataset_info", "resolve_datasets": "dataset_info", "DatasetAttr": "dataset_info",
    "build_aligned_datasets": "encode_alignment",
}

__all__ = ["IGNORE_INDEX", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
