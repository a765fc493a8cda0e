"""stage: pt and sft — transformers' Trainer (LmfTrainer) on packed or chat examples."""

from __future__ import annotations

from typing import Any

import torch
from transformers import Trainer, TrainingArguments

from ..config import TrainConfig
from ..config.resolve import attn_implementation, chunked_loss, mlp_recompute
from ..data import DataBundle, build_datasets, make_collator
from ..models import apply_method, load_model
from ..train.losses import dft_loss
from ..train.trainer import LmfTrainer, counting_collator


def load_data(config: TrainConfig, tokenizer: Any) -> DataBundle:
    """Tokenized (and for pt, packed) examples."""
    return build_datasets(config, tokenizer)


def build_trainer(config: TrainConfig, tokenizer: Any, data: DataBundle, args: TrainingArguments) -> Trainer:
    """LmfTrainer on the method-wrapped model, counting real tokens; the DFT loss when use_dft_loss, else the
    loss in vocabulary chunks where the model allows it; MLPs recomputed where resolve says so."""
    model = apply_method(load_model(config, for_training=True), config)
    cuda = torch.cuda.is_available()
    accuracy: dict[str, Any] = {}
    if config.compute_accuracy:  # token accuracy per padded row, as LLaMA-Factory computes it
        from ..evaluate.metrics import argmax_logits, compute_accuracy

        padded = config.model_copy(update={"padding_free": False})
        accuracy = dict(compute_metrics=compute_accuracy, preprocess_logits_for_metrics=argmax_logits,
                        eval_collator=counting_collator(make_collator(padded, tokenizer, attn_implementation(config))))
    return LmfTrainer(
        model=model, args=args, train_dataset=data.train, eval_dataset=data.eval,
        data_collator=counting_collator(make_collator(config, tokenizer, attn_implementation(config))),
        processing_class=tokenizer, lmf_config=config, compute_loss_func=dft_loss if config.use_dft_loss else None,
        chunked_loss=chunked_loss(config, model.config.model_type, cuda),
        mlp_recompute=mlp_recompute(config, model.config.model_type, cuda), **accuracy,
    )
