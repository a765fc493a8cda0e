"""The Trainer used by pt and sft: transformers' Trainer plus real-token counting and LoRA+."""

from __future__ import annotations

import os
from typing import Any, Callable

import torch
from transformers import Trainer, TrainingArguments

from ..config import TrainConfig
from ..distributed.strategy import deepspeed_path, fsdp_settings
from ..models.recompute import install_mlp_recompute
from .chunked_loss import logits_free, plain_head

REAL_TOKENS = "num_real_tokens"


def counting_collator(collate: Callable[[list[dict]], dict[str, Any]]) -> Callable[[list[dict]], dict[str, Any]]:
    """Wrap a collator so each batch carries its count of real (non-padding) tokens."""

    def collate_and_count(features: list[dict]) -> dict[str, Any]:
        batch = collate(features)
        batch[REAL_TOKENS] = torch.tensor(sum(len(f["input_ids"]) for f in features), dtype=torch.int64)
        return batch

    return collate_and_count


class LmfTrainer(Trainer):
    """Counts real tokens into `state.num_input_tokens_seen` (saved in checkpoints), builds LoRA+, can
    evaluate with its own collator, computes the training loss in vocabulary chunks when `chunked_loss`
    (engine.config.resolve.chunked_loss) and the model's head allows it (`self.chunked_loss` says what runs),
    and recomputes the decoder MLPs' cheap work when `mlp_recompute`."""

    def __init__(self, *args: Any, lmf_config: TrainConfig, eval_collator: Callable | None = None,
                 chunked_loss: bool = False, mlp_recompute: bool = False, **kwargs: Any):
        self.lmf_config = lmf_config
        self.padded_tokens = 0
        self.eval_collator = eval_collator
        super().__init__(*args, **kwargs)
        self.causal_lm = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        self.chunked_loss = chunked_loss and plain_head(self.causal_lm)
        self.mlp_recompute = mlp_recompute and install_mlp_recompute(self.model) > 0

    def get_eval_dataloader(self, eval_dataset=None):
        """Evaluation batches from `eval_collator` when given (padded rows, so accuracy is per row)."""
        if self.eval_collator is None:
            return super().get_eval_dataloader(eval_dataset)
        train_collator, self.data_collator = self.data_collator, self.eval_collator
        try:
            return super().get_eval_dataloader(eval_dataset)
        finally:
            self.data_collator = train_collator

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        real = inputs.pop(REAL_TOKENS, None)
        if real is not None and model.training:
            self.state.num_input_tokens_seen += int(real)
            self.padded_tokens += int(inputs["input_ids"].numel())
        if self.chunked_loss and model.training and "labels" in inputs:
            with logits_free(self.causal_lm):
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)
        return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)

    def create_optimizer(self, model=None):
        ratio = self.lmf_config.loraplus_lr_ratio
        if ratio and self.optimizer is None:
            from peft.optimizers import create_loraplus_optimizer

            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model or self.model)
            optimizer_kwargs.pop("lr", None)
            self.optimizer = create_loraplus_optimizer(
                model=model or self.model, optimizer_cls=optimizer_cls, lr=self.args.learning_rate,
                loraplus_lr_ratio=ratio, **optimizer_kwargs)
            return self.optimizer
        return super().create_optimizer(model) if model is not None else super().create_optimizer()


def training_arguments(config: TrainConfig, gradient_checkpointing: bool) -> TrainingArguments:
    """TrainingArguments from the config's Trainer keys."""
    c = config
    warmup: float = c.warmup_steps or c.warmup_ratio
    eval_on = c.eval_strategy != "no"
    return TrainingArguments(
        output_dir=c.output_dir, learning_rate=c.learning_rate, num_train_epochs=c.num_train_epochs,
        max_steps=c.max_steps, per_device_train_batch_size=c.per_device_train_batch_size,
        per_device_eval_batch_size=c.per_device_eval_batch_size,
        gradient_accumulation_steps=c.gradient_accumulation_steps, lr_scheduler_type=c.lr_scheduler_type,
        lr_scheduler_kwargs=c.lr_scheduler_kwargs or {}, warmup_steps=warmup, weight_decay=c.weight_decay,
        adam_beta1=c.adam_beta1, adam_beta2=c.adam_beta2, adam_epsilon=c.adam_epsilon,
        max_grad_norm=c.max_grad_norm, optim=c.optim, bf16=c.bf16 and not c.pure_bf16, fp16=c.fp16, seed=c.seed,
        logging_steps=c.logging_steps, logging_first_step=True, save_strategy=c.save_strategy,
        save_steps=c.save_steps, save_total_limit=c.save_total_limit, save_only_model=c.save_only_model,
        eval_strategy=c.eval_strategy, eval_steps=(c.eval_steps or c.logging_steps) if eval_on else None,
        load_best_model_at_end=c.load_best_model_at_end, metric_for_best_model=c.metric_for_best_model,
        report_to=c.report_to, run_name=c.run_name, dataloader_num_workers=c.dataloader_num_workers,
        train_sampling_strategy=("sequential" if c.disable_shuffling else
                                 "group_by_length" if c.group_by_length else "random"),
        neftune_noise_alpha=c.neftune_noise_alpha,
        gradient_checkpointing=gradient_checkpointing,
        gradient_checkpointing_kwargs=c.gradient_checkpointing_kwargs or {"use_reentrant": False},
        deepspeed=str(deepspeed_path(c.deepspeed)) if c.deepspeed else None, **_fsdp_arguments(c), ddp_timeout=c.ddp_timeout, ddp_find_unused_parameters=c.ddp_find_unused_parameters,
        torch_compile=c.torch_compile, tf32=c.tf32, use_cpu=_use_cpu(c), remove_unused_columns=False,
        disable_tqdm=True,
    )


def _use_cpu(config: TrainConfig) -> bool:
    """The CPU when asked, and for the ranks of a launch on a machine without CUDA (gloo, not a GPU backend)."""
    return config.use_cpu or (int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available())


def _fsdp_arguments(config: TrainConfig) -> dict[str, Any]:
    """The Trainer's fsdp/fsdp_config for FSDP2 (from the config's keys or an accelerate config file)."""
    settings = fsdp_settings(config)
    if settings is None:
        return {}
    settings = {k: v for k, v in settings.items() if not k.startswith("_")}
    settings.setdefault("version", 2)
    return {"fsdp": True, "fsdp_config": settings}
