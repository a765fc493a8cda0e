"""`build_datasets`: the configured data sets read, normalised, tokenized, split, packed, reported."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import resolve
from engine.config.errors import ConfigError, Problem
from engine.config.io import atomic_write_text
from engine.config.schema import TrainConfig

from . import IGNORE_INDEX
from .aligned import Unfit, align_row
from .batching import length_grouped_order, padding_share, random_order
from .dataset_info import resolve_datasets
from .encode import cut_text, encode_supervised, encode_text
from .loading import iter_raw_rows
from .packing import pack_examples, pack_texts
from .report import DataReport
from .rows import load_aligned_rows
from .templates import Template, get_template, named_template


@dataclass
class DataBundle:
    """Tokenized training (and evaluation) rows, what happened on the way, and the chat template used."""

    train: Any  # datasets.Dataset, or datasets.IterableDataset when streaming
    eval: Any | None
    report: DataReport
    template: Template


def build_datasets(config: TrainConfig, tokenizer: Any) -> DataBundle:
    """Read, normalise and tokenize `config.dataset` (and eval_dataset / val_size) for pt or sft."""
    if config.stage not in ("pt", "sft"):
        raise ConfigError(Problem(("stage",), f"build_datasets tokenizes pt and sft data, not {config.stage}",
                                  "use load_aligned_rows for preference stages"))
    template = stage_template(config, tokenizer)
    if config.streaming:
        return _streaming_bundle(config, tokenizer, template)
    cached = _load_cached(config, template)
    if cached is not None:
        return cached
    train, eval_examples, report = encode_splits(
        config, lambda rows, report: tokenize_rows(rows, config, tokenizer, template, report))
    if resolve.packing(config):
        train = pack(train, config)
        report.packed_rows = len(train)
        eval_examples = pack(eval_examples, config) if eval_examples else eval_examples
    lengths = [len(e["input_ids"]) for e in train]
    order = length_grouped_order(lengths, config.per_device_train_batch_size, config.seed) \
        if config.group_by_length else random_order(len(lengths), config.seed)
    report.padding_share = padding_share(lengths, config.per_device_train_batch_size, order)
    if not config.group_by_length and report.padding_share > 0.2:
        grouped = padding_share(lengths, config.per_device_train_batch_size,
                                length_grouped_order(lengths, config.per_device_train_batch_size, config.seed))
        report.notes.append(f"{report.padding_share:.0%} of each batch is padding; group_by_length: true "
                            f"would make it {grouped:.0%}")
    _warn_tokens(template, tokenizer, report)
    bundle = DataBundle(train=_to_dataset(train), eval=_to_dataset(eval_examples) if eval_examples else None,
                        report=report, template=template)
    _save_cached(config, bundle)
    return bundle


def stage_template(config: TrainConfig, tokenizer: Any) -> Template:
    """The chat template; pretraining without any falls back to the plain `empty` layout."""
    if config.stage == "pt" and not config.template and not tokenizer.chat_template:
        return named_template("empty", tokenizer, config)
    return get_template(config, tokenizer)


def tokenize_rows(rows: list[dict], config: TrainConfig, tokenizer: Any, template: Template,
                  report: DataReport) -> list[dict]:
    """Token ids and labels of each aligned row; unfit rows move from kept to dropped in the report."""
    examples = []
    for row, (example, truncated, unfit) in zip(rows, _encode_all(rows, config, tokenizer, template), strict=True):
        if unfit:
            report.unkeep(row["dataset"], unfit)
            continue
        _record(report, example, truncated)
        examples.append(example)
    if not examples:
        raise ConfigError(Problem(("dataset",), "no row is usable after tokenizing "
                                  f"({', '.join(report.dropped) or 'nothing read'})", "check cutoff_len and the data"))
    return examples


_WORK: tuple = ()  # (config, tokenizer, template) for forked tokenizing workers


def _encode_all(rows: list[dict], config: TrainConfig, tokenizer: Any,
                template: Template) -> Iterator[tuple[dict | None, bool, str]]:
    """(example, truncated, unfit reason) per row, in row order; forked workers when configured."""
    global _WORK
    workers = min(config.preprocessing_num_workers or 1, os.cpu_count() or 1)
    if workers < 2 or len(rows) < 2 * config.preprocessing_batch_size or "fork" not in mp.get_all_start_methods():
        yield from map(_encode_safely, [(row, config, tokenizer, template) for row in rows])
        return
    _WORK = (config, tokenizer, template)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # forked tokenizers must not use their own threads
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(_encode_in_worker, rows, chunksize=config.preprocessing_batch_size)
    finally:
        _WORK = ()


def _encode_in_worker(row: dict) -> tuple[dict | None, bool, str]:
    return _encode_safely((row, *_WORK))


def _encode_safely(args: tuple) -> tuple[dict | None, bool, str]:
    try:
        return (*encode_row(*args), "")
    except Unfit as exc:
        return None, False, str(exc)


def _record(report: DataReport, example: dict, truncated: bool) -> None:
    report.truncated += truncated
    report.lengths.append(len(example["input_ids"]))
    report.tokens += sum(label != IGNORE_INDEX for label in example["labels"][1:])
    report.tokens_seen += len(example["input_ids"])


def encode_row(row: dict, config: TrainConfig, tokenizer: Any, template: Template) -> tuple[dict, bool]:
    """One aligned row as input_ids/attention_mask/labels, and whether it was cut to cutoff_len."""
    if config.stage == "pt":
        example = encode_text(row["text"], tokenizer)
        return (example, False) if resolve.packing(config) else cut_text(example, config.cutoff_len)
    return encode_supervised(row, template, tokenizer, config.cutoff_len, config.train_on_prompt,
                             config.mask_history)


def split_validation(examples: list[dict], val_size: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Hold out a seeded random share (val_size < 1) or count (val_size >= 1) of the examples."""
    count = int(val_size) if val_size >= 1 else max(1, round(val_size * len(examples)))
    if count >= len(examples):
        raise ConfigError(Problem(("val_size",), f"holds out {count} of {len(examples)} rows, leaving none to train",
                                  "lower val_size"))
    order = random_order(len(examples), seed)
    held = set(order[:count])
    return ([e for i, e in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)])


