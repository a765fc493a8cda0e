"""plot_loss: PNG curves of the run's logged metrics in its folder, named as LLaMA-Factory names them
(training_loss.png, training_eval_loss.png, training_rewards_accuracies.png …)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

PLOTTED = ("loss", "eval_loss", "eval_accuracy", "rewards/accuracies")


def smoothed(values: list[float]) -> list[float]:
    """An exponential moving average, heavier for longer curves (as TensorBoard's smoothing slider)."""
    if not values:
        return []
    weight = 1.8 * (1 / (1 + math.exp(-0.05 * len(values))) - 0.5)
    out, last = [], values[0]
    for value in values:
        last = last * weight + (1 - weight) * value
        out.append(last)
    return out


def plot_metrics(log_history: list[dict[str, Any]], run_dir: Path, keys: tuple[str, ...] = PLOTTED) -> list[Path]:
    """One PNG per key the log holds: the raw points and their smoothed curve against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for key in keys:
        points = [(e["step"], float(e[key])) for e in log_history if key in e and "step" in e]
        if not points:
            continue
        steps, values = zip(*points, strict=True)
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        ax.plot(steps, values, color="#1f77b4", alpha=0.4, label="original")
        ax.plot(steps, smoothed(list(values)), color="#1f77b4", label="smoothed")
        ax.set_title(f"{key} of {run_dir.name}")
        ax.set_xlabel("step")
        ax.set_ylabel(key)
        ax.legend()
        path = run_dir / f"training_{key.replace('/', '_')}.png"
        fig.savefig(path, format="png", dpi=100)
        plt.close(fig)
        written.append(path)
    return written
