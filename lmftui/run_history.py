"""A run's history built from its journal events for the monitor: downsampled metric series, the log
messages, and the run's summary (`engine.summary`, the same fold the runs list and `attach --once` use)."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from engine.summary import RunSummary

METRICS = ("loss", "lr", "grad_norm", "tokens_per_s", "mem_gb")
NOT_CHARTED = frozenset({"type", "time", "step", "max_steps", "epoch", "tokens", "num_tokens", "eta_s", "elapsed_s"})


@dataclass
class Series:
    """A metric curve kept to at most `max_points` by averaging neighbours as it grows."""

    max_points: int = 1000
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    stride: int = 1
    _acc: list[tuple[float, float]] = field(default_factory=list, repr=False)
    count: int = 0

    def add(self, x: float, y: float | None) -> None:
        """Add one point; non-finite values are skipped."""
        if y is None or not math.isfinite(y):
            return
        self.count += 1
        self._acc.append((x, y))
        if len(self._acc) < self.stride:
            return
        self.xs.append(self._acc[-1][0])
        self.ys.append(sum(v for _, v in self._acc) / len(self._acc))
        self._acc.clear()
        if len(self.xs) > self.max_points:
            self._halve()

    def points(self) -> tuple[list[float], list[float]]:
        """The kept points plus the partial bucket still being filled."""
        if not self._acc:
            return self.xs, self.ys
        return self.xs + [self._acc[-1][0]], self.ys + [sum(v for _, v in self._acc) / len(self._acc)]

    def _halve(self) -> None:
        xs, ys = self.xs, self.ys
        pairs = len(xs) // 2 * 2
        self.xs = [xs[i + 1] for i in range(0, pairs, 2)] + xs[pairs:]
        self.ys = [(ys[i] + ys[i + 1]) / 2 for i in range(0, pairs, 2)] + ys[pairs:]
        self.stride *= 2


def smooth(values: list[float], weight: float) -> list[float]:
    """Exponential moving average (TensorBoard style), debiased at the start."""
    if not weight:
        return list(values)
    out, last = [], 0.0
    for i, value in enumerate(values, 1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight ** i))
    return out


@dataclass
class RunHistory:
    """Everything the monitor shows about one run, updated one event at a time."""

    summary: RunSummary = field(default_factory=RunSummary)
    series: dict[str, Series] = field(default_factory=lambda: {m: Series() for m in METRICS})
    eval_loss: Series = field(default_factory=Series)
    messages: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=200))
    checkpoints: list[int] = field(default_factory=list)
    predict: dict[str, Any] = field(default_factory=dict)  # the last `predict` event (generation progress)
    download: dict[str, Any] = field(default_factory=dict)  # the last `download` event (hub model or data)
    events: int = 0

    def add(self, event: dict[str, Any]) -> None:
        """Fold one journal event into the history."""
        self.events += 1
        self.summary.add(event)
        kind = event.get("type")
        if kind == "step":
            step = event.get("step", 0)
            for name in METRICS:
                self.series[name].add(step, _number(event.get(name)))
            for name, value in event.items():  # a stage's own metrics: rewards/margins, ppo/kl, accuracy…
                if name not in NOT_CHARTED and name not in METRICS and isinstance(value, (int, float)):
                    self.series.setdefault(name, Series()).add(step, _number(value))
        elif kind == "eval":
            self.eval_loss.add(event.get("step", 0), _number(event.get("eval_loss")))
            self.messages.append(("eval", f"step {event.get('step')}: eval_loss {event.get('eval_loss')}"))
        elif kind == "download":
            self.download = event
            if event.get("finished"):
                self.messages.append(("download", f"{event.get('what')}: {event.get('total', 0) / 1e9:.2f} GB"))
        elif kind == "predict":
            self.predict = event
            self.messages.append(("predict", _predict_text(event)))
        elif kind == "checkpoint":
            self.checkpoints.append(event.get("step", 0))
            self.messages.append(("checkpoint", f"saved {event.get('path', '')}"))
        elif kind in ("log", "warning"):
            self.messages.append((kind, str(event.get("message", ""))))
        elif kind == "error":
            self.messages.append(("error", str(event.get("message", ""))))
        elif kind == "done":
            self.messages.append(("done", f"{event.get('status', 'done')} at step {event.get('step', '?')}"))

    def stage_metrics(self) -> list[str]:
        """The names of the stage-specific series seen so far, in arrival order."""
        return [name for name in self.series if name not in METRICS]

    @property
    def start(self) -> dict[str, Any]:
        return self.summary.start

    @property
    def last_step(self) -> dict[str, Any]:
        return self.summary.last_step

    @property
    def error(self) -> dict[str, Any] | None:
        return self.summary.error

    @property
    def done(self) -> dict[str, Any] | None:
        return self.summary.done

    @property
    def step(self) -> int:
        return self.summary.step

    @property
    def downloading(self) -> bool:
        """A hub download is under way and training has not started."""
        return bool(self.download) and not self.download.get("finished") and not self.start and not self.done

    @property
    def max_steps(self) -> int:
        return self.summary.max_steps

    def progress_text(self) -> str:
        """`step 120/500 · ETA 3m20s · loss 1.2340 · epoch 0.72 · …` (what is known of it)."""
        s = self.last_step
        if self.downloading:
            d = self.download
            eta = f" · ETA {format_duration(d['eta_s'])}" if d.get("eta_s") is not None else ""
            return (f"downloading {d.get('what')} {d.get('bytes', 0) / 1e9:.2f}/{d.get('total', 0) / 1e9:.2f} GB · "
                    f"{d.get('rate', 0) / 1e6:.1f} MB/s{eta}")
        trains = bool(s or self.max_steps or not self.start)
        parts = [f"step {self.step}/{self.max_steps or '?'}" if trains else "no training"]
        if self.predict and not self.predict.get("metrics") and not self.done:
            p = self.predict
            parts.append(f"{p.get('split', 'predict')} {p.get('rows_done', '?')}/{p.get('rows_total', '?')} answers"
                         + (f" · ETA {format_duration(p['eta_s'])}" if p.get("eta_s") is not None else ""))
        if s.get("eta_s") is not None and not self.done:
            parts.append(f"ETA {format_duration(s['eta_s'])}")
        elif s.get("elapsed_s") is not None:
            parts.append(f"took {format_duration(s['elapsed_s'])}")
        if s.get("loss") is not None:
            parts.append(f"loss {s['loss']:.4f}")
        if s.get("epoch") is not None:
            parts.append(f"epoch {s['epoch']:.2f}")
        if s.get("tokens_per_s"):
            parts.append(f"{s['tokens_per_s']:.0f} tok/s")
        if s.get("mem_gb"):
            parts.append(f"{s['mem_gb']:.1f} GB")
        return " · ".join(parts)


def format_duration(seconds: float) -> str:
    """`1h02m`, `3m20s` or `12s`."""
    seconds = int(max(0, seconds or 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class ConsoleTail:
    """New whole lines of a growing text file; the first read starts near the end."""

    path: Any
    first_bytes: int = 64 << 10
    offset: int | None = None
    _pending: bytes = field(default=b"", repr=False)

    def read(self, max_bytes: int = 1 << 20) -> list[str]:
        try:
            with open(self.path, "rb") as fh:
                if self.offset is None:
                    size = fh.seek(0, 2)
                    self.offset = max(0, size - self.first_bytes)
                fh.seek(self.offset)
                chunk = fh.read(max_bytes)
        except FileNotFoundError:
            return []
        self.offset += len(chunk)
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        return [line.decode("utf-8", "replace").rstrip("\r").rsplit("\r", 1)[-1] for line in lines]


def _predict_text(event: dict[str, Any]) -> str:
    """`predict: 8/16 answers` while generating; the scores at the end."""
    split = event.get("split", "predict")
    metrics = event.get("metrics")
    if isinstance(metrics, dict):
        return f"{split}: " + ", ".join(f"{k.removeprefix(split + '_')} {v:.2f}" for k, v in metrics.items()
                                        if isinstance(v, (int, float)) and not k.endswith("per_second"))
    return f"{split}: {event.get('rows_done', '?')}/{event.get('rows_total', '?')} answers"
