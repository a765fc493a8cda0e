"""Progress of an export, step by step: readable lines for people, wire records for the app (no torch)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from ..wire import write


class Progress:
    """Reports `plan`, then `start`, `done`, `warning` and `error` of named steps, then `finished`: as text, or as
    `engine.wire` records (`{"type": "start", "step": ...}`)."""

    def __init__(self, steps: list[str], jsonl: bool = False, stream: TextIO | None = None):
        self.steps = steps
        self.jsonl = jsonl
        self.stream = stream or sys.stdout
        self._started: dict[str, float] = {}
        self.current = steps[0] if steps else ""

    def plan(self) -> None:
        """Announce every step before the first one starts."""
        self._emit({"type": "plan", "steps": self.steps}, "Export: " + " → ".join(self.steps))

    def start(self, step: str, message: str = "") -> None:
        self.current = step
        self._started.setdefault(step, time.monotonic())
        self._emit({"type": "start", "step": step, "index": self._index(step), "message": message},
                   f"[{self._index(step)}/{len(self.steps)}] {step}: {message or 'started'}")

    def done(self, step: str, message: str = "", **fields: Any) -> None:
        seconds = round(time.monotonic() - self._started.get(step, time.monotonic()), 1)
        self._emit({"type": "done", "step": step, "message": message, "seconds": seconds, **fields},
                   f"      ✓ {step}: {message} ({seconds}s)")

    def warn(self, step: str, message: str) -> None:
        self._emit({"type": "warning", "step": step, "message": message}, f"      ! {step}: {message}")

    def fail(self, message: str, step: str | None = None) -> None:
        step = step or self.current
        self._emit({"type": "error", "step": step, "message": message}, f"      ✗ {step}: {message}")

    def finish(self, ok: bool, files: list[str]) -> None:
        lines = "\n".join(f"  {f}" for f in files)
        self._emit({"type": "finished", "ok": ok, "files": files},
                   f"Export {'done' if ok else 'failed'}" + (f":\n{lines}" if files else "."))

    def _index(self, step: str) -> int:
        return self.steps.index(step) + 1 if step in self.steps else 0

    def _emit(self, record: dict[str, Any], text: str) -> None:
        if self.jsonl:
            write(self.stream, **record, time=time.time())
        else:
            print(text, file=self.stream, flush=True)
