"""The run journal: JSON lines appended by the engine and tailed by the TUI (no torch here).

Each line is one record of the wire format (`engine.wire`) with `type` (start, step, eval, predict,
checkpoint, log, warning, error, done) and `time` (Unix seconds); `predict` reports generation progress
(rows_done/rows_total) and, last, its metrics. Readers skip types they do not know. Readers tail by byte
offset and never re-read what they have seen.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .wire import decode, encode

EVENTS_FILE = "events.jsonl"
EVENT_TYPES = ("download", "start", "step", "eval", "predict", "checkpoint", "log", "warning", "error", "done")


class EventWriter:
    """Appends events to `events.jsonl`, one flushed line each, so a reader never sees half a line."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / EVENTS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")
        if _ends_mid_line(self.path):  # a crash cut the last line: start ours on a fresh one
            self._fh.write("\n")
            self._fh.flush()

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        """Write one event; `fields` must be JSON-serialisable (non-finite floats become null)."""
        assert type in EVENT_TYPES, type
        event = {"type": type, "time": round(time.time(), 3), **fields}
        self._fh.write(encode(**event) + "\n")
        self._fh.flush()
        if type in ("checkpoint", "error", "done"):
            os.fsync(self._fh.fileno())
        return event

    def close(self) -> None:
        self._fh.close()


@dataclass
class EventTail:
    """Reads the events appended since the last call, by byte offset; a partial last line waits."""

    path: Path
    offset: int = 0
    _pending: bytes = field(default=b"", repr=False)

    def read(self, max_bytes: int | None = 4 << 20) -> list[dict[str, Any]]:
        """New complete events (at most about `max_bytes` of them per call; None reads all)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read(-1 if max_bytes is None else max_bytes)
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = lines.pop()
        return [event for line in lines if (event := decode(line)) is not None]


def read_events(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete events of a run."""
    return EventTail(Path(run_dir) / EVENTS_FILE).read(max_bytes=None)


def iter_events(run_dir: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """All complete events of a run, streamed line by line."""
    path = Path(run_dir) / EVENTS_FILE
    if path.exists():
        with open(path, "rb") as fh:
            for line in fh:
                if line.endswith(b"\n") and (event := decode(line)) is not None:
                    yield event


def _ends_mid_line(path: Path) -> bool:
    with open(path, "rb") as fh:
        if fh.seek(0, os.SEEK_END) == 0:
            return False
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"
