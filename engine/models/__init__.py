"""Model loading and training methods. `source` is torch-free; the rest loads torch on first use."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .source import ModelSource, resolve_model_source

_LAZY = {
    "load_model": "loader", "load_tokenizer": "loader", "model_folder": "loader", "unmark_quantized": "loader",
    "compute_dtype": "loader", "apply_method": "adapters", "count_parameters": "adapters",
    "load_adapters_for_inference": "adapters",
}

__all__ = ["ModelSource", "resolve_model_source", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)
