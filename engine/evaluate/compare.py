"""Base versus tuned: both models answer the same evaluation rows; each answer and each model is scored.

The app's Predict view runs this as `python -m engine predict RUN --jsonl` and reads its JSON lines:
`rows` (prompts and labels), `answer` (one model's answer to one row, with its scores), `metrics` (one
model's means), `done`, or `error`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError, TrainConfig, parse_config, parse_overrides, read_yaml
from ..rundir import CONFIG_FILE
from ..wire import write

Emit = Callable[[dict[str, Any]], None]
RUN_ONLY_KEYS = ("output_dir", "overwrite_output_dir", "resume_from_checkpoint", "do_train", "do_eval",
                 "do_predict", "eval_strategy", "load_best_model_at_end", "compute_accuracy")


@dataclass
class Comparison:
    """What to compare: the base config, and the tuned model as an adapter or as a full model folder."""

    config: TrainConfig
    adapter: str | None
    tuned_model: str | None

    @property
    def tuned_label(self) -> str:
        return self.adapter or self.tuned_model or ""


def comparison(source: str, overrides: list[str] | None = None) -> Comparison:
    """From a run folder (its run_config.yaml and the adapter or model it saved) or a YAML that names
    adapter_name_or_path; `key=value` overrides (sampling keys, max_new_tokens, eval_dataset …) on top."""
    path = Path(source).expanduser()
    if path.is_dir():
        if not (path / CONFIG_FILE).exists():
            raise ConfigError(f"{path}: not a run folder (no {CONFIG_FILE}) — name a run folder or a YAML file")
        raw = read_yaml(path / CONFIG_FILE)
        adapter = str(path) if (path / "adapter_config.json").exists() else None
        if adapter and raw.get("create_new_adapter") and raw.get("adapter_name_or_path"):
            adapter = f"{raw['adapter_name_or_path']},{adapter}"  # the base is what the run started from
        model = str(path) if adapter is None and (path / "config.json").exists() else None
        if adapter is None and model is None:
            raise ConfigError(f"{path}: the run has saved no adapter or model yet — wait for it to finish")
    else:
        raw = read_yaml(path)
        adapter, model = raw.pop("adapter_name_or_path", None), None
        if not adapter:
            raise ConfigError(f"{path}: adapter_name_or_path is required — it is the tuned model to compare")
    for key in RUN_ONLY_KEYS:
        raw.pop(key, None)
    raw["adapter_name_or_path"] = None
    raw.update(parse_overrides(overrides or []))
    return Comparison(parse_config(raw, "chat"), adapter, model)


def pick_rows(config: TrainConfig, count: int) -> tuple[list[dict], str]:
    """Up to `count` evaluation rows (eval_dataset or val_size), else the first training rows, and which."""
    from ..data.rows import load_aligned_rows
    from .predict import eval_rows

    if config.eval_dataset or config.val_size:
        return eval_rows(config)[:count], "evaluation rows"
    if not config.dataset:
        raise ConfigError("dataset: the run names no dataset or eval_dataset — add eval_dataset=NAME")
    limited = config.model_copy(update={"max_samples": count})
    return load_aligned_rows(limited, "dataset")[0][:count], "training rows (the run has no evaluation rows)"


def run_comparison(plan: Comparison, count: int, emit: Emit) -> None:
    """Answer `count` rows with the base, then the tuned model, emitting rows, answers and metrics."""
    from ..data.pipeline import stage_template
    from ..models import load_model, load_tokenizer
    from .metrics import mean_scores, similarity
    from .predict import generate_answers, make_samples

    config = plan.config
    tokenizer = load_tokenizer(config)
    template = stage_template(config, tokenizer)
    rows, kind = pick_rows(config, count)
    samples = make_samples(rows, template, tokenizer, config.cutoff_len)
    shown = [row for row in rows if row.get("response")]
    emit({"type": "rows", "kind": kind, "base": config.model_name_or_path, "tuned": plan.tuned_label,
          "rows": [{"prompt": str(row["prompt"][-1]["content"]), "label": s.label} for row, s in zip(shown, samples)]})

    def answer(name: str, model: Any) -> None:
        scores: list[dict[str, float]] = []

        def progress(done: int, total: int, seconds: float) -> None:
            emit({"type": "progress", "model": name, "rows_done": done, "rows_total": total})

        for index, text in enumerate(generate_answers(model, tokenizer, template, config, samples, progress)):
            scores.append(similarity(text, samples[index].label))
            emit({"type": "answer", "model": name, "index": index, "text": text, "scores": scores[-1]})
        emit({"type": "metrics", "model": name, "scores": mean_scores(scores)})

    if plan.adapter:
        model = load_model(config.model_copy(update={"adapter_name_or_path": plan.adapter}), for_training=False)
        with model.disable_adapter():
            answer("base", model)
        answer("tuned", model)
    else:
        answer("base", load_model(config, for_training=False))
        answer("tuned", load_model(config.model_copy(update={"model_name_or_path": plan.tuned_model,
                                                             "gguf_file": None}), for_training=False))
    emit({"type": "done"})


def print_lines(record: dict[str, Any]) -> None:
    """One `engine.wire` record on stdout, flushed."""
    write(sys.stdout, **record)
