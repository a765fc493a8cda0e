"""CUDA_VISIBLE_DEVICES: which physical GPUs CUDA shows, in the order it numbers them."""

from __future__ import annotations

import os


def visible_selectors(env: str | None = None) -> list[str] | None:
    """The CUDA_VISIBLE_DEVICES entries, None when unset (every GPU is visible).

    Like CUDA, parsing stops at the first entry that is neither an index nor a GPU-/MIG- UUID,
    and "-1" or "" hide every GPU.
    """
    value = os.environ.get("CUDA_VISIBLE_DEVICES") if env is None else env
    if value is None:
        return None
    out: list[str] = []
    for token in value.split(","):
        token = token.strip()
        if token.isdigit() or token.upper().startswith(("GPU-", "MIG-")):
            out.append(token)
        else:
            break
    return out


def map_visible(physical: list[tuple[int, str | None]], env: str | None = None) -> list[int]:
    """Physical indices of the visible GPUs in CUDA order, from (index, uuid) pairs of every GPU.

    A UUID entry matches any unique prefix, as CUDA allows; an unknown or ambiguous entry ends the
    list, and a GPU named twice is an error to CUDA, so the list ends there too. Indices are NVML's
    (PCI bus order), which CUDA also uses with CUDA_DEVICE_ORDER=PCI_BUS_ID; on a box mixing GPU models
    CUDA's default order puts the fastest first instead.
    """
    selectors = visible_selectors(env)
    if selectors is None:
        return [index for index, _ in physical]
    out: list[int] = []
    for sel in selectors:
        if sel.isdigit():
            matches = [index for index, _ in physical if index == int(sel)]
        else:
            matches = [index for index, uuid in physical if uuid and uuid.lower().startswith(sel.lower())]
        if len(matches) != 1 or matches[0] in out:
            break
        out.append(matches[0])
    return out
