"""Batch rows into tensors: pad to the longest row; for neat packing, a block-diagonal causal mask."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch

from engine.config import resolve
from engine.config.schema import TrainConfig

from . import IGNORE_INDEX



class Collator:
    """Pads input_ids/labels/attention_mask; packed rows keep attention per example when `neat`."""

    def __init__(self, pad_token_id: int, neat: bool, attn_implementation: str,
                 pad_to_multiple_of: int | None = None, padding_free: bool = False):
        self.pad_token_id = pad_token_id
        self.neat = neat or padding_free
        self.attn_implementation = attn_implementation
        self.pad_to_multiple_of = pad_to_multiple_of
        self.padding_free = padding_free

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if self.padding_free and len(features) > 1 and not any("seq_lens" in f for f in features):
            features = [flatten(features)]
        longest = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            longest = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = {
            "input_ids": _pad([f["input_ids"] for f in features], longest, self.pad_token_id),
            "labels": _pad([f["labels"] for f in features], longest, IGNORE_INDEX),
        }
        packed = self.neat and all("seq_lens" in f for f in features)
        if not packed:
            batch["attention_mask"] = _pad([[1] * len(f["input_ids"]) for f in features], longest, 0)
            return batch
        batch["position_ids"] = _pad([f["position_ids"] for f in features], longest, 0)
        if self.attn_implementation.startswith("flash_attention"):
            return batch  # flash attention finds the examples from the restarting position_ids
        if self.attn_implementation == resolve.SEGMENT_SDPA and len(features) == 1:
            bounds = torch.tensor([0, *itertools.accumulate(features[0]["seq_lens"])], dtype=torch.int32)
            longest_example = max(features[0]["seq_lens"])
            batch.update(cu_seq_lens_q=bounds, cu_seq_lens_k=bounds, max_length_q=longest_example,
                         max_length_k=longest_example)
            return batch  # SDPA runs on each example (engine.models.segment_attention): no mask needed
        mask = block_causal_mask([f["seq_lens"] for f in features], longest)
        if self.attn_implementation == "eager":  # eager attention adds the mask to the scores
            mask = torch.zeros(mask.shape, dtype=torch.float32).masked_fill(~mask, torch.finfo(torch.float32).min)
        batch["attention_mask"] = mask
        return batch


def make_collator(config: TrainConfig, tokenizer: Any, attn_implementation: str | None = None,
                  pad_to_multiple_of: int | None = None) -> Callable[[list[dict]], dict[str, torch.Tensor]]:
    """The collator for this config; pass the model's `config._attn_implementation` when known."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    attn = attn_implementation or resolve.attn_implementation(config)
    return Collator(pad if pad is not None else 0, bool(config.neat_packing), attn, pad_to_multiple_of,
                    padding_free=resolve.padding_free(config, attn, torch.cuda.is_available()))



def flatten(features: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch of rows as one row: examples side by side, positions restarting, no label across a boundary."""
    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for i, f in enumerate(features):
        ids += f["input_ids"]
        labels += list(f["labels"]) if i == 0 else [IGNORE_INDEX] + list(f["labels"][1:])
        positions += range(len(f["input_ids"]))
    return {"input_ids": ids, "labels": labels, "position_ids": positions,
            "seq_lens": [len(f["input_ids"]) for f in features]}


def block_causal_mask(seq_lens: list[list[int]], length: int) -> torch.Tensor:
    """[B, 1, L, L] bool (True = attend): causal inside each example, none across; pads see themselves."""
    mask = torch.zeros(len(seq_lens), 1, length, length, dtype=torch.bool)
    for b, lens in enumerate(seq_lens):
        start = 0
        for n in lens:
            mask[b, 0, start:start + n, start:start + n] = torch.ones(n, n, dtype=torch.bool).tril()
            start += n
        idx = torch.arange(start, length)
        mask[b, 0, idx, idx] = True
    return mask


def _pad(rows: list[list[int]], length: int, value: int) -> torch.Tensor:
    out = torch.full((len(rows), length), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    return out
