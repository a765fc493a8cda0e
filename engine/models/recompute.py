"""Selective recomputation of each decoder layer's MLP (`mlp_recompute`, decided in engine.config.resolve).

Without gradient checkpointing an MLP keeps four intermediate-size tensors per token for its backward pass:
the gate and up projections, the activation and their product. Under torch's selective activation
checkpointing the MLP keeps only the outputs of its large matmuls; the activation, the product and the
adapters' rank-r matmuls are recomputed in the backward pass — a few elementwise passes, against a quarter
of a small model's activation memory. Gradients are unchanged (tests/functional/test_mlp_recompute.py).
"""

from __future__ import annotations

import types
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import CheckpointPolicy, checkpoint, create_selective_checkpoint_contexts

aten = torch.ops.aten
MATMULS = {aten.mm.default: 0, aten.addmm.default: 1, aten.bmm.default: 0}  # op: index of its left operand
KEEP_FROM = 128  # a matmul's output is kept when its inner dimension is at least this (not a LoRA up-projection)


def _policy(ctx: Any, op: Any, *args: Any, **kwargs: Any) -> CheckpointPolicy:
    """Keep the outputs of large matmuls, recompute everything else."""
    left = MATMULS.get(op)
    if left is not None and args[left].shape[-1] >= KEEP_FROM:
        return CheckpointPolicy.MUST_SAVE
    return CheckpointPolicy.PREFER_RECOMPUTE


def _recomputed_forward(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
    forward = type(self).forward.__get__(self)
    if not (self.training and torch.is_grad_enabled()):
        return forward(*args, **kwargs)
    return checkpoint(forward, *args, use_reentrant=False, context_fn=partial(create_selective_checkpoint_contexts,
                                                                              _policy), **kwargs)


def decoder_mlps(model: nn.Module) -> list[nn.Module]:
    """The `mlp` of every decoder layer (gate/up/down projections or a fused gate_up)."""
    return [module for name, module in model.named_modules()
            if name.rsplit(".", 1)[-1] == "mlp" and hasattr(module, "down_proj")]


def install_mlp_recompute(model: nn.Module) -> int:
    """Recompute every decoder MLP's cheap work in the backward pass; returns how many MLPs."""
    mlps = decoder_mlps(model)
    for mlp in mlps:
        mlp.forward = types.MethodType(_recomputed_forward, mlp)
    return len(mlps)
