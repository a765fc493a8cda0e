"""Packing: pretraining text concatenated and chunked; chat examples bin-packed whole into full rows.

Packed rows carry `position_ids` that restart at each example and `seq_lens` (the example lengths),
so the collator can keep attention inside each example (neat_packing).
"""

from __future__ import annotations

import bisect

from . import IGNORE_INDEX


def pack_texts(examples: list[dict], cutoff_len: int) -> list[dict]:
    """Concatenate pretraining examples and cut them into rows of cutoff_len (the last row may be shorter)."""
    rows: list[dict] = []
    ids: list[int] = []
    lens: list[int] = []
    for example in examples:
        piece = example["input_ids"]
        while piece:
            take = piece[:cutoff_len - len(ids)]
            ids += take
            lens.append(len(take))
            piece = piece[len(take):]
            if len(ids) == cutoff_len:
                rows.append(_packed_row(ids, list(ids), lens))
                ids, lens = [], []
    if ids:
        rows.append(_packed_row(ids, list(ids), lens))
    return rows


def pack_examples(examples: list[dict], cutoff_len: int) -> list[dict]:
    """Best-fit-decreasing bin packing of whole examples into rows of at most cutoff_len tokens."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i]["input_ids"]), reverse=True)
    bins: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, bin number), sorted
    for i in order:
        size = len(examples[i]["input_ids"])
        at = bisect.bisect_left(free, (size, -1))
        if at < len(free):
            room, b = free.pop(at)
        else:
            room, b = cutoff_len, len(bins)
            bins.append([])
        bins[b].append(i)
        if room - size > 0:
            bisect.insort(free, (room - size, b))
    rows = []
    for members in bins:
        ids: list[int] = []
        labels: list[int] = []
        lens: list[int] = []
        for i in members:
            example = examples[i]
            ids += example["input_ids"]
            # The first token of an example is never a target unpacked; keep it so when packed.
            labels += [IGNORE_INDEX] + example["labels"][1:]
            lens.append(len(example["input_ids"]))
        rows.append(_packed_row(ids, labels, lens))
    return rows


def _packed_row(ids: list[int], labels: list[int], lens: list[int]) -> dict:
    positions = [p for n in lens for p in range(n)]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels, "position_ids": positions,
            "seq_lens": lens}
