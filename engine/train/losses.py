"""Alternative SFT losses with LLaMA-Factory's meaning."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

IGNORE = -100


def dft_loss(outputs: Any, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None) -> torch.Tensor:
    """Dynamic Fine-Tuning (`use_dft_loss`): each answer token's cross entropy weighted by the probability the model
    gives that token (detached), summed and divided like the Trainer's own loss (by the batch's token count when
    given, else averaged over the answer tokens)."""
    logits = outputs["logits"].float()
    targets = F.pad(labels, (0, 1), value=IGNORE)[..., 1:].reshape(-1).to(logits.device)
    token_loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets, ignore_index=IGNORE, reduction="none")
    kept = targets != IGNORE
    weighted = (token_loss * torch.exp(-token_loss).detach())[kept]
    if num_items_in_batch is None:
        return weighted.mean() if weighted.numel() else weighted.sum()
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(weighted.device)
    return weighted.sum() / num_items_in_batch
