"""Merge adapters into the base and save a Hugging Face folder (safetensors shards, tokenizer, chat template)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoConfig, PreTrainedModel, PreTrainedTokenizerBase

from ..config import TrainConfig
from ..data.templates import Template, get_template
from ..models import load_model, load_tokenizer, model_folder, unmark_quantized

WEIGHT_PATTERNS = ("model*.safetensors", "model.safetensors.index.json", "pytorch_model*.bin",
                   "pytorch_model.bin.index.json")


def export_config(config: TrainConfig) -> TrainConfig:
    """The config the merge loads with: a QLoRA base in 16 bits, in the base's own dtype when auto."""
    update: dict = {"quantization_bit": None}
    if config.infer_dtype == "auto" and not (config.bf16 or config.fp16 or config.pure_bf16):
        base = AutoConfig.from_pretrained(model_folder(config), trust_remote_code=config.trust_remote_code)
        dtype = str(getattr(base, "dtype", None)).removeprefix("torch.")
        if dtype in ("float16", "bfloat16", "float32"):
            update["infer_dtype"] = dtype
    return config.model_copy(update=update)


def load_merged(config: TrainConfig) -> tuple[PreTrainedModel, PreTrainedTokenizerBase, Template]:
    """The base with every adapter merged in (merge_and_unload), its tokenizer and chat template."""
    config = export_config(config)
    tokenizer = load_tokenizer(config)
    template = get_template(config, tokenizer)
    model = load_model(config, for_training=False)
    if config.export_device == "auto" and torch.cuda.is_available():
        model = model.to("cuda")
    if isinstance(model, PeftModel):
        model = model.merge_and_unload()
    unmark_quantized(model)
    stop_ids = [tokenizer.convert_tokens_to_ids(w) for w in template.stop_words if w in tokenizer.get_vocab()]
    if stop_ids:
        model.generation_config.eos_token_id = list(dict.fromkeys(stop_ids))
    return model, tokenizer, template


def save_merged(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, template: Template,
                export_dir: Path, shard_gb: int) -> list[Path]:
    """Save into export_dir through a temp folder beside it; old weight files are replaced, never half-written."""
    export_dir.mkdir(parents=True, exist_ok=True)
    remove_scratch(export_dir)
    tokenizer.chat_template = template.jinja
    tmp = Path(tempfile.mkdtemp(prefix=".merge-", dir=export_dir))
    try:
        model.save_pretrained(tmp, max_shard_size=f"{shard_gb}GB")
        tokenizer.save_pretrained(tmp)
        new = sorted(tmp.iterdir(), key=lambda p: p.name in ("config.json", "model.safetensors.index.json"))
        stale = {old for pattern in WEIGHT_PATTERNS for old in export_dir.glob(pattern)} - {
            export_dir / p.name for p in new}
        written = []
        for path in new:  # each rename is atomic; the files that tie the shards together go last
            os.replace(path, export_dir / path.name)
            written.append(export_dir / path.name)
        for old in stale:
            old.unlink()
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_scratch(export_dir: Path) -> None:
    """Delete what a killed export left behind: its temp folder and half-written GGUF files."""
    for path in export_dir.glob(".merge-*"):
        shutil.rmtree(path, ignore_errors=True)
    for pattern in (".*.gguf.part", ".*.scratch.gguf"):
        for path in export_dir.glob(pattern):
            path.unlink(missing_ok=True)
