"""LLaMA Pro block expansion: after every k-th decoder block, a copy of it whose output projections (o_proj,
down_proj) are zero, so the expanded model computes exactly what the original did; `use_llama_pro` then trains
only the added blocks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import ConfigError, TrainConfig

if TYPE_CHECKING:  # torch-free at import, so the dry run can check the block count
    from torch import nn
    from transformers import PreTrainedModel

ZEROED = ("o_proj", "down_proj")


def added_layer_ids(num_layers: int, num_expand: int) -> list[int]:
    """Indices of the added blocks in an expanded model of `num_layers` blocks (every (num_layers/num_expand)-th,
    ending with the last), as LLaMA-Factory picks them."""
    if num_expand <= 0 or num_layers % num_expand:
        raise ConfigError(f"freeze_trainable_layers: {num_layers} layers do not split into {num_expand} expanded "
                          f"blocks — use a divisor of {num_layers} (the num_expand given to `lmf-tui expand`)")
    stride = num_layers // num_expand
    return list(range(stride - 1, num_layers, stride))


def check_llama_pro(config: TrainConfig) -> None:
    """Before any weight loads: the model's block count splits into freeze_trainable_layers added blocks."""
    if not config.use_llama_pro:
        return
    from ..sizing import read_model_shape

    try:
        layers = read_model_shape(config.model_name_or_path, config.gguf_file).num_layers
    except ConfigError:
        return  # the loader reports an unreadable model in its own words
    added_layer_ids(layers, config.freeze_trainable_layers)


def decoder_layers(model: PreTrainedModel) -> nn.ModuleList:
    """The model's list of decoder blocks."""
    from torch import nn

    base = model.get_decoder() if hasattr(model, "get_decoder") else model.model
    layers = getattr(base, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise ConfigError(f"{type(model).__name__} has no `layers` list of decoder blocks to expand — "
                          "LLaMA Pro supports Llama-style models (Llama, Mistral, Qwen, SmolLM …)")
    return layers


def expand_blocks(model: PreTrainedModel, num_expand: int) -> PreTrainedModel:
    """Insert `num_expand` copied blocks with zeroed output projections, in place; returns the model."""
    from torch import nn

    layers = decoder_layers(model)
    count = len(layers)
    if num_expand <= 0 or count % num_expand:
        raise ConfigError(f"num_expand: {count} layers do not split into {num_expand} groups — "
                          f"use a divisor of {count}")
    split = count // num_expand
    kinds = list(getattr(model.config, "layer_types", None) or [])
    blocks: list[nn.Module] = []
    new_kinds: list[str] = []
    for i, block in enumerate(layers):
        blocks.append(block)
        new_kinds += kinds[i:i + 1]
        if (i + 1) % split == 0:
            added = copy.deepcopy(block)
            for name, param in added.named_parameters():
                if any(part in name for part in ZEROED):
                    nn.init.zeros_(param)
            blocks.append(added)
            new_kinds += kinds[i:i + 1]
    for index, block in enumerate(blocks):
        for module in block.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = index
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model.model
    decoder.layers = nn.ModuleList(blocks)
    model.config.num_hidden_layers = len(blocks)
    if kinds:
        model.config.layer_types = new_kinds
    return model


def write_expanded(model_name_or_path: str, output_dir: str | Path, num_expand: int,
                   shard_size: str = "5GB") -> Path:
    """Load a model, expand it and save it with its tokenizer (safetensors) into a new folder, as
    LLaMA-Factory's llama_pro script does; the folder appears whole or not at all."""
    import os
    import shutil
    import tempfile

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .loader import model_folder

    out = Path(output_dir)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"output: {out} is not empty — choose a new folder")
    folder = model_folder(TrainConfig(model_name_or_path=model_name_or_path))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype="auto")
    expand_blocks(model, num_expand)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp, max_shard_size=shard_size)
        AutoTokenizer.from_pretrained(folder).save_pretrained(tmp)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