def pack(examples: list[dict], config: TrainConfig) -> list[dict]:
    """Pretraining text is concatenated and chunked; chat examples are packed whole."""
    return pack_texts(examples, config.cutoff_len) if config.stage == "pt" else \
        pack_examples(examples, config.cutoff_len)


def _warn_tokens(template: Template, tokenizer: Any, report: DataReport) -> None:
    if template.note:
        report.notes.append(template.note)
    missing = template.missing_tokens(tokenizer)
    if missing:
        report.notes.append(f"template '{template.name}': {', '.join(missing)} not single tokens in this tokenizer")


def _to_dataset(examples: list[dict]) -> Any:
    import datasets

    return datasets.Dataset.from_list([{**e, "length": len(e["input_ids"])} for e in examples])


def _streaming_bundle(config: TrainConfig, tokenizer: Any, template: Template) -> DataBundle:
    """An IterableDataset tokenizing on the fly; the report holds the counts of the last complete pass."""
    import datasets

    report = DataReport(cutoff_len=config.cutoff_len)
    if resolve.packing(config):
        report.notes.append("streaming: rows are not packed")
    attrs = resolve_datasets(config)
    held = int(config.val_size)

    def examples() -> Iterator[dict]:
        counts = DataReport(cutoff_len=config.cutoff_len, notes=report.notes)
        for attr in attrs:
            for n, raw in enumerate(iter_raw_rows(attr, streaming=True, cache_dir=config.cache_dir,
                                                  token=config.hf_hub_token)):
                if config.max_samples is not None and n >= config.max_samples:
                    break
                counts.count_read(attr.name)
                try:
                    example, truncated = encode_row(align_row(raw, attr, config.stage), config, tokenizer, template)
                except Unfit as exc:
                    counts.drop(attr.name, str(exc))
                    continue
                counts.keep(attr.name)
                _record(counts, example, truncated)
                yield {**example, "length": len(example["input_ids"])}
        vars(report).update(vars(counts))

    stream = datasets.IterableDataset.from_generator(examples)
    if config.buffer_size:
        stream = stream.shuffle(seed=config.seed, buffer_size=config.buffer_size)
    evaluation = None
    if held:
        evaluation, stream = stream.take(held), stream.skip(held)
    return DataBundle(train=stream, eval=evaluation, report=report, template=template)


def _load_cached(config: TrainConfig, template: Template) -> DataBundle | None:
    path = Path(config.tokenized_path) if config.tokenized_path else None
    if path is None or config.overwrite_cache or not (path / "report.json").exists():
        return None
    import datasets

    saved = json.loads((path / "report.json").read_text(encoding="utf-8"))
    report = DataReport(cutoff_len=config.cutoff_len, notes=[f"tokenized data loaded from {path}"])
    report.rows_read, report.rows_kept, report.tokens = saved["rows_read"], saved["rows_kept"], saved["tokens"]
    report.truncated, report.packed_rows = saved["truncated"], saved["packed_rows"]
    train = datasets.load_from_disk(str(path / "train"))
    evaluation = datasets.load_from_disk(str(path / "eval")) if (path / "eval").exists() else None
    return DataBundle(train=train, eval=evaluation, report=report, template=template)


def _save_cached(config: TrainConfig, bundle: DataBundle) -> None:
    if not config.tokenized_path:
        return
    path = Path(config.tokenized_path)
    bundle.train.save_to_disk(str(path / "train"))
    if bundle.eval is not None:
        bundle.eval.save_to_disk(str(path / "eval"))
    atomic_write_text(path / "report.json", json.dumps(bundle.report.to_dict(), indent=1))



def encode_splits(config: TrainConfig, encode: Callable[[list[dict], DataReport], list[dict]]
                  ) -> tuple[list[dict], list[dict] | None, DataReport]:
    """Encode the train rows and the eval rows (eval_dataset, or val_size held out), with their reports."""
    report = DataReport(cutoff_len=config.cutoff_len)
    train = encode(load_aligned_rows(config, "dataset", report)[0], report)
    eval_examples = None
    if config.eval_dataset:
        report.eval = DataReport(cutoff_len=config.cutoff_len)
        eval_examples = encode(load_aligned_rows(config, "eval_dataset", report.eval)[0], report.eval)
    elif config.val_size:
        train, eval_examples = split_validation(train, config.val_size, config.seed)
        report.notes.append(f"{len(eval_examples)} rows held out for evaluation (val_size={config.val_size:g})")
    return train, eval_examples, report
