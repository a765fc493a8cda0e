"""Model-shape keys applied at load time, as LLaMA-Factory applies them: new special tokens and a resized
vocabulary (new_special_tokens, resize_vocab), RoPE scaling for a cutoff_len beyond the model's context
(rope_scaling) — and where the resized embeddings train."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..config import TrainConfig

PAD_VOCAB_TO = 64  # resized embedding rows are rounded up, as LLaMA-Factory does
RESIZED = "_lmf_vocab_resized"


def new_tokens(config: TrainConfig) -> list[str]:
    """The comma-separated new_special_tokens as a list."""
    return [t.strip() for t in (config.new_special_tokens or "").split(",") if t.strip()]


def adapter_tokenizer_folder(config: TrainConfig) -> str | None:
    """The last adapter's folder when it saved a tokenizer (a run's output_dir does: new tokens live there)."""
    paths = [p.strip() for p in (config.adapter_name_or_path or "").split(",") if p.strip()]
    if paths and (Path(paths[-1]) / "tokenizer_config.json").exists():
        return paths[-1]
    return None


def add_new_tokens(tokenizer: PreTrainedTokenizerBase, config: TrainConfig) -> int:
    """Add new_special_tokens to the tokenizer (those it lacks); the number added. The added ones are kept
    on the tokenizer (`lmf_added_tokens`): their embedding rows are initialised when a model is trained."""
    missing = [t for t in new_tokens(config) if t not in tokenizer.get_vocab()]
    tokenizer.lmf_added_tokens = missing
    return tokenizer.add_tokens(missing, special_tokens=True) if missing else 0


def resize_embeddings(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, for_training: bool) -> bool:
    """Grow the embeddings (mean-initialised rows) when the tokenizer holds more tokens than they do; for
    training, rows of tokens just added that fit in the model's padded vocabulary get the mean too."""
    import torch

    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > rows:
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=PAD_VOCAB_TO, mean_resizing=True)
        setattr(model, RESIZED, True)
        return True
    added = tokenizer.convert_tokens_to_ids(getattr(tokenizer, "lmf_added_tokens", []))
    if not (for_training and added):
        return False
    keep = torch.zeros(rows, dtype=torch.bool)
    keep[:len(tokenizer)] = True  # the rows of real tokens: not the padding zone, not the new ones
    keep[added] = False
    with torch.no_grad():
        for layer in {id(m): m for m in (model.get_input_embeddings(), model.get_output_embeddings())
                      if m is not None}.values():
            layer.weight[added] = layer.weight[keep].float().mean(0).to(layer.weight.dtype)
    setattr(model, RESIZED, True)
    return True


def trains_embeddings(model: PreTrainedModel, config: TrainConfig) -> list[str]:
    """The embedding and output layer names an adapter trains in full when the vocabulary was resized
    (LLaMA-Factory adds them to additional_target unless it is set)."""
    if config.additional_target or not (config.resize_vocab or new_tokens(config) or getattr(model, RESIZED, False)):
        return []
    wanted = {id(model.get_input_embeddings()), id(model.get_output_embeddings())}
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules() if id(module) in wanted})


def apply_rope_scaling(model_config: Any, config: TrainConfig) -> str | None:
    """Set the model config's RoPE scaling so cutoff_len fits; a note when it is not applied."""
    if not config.rope_scaling:
        return None
    params = dict(getattr(model_config, "rope_parameters", None) or getattr(model_config, "rope_scaling", None)
                  or {})
    old = params.get("original_max_position_embeddings") or getattr(model_config, "max_position_embeddings", None)
    if not old:
        return "rope_scaling: the model config names no max_position_embeddings — not applied"
    if config.cutoff_len <= old:
        return (f"rope_scaling: cutoff_len {config.cutoff_len} fits the model's context ({old}) — not applied, "
                "as in LLaMA-Factory")
    factor = float(math.ceil(config.cutoff_len / old))
    params.update(rope_type=config.rope_scaling, factor=factor)
    if config.rope_scaling in ("dynamic", "yarn", "llama3"):
        params["original_max_position_embeddings"] = old
    if config.rope_scaling == "llama3":
        params.update(low_freq_factor=1.0, high_freq_factor=4.0)
    model_config.max_position_embeddings = int(old * factor)
    if hasattr(model_config, "rope_parameters"):
        model_config.rope_parameters = params
    else:
        model_config.rope_scaling = params
    return None
