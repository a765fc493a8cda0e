"""Helpers of the remote-host tests: the CLI as a user runs it, and a tiny run's config."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import yaml


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmftui.cli", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The stderr of a failed command, checked to be exactly one `error:` line."""
    assert proc.returncode != 0, proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def tiny_config(path: Path, model_dir: Path, data_dir: Path, out: Path, **over) -> Path:
    raw = dict(model_name_or_path=str(model_dir), do_train=True, dataset="tiny_identity", dataset_dir=str(data_dir),
               output_dir=str(out), stage="sft", finetuning_type="lora", cutoff_len=64,
               per_device_train_batch_size=2, learning_rate=5e-3, max_steps=20, logging_steps=1, save_steps=10,
               report_to="none", seed=3)
    raw.update(over)
    path.write_text(yaml.safe_dump(raw))
    return path


def wait_for(predicate, timeout: float = 300.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)
    return value
