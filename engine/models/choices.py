"""The GPU path's decisions for one run, as plain data, for any machine: `gpu_plan(config, hardware)` gathers
what `engine.config.resolve` decides (precision, attention kernel, padding-free batches, gradient
checkpointing) with the quantized model's device map and Liger's kernels. No torch import: a `Hardware`
value stands for the machine, so an H200 or a T4 can be checked on a CPU box."""

from __future__ import annotations

from typing import Any

from ..config import TrainConfig
from ..config.resolve import ATTENTION, Hardware, attn_implementation, precision_name, resolve


def quantized_device_map(cuda: bool, local_rank: int = 0) -> dict[str, Any]:
    """Where a bitsandbytes-quantized model loads: this process's GPU, or bitsandbytes' CPU backend."""
    return {"": local_rank if cuda else "cpu"}


def liger(config: TrainConfig, cuda: bool) -> bool:
    """Whether Liger's kernels patch the model (asked for, training on CUDA)."""
    return config.enable_liger_kernel and cuda and not config.use_cpu


def gpu_plan(config: TrainConfig, hardware: Hardware, local_rank: int = 0) -> dict[str, Any]:
    """Every decision of the GPU path for this config on this hardware (ConfigError for a kernel that
    cannot run there)."""
    resolved = resolve(config, hardware)
    attn = attn_implementation(resolved, hardware) if resolved.flash_attn in ATTENTION else "sdpa"
    on_gpu = hardware.cuda and not config.use_cpu
    return {"device": "cuda" if on_gpu else "cpu", "precision": precision_name(resolved), "attn": attn,
            "padding_free": bool(resolved.padding_free),
            "gradient_checkpointing": not resolved.disable_gradient_checkpointing,
            "device_map": quantized_device_map(on_gpu, local_rank) if config.quantization_bit else None,
            "liger": liger(config, hardware.cuda)}
