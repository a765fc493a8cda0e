"""stage: rm — a reward model (the base with a one-output score head) trained by TRL's RewardTrainer
on preference pairs with the pairwise loss -log σ(r_chosen − r_rejected); it logs accuracy and margin.

The saved run folder is a full model or a LoRA adapter whose score head is saved with it; `load_reward_model`
loads either, and `score` rates texts with it (PPO and GRPO use both).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, PreTrainedModel, Trainer, TrainingArguments
from trl import RewardConfig, RewardTrainer

from ..config import ConfigError, TrainConfig
from ..config.resolve import attn_implementation
from ..data import DataBundle
from ..models import apply_method
from ..models.loader import compute_dtype, model_folder, quantization_config
from .common import COUNT_TOKENS, trl_args
from .common import load_data as load_pairs

SCORE_HEAD = "score"  # the head AutoModelForSequenceClassification gives Llama, Qwen, Gemma, Mistral, Phi


def load_data(config: TrainConfig, tokenizer: Any) -> DataBundle:
    """Pairs as whole sequences: prompt+chosen and prompt+rejected token ids."""
    data = load_pairs(config, tokenizer)

    def whole(row: dict) -> dict:
        return {"chosen_ids": row["prompt_ids"] + row["chosen_ids"],
                "rejected_ids": row["prompt_ids"] + row["rejected_ids"]}

    def convert(dataset: Any) -> Any:
        return dataset.map(whole, remove_columns=["prompt_ids"]) if dataset is not None else None

    return DataBundle(train=convert(data.train), eval=convert(data.eval), report=data.report, template=data.template)


def load_score_model(config: TrainConfig, path: str | None = None) -> PreTrainedModel:
    """The base (or `path`) as a sequence classifier with one output, its pad token set for scoring."""
    kwargs: dict[str, Any] = dict(num_labels=1, dtype=compute_dtype(config),
                                  attn_implementation=attn_implementation(config),
                                  trust_remote_code=config.trust_remote_code, cache_dir=config.cache_dir,
                                  token=config.hf_hub_token)
    if path is None and (quant := quantization_config(config)) is not None:
        kwargs["quantization_config"] = quant
    source = path or model_folder(config)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load {source} as a reward model ({str(exc).splitlines()[0]}) — "
                          "check reward_model / model_name_or_path") from None
    if model.config.pad_token_id is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(source if path else model_folder(config))
        model.config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
            else tokenizer.eos_token_id
    return model


def build_trainer(config: TrainConfig, tokenizer: Any, data: DataBundle, args: TrainingArguments) -> Trainer:
    """RewardTrainer on the score model; LoRA trains the adapter and the score head (saved with the adapter)."""
    model = load_score_model(config)
    model.config.pad_token_id = tokenizer.pad_token_id
    model = _trainable_scorer(model, config)
    rm_args = trl_args(RewardConfig, args, max_length=config.cutoff_len, disable_dropout=True,
                       include_num_input_tokens_seen=COUNT_TOKENS)
    return RewardTrainer(model=model, args=rm_args, train_dataset=data.train, eval_dataset=data.eval,
                         processing_class=tokenizer)


def _trainable_scorer(model: PreTrainedModel, config: TrainConfig) -> PreTrainedModel:
    """The method applied with the score head trained too (for a new LoRA/OFT adapter: a SEQ_CLS adapter,
    which trains and saves the head; otherwise the head is unfrozen beside the method's weights)."""
    if config.finetuning_type in ("lora", "oft") and not config.adapter_name_or_path and not config.use_unsloth:
        return apply_method(model, config, task_type="SEQ_CLS")
    freeze_extra = ",".join(filter(None, [config.freeze_extra_modules, SCORE_HEAD]))
    return apply_method(model, config.model_copy(update={"freeze_extra_modules": freeze_extra}))


def load_reward_model(config: TrainConfig) -> PreTrainedModel:
    """The reward model of `config.reward_model`: a full model folder, or a LoRA adapter on the base."""
    path = config.reward_model or ""
    if not Path(path).is_dir():
        raise ConfigError(f"reward_model: no folder at {path} — point it at the output_dir of a stage: rm run")
    if config.reward_model_type == "lora" or (Path(path) / "adapter_config.json").exists():
        from peft import PeftModel

        model = PeftModel.from_pretrained(load_score_model(config), path)
    else:
        model = load_score_model(config, path)
    model.requires_grad_(False)
    return model.eval()


@torch.no_grad()
def score(model: PreTrainedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """One reward per sequence (right-padded batch), read at its last real token."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    return logits[:, 0].float()


def score_texts(model: PreTrainedModel, tokenizer: Any, texts: list[str]) -> list[float]:
    """Rewards of whole texts (prompt and answer as rendered by the chat template)."""
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    return score(model, batch["input_ids"], batch["attention_mask"]).tolist()
