"""Optimizer memory: the state each optimizer keeps, and what GaLore/APOLLO layer-wise and BAdam change in
gradients and weights.

- AdamW: m and v, 2 states per trainable parameter; SGD and Adafactor ~0; Lion 1.
- 8-bit AdamW (bitsandbytes): 1 B for m and for v plus an fp32 absmax per 256 values; embeddings (the Trainer
  registers them for 32-bit state) and tensors under 4096 values keep 2 fp32 states.
- GaLore / APOLLO: on each target weight (out x in, rank r <= min), Adam moments in the projected space,
  2 x r x max(out, in), and the projection matrix, r x min(out, in); other trainables get plain Adam.
  Layer-wise, each parameter steps as soon as its gradient exists, so only about one gradient is alive.
- BAdam (layer mode): one decoder block trains at a time; weights stay in the compute dtype (no master copy)
  and the active block has an fp32 copy, its fp32 gradient and Adam's two states.
  Ratio mode: Adam state on `badam_update_ratio` of every weight, held sparse (value + int64 index).
- Adam-mini: m per weight, v one per block (head, neuron, row): about 1 state per parameter.
- Muon: one momentum buffer on 2-D hidden weights; AdamW on embeddings, the output layer and norms.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.config import TrainConfig

from .params import ParamCount, layer_params
from .shape import ModelShape

BNB_MIN_8BIT = 4096


@dataclass
class OptimizerMemory:
    """Bytes of optimizer state, and the replacements it makes to the gradients / weight terms."""

    state: float
    gradients: float | None = None  # replaces the trainables' gradients when set
    block_copy: float = 0.0  # BAdam: fp32 copy of the active block
    no_master_weights: bool = False  # BAdam keeps no fp32 master copy of the whole model
    notes: list[str] = field(default_factory=list)


def _targets(p: ParamCount, spec: str) -> list:
    names = {n.strip() for n in spec.split(",") if n.strip()}
    if names <= {"all"}:
        return list(p.linears)
    return [lin for lin in p.linears if any(n in lin.name or n == lin.part for n in names)]


def _adam_bytes(optim: str, state_bytes: int) -> float:
    name = optim.lower()
    if "8bit" in name:
        return 2.0 + 2 * 4 / 256
    if name.startswith("sgd") or "adafactor" in name:
        return 0.0
    if "lion" in name:
        return float(state_bytes)
    return 2.0 * state_bytes


def optimizer_memory(config: TrainConfig, s: ModelShape, p: ParamCount, trainable: int, state: int,
                     compute: int) -> OptimizerMemory:
    """The optimizer's memory for `trainable` parameters whose states are `state` bytes each."""
    full = config.finetuning_type in ("full", "freeze")
    if config.use_galore or config.use_apollo:
        name = "galore" if config.use_galore else "apollo"
        rank, spec = getattr(config, f"{name}_rank"), getattr(config, f"{name}_target")
        pair = _adam_bytes(config.optim, state)  # m and v of one element
        projected = low_rank_state = 0
        for lin in _targets(p, spec) if full else []:
            r = min(rank, lin.in_features, lin.out_features)
            projected += lin.count * lin.in_features * lin.out_features
            low_rank_state += lin.count * r * (max(lin.in_features, lin.out_features) * pair
                                               + min(lin.in_features, lin.out_features) * state)
        if config.finetuning_type == "freeze":
            projected = min(projected, trainable)
        rest = max(trainable - projected, 0)
        memory = OptimizerMemory(state=low_rank_state + rest * pair)
        if getattr(config, f"{name}_layerwise"):
            memory.gradients = max(p.embeddings, max(lin.in_features * lin.out_features for lin in p.linears)) * state
        return memory
    if config.use_badam and config.badam_mode == "layer":
        block = layer_params(s)
        return OptimizerMemory(state=block * 2 * 4, gradients=block * 4, block_copy=block * 4,
                               no_master_weights=True,
                               notes=["BAdam: one decoder block trained at a time (its fp32 copy, gradient and "
                                      "Adam state)"])
    if config.use_badam:
        kept = config.badam_update_ratio * trainable
        return OptimizerMemory(state=kept * (2 * state + 8), gradients=kept * (state + 8) + p.embeddings * compute)
    if config.use_adam_mini:
        return OptimizerMemory(state=trainable * state + p.norms * state)
    if config.use_muon:
        hidden = sum(lin.params for lin in p.linears) if full else trainable
        other = max(trainable - hidden, 0)
        return OptimizerMemory(state=hidden * state + other * 2 * state)
    if "8bit" in config.optim.lower() and config.finetuning_type == "full":
        fp32_state = p.embeddings + p.norms
        return OptimizerMemory(state=(trainable - fp32_state) * _adam_bytes(config.optim, state)
                               + fp32_state * 2 * state)
    return OptimizerMemory(state=trainable * _adam_bytes(config.optim, state))
