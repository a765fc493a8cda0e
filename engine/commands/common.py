"""Helpers shared by the sub-commands: one-line errors and the dry-run plan (torch-free)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.config import ConfigError, TrainConfig, check_config
from engine.config.relevance import optimizer_summary


def fail(message: str, code: int = 2) -> int:
    """Print a one-line error on the user's stderr (even while library output is quieted); the exit code."""
    from engine.quiet import say

    say(f"error: {message}")
    return code


def print_plan(config: TrainConfig) -> int:
    """Validate a training config, resolve its auto values for this machine and print what would run,
    loading no weights."""
    if problems := check_config(config, "train"):
        raise ConfigError(problems)
    from engine.config.resolve import (Hardware, attention_layout, loss_summary, precision_name, recompute_summary,
                                       resolve)

    hardware = Hardware.detect()
    config = resolve(config, hardware)
    from engine.data.dataset_info import resolve_datasets
    from engine.models.source import resolve_model_source

    from engine.data.templates import template_summary
    from engine.models.llama_pro import check_llama_pro

    check_llama_pro(config)
    source = resolve_model_source(config)
    datasets = resolve_datasets(config)
    eval_sets = resolve_datasets(config, "eval_dataset") if config.eval_dataset else []
    shape = _model_summary(config)
    model_type = _model_type(config)
    lines = [
        f"stage           {config.stage} ({config.finetuning_type})",
        f"model           {config.model_name_or_path}" + (f"  [gguf: {source.gguf_file}]" if source.is_gguf else ""),
        f"model shape     {shape}",
        "datasets        " + ", ".join(f"{d.name} ({d.formatting}{', ranking' if d.is_ranking else ''}: {d.source})"
                                       for d in datasets),
        f"eval            {', '.join(d.name for d in eval_sets) or (f'val_size={config.val_size}' if config.val_size else 'none')}",
        f"batch           {config.per_device_train_batch_size} x {config.gradient_accumulation_steps} accumulation, "
        f"cutoff_len {config.cutoff_len}, packing {'neat' if config.neat_packing else config.packing}",
        f"schedule        lr {config.learning_rate:g} {config.lr_scheduler_type}, "
        + (f"max_steps {config.max_steps}" if config.max_steps > 0 else f"{config.num_train_epochs:g} epochs"),
        f"template        {template_summary(config.template)}",
        f"attention       {attention_layout(config)}",
        f"loss            {loss_summary(config, model_type, hardware.cuda)}",
        f"recompute       {recompute_summary(config, model_type, hardware.cuda)}",
        f"resolved        flash_attn {config.flash_attn}, padding_free {config.padding_free}, precision "
        f"{precision_name(config)}, gradient checkpointing {not config.disable_gradient_checkpointing}"
        + (f", lora_alpha {config.lora_alpha}" if config.finetuning_type == "lora" else ""),
        f"output_dir      {Path(config.output_dir).resolve()}",
    ]
    if config.do_train:
        lines.insert(7, f"optimizer       {optimizer_summary(config.model_dump())}")
    if not config.do_train:  # nothing trains: what is evaluated and how answers are generated instead
        lines[5:7] = [f"no training     {_after_training(config)} with "
                      + (f"adapter {config.adapter_name_or_path}" if config.adapter_name_or_path else "the base model")]
    elif config.do_eval or config.do_predict:
        lines.insert(-1, f"then            {_after_training(config)}")
    print("\n".join(lines))
    return 0


def _after_training(config: TrainConfig) -> str:
    """`eval (loss, accuracy) + predict (…)`: what do_eval and do_predict will do."""
    sampling = (f"sampling t={config.temperature:g} top_p={config.top_p:g} top_k={config.top_k}"
                if config.do_sample and config.temperature > 0 else "greedy")
    generate = f"generated answers, max_new_tokens {config.max_new_tokens}, {sampling}, " \
               f"batch {config.per_device_eval_batch_size}"
    parts = []
    if config.do_eval:
        parts.append(f"eval ({generate})" if config.predict_with_generate else
                     "eval (loss" + (", token accuracy)" if config.compute_accuracy else ")"))
    if config.do_predict:
        parts.append(f"predict ({generate} -> generated_predictions.jsonl, BLEU-4/ROUGE)")
    return " + ".join(parts)


def _model_type(config: TrainConfig) -> str:
    """The model's type from its config.json or GGUF metadata; empty when it cannot be read before the run."""
    try:
        from engine.sizing import read_model_shape

        return read_model_shape(config.model_name_or_path, config.gguf_file).model_type
    except Exception:  # the plan prints without it (the run reads the model itself)
        return ""


def _model_summary(config: TrainConfig) -> str:
    """Architecture and size from config.json or GGUF metadata, when the sizing reader is available."""
    try:
        from engine.sizing import read_model_shape
    except ImportError:
        return _config_json_summary(config)
    try:
        shape = read_model_shape(config.model_name_or_path, config.gguf_file)
    except ConfigError:
        name = str(config.model_name_or_path)
        if name.startswith("embedded:") or config.gguf_file or Path(name).expanduser().exists():
            raise
        # a hub id whose config.json is neither cached nor reachable: the plan needs no weights, the run fetches it
        return "unknown (hub model: config.json not cached and the hub unreachable; the run downloads it)"
    except Exception as exc:  # the plan still prints without the shape
        return f"unknown ({type(exc).__name__})"
    return str(shape)


def _config_json_summary(config: TrainConfig) -> str:
    path = Path(config.model_name_or_path or "") / "config.json"
    if not path.exists():
        return "unknown"
    data = json.loads(path.read_text())
    return f"{data.get('model_type', '?')}, hidden {data.get('hidden_size')}, layers {data.get('num_hidden_layers')}"
