"""dtype auto: bf16 where the GPU supports it, fp16 on older GPUs, fp32 on the CPU (no torch import)."""

from __future__ import annotations

from ..config import TrainConfig


def resolve_precision(config: TrainConfig, gpu_bf16: bool | None = None) -> TrainConfig:
    """Fill in bf16/fp16 when neither is set and a GPU will train; otherwise return the config as is."""
    if config.bf16 or config.fp16 or config.pure_bf16 or config.use_cpu or config.infer_dtype != "auto":
        return config
    if gpu_bf16 is None:
        gpu_bf16 = _cuda_bf16()
        if gpu_bf16 is None:
            return config
    return config.model_copy(update={"bf16": True} if gpu_bf16 else {"fp16": True})


def _cuda_bf16() -> bool | None:
    """None without a CUDA GPU; else whether it computes in bf16 (compute capability 8.0+)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return bool(torch.cuda.is_bf16_supported())
