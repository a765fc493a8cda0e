"""One fold over a run's journal: what the runs list, the monitor header and `attach --once` say about a run.

`RunSummary.add` takes the events in order (all at once, or as a monitor tails them); `run_status` is the
one place where a status word is decided. No torch here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from .events import iter_events

Status = Literal["running", "done", "failed", "stopped", "new"]


@dataclass
class RunSummary:
    """The latest attempt of a run: its `start`, last `step`, last loss, and the `error` or `done` it ended with."""

    start: dict[str, Any] = field(default_factory=dict)
    last_step: dict[str, Any] = field(default_factory=dict)
    loss: float | None = None
    error: dict[str, Any] | None = None
    done: dict[str, Any] | None = None

    def add(self, event: dict[str, Any]) -> None:
        """Fold one journal event in (a resumed run's `start` begins a new attempt; its steps go on)."""
        kind = event.get("type")
        if kind == "start":
            self.start, self.error, self.done = event, None, None
        elif kind == "step":
            self.last_step = event
            if "loss" in event:
                self.loss = event["loss"]
        elif kind == "error":
            self.error, self.done = event, None
        elif kind == "done":
            self.done = event

    @property
    def step(self) -> int:
        return int(self.last_step.get("step") or 0)

    @property
    def max_steps(self) -> int:
        return int(self.last_step.get("max_steps") or self.start.get("max_steps") or 0)

    @property
    def message(self) -> str:
        """How the attempt ended: the done status, or the error's message ("" while it has not)."""
        if self.done is not None:
            return str(self.done.get("status", "done"))
        return str(self.error.get("message", "")) if self.error is not None else ""


def run_status(summary: RunSummary, running: bool) -> Status:
    """running (a live process holds the lock), done, failed, stopped (started, not finished) or new."""
    if running:
        return "running"
    if summary.done is not None:
        return "done" if summary.done.get("status", "done") == "done" else "stopped"
    if summary.error is not None:
        return "failed"
    return "stopped" if summary.start else "new"


def summarize(run_dir: str | os.PathLike) -> RunSummary:
    """The summary of a run's whole journal."""
    summary = RunSummary()
    for event in iter_events(run_dir):
        summary.add(event)
    return summary
