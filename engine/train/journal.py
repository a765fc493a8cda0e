"""A TrainerCallback that writes the run journal (events.jsonl) and LLaMA-Factory's trainer_log.jsonl."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ..events import EventWriter

PeakMemory = Callable[[], float]


class JournalCallback(TrainerCallback):
    """Turns Trainer logs and saves into journal events (rank 0 only; RanksCallback handles stop requests)."""

    def __init__(self, events: EventWriter, run_dir: Path, peak_memory: PeakMemory,
                 echo: Callable[[str], None] | None = None):
        self.events = events
        self.run_dir = run_dir
        self.peak_memory = peak_memory
        self.echo = echo
        self._t0 = self._last_t = time.monotonic()
        self._first_step = 0
        self._last_tokens = 0

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any):
        self._t0 = self._last_t = time.monotonic()
        self._first_step = state.global_step
        self._last_tokens = state.num_input_tokens_seen

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kw: Any):
        logs = logs or {}
        now = time.monotonic()
        elapsed = now - self._t0
        done_steps = state.global_step - self._first_step
        eta = (state.max_steps - state.global_step) * elapsed / done_steps if done_steps > 0 else None
        if "loss" in logs:
            tokens = state.num_input_tokens_seen
            rate = (tokens - self._last_tokens) / max(now - self._last_t, 1e-9)
            self._last_t, self._last_tokens = now, tokens
            extra = {k: v for k, v in logs.items() if k not in ("loss", "learning_rate", "grad_norm", "epoch")}
            event = self.events.emit(
                "step", step=state.global_step, max_steps=state.max_steps, epoch=round(state.epoch or 0, 4),
                loss=logs["loss"], lr=logs.get("learning_rate"), grad_norm=logs.get("grad_norm"),
                tokens=tokens, tokens_per_s=round(rate, 1), mem_gb=round(self.peak_memory(), 3),
                eta_s=round(eta, 1) if eta is not None else None, elapsed_s=round(elapsed, 1), **extra)
            self._trainer_log(state, elapsed, eta, loss=logs["loss"], lr=logs.get("learning_rate"),
                              throughput=round(rate, 2), total_tokens=tokens)
            if self.echo:
                self.echo(_progress_line(event))
        eval_metrics = {k: v for k, v in logs.items() if k.startswith("eval_")}
        if eval_metrics:
            self.events.emit("eval", step=state.global_step, epoch=round(state.epoch or 0, 4), **eval_metrics)
            self._trainer_log(state, elapsed, eta, eval_loss=logs.get("eval_loss"))
            if self.echo:
                self.echo(f"eval step {state.global_step}: " + ", ".join(f"{k}={v:.4g}" for k, v in eval_metrics.items()
                                                                           if isinstance(v, (int, float))))

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any):
        path = self.run_dir / f"checkpoint-{state.global_step}"
        self.events.emit("checkpoint", step=state.global_step, path=str(path))

    def _trainer_log(self, state: TrainerState, elapsed: float, eta: float | None, **fields: Any) -> None:
        """Append LLaMA-Factory's trainer_log.jsonl line (read by LLaMA Board and its plotting tools)."""
        record = {
            "current_steps": state.global_step, "total_steps": state.max_steps, **fields,
            "epoch": round(state.epoch or 0, 2),
            "percentage": round(100 * state.global_step / state.max_steps, 2) if state.max_steps else 0,
            "elapsed_time": _hms(elapsed), "remaining_time": _hms(eta or 0),
        }
        with open(self.run_dir / "trainer_log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps({k: v for k, v in record.items() if v is not None}) + "\n")


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _progress_line(e: dict[str, Any]) -> str:
    lr = f"{e['lr']:.2e}" if e.get("lr") is not None else "-"
    eta = _hms(e["eta_s"]) if e.get("eta_s") is not None else "-"
    return (f"step {e['step']}/{e['max_steps']}  epoch {e['epoch']:.2f}  loss {e['loss']:.4f}  lr {lr}  "
            f"{e['tokens_per_s']:.0f} tok/s  mem {e['mem_gb']:.2f} GB  eta {eta}")
