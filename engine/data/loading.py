"""Raw rows of one data set: local json/jsonl/csv/parquet/txt files (no network) or a hub data set."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config.errors import ConfigError

from .dataset_info import FILE_TYPES, DatasetAttr, data_files


def iter_raw_rows(attr: DatasetAttr, streaming: bool = False, cache_dir: str | None = None,
                  token: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows of the data set as plain dicts, in file order."""
    if attr.load_from == "hf_hub":
        yield from _hub_rows(attr, streaming, cache_dir, token)
        return
    for path in data_files(Path(attr.source)):
        yield from _file_rows(path)


def load_raw_rows(attr: DatasetAttr, seed: int = 42, cache_dir: str | None = None,
                  token: str | None = None) -> list[dict[str, Any]]:
    """All rows, resampled to `num_samples` when the entry sets it (seeded, as LLaMA-Factory does)."""
    rows = list(iter_raw_rows(attr, cache_dir=cache_dir, token=token))
    if attr.num_samples is not None and rows:
        rng = random.Random(seed)
        order = list(range(len(rows)))
        rng.shuffle(order)
        order = order[:attr.num_samples]
        order += [rng.randrange(len(rows)) for _ in range(attr.num_samples - len(order))]
        rows = [rows[i] for i in order]
    return rows


def _file_rows(path: Path) -> Iterator[dict[str, Any]]:
    kind = FILE_TYPES.get(path.suffix.lower())
    if kind == "json":
        yield from _json_rows(path)
    elif kind == "csv":
        with path.open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
            yield from map(_utf8_checked, csv.DictReader(fh))
    elif kind == "text":
        with path.open(encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                yield _utf8_checked({"text": line.rstrip("\n")})
    elif kind == "parquet":
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
    else:
        raise ConfigError(f"{path}: unsupported file type — use {', '.join(FILE_TYPES)}")


@dataclass(frozen=True)
class BrokenRow:
    """A row that could not be read (bad JSON line, bytes that are not UTF-8): dropped with its reason."""

    reason: str


def _json_rows(path: Path) -> Iterator[dict[str, Any] | BrokenRow]:
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")  # bad bytes spoil a row, not the file
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})"
                              " — fix the file") from None
        for row in data:
            yield _utf8_checked(row)
        return
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BrokenRow(f"not valid JSON ({exc.msg})")
            continue
        yield _utf8_checked(row)


def _utf8_checked(row: Any) -> Any:
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return BrokenRow("bytes that are not UTF-8 text")
    return row


def _hub_rows(attr: DatasetAttr, streaming: bool, cache_dir: str | None, token: str | None) -> Iterator[dict]:
    import datasets

    try:
        data = datasets.load_dataset(attr.source, name=attr.subset, data_dir=attr.folder, split=attr.split,
                                     revision=attr.revision, cache_dir=cache_dir, token=token, streaming=streaming)
        yield from data
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - network, auth and hub errors all become one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"data set '{attr.name}': cannot load hub data set {attr.source} ({first[:200]})"
                          " — check the network and hf_hub_url, or download it and use file_name") from None
