"""unsloth: an optional CUDA-only accelerator for LoRA/QLoRA. Detected, never required."""

from __future__ import annotations

import importlib.util

from ..config import ConfigError, TrainConfig, resolve


def require_unsloth(config: TrainConfig) -> None:
    """A one-line error unless unsloth can run here (installed, CUDA present)."""
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("use_unsloth: unsloth runs on CUDA GPUs only — set use_unsloth: false on this machine")
    if importlib.util.find_spec("unsloth") is None:
        raise ConfigError("use_unsloth: unsloth is not installed — run `pip install 'lmf-tui[unsloth]'`, "
                          "or set use_unsloth: false")
    if config.finetuning_type != "lora":
        raise ConfigError(f"use_unsloth: unsloth trains LoRA only, not {config.finetuning_type} — "
                          "set finetuning_type: lora, or use_unsloth: false")


def load_with_unsloth(config: TrainConfig, folder: str, dtype):
    """Load the base through unsloth's FastLanguageModel (4-bit when quantization_bit is 4)."""
    from unsloth import FastLanguageModel

    model, _ = FastLanguageModel.from_pretrained(
        model_name=folder, max_seq_length=config.cutoff_len, dtype=dtype,
        load_in_4bit=config.quantization_bit == 4, trust_remote_code=config.trust_remote_code)
    return model


def unsloth_peft(model, config: TrainConfig):
    """Attach LoRA with unsloth's fused kernels and its own gradient checkpointing."""
    from unsloth import FastLanguageModel

    targets = [n.strip() for n in config.lora_target.split(",") if n.strip()]
    if targets in ([], ["all"]):
        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    return FastLanguageModel.get_peft_model(
        model, r=config.lora_rank, lora_alpha=resolve.lora_alpha(config),
        lora_dropout=config.lora_dropout, target_modules=targets, use_rslora=config.use_rslora,
        use_gradient_checkpointing="unsloth" if resolve.gradient_checkpointing(config, cuda=True) else False,
        random_state=config.seed, max_seq_length=config.cutoff_len)
