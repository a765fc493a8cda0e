"""Glue shared by the stages: TRL config objects from our TrainingArguments, and the reference model."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from transformers import PreTrainedModel, TrainingArguments

from ..config import TrainConfig
from ..data import DataBundle

Args = TypeVar("Args", bound=TrainingArguments)
COUNT_TOKENS = "non_padding"  # the Trainer counts attention-mask tokens into num_input_tokens_seen


def load_data(config: TrainConfig, tokenizer: Any) -> DataBundle:
    """Tokenized rows for an alignment stage (pairs, tagged answers or prompts)."""
    from ..data.encode_alignment import build_aligned_datasets

    return build_aligned_datasets(config, tokenizer)


def trl_args(cls: type[Args], args: TrainingArguments, **extra: Any) -> Args:
    """A TRL config (a TrainingArguments subclass) holding the same Trainer settings plus the stage's own."""
    base = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainingArguments)
            if f.init and not f.name.startswith("_") and hasattr(args, f.name)}
    return cls(**{**base, **extra})


def reference_model(config: TrainConfig) -> PreTrainedModel | None:
    """The frozen reference: `ref_model` (with its adapters) when set, else a copy of the base for non-LoRA
    training; None for LoRA/OFT, whose reference is the same model with the adapter switched off."""
    from ..models import load_model

    if not config.ref_model and config.finetuning_type in ("lora", "oft"):
        return None
    update: dict[str, Any] = {}
    if config.ref_model:
        update = dict(model_name_or_path=config.ref_model, gguf_file=None,
                      adapter_name_or_path=config.ref_model_adapters,
                      quantization_bit=config.ref_model_quantization_bit)
    model = load_model(config.model_copy(update=update), for_training=False)
    model.requires_grad_(False)
    return model
