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


def optimizer_summary(values: dict[str, Any]) -> str:
    """One line naming the optimizer a config trains with and its main settings."""
    if values.get("use_galore") or values.get("use_apollo"):
        name = "galore" if values.get("use_galore") else "apollo"
        field = TrainConfig.model_fields
        get = lambda key: values.get(f"{name}_{key}", field[f"{name}_{key}"].default)  # noqa: E731
        return (f"{'GaLore' if name == 'galore' else 'APOLLO'} rank {get('rank')} on {get('target')}, projection "
                f"every {get('update_interval')} steps" + (", layer-wise" if get("layerwise") else "")
                + f" ({values.get('optim', 'adamw_torch')})")
    if values.get("use_badam"):
        if values.get("badam_mode", "layer") == "ratio":
            return f"BAdam, ratio {values.get('badam_update_ratio', 0.05)} of every weight"
        return (f"BAdam, one block at a time ({values.get('badam_switch_mode') or 'ascending'}, "
                f"every {values.get('badam_switch_interval', 50)} steps)")
    if values.get("use_adam_mini"):
        return "Adam-mini"
    if values.get("use_muon"):
        return "Muon on 2-D hidden weights, AdamW on the rest"
    return str(values.get("optim", "adamw_torch"))
