"""Home and Runs: statuses, opening and re-attaching, comparing, editing a run's config, stopping."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmftui.screens.compare import CompareScreen
from lmftui.screens.config_editor import ConfigEditorScreen
from lmftui.screens.home import HomeScreen
from lmftui.screens.model import ModelScreen
from lmftui.screens.monitor import MonitorScreen
from lmftui.screens.runs import RunsScreen
from lmftui.widgets.charts import MetricChart
from lmftui.widgets.hardware_panel import HardwarePanel
from lmftui.widgets.runs_table import RunsTable

from .conftest import make_app, wait_for, write_journal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


async def test_home_shows_hardware_presets_and_runs(home: Path, fake_runs) -> None:
    write_journal(home / "runs" / "a-done", steps=5)
    fake_runs(home / "runs" / "b-running", steps=5000, interval=0.05)
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, HomeScreen)
        assert "NVIDIA RTX 4090" in str(screen.query_one(HardwarePanel).render())
        await wait_for(pilot, lambda: screen.query_one("#presets").option_count == 1)  # read off the first paint
        table = screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        statuses = {r.name: r.status for r in table.runs.values()}
        assert statuses == {"a-done": "done", "b-running": "running"}
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, ModelScreen)


async def test_missing_preset_key_warns(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


async def test_runs_statuses_attach_compare_edit_stop(home: Path, fake_runs) -> None:
    write_journal(home / "runs" / "r-done", steps=40)
    write_journal(home / "runs" / "r-failed", steps=3, error={"message": "boom"})
    write_journal(home / "runs" / "r-stopped", steps=4, end="stopped")
    live = fake_runs(home / "runs" / "r-live", steps=100_000, interval=0.02)
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        table = screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 4)
        assert {r.name: r.status for r in table.runs.values()} == {
            "r-done": "done", "r-failed": "failed", "r-stopped": "stopped", "r-live": "running"}

        # compare two runs
        table.focus()
        for name in ("r-done", "r-stopped"):
            table.move_cursor(row=table.get_row_index(str(home / "runs" / name)))
            await pilot.press("space")
        assert len(screen.marked) == 2
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        chart = app.screen.query_one(MetricChart)
        await wait_for(pilot, lambda: set(chart.curves) == {"r-done", "r-stopped"})
        await pilot.press("escape")
        await pilot.pause()

        # edit a finished run's config
        table.move_cursor(row=table.get_row_index(str(home / "runs" / "r-done")))
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigEditorScreen))
        assert app.draft.get("dataset") == "tiny_alpaca" and "output_dir" not in app.draft

        # re-attach to the live run: full history, then live steps
        await pilot.press("f6")
        await pilot.pause()
        table.focus()
        table.move_cursor(row=table.get_row_index(str(live.run_dir)))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
        monitor = app.screen
        await wait_for(pilot, lambda: monitor.running and monitor.history.step > 0)
        first = monitor.history.step
        await wait_for(pilot, lambda: monitor.history.step > first + 5)
        assert monitor.history.series["loss"].count == monitor.history.step  # nothing missed from the start

        # stop it from the runs list (with a confirmation)
        await pilot.press("f6")
        await pilot.pause()
        table.focus()
        table.move_cursor(row=table.get_row_index(str(live.run_dir)))
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("y")
        assert live.wait(20) == 0
        await wait_for(pilot, lambda: table.runs.get(str(live.run_dir)) is not None
                       and table.runs[str(live.run_dir)].status == "stopped")


async def test_quitting_leaves_the_run_running(home: Path, fake_runs) -> None:
    live = fake_runs(home / "runs" / "keep", steps=100_000, interval=0.02)
    app = make_app(home, attach=live.run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.history.step > 0)
        await pilot.press("ctrl+q")
    assert live.proc.poll() is None
