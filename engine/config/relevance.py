"""Which keys a config leaves unused, so forms can hide them (the Optimizer group shows only the chosen
optimizer's settings)."""

from __future__ import annotations

from typing import Any

from .schema import TrainConfig

OPTIMIZER_PREFIXES = {"use_galore": "galore_", "use_apollo": "apollo_", "use_badam": "badam_"}
BADAM_LAYER_KEYS = {"badam_start_block", "badam_switch_mode", "badam_switch_interval"}
BADAM_RATIO_KEYS = {"badam_update_ratio", "badam_mask_mode"}


def unused_fields(values: dict[str, Any]) -> set[str]:
    """Field names that the values make irrelevant: the settings of optimizers not chosen, BAdam's keys of the
    other mode, and `optim` when Adam-mini or Muon replaces it."""
    hidden: set[str] = set()
    for switch, prefix in OPTIMIZER_PREFIXES.items():
        if not values.get(switch):
            hidden |= {name for name in TrainConfig.model_fields if name.startswith(prefix)}
    if values.get("use_badam"):
        hidden |= BADAM_RATIO_KEYS if values.get("badam_mode", "layer") == "layer" else BADAM_LAYER_KEYS
    if values.get("use_adam_mini") or values.get("use_muon"):
        hidden.add("optim")
    return hidden
