"""Padding-aware ordering: group rows of similar length into batches, and measure the padding share."""

from __future__ import annotations

import random


def length_grouped_order(lengths: list[int], batch_size: int, seed: int = 42, megabatch: int = 50) -> list[int]:
    """Row order where each batch holds rows of similar length; batches themselves come in random order."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    size = batch_size * megabatch
    batches = []
    for start in range(0, len(order), size):
        group = sorted(order[start:start + size], key=lambda i: lengths[i], reverse=True)
        batches += [group[i:i + batch_size] for i in range(0, len(group), batch_size)]
    rng.shuffle(batches)
    return [i for batch in batches for i in batch]


def random_order(n: int, seed: int = 42) -> list[int]:
    """A seeded shuffle of range(n), as the trainer's random sampler would give."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order


def padding_share(lengths: list[int], batch_size: int, order: list[int] | None = None) -> float:
    """Share of the batch tensors that is padding when rows are batched in `order` and padded to the longest."""
    order = order if order is not None else list(range(len(lengths)))
    padded = real = 0
    for start in range(0, len(order), batch_size):
        batch = [lengths[i] for i in order[start:start + batch_size]]
        padded += max(batch) * len(batch)
        real += sum(batch)
    return round(1 - real / padded, 4) if padded else 0.0
