"""stage: dpo — TRL's DPOTrainer for sigmoid/ipo/hinge, ORPOTrainer for orpo, CPOTrainer (simpo) for simpo.

Our rows arrive tokenized with the project's chat template (prompt_ids/chosen_ids/rejected_ids); the
subclasses here only tell TRL to take them as they are.
"""

from __future__ import annotations

from typing import Any

from transformers import Trainer, TrainingArguments
from trl import DPOConfig, DPOTrainer
from trl.experimental.cpo import CPOConfig, CPOTrainer
from trl.experimental.orpo import ORPOConfig, ORPOTrainer

from ..config import TrainConfig
from ..data import DataBundle
from ..models import apply_method, load_model
from .common import COUNT_TOKENS, load_data, reference_model, trl_args

__all__ = ["load_data", "build_trainer"]


class PretokenizedDPOTrainer(DPOTrainer):
    """DPOTrainer on rows already holding prompt_ids/chosen_ids/rejected_ids."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        if "prompt_ids" in dataset.column_names:
            return dataset
        return super()._prepare_dataset(dataset, processing_class, args, dataset_name)


def pair_features(row: dict) -> dict:
    """The prompt/chosen/rejected ids, masks and labels that TRL's ORPO and CPO collators pad."""
    prompt = row["prompt_ids"]
    out: dict[str, Any] = {"prompt_input_ids": prompt, "prompt_attention_mask": [1] * len(prompt)}
    for key in ("chosen", "rejected"):
        ids = prompt + row[f"{key}_ids"]
        out.update({f"{key}_input_ids": ids, f"{key}_attention_mask": [1] * len(ids),
                    f"{key}_labels": [-100] * len(prompt) + row[f"{key}_ids"]})
    return out


class PretokenizedORPOTrainer(ORPOTrainer):
    """ORPOTrainer (odds-ratio loss, no reference model) on tokenized pairs."""

    def tokenize_row(self, feature, model=None):
        return pair_features(feature)


class PretokenizedCPOTrainer(CPOTrainer):
    """CPOTrainer with loss_type simpo (length-normalised margin loss, no reference model) on tokenized pairs."""

    def tokenize_row(self, feature, model=None):
        return pair_features(feature)


def dpo_loss_types(config: TrainConfig) -> tuple[list[str], list[float]]:
    """TRL loss_type list and weights: the preference loss, plus the SFT term when pref_ftx > 0.

    dpo_label_smoothing uses TRL's `robust` loss (unbiased label-noise DPO), the sigmoid loss with smoothing.
    """
    main = "robust" if config.pref_loss == "sigmoid" and config.dpo_label_smoothing else config.pref_loss
    if config.pref_ftx:
        return [main, "sft"], [1.0, config.pref_ftx]
    return [main], [1.0]


def build_trainer(config: TrainConfig, tokenizer: Any, data: DataBundle, args: TrainingArguments) -> Trainer:
    """The preference trainer for `pref_loss`, with the policy (and the reference, where the loss needs one)."""
    model = apply_method(load_model(config, for_training=True), config)
    common = dict(max_length=config.cutoff_len, beta=config.pref_beta, disable_dropout=True)
    if config.pref_loss == "orpo":
        orpo_args = trl_args(ORPOConfig, args, **common)
        return PretokenizedORPOTrainer(model=model, args=orpo_args, train_dataset=data.train,
                                       eval_dataset=data.eval, processing_class=tokenizer)
    if config.pref_loss == "simpo":
        cpo_args = trl_args(CPOConfig, args, **common, loss_type="simpo", simpo_gamma=config.simpo_gamma,
                            cpo_alpha=config.pref_ftx)
        return PretokenizedCPOTrainer(model=model, args=cpo_args, train_dataset=data.train,
                                      eval_dataset=data.eval, processing_class=tokenizer)
    loss_type, loss_weights = dpo_loss_types(config)
    dpo_args = trl_args(DPOConfig, args, **common, loss_type=loss_type, loss_weights=loss_weights,
                        label_smoothing=config.dpo_label_smoothing, include_num_input_tokens_seen=COUNT_TOKENS)
    return PretokenizedDPOTrainer(model=model, ref_model=reference_model(config), args=dpo_args,
                                  train_dataset=data.train, eval_dataset=data.eval, processing_class=tokenizer)
