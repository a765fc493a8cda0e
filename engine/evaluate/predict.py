"""do_predict and generated evaluation: answer each evaluation row, score it, write LLaMA-Factory's files.

Files in the run folder: `generated_predictions.jsonl` (prompt, predict, label a line) and
`predict_results.json` (predict_bleu-4, predict_rouge-1/2/l, runtime), merged into `all_results.json`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError, Problem, TrainConfig, atomic_write_text
from ..data.aligned import Unfit
from ..data.templates import Template
from .generate import generate_batches, generation_kwargs
from .metrics import mean_scores, similarity

PREDICTIONS_FILE = "generated_predictions.jsonl"
Progress = Callable[[int, int, float], None]  # rows done, rows total, seconds elapsed


@dataclass
class Sample:
    """One evaluation row ready to generate from: the prompt's ids (the template's generation prompt last),
    the prompt as text with its special tokens, and the reference answer."""

    prompt_ids: list[int]
    prompt: str
    label: str


def eval_rows(config: TrainConfig) -> list[dict]:
    """The aligned evaluation rows: eval_dataset, or the val_size share of dataset held out by the same seeded
    split training makes (the same rows unless tokenizing drops some)."""
    from ..data.pipeline import split_validation
    from ..data.rows import load_aligned_rows

    if config.eval_dataset:
        return load_aligned_rows(config, "eval_dataset")[0]
    if not config.dataset:
        raise ConfigError(Problem(("val_size", "dataset"), "val_size holds out rows of dataset, which is empty",
                                  "name a dataset, or an eval_dataset"))
    return split_validation(load_aligned_rows(config, "dataset")[0], config.val_size, config.seed)[1]


def make_samples(rows: list[dict], template: Template, tokenizer: Any, cutoff_len: int) -> list[Sample]:
    """Prompt ids (the conversation up to the last answer, cut from the left to cutoff_len) and the label of
    each row; rows with no answer to compare against are left out."""
    samples = []
    for row in rows:
        if not row.get("response"):
            continue
        try:
            ids, _ = template.encode_oneturn(tokenizer, row["prompt"] + row["response"][:1], row.get("system", ""),
                                             row.get("tools", ""))  # LLaMA-Factory's prompt for generation
        except Unfit:
            continue
        ids = ids[-cutoff_len:]
        samples.append(Sample(ids, tokenizer.decode(ids, skip_special_tokens=False),
                              str(row["response"][0]["content"])))
    if not samples:
        raise ConfigError(Problem(("eval_dataset",), "no evaluation row has an answer to compare against",
                                  "check the eval rows' columns in dataset_info.json"))
    return samples


def generate_answers(model: Any, tokenizer: Any, template: Template, config: TrainConfig, samples: list[Sample],
                     progress: Progress | None = None) -> list[str]:
    """Every sample's generated answer, per_device_eval_batch_size prompts at a time; seeded by `seed`."""
    from transformers import set_seed

    set_seed(config.seed)
    kwargs = generation_kwargs(config, tokenizer, template)
    answers: list[str] = []
    t0 = time.monotonic()
    for batch in generate_batches(model, tokenizer, [s.prompt_ids for s in samples], kwargs,
                                  config.per_device_eval_batch_size, config.skip_special_tokens):
        answers += batch
        if progress:
            progress(len(answers), len(samples), time.monotonic() - t0)
    return answers


def score(samples: list[Sample], answers: list[str], split: str, seconds: float,
          batch_size: int) -> dict[str, float]:
    """`{split}_bleu-4`, `{split}_rouge-1/2/l` (means over rows) and the runtime keys the Trainer writes."""
    scores = mean_scores(similarity(answer, sample.label) for sample, answer in zip(samples, answers))
    seconds = max(seconds, 1e-9)
    steps = -(-len(samples) // batch_size)
    return {**{f"{split}_{k}": round(v, 4) for k, v in scores.items()}, f"{split}_runtime": round(seconds, 4),
            f"{split}_samples_per_second": round(len(samples) / seconds, 3),
            f"{split}_steps_per_second": round(steps / seconds, 3)}


def write_predictions(run_dir: Path, samples: list[Sample], answers: list[str]) -> Path:
    """generated_predictions.jsonl: {"prompt", "predict", "label"} a line, as LLaMA-Factory writes it."""
    lines = [json.dumps({"prompt": s.prompt, "predict": a, "label": s.label}, ensure_ascii=False) + "\n"
             for s, a in zip(samples, answers)]
    return atomic_write_text(Path(run_dir) / PREDICTIONS_FILE, "".join(lines))


def save_results(run_dir: Path, split: str, metrics: dict[str, Any]) -> None:
    """`{split}_results.json`, merged into `all_results.json` (the Trainer's save_metrics layout)."""
    run_dir = Path(run_dir)
    atomic_write_text(run_dir / f"{split}_results.json", json.dumps(metrics, indent=4, sort_keys=True))
    combined = run_dir / "all_results.json"
    merged = json.loads(combined.read_text(encoding="utf-8")) if combined.exists() else {}
    atomic_write_text(combined, json.dumps({**merged, **metrics}, indent=4, sort_keys=True))
