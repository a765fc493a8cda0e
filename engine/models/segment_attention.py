"""SDPA per example for padding-free batches: no attention across examples, and none computed there.

A padding-free batch is one row holding every example of the batch side by side. With flash attention the
kernel reads the boundaries (varlen). With SDPA, a block-diagonal mask over the whole row would compute
and keep the full (total tokens)² scores of every head — four examples of 512 tokens cost as much as one
of 2,048. This attention function runs SDPA's causal kernel on each example instead (the cost of the
padded batch without its padding). The collator passes the boundaries as `cu_seq_lens_q`, the name
transformers already forwards to attention functions; without them it is plain SDPA.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

NAME = "sdpa_segments"


def register() -> None:
    """Make `attn_implementation="sdpa_segments"` known to transformers (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, segment_sdpa_forward)
    AttentionMaskInterface.register(NAME, sdpa_mask)


def segment_sdpa_forward(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                         attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                         is_causal: bool | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature: query [1, H, L, D], key/value [1, H_kv, L, D] ->
    ([1, L, H, D], None). Falls back to plain SDPA for ordinary (padded or generating) batches."""
    bounds = kwargs.get("cu_seq_lens_q")
    if bounds is None or query.shape[0] != 1 or query.shape[2] != key.shape[2]:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    cuts = [int(c) for c in bounds.tolist()]
    if cuts[-1] < query.shape[2]:  # padding after the last example attends to itself only
        cuts.append(query.shape[2])
    lengths = [b - a for a, b in zip(cuts[:-1], cuts[1:])]
    p = dropout if module.training else 0.0
    # split, not sliced: the backward pass joins the segments' gradients once instead of adding a full-size
    # zero tensor per segment; grouped-query heads stay unrepeated (the kernel reads each key/value head
    # for its group), so the saved keys and values are the model's own size
    parts = [F.scaled_dot_product_attention(q, k, v, dropout_p=p, scale=scaling, is_causal=True,
                                            enable_gqa=query.shape[1] != key.shape[1])
             for q, k, v in zip(*(t.split(lengths, dim=2) for t in (query, key, value))) if q.shape[2]]
    return torch.cat(parts, dim=2).transpose(1, 2).contiguous(), None
