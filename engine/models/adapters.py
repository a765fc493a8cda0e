"""Make a loaded model trainable by the chosen method: lora (dora, rslora, pissa), oft, freeze or full."""

from __future__ import annotations

import logging
import re

import torch
from peft import LoraConfig, OFTConfig, PeftModel, get_peft_model
from transformers import PreTrainedModel

from ..config import ConfigError, TrainConfig, resolve
from .vocab import trains_embeddings

log = logging.getLogger(__name__)


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _targets(text: str) -> str | list[str]:
    names = _names(text)
    return "all-linear" if names in ([], ["all"]) else names


def apply_method(model: PreTrainedModel, config: TrainConfig, task_type: str = "CAUSAL_LM") -> PreTrainedModel:
    """Wrap or unfreeze the model for `finetuning_type`; returns the model to train. A new LoRA/OFT adapter
    gets peft's `task_type` (SEQ_CLS for a reward model: peft then trains and saves its score head too)."""
    if config.use_unsloth:
        from .unsloth import unsloth_peft

        return unsloth_peft(model, config)
    if config.quantization_bit:  # frozen; embeddings, lm_head and norms stay 16-bit, as in LLaMA-Factory
        model.requires_grad_(False)
    kind = config.finetuning_type
    if kind == "full":
        model.requires_grad_(True)
        return _upcast_trainable(model, config)
    if kind == "freeze":
        return _upcast_trainable(_freeze(model, config), config)
    model = _stack_existing_adapters(model, config)
    if isinstance(model, PeftModel):
        return _upcast_trainable(model, config)
    peft_config = _lora_config(config, model) if kind == "lora" else _oft_config(config, model)
    peft_config.task_type = task_type
    model = get_peft_model(model, peft_config)
    return _upcast_trainable(model, config)


def _lora_config(config: TrainConfig, model: PreTrainedModel) -> LoraConfig:
    init = f"pissa_niter_{config.pissa_iter}" if config.pissa_init and config.pissa_iter >= 0 else (
        "pissa" if config.pissa_init else True)
    targets = _llama_pro_targets(model, config) if config.use_llama_pro else _targets(config.lora_target)
    return LoraConfig(
        task_type="CAUSAL_LM", r=config.lora_rank, lora_alpha=resolve.lora_alpha(config),
        lora_dropout=config.lora_dropout, target_modules=targets,
        modules_to_save=_names(config.additional_target) or trains_embeddings(model, config) or None,
        use_dora=config.use_dora, use_rslora=config.use_rslora, init_lora_weights=init,
    )


def _llama_pro_targets(model: PreTrainedModel, config: TrainConfig) -> list[str]:
    """LLaMA Pro with LoRA: the lora_target Linear modules inside the added blocks only, by full name."""
    from .llama_pro import added_layer_ids

    ids = set(added_layer_ids(int(model.config.num_hidden_layers), config.freeze_trainable_layers))
    wanted = _names(config.lora_target)
    layer_re = re.compile(r"\.layers\.(\d+)\.")
    names = []
    for name, module in model.named_modules():
        match = layer_re.search(name)
        if isinstance(module, torch.nn.Linear) and match and int(match.group(1)) in ids and (
                wanted in ([], ["all"]) or any(name.endswith(f".{w}") or f".{w}." in name for w in wanted)):
            names.append(name)
    return names


def _oft_config(config: TrainConfig, model: PreTrainedModel) -> OFTConfig:
    return OFTConfig(
        task_type="CAUSAL_LM", r=config.oft_rank, oft_block_size=config.oft_block_size,
        target_modules=_targets(config.oft_target),
        modules_to_save=_names(config.additional_target) or trains_embeddings(model, config) or None,
    )


def _stack_existing_adapters(model: PreTrainedModel, config: TrainConfig) -> PreTrainedModel:
    """Merge all given adapters but the last; the last stays trainable unless create_new_adapter."""
    paths = _names(config.adapter_name_or_path)
    if not paths:
        return model
    keep_last = not config.create_new_adapter
    to_merge = paths[:-1] if keep_last else paths
    for path in to_merge:
        model = PeftModel.from_pretrained(model, path).merge_and_unload()
    if keep_last:
        model = PeftModel.from_pretrained(model, paths[-1], is_trainable=True)
    return model


def load_adapters_for_inference(model: PreTrainedModel, config: TrainConfig) -> PreTrainedModel:
    """Apply adapter_name_or_path for chat or export: all but the last merged, the last kept as a PeftModel."""
    paths = _names(config.adapter_name_or_path)
    for path in paths[:-1]:
        model = PeftModel.from_pretrained(model, path).merge_and_unload()
    return PeftModel.from_pretrained(model, paths[-1]) if paths else model


def _freeze(model: PreTrainedModel, config: TrainConfig) -> PreTrainedModel:
    """Train only the last (or first, if negative) N decoder layers' chosen modules, plus extra modules."""
    layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    n = config.freeze_trainable_layers
    if layers == 0 or abs(n) == 0 or abs(n) > layers:
        raise ConfigError(f"freeze_trainable_layers: {n} does not fit a model of {layers} layers — "
                          f"use 1..{layers} (or -1..-{layers} for the first layers)")
    chosen = range(layers - n, layers) if n > 0 else range(0, -n)
    if config.use_llama_pro:
        from .llama_pro import added_layer_ids

        chosen = added_layer_ids(layers, n)
    modules = _names(config.freeze_trainable_modules)
    extra = _names(config.freeze_extra_modules)
    layer_re = re.compile(r"\.layers\.(\d+)\.")
    trained = 0
    for name, param in model.named_parameters():
        match = layer_re.search(name)
        in_layer = bool(match) and int(match.group(1)) in chosen and (
            modules in ([], ["all"]) or any(f".{m}." in name or name.split(".")[-2] == m for m in modules))
        wanted = in_layer or any(f"{m}." in name for m in extra)
        param.requires_grad_(wanted)
        trained += int(wanted)
    if trained == 0:
        raise ConfigError(f"freeze_trainable_modules: no parameter matches '{config.freeze_trainable_modules}' — "
                          "use all, or module names such as mlp,self_attn")
    return model


def _upcast_trainable(model: PreTrainedModel, config: TrainConfig) -> PreTrainedModel:
    """Keep trainable weights in fp32 (stable updates) unless pure_bf16 asks for all-bf16; BAdam keeps its own
    fp32 copy of the active block only, so its weights stay as loaded."""
    if not (config.pure_bf16 or config.use_badam):
        for param in model.parameters():
            if param.requires_grad and param.dtype in (torch.float16, torch.bfloat16):
                param.data = param.data.float()
    return model


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts; 4-bit weights counted by their real element count."""
    trainable = total = 0
    for param in model.parameters():
        n = param.numel()
        if param.__class__.__name__ == "Params4bit":
            n *= 2
        total += n
        trainable += n if param.requires_grad else 0
    return trainable, total
