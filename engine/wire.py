"""The one wire format of everything a child process reports: JSON lines `{"type": TYPE, ...fields}`.

The run journal (`events.jsonl`), export progress (`export --progress-jsonl`), the chat server's stream
(`chat --jsonl`) and the data report (`data --json`) are all written by `encode`/`write` and read back
by `decode`/`read_stream`; a line that is not such an object (a library's stray print) is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO


def encode(type: str, **fields: Any) -> str:
    """One record as a JSON line, without its newline; non-finite floats become null."""
    return json.dumps(_finite({"type": type, **fields}), ensure_ascii=False)


def write(stream: TextIO, type: str, **fields: Any) -> None:
    """Write one record and flush it, so the reader sees it at once and never half of it."""
    stream.write(encode(type, **fields) + "\n")
    stream.flush()


def decode(line: str | bytes) -> dict[str, Any] | None:
    """The record on one line, or None when the line is not a `{"type": ...}` object."""
    line = line.strip()
    if not line:
        return None
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("type"), str) else None


def read_stream(stream: TextIO) -> Iterator[dict[str, Any]]:
    """The records of a text stream (a child's stdout), line by line, until it ends."""
    for line in stream:
        if (record := decode(line)) is not None:
            yield record


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
