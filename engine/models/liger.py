"""Liger kernels (`enable_liger_kernel`): fused Triton kernels patched into the model on CUDA; a note on the CPU."""

from __future__ import annotations

import importlib.util

import torch
from transformers import PreTrainedModel

from ..config import ConfigError, TrainConfig

EXTRA = "lmf-tui[liger]"


def liger_applies(config: TrainConfig) -> bool:
    """Whether Liger's kernels will be used for this training run (asked for, on CUDA)."""
    return config.enable_liger_kernel and torch.cuda.is_available() and not config.use_cpu


def liger_note(config: TrainConfig) -> str | None:
    """Checked before any weight loads: a one-line note when the key is ignored here, or a ConfigError when its
    package is missing."""
    if not config.enable_liger_kernel:
        return None
    if not liger_applies(config):
        return "enable_liger_kernel: Liger's kernels need a CUDA GPU; ignored on the CPU"
    if importlib.util.find_spec("liger_kernel") is None:
        raise ConfigError(f"enable_liger_kernel: needs the liger-kernel package — run `pip install '{EXTRA}'`, "
                          "or turn it off")
    from liger_kernel.transformers.monkey_patch import MODEL_TYPE_TO_APPLY_LIGER_FN

    from ..sizing import read_model_shape

    model_type = read_model_shape(config.model_name_or_path, config.gguf_file).model_type
    if model_type not in MODEL_TYPE_TO_APPLY_LIGER_FN:
        return f"enable_liger_kernel: Liger has no kernels for model type '{model_type}'; ignored"
    return None


def apply_liger(model: PreTrainedModel, config: TrainConfig) -> None:
    """Patch the loaded model's layers with Liger's kernels; stages that read the logits (preference, reward,
    RL, the DFT loss) keep a plain fused cross entropy instead of the logit-free one."""
    if not liger_applies(config):
        return
    from liger_kernel.transformers import _apply_liger_kernel_to_instance

    needs_logits = config.stage not in ("pt", "sft") or config.use_dft_loss
    kwargs = {"fused_linear_cross_entropy": False, "cross_entropy": True} if needs_logits else {}
    _apply_liger_kernel_to_instance(model=model, **kwargs)
