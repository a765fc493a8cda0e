"""Load tokenizers and models: hub ids, local folders and GGUF files, with dtype, attention and 4/8-bit."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..config import ConfigError, TrainConfig
from ..config.resolve import SEGMENT_SDPA, attn_implementation
from ..rundir import cache_home
from .source import ModelSource, resolve_model_source

log = logging.getLogger(__name__)


def compute_dtype(config: TrainConfig) -> torch.dtype:
    """bf16/fp16 when asked (or auto on a GPU that has it), fp32 on the CPU."""
    if config.bf16 or config.pure_bf16:
        return torch.bfloat16
    if config.fp16:
        return torch.float16
    if config.infer_dtype != "auto":
        return getattr(torch, config.infer_dtype)
    return torch.float32


def materialize_gguf(source: ModelSource) -> Path:
    """Dequantize a GGUF once into a cached Hugging Face folder (safetensors + tokenizer) and return it."""
    gguf = source.gguf_path
    assert gguf is not None
    stat = gguf.stat()
    key = hashlib.sha1(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_home() / "gguf" / f"{gguf.stem}-{key}"
    if (target / "config.json").exists():
        return target
    log.info("Dequantizing %s into %s (once)", gguf.name, target)
    tokenizer = AutoTokenizer.from_pretrained(source.path, gguf_file=source.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(source.path, gguf_file=source.gguf_file, dtype=torch.float32)
    unmark_quantized(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.replace(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "config.json").exists():
            raise
    return target


def unmark_quantized(model: PreTrainedModel) -> None:
    """A GGUF-loaded model is dequantized already; drop the marks that make Trainer and saving refuse it."""
    model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        try:
            model.is_quantized = False
        except AttributeError:
            pass
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    for attr in ("is_loaded_in_4bit", "is_loaded_in_8bit"):
        if getattr(model, attr, False):
            setattr(model, attr, False)


def model_folder(config: TrainConfig) -> str:
    """The folder or hub id that from_pretrained should read (GGUF files are materialized first)."""
    source = resolve_model_source(config)
    return str(materialize_gguf(source)) if source.is_gguf else source.path


def load_tokenizer(config: TrainConfig) -> PreTrainedTokenizerBase:
    """The model's tokenizer, with a pad token (eos when it has none) and right padding for training."""
    from .vocab import adapter_tokenizer_folder, add_new_tokens

    folder = adapter_tokenizer_folder(config) or model_folder(config)
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            folder, revision=config.model_revision, cache_dir=config.cache_dir, token=config.hf_hub_token,
            trust_remote_code=config.trust_remote_code)
    except OSError as exc:
        raise ConfigError(f"model_name_or_path: cannot load a tokenizer from {folder} ({_first_line(exc)}) — "
                          "check the id or path, and the network for hub models") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    add_new_tokens(tokenizer, config)
    return tokenizer


def quantization_config(config: TrainConfig):
    """A bitsandbytes config for quantization_bit, or None."""
    if not config.quantization_bit:
        return None
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ConfigError("quantization_bit: QLoRA needs bitsandbytes — run `pip install 'lmf-tui[qlora]'`, "
                          "or remove quantization_bit")
    from transformers import BitsAndBytesConfig

    if config.quantization_bit == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    from ..distributed.strategy import strategy_of

    # FSDP2 and ZeRO-3 shard tensors of one dtype: the 4-bit codes are stored in the compute dtype then
    storage = {"bnb_4bit_quant_storage": compute_dtype(config)} if strategy_of(config).shards_params else {}
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=config.quantization_type,
        bnb_4bit_use_double_quant=config.double_quantization, bnb_4bit_compute_dtype=compute_dtype(config),
        **storage)


def load_model(config: TrainConfig, for_training: bool) -> PreTrainedModel:
    """The base model (quantized when asked); for inference, with adapter_name_or_path applied."""
    folder = model_folder(config)
    if config.use_unsloth and for_training:
        from .unsloth import load_with_unsloth, require_unsloth

        require_unsloth(config)
        return load_with_unsloth(config, folder, compute_dtype(config))
    attention = attn_implementation(config)
    if attention == SEGMENT_SDPA:
        from . import segment_attention

        segment_attention.register()
    kwargs = dict(
        revision=config.model_revision, cache_dir=config.cache_dir, token=config.hf_hub_token,
        trust_remote_code=config.trust_remote_code, dtype=compute_dtype(config), attn_implementation=attention,
    )
    if (quant := quantization_config(config)) is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": _local_device()}
    try:
        model = _from_folder(folder, config, kwargs, for_training)
    except OSError as exc:
        raise ConfigError(f"model_name_or_path: cannot load {folder} ({_first_line(exc)}) — "
                          "check the id or path, and the network for hub models") from None
    from .vocab import resize_embeddings

    resize_embeddings(model, load_tokenizer(config), for_training)
    if for_training:
        from .liger import apply_liger

        apply_liger(model, config)
    if not for_training:
        from .adapters import load_adapters_for_inference

        model = load_adapters_for_inference(model, config)
        model.eval()
    return model


def _from_folder(folder: str, config: TrainConfig, kwargs: dict[str, Any], for_training: bool) -> PreTrainedModel:
    """from_pretrained, with RoPE scaling in the model config; random weights for train_from_scratch."""
    if not (config.rope_scaling or (config.train_from_scratch and for_training)):
        return AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    from transformers import AutoConfig

    from .vocab import apply_rope_scaling

    model_config = AutoConfig.from_pretrained(folder, revision=config.model_revision, cache_dir=config.cache_dir,
                                              token=config.hf_hub_token, trust_remote_code=config.trust_remote_code)
    apply_rope_scaling(model_config, config)
    if config.train_from_scratch and for_training:
        return AutoModelForCausalLM.from_config(model_config, dtype=kwargs["dtype"],
                                                attn_implementation=kwargs["attn_implementation"],
                                                trust_remote_code=config.trust_remote_code)
    return AutoModelForCausalLM.from_pretrained(folder, config=model_config, **kwargs)


def _local_device() -> str | int:
    from .choices import quantized_device_map

    return quantized_device_map(torch.cuda.is_available(), int(os.environ.get("LOCAL_RANK", "0")))[""]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
