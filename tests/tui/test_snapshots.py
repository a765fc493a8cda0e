"""Snapshots of the main screens at 80x24 and 120x40, with fixed hardware, runs, times and no cursor blink.

Update after a deliberate change of the look: `pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input
from textual.worker import WorkerState

from .conftest import make_app, tiny_dataset_dir, wait_for

pytestmark = pytest.mark.timeout(120)
SIZES = [(80, 24), (120, 40)]
FIXED_ROOT = Path("/tmp/lmf-tui-snapshots")  # the runs folder is shown on screen, so its path must not vary
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def fixed_journal(run_dir: Path, steps: int, end: str = "done") -> None:
    run_dir.mkdir(parents=True)
    lines = [{"type": "start", "time": START, "stage": "sft", "model": "tiny-llama", "max_steps": steps}]
    for step in range(1, steps + 1):
        lines.append({"type": "step", "time": START + step, "step": step, "max_steps": steps, "epoch": step / steps,
                      "loss": 2.0 / (1 + step / 10), "lr": 1e-4 * (1 - step / steps), "grad_norm": 1.0,
                      "tokens_per_s": 1234.0, "mem_gb": 3.2, "eta_s": steps - step, "elapsed_s": step})
    lines.append({"type": "done", "time": START + steps + 1, "status": end, "step": steps, "train_loss": 0.3,
                  "runtime_s": steps, "output": str(run_dir)})
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    (run_dir / "console.log").write_text("".join(f"{{'loss': {2.0 / (1 + s / 10):.4f}, 'step': {s}}}\n"
                                                 for s in range(steps - 5, steps + 1)))
    (run_dir / "run_config.yaml").write_text("model_name_or_path: tiny-model\ndataset: tiny_alpaca\n")


@pytest.fixture
def snap_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    lock = open(f"{FIXED_ROOT}.lock", "a")  # one test process at a time owns the fixed folder
    fcntl.flock(lock, fcntl.LOCK_EX)
    shutil.rmtree(FIXED_ROOT, ignore_errors=True)
    (FIXED_ROOT / "runs").mkdir(parents=True)
    monkeypatch.setenv("LMF_TUI_RUNS", str(FIXED_ROOT / "runs"))
    monkeypatch.setenv("TZ", "UTC")
    fixed_journal(FIXED_ROOT / "runs" / "20260101-000000-tiny-sft", steps=120)
    fixed_journal(FIXED_ROOT / "runs" / "20251231-000000-tiny-sft", steps=30, end="stopped")
    tiny_dataset_dir(FIXED_ROOT)
    yield home
    shutil.rmtree(FIXED_ROOT, ignore_errors=True)
    lock.close()


async def settle(pilot) -> None:
    """Until no worker but the journal tail is pending or running, and the screen has handled its messages."""
    app = pilot.app
    while True:
        await pilot.pause()
        busy = [w for w in app.workers if w.group != "monitor.tail"
                and w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if not busy:  # an empty list would mean "all", the never-ending journal tail included
            break
        await app.workers.wait_for_complete(busy)
    await pilot.pause()


def area(name: str, draft: dict | None = None):
    async def run_before(pilot) -> None:
        app = pilot.app
        if draft is not None:
            app.set_draft(draft, source="tiny")
        app.switch_mode(name)
        await settle(pilot)
        if name == "monitor":  # the whole journal is read; draw now rather than wait for the redraw timer
            await wait_for(pilot, lambda: app.screen.history.done is not None)
            app.screen._redraw()
        if name == "data":  # the worker's rows are in
            table = app.screen.query_one(DataTable)
            await wait_for(pilot, lambda: table.row_count > 0)
        await pilot.wait_for_scheduled_animations()
        for box in app.screen.query(Input):
            box.cursor_blink = False
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare, snap_home: Path, size) -> None:
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=area("home"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_config_editor_with_a_broken_rule(snap_compare, snap_home: Path, size) -> None:
    draft = {"model_name_or_path": "tiny-model", "do_train": True, "dataset": "tiny_alpaca", "finetuning_type": "full",
             "quantization_bit": 4}
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=area("config", draft))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_monitor_of_a_finished_run(snap_compare, snap_home: Path, size) -> None:
    app = make_app(snap_home, attach=FIXED_ROOT / "runs" / "20260101-000000-tiny-sft")
    assert snap_compare(app, terminal_size=size, run_before=area("monitor"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs(snap_compare, snap_home: Path, size) -> None:
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=area("runs"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_data(snap_compare, snap_home: Path, size) -> None:
    draft = {"dataset_dir": str(FIXED_ROOT / "data"), "dataset": "tiny_alpaca"}
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=area("data", draft))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_model(snap_compare, snap_home: Path, size) -> None:
    assert snap_compare(make_app(snap_home), terminal_size=size, run_before=area("model"))


def test_config_editor_light_theme(snap_compare, snap_home: Path) -> None:
    app = make_app(snap_home)
    app.theme = "textual-light"
    draft = {"model_name_or_path": "tiny-model", "do_train": True, "dataset": "tiny_alpaca", "stage": "ppo"}
    assert snap_compare(app, terminal_size=(80, 24), run_before=area("config", draft))


def test_monitor_light_theme(snap_compare, snap_home: Path) -> None:
    app = make_app(snap_home, attach=FIXED_ROOT / "runs" / "20260101-000000-tiny-sft")
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=(80, 24), run_before=area("monitor"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_export(snap_compare, snap_home: Path, size, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lmftui.screens.export.default_gguf", lambda: {"q4_k_m"})  # as with llama-cpp-python
    run = FIXED_ROOT / "runs" / "20260101-000000-tiny-sft"
    (run / "adapter_config.json").write_text('{"base_model_name_or_path": "tiny-model"}')
    assert snap_compare(make_app(snap_home, attach=run), terminal_size=size, run_before=area("export"))
