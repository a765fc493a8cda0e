"""Shared set-up for the TUI tests: an isolated home, fixed hardware facts, journal-writing runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.events import EventWriter
from engine.hardware.info import GpuInfo, HardwareInfo
from engine.rundir import is_locked
from lmftui.app import LmfApp
from lmftui.settings import Settings

HERE = Path(__file__).parent
PROJECT_ROOT = HERE.parent.parent
JOURNAL_WRITER = HERE / "journal_writer.py"

FIXED_HARDWARE = HardwareInfo(
    gpus=[GpuInfo(index=0, name="NVIDIA RTX 4090", memory_total_gb=24.0, memory_used_gb=1.5,
                  compute_capability=(8, 9))],
    cpu_name="Test CPU", cpu_count=16, ram_total_gb=64.0, ram_available_gb=48.0, backend="cuda",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty app home and runs folder, and the test presets."""
    monkeypatch.setenv("LMF_TUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LMF_TUI_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("LMF_TUI_PRESETS", str(HERE / "fixtures" / "presets"))
    (tmp_path / "runs").mkdir()
    return tmp_path


def make_app(home: Path, **kw) -> LmfApp:
    """The app with fixed hardware, default settings, and no one-time notices."""
    settings = Settings(linger_notice_shown=True, chart_refresh_s=0.1)
    return LmfApp(settings=settings, hardware=FIXED_HARDWARE, detect_hardware=False,
                  settings_file=home / "home" / "settings.json", **kw)


def write_journal(run_dir: Path, steps: int, end: str | None = "done", error: dict | None = None) -> Path:
    """A finished run's journal (no process behind it)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    journal = EventWriter(run_dir)
    journal.emit("start", stage="sft", model="tiny-llama", max_steps=steps, num_examples=8, plan={}, estimate_gb=0.1)
    for step in range(1, steps + 1):
        journal.emit("step", step=step, max_steps=steps, epoch=step / steps, loss=2.0 / step, lr=1e-4,
                     grad_norm=0.5, tokens_per_s=900.0, mem_gb=0.4, eta_s=steps - step, elapsed_s=step)
    if error:
        journal.emit("error", **error)
    elif end:
        journal.emit("done", status=end, step=steps, train_loss=0.5, runtime_s=steps, output=str(run_dir))
    journal.close()
    (run_dir / "run_config.yaml").write_text("model_name_or_path: tiny-model\ndataset: tiny_alpaca\n"
                                             f"output_dir: {run_dir}\n")
    (run_dir / "console.log").write_text("".join(f"log line {i}\n" for i in range(20)))
    return run_dir


class FakeRun:
    """A journal-writing process writing a journal and holding the run lock, like a detached run."""

    def __init__(self, run_dir: Path, steps: int = 1000, interval: float = 0.02, fail: bool = False):
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        args = [sys.executable, str(JOURNAL_WRITER), str(run_dir), str(steps), str(interval)] + (["fail"] if fail else [])
        with open(run_dir / "console.log", "ab") as console:
            self.proc = subprocess.Popen(args, stdout=console, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + 20
        while not is_locked(run_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert is_locked(run_dir), "journal writer did not start"

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def fake_runs():
    """Start journal-writing runs; they are killed at the end of the test."""
    runs: list[FakeRun] = []

    def start(run_dir: Path, **kw) -> FakeRun:
        run = FakeRun(run_dir, **kw)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.kill()


async def open_model_screen(app: LmfApp, pilot, model: Path):
    """F2 to the Model screen, with `model` typed into its path field; returns the screen."""
    from lmftui.screens.model import ModelScreen

    await pilot.press("f2")
    screen = app.screen
    assert isinstance(screen, ModelScreen)
    screen.query_one("#model-path").value = str(model)
    return screen


async def wait_for(pilot, condition, timeout: float = 60.0) -> None:
    """Let the app run until `condition()` holds (workers, timers and messages included)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def tiny_dataset_dir(root: Path) -> Path:
    """A data folder with an alpaca file, a ranking file and dataset_info.json."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    rows = [{"instruction": f"Say {w}", "input": "", "output": f"{w}!"} for w in ("hi", "bye", "yes", "no")]
    (data / "tiny.json").write_text(json.dumps(rows))
    pairs = [{"instruction": "Pick", "input": "", "chosen": "good", "rejected": "bad"}]
    (data / "pairs.json").write_text(json.dumps(pairs))
    (data / "dataset_info.json").write_text(json.dumps({
        "tiny_alpaca": {"file_name": "tiny.json"},
        "tiny_pairs": {"file_name": "pairs.json", "ranking": True,
                       "columns": {"prompt": "instruction", "query": "input", "chosen": "chosen",
                                   "rejected": "rejected"}},
    }))
    return data
