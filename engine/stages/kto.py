"""stage: kto — TRL's KTOTrainer on single answers tagged desirable or not (kto_tag), weighted by
kto_chosen_weight / kto_rejected_weight; the reference is the frozen base as for dpo.

As in LLaMA-Factory, each row's KL pair (its prompt with another row's answer) is built in the data, so the
KL term needs no batch neighbours and per_device_train_batch_size: 1 with gradient accumulation works.
"""

from __future__ import annotations

from typing import Any

from transformers import Trainer, TrainingArguments
from trl import KTOConfig, KTOTrainer

from ..config import TrainConfig
from ..data import DataBundle
from ..models import apply_method, load_model
from .common import load_data as load_tagged
from .common import COUNT_TOKENS, reference_model, trl_args


def load_data(config: TrainConfig, tokenizer: Any) -> DataBundle:
    """Tagged answers, shuffled once by the seed, each with its KL pair: the answer of the row before it
    (within chunks of preprocessing_batch_size rows, as LLaMA-Factory pairs within its preprocessing batches)."""
    data = load_tagged(config, tokenizer)
    data.train = with_kl_pairs(data.train.shuffle(seed=config.seed).flatten_indices(), config)
    if data.eval is not None:
        data.eval = with_kl_pairs(data.eval, config)
    return data


def with_kl_pairs(dataset: Any, config: TrainConfig) -> Any:
    """Add KL_completion_ids: each prompt with its neighbour's answer (rotated by one)."""
    def mismatched(batch: dict) -> dict:
        batch["KL_completion_ids"] = batch["completion_ids"][-1:] + batch["completion_ids"][:-1]
        return batch

    return dataset.map(mismatched, batched=True, batch_size=config.preprocessing_batch_size)


class PretokenizedKTOTrainer(KTOTrainer):
    """KTOTrainer on rows already holding prompt_ids/completion_ids/KL_completion_ids/label."""

    def __init__(self, *, args: KTOConfig, **kw: Any):
        batch = args.per_device_train_batch_size
        args.per_device_train_batch_size = max(batch, 2)  # TRL refuses batch 1: it pairs rows within a batch
        try:
            super().__init__(args=args, **kw)
        finally:
            args.per_device_train_batch_size = batch
        self._train_batch_size = args.train_batch_size

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        if "prompt_ids" not in dataset.column_names:
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)
        if not self.calculate_KL:
            return dataset.remove_columns("KL_completion_ids")
        return dataset


def build_trainer(config: TrainConfig, tokenizer: Any, data: DataBundle, args: TrainingArguments) -> Trainer:
    """KTOTrainer with the policy and (for non-LoRA training, or ref_model) a frozen reference."""
    model = apply_method(load_model(config, for_training=True), config)
    kto_args = trl_args(KTOConfig, args, max_length=config.cutoff_len, beta=config.pref_beta, disable_dropout=True,
                        desirable_weight=config.kto_chosen_weight, undesirable_weight=config.kto_rejected_weight,
                        train_sampling_strategy="sequential", include_num_input_tokens_seen=COUNT_TOKENS)
    return PretokenizedKTOTrainer(model=model, ref_model=reference_model(config), args=kto_args,
                                  train_dataset=data.train, eval_dataset=data.eval, processing_class=tokenizer)
