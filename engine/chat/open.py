"""Open a chat backend from what the user names: a config YAML, a model or adapter folder, a .gguf file, a hub id."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from ..config import ConfigError, TrainConfig, load_config, parse_config, parse_overrides
from .backend import ChatBackend


def chat_config(source: str, overrides: list[str] | None = None) -> TrainConfig:
    """The chat config for a source: a YAML file as is; a folder, .gguf or hub id as model_name_or_path."""
    path = Path(source).expanduser()
    if path.suffix in (".yaml", ".yml"):
        return load_config(path, overrides, purpose="chat")
    raw: dict = {"model_name_or_path": source}
    if path.is_dir() and (path / "adapter_config.json").exists():
        base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
        if not base:
            raise ConfigError(f"{path}: adapter_config.json names no base model — chat with a config that sets "
                              "model_name_or_path and adapter_name_or_path")
        raw = {"model_name_or_path": base, "adapter_name_or_path": str(path)}
    raw.update(parse_overrides(overrides or []))
    return parse_config(raw, purpose="chat")


def uses_llama_cpp(config: TrainConfig) -> bool:
    """llama.cpp for a GGUF model without adapters (auto), or when infer_backend says so."""
    from ..models.source import resolve_model_source

    if config.infer_backend == "llama.cpp":
        if config.adapter_name_or_path:
            raise ConfigError("infer_backend: llama.cpp cannot load adapters — export a GGUF first, "
                              "or set infer_backend: huggingface")
        if not resolve_model_source(config).is_gguf:
            raise ConfigError("infer_backend: llama.cpp needs a .gguf model — set infer_backend: huggingface")
        return True
    return (config.infer_backend == "auto" and not config.adapter_name_or_path
            and resolve_model_source(config).is_gguf and importlib.util.find_spec("llama_cpp") is not None)


def open_backend(config: TrainConfig, device: str = "auto") -> ChatBackend:
    """Load the model behind a chat config into the backend that suits it, on `device` (auto: a free GPU)."""
    if uses_llama_cpp(config):
        from ..data.chat_formats import FORMATS
        from ..data.templates import format_jinja
        from ..models.source import resolve_model_source
        from .device import llama_cpp_gpu_layers
        from .llamacpp import LlamaCppBackend

        fmt = FORMATS.get(config.template or "")
        return LlamaCppBackend(resolve_model_source(config).gguf_path, n_ctx=min(config.cutoff_len * 2, 8192),
                               jinja=format_jinja(fmt, config.default_system, config.enable_thinking) if fmt else None,
                               stop_words=list(fmt.stop_words) if fmt else None,
                               default_system=config.default_system,
                               note=f"template '{config.template}' is not one lmf-tui knows: using the GGUF's own "
                                    "chat template" if config.template and not fmt else "",
                               n_gpu_layers=llama_cpp_gpu_layers(device))
    from ..data.templates import get_template
    from ..models import load_model, load_tokenizer
    from .hf import TransformersBackend

    from .device import choose_device, local_facts

    place = choose_device(device, local_facts(), config.infer_dtype)
    if not (config.bf16 or config.fp16 or config.pure_bf16):
        config = config.model_copy(update={"infer_dtype": place.dtype})
    tokenizer = load_tokenizer(config)
    template = get_template(config, tokenizer)
    model = load_model(config, for_training=False)
    if config.quantization_bit is None and str(model.device) != place.device:
        model = model.to(place.device)
    label = config.model_name_or_path + (f" + {config.adapter_name_or_path}" if config.adapter_name_or_path else "")
    return TransformersBackend(model, tokenizer, template, label=label)
