"""End to end: start a real tiny run from the app, quit (the run goes on), re-attach with full history, stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.events import read_events
from engine.rundir import is_locked
from lmftui.screens.monitor import MonitorScreen

from .conftest import make_app, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.slow, pytest.mark.timeout(600)]


async def test_start_quit_reattach_stop(home: Path, tiny_model_dir: Path, tiny_data_dir: Path) -> None:
    draft = dict(model_name_or_path=str(tiny_model_dir), do_train=True, dataset="tiny_identity", dataset_dir=str(tiny_data_dir),
                 stage="sft", finetuning_type="lora", cutoff_len=64, per_device_train_batch_size=2,
                 learning_rate=5e-3, max_steps=100_000, logging_steps=1, save_steps=100_000, report_to="none")
    app = make_app(home)
    run_dir = None
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            app.set_draft(draft, source="e2e")
            app.switch_mode("config")
            await pilot.pause()
            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
            monitor = app.screen
            run_dir = monitor.run_dir
            assert run_dir.parent == home / "runs" and run_dir.name.endswith("-e2e-sft")
            await wait_for(pilot, lambda: monitor.history.step >= 3, timeout=300)
            assert monitor.running
            await pilot.press("ctrl+q")
        assert is_locked(run_dir), "quitting the app must not stop the run"

        again = make_app(home, attach=run_dir)  # what `lmf-tui attach RUN` opens
        async with again.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: isinstance(again.screen, MonitorScreen) and again.screen.running)
            monitor = again.screen
            seen = len([e for e in read_events(run_dir) if e["type"] == "step"])
            await wait_for(pilot, lambda: monitor.history.series["loss"].count >= seen + 2, timeout=120)
            first = [e["step"] for e in read_events(run_dir) if e["type"] == "step"][0]
            assert monitor.history.series["loss"].xs[0] == first  # full history, from the first step
            await pilot.press("s", "y")
            await wait_for(pilot, lambda: monitor.history.done is not None and not monitor.running, timeout=120)
            assert monitor.history.done["status"] == "stopped"
        assert not is_locked(run_dir)
    finally:
        if run_dir is not None and is_locked(run_dir):
            from engine.detach import stop_run

            stop_run(run_dir, timeout=30)
