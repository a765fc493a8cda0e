"""A causal LM's cross entropy computed chunk by chunk from its last hidden states: the batch's logits
(tokens × vocabulary floats, and the two more copies the plain loss keeps for its backward pass) never exist
at once — on a small model with a large vocabulary they are a third of the training peak.

Each chunk's forward pass also computes its gradient (softmax minus the one-hot target, times the head's
weight), so the backward pass only scales what was kept: the same arithmetic as the plain loss, in the
memory of one chunk's logits. The model's own forward runs unchanged (DDP, peft and the Trainer's loss
scaling see a normal call); only its output head and loss function are swapped for the training step.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from ..config.resolve import LOSS_CHUNK_BYTES
from .losses import IGNORE


class _ChunkedCrossEntropy(torch.autograd.Function):
    """Sum over rows of -log softmax(hidden @ weightᵀ)[target]; gradients computed in the forward pass."""

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                chunk: int) -> torch.Tensor:
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.shape[0], chunk):
            rows = hidden[start:start + chunk]
            target = targets[start:start + chunk, None]
            logits = (rows @ weight.T).float()
            lse = torch.logsumexp(logits, dim=-1, keepdim=True)
            total += (lse - logits.gather(1, target)).sum()
            probs = logits.sub_(lse).exp_()  # softmax, in place of the logits
            probs.scatter_add_(1, target, torch.full_like(target, -1, dtype=probs.dtype))
            grad_hidden[start:start + chunk] = probs.to(weight.dtype) @ weight
            if grad_weight is not None:
                grad_weight.addmm_(probs.T, rows.float())
        ctx.save_for_backward(grad_hidden, grad_weight)
        ctx.weight_dtype = weight.dtype
        return total

    @staticmethod
    def backward(ctx: Any, grad_total: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        grad_hidden, grad_weight = ctx.saved_tensors
        scale = grad_total.to(grad_hidden.dtype)
        weight_grad = None if grad_weight is None else (grad_weight * grad_total).to(ctx.weight_dtype)
        return grad_hidden * scale, weight_grad, None, None


def chunked_causal_lm_loss(weight: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor,
                           vocab_size: int | None = None, num_items_in_batch: torch.Tensor | int | None = None,
                           ignore_index: int = IGNORE, shift_labels: torch.Tensor | None = None,
                           chunk_bytes: int = LOSS_CHUNK_BYTES, **_: Any) -> torch.Tensor:
    """transformers' `ForCausalLMLoss` with the same arguments, where `logits` are the last hidden states
    (the head is not applied): labels shifted by one, summed over `num_items_in_batch` or averaged. Only the
    rows with a target go through the head, `chunk_bytes` of float32 logits at a time."""
    hidden = logits.reshape(-1, logits.shape[-1])
    if shift_labels is None:
        shift_labels = F.pad(labels, (0, 1), value=ignore_index)[..., 1:]
    targets = shift_labels.reshape(-1).to(hidden.device)
    kept = targets != ignore_index
    chunk = max(1, chunk_bytes // (4 * weight.shape[0]))
    total = _ChunkedCrossEntropy.apply(hidden[kept], weight, targets[kept], chunk)
    if num_items_in_batch is None:
        return total / kept.sum()
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch


def _hidden_states(hidden: torch.Tensor) -> torch.Tensor:
    return hidden


@contextmanager
def logits_free(causal_lm: nn.Module, chunk_bytes: int = LOSS_CHUNK_BYTES) -> Iterator[None]:
    """While open, the model's forward returns its last hidden states as `logits` and computes the loss from
    them in chunks. Use around a training step's forward that passes labels."""
    head = causal_lm.get_output_embeddings()
    saved = causal_lm.__dict__.get("_loss_function")
    head.forward = _hidden_states
    causal_lm.loss_function = partial(chunked_causal_lm_loss, head.weight, chunk_bytes=chunk_bytes)
    try:
        yield
    finally:
        del head.forward
        if saved is None:
            del causal_lm._loss_function
        else:
            causal_lm.loss_function = saved


def plain_head(causal_lm: nn.Module) -> bool:
    """The model's output head is a bias-free Linear that nothing wraps (no LoRA on it, not saved whole)."""
    head = causal_lm.get_output_embeddings()
    return type(head) is nn.Linear and head.bias is None
