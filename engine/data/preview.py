"""What `lmf-tui data` shows: the data report and a few rows tokenized as training tokenizes them."""

from __future__ import annotations

from typing import Any

from ..config import ConfigError, Problem, TrainConfig
from . import IGNORE_INDEX


def inspect_data(config: TrainConfig, rows: int) -> dict[str, Any]:
    """The data report and `rows` samples split into trained and untrained text segments."""
    for key in ("model_name_or_path", "dataset"):
        if not getattr(config, key):
            raise ConfigError(Problem((key,), "is required", "set it in the config or as key=value"))
    from ..models import load_tokenizer
    from .pipeline import build_datasets, encode_row, stage_template
    from .rows import load_aligned_rows

    tokenizer = load_tokenizer(config)
    config = config.model_copy(update={"tokenized_path": None, "streaming": False})  # a preview reads afresh
    if config.stage in ("pt", "sft"):
        bundle = build_datasets(config, tokenizer)
        report, template = bundle.report, bundle.template
    else:  # preference stages: normalised rows; samples show the chosen answer
        template = stage_template(config, tokenizer)
        report = load_aligned_rows(config)[1]
    head = load_aligned_rows(config.model_copy(update={"max_samples": rows or 1}))[0][:rows]
    samples = []
    for row in head:
        try:
            example, truncated = encode_row(row, config, tokenizer, template)
        except Exception as exc:  # noqa: BLE001 - a sample that cannot be shown says why
            samples.append({"dataset": row.get("dataset"), "error": str(exc), "segments": []})
            continue
        samples.append({"dataset": row.get("dataset"), "length": len(example["input_ids"]),
                        "trained_tokens": sum(label != IGNORE_INDEX for label in example["labels"]),
                        "truncated": truncated, "segments": segments(tokenizer, example)})
    return {"report": report.to_dict(), "template": template.name, "stop_words": template.stop_words,
            "samples": samples}


def segments(tokenizer: Any, example: dict) -> list[dict[str, Any]]:
    """The example's text in runs of trained / untrained tokens."""
    out: list[dict[str, Any]] = []
    run: list[int] = []
    state = None
    for token, label in zip(example["input_ids"], example["labels"], strict=True):
        trained = label != IGNORE_INDEX
        if state is not None and trained != state:
            out.append({"text": tokenizer.decode(run), "trained": state})
            run = []
        run.append(token)
        state = trained
    if run:
        out.append({"text": tokenizer.decode(run), "trained": state})
    return out
