"""Read the configured data sets and normalise them: the aligned rows before tokenization."""

from __future__ import annotations

import random
from typing import Any

from engine.config.errors import ConfigError, Problem
from engine.config.schema import TrainConfig

from .aligned import Unfit, align_row
from .dataset_info import DatasetAttr, resolve_datasets
from .loading import load_raw_rows
from .report import DataReport


def load_aligned_rows(config: TrainConfig, which: str = "dataset",
                      report: DataReport | None = None) -> tuple[list[dict], DataReport]:
    """Every usable row of `config.dataset` (or `eval_dataset`) in aligned form, mixed per mix_strategy."""
    report = report or DataReport(cutoff_len=config.cutoff_len)
    groups = []
    for attr in resolve_datasets(config, which):
        raw = load_raw_rows(attr, seed=config.seed, cache_dir=config.cache_dir, token=config.hf_hub_token)
        if config.max_samples is not None:
            raw = raw[:config.max_samples]
        media = [c for c in ("images", "videos", "audios") if c in attr.explicit_columns]
        if media:
            report.notes.append(f"{attr.name}: {', '.join(media)} columns ignored (lmf-tui trains on text only)")
        groups.append(align_rows(raw, attr, config.stage, report))
    return mix(groups, config), report


def align_rows(raw: list[Any], attr: DatasetAttr, stage: str, report: DataReport) -> list[dict]:
    """Aligned rows of one data set; unfit rows are counted by reason; none usable is an error."""
    rows = []
    for item in raw:
        report.count_read(attr.name)
        try:
            rows.append(align_row(item, attr, stage))
        except Unfit as exc:
            report.drop(attr.name, str(exc))
            continue
        report.keep(attr.name)
    if not rows:
        counts = report.per_dataset.get(attr.name)
        why = counts.dropped.most_common(1)[0][0] if counts and counts.dropped else "it is empty"
        raise ConfigError(Problem(("dataset",), f"'{attr.name}' has no usable rows ({len(raw)} read; {why})",
                                  "check its columns/tags/formatting in dataset_info.json"))
    return rows


def mix(groups: list[list[dict]], config: TrainConfig) -> list[dict]:
    """Concatenate the data sets, or interleave them (stopping at the first or the last exhausted)."""
    if len(groups) <= 1 or config.mix_strategy == "concat":
        return [row for group in groups for row in group]
    probs = _probs(config.interleave_probs, len(groups))
    rng = random.Random(config.seed)
    cursors = [0] * len(groups)
    exhausted = [False] * len(groups)
    out = []
    while True:
        i = rng.choices(range(len(groups)), weights=probs)[0]
        if cursors[i] == len(groups[i]):
            exhausted[i] = True
            if config.mix_strategy == "interleave_under" or all(exhausted):
                return out
            cursors[i] = 0
        out.append(groups[i][cursors[i]])
        cursors[i] += 1


def _probs(text: str | None, n: int) -> list[float]:
    if not text:
        return [1.0] * n
    try:
        probs = [float(p) for p in text.split(",")]
    except ValueError:
        probs = []
    if len(probs) != n or any(p < 0 for p in probs) or not sum(probs):
        raise ConfigError(Problem(("interleave_probs",), f"needs {n} non-negative numbers, one per data set",
                                  "e.g. interleave_probs: " + ",".join(["0.5"] * n)))
    return probs
