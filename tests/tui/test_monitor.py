"""Run monitor: full history on attach, errors with their fix, big journals stay cheap, toggles."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.events import EventWriter
from engine.summary import run_status
from lmftui.run_history import RunHistory, Series, smooth
from lmftui.screens.monitor import MonitorScreen
from lmftui.widgets.charts import MetricChart

from .conftest import make_app, wait_for, write_journal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


def test_series_keeps_at_most_max_points_and_the_mean() -> None:
    series = Series(max_points=100)
    for step in range(1, 100_001):
        series.add(step, 1.0)
    xs, ys = series.points()
    assert 50 <= len(xs) <= 101
    assert xs[-1] == 100_000 and all(y == 1.0 for y in ys)
    assert series.count == 100_000
    series.add(5, float("nan"))
    assert series.count == 100_000


def test_smoothing_debiased() -> None:
    assert smooth([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])
    assert smooth([1.0, 3.0], 0.0) == [1.0, 3.0]


def test_status_words() -> None:
    h = RunHistory()
    assert run_status(h.summary, False) == "new"
    h.add({"type": "start"})
    assert run_status(h.summary, True) == "running" and run_status(h.summary, False) == "stopped"
    h.add({"type": "error", "message": "boom"})
    assert run_status(h.summary, False) == "failed"
    h.add({"type": "start"})
    h.add({"type": "done", "status": "done"})
    assert run_status(h.summary, False) == "done"


async def test_attach_shows_full_history_of_a_finished_run(home: Path) -> None:
    run_dir = write_journal(home / "runs" / "r1", steps=300)
    app = make_app(home, attach=run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.history.done)
        screen = app.screen
        assert screen.history.step == 300 and screen.history.series["loss"].count == 300
        await wait_for(pilot, lambda: "done" in str(screen.query_one("#run-title").render()))
        assert "step 300/300" in str(screen.query_one("#run-progress-text").render())
        log = screen.query_one("#run-log")
        await wait_for(pilot, lambda: log.line_count >= 20)
        assert screen.query_one("#run-error").has_class("-hidden")


async def test_error_event_shows_message_and_fix(home: Path) -> None:
    run_dir = write_journal(home / "runs" / "bad", steps=3, error={
        "message": "CUDA out of memory", "fix": "lower per_device_train_batch_size",
        "traceback_file": "traceback.txt"})
    app = make_app(home, attach=run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.history.error)
        box = app.screen.query_one("#run-error")
        await wait_for(pilot, lambda: not box.has_class("-hidden"))
        text = str(box.render())
        assert "CUDA out of memory" in text and "Fix: lower per_device_train_batch_size" in text
        log = app.screen.query_one("#run-log")
        await wait_for(pilot, lambda: any("[error] CUDA out of memory" in line for line in log.lines))
        assert "failed" in str(app.screen.query_one("#run-title").render())


async def test_hundred_thousand_steps_stay_smooth(home: Path) -> None:
    run_dir = home / "runs" / "long"
    journal = EventWriter(run_dir)
    journal.emit("start", stage="pt", model="m", max_steps=100_000)
    for step in range(1, 100_001):
        journal.emit("step", step=step, max_steps=100_000, loss=1.0 + 1 / step, lr=1e-4, grad_norm=1.0,
                     tokens_per_s=1e4, mem_gb=1.0, eta_s=1.0, elapsed_s=step)
    journal.close()
    app = make_app(home, attach=run_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        began = time.monotonic()
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.history.step == 100_000,
                       timeout=60)
        loaded = time.monotonic() - began
        chart = app.screen.query_one("#loss-chart", MetricChart)
        await wait_for(pilot, lambda: chart.curves and len(chart.curves["loss"][0]) > 0)
        assert len(chart.curves["loss"][0]) <= 1001  # charts draw downsampled series
        assert loaded < 30
        began = time.monotonic()
        await pilot.press("l")
        await pilot.pause()
        assert time.monotonic() - began < 2 and chart.log_y


async def test_toggles_change_settings(home: Path) -> None:
    run_dir = write_journal(home / "runs" / "r", steps=50)
    app = make_app(home, attach=run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.history.done)
        await pilot.press("l", "m", "c")
        await pilot.pause()
        assert app.settings.log_scale is True
        assert app.settings.smoothing == 0.9
        assert app.screen.query_one("#side-chart", MetricChart).title == "grad norm"
        assert (home / "home" / "settings.json").exists()


async def test_monitor_without_run_says_what_to_do(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await pilot.pause()
        assert "No run selected" in str(app.screen.query_one("#run-title").render())
        await pilot.press("s")
        await pilot.pause()


def test_stage_metrics_become_charts() -> None:
    from lmftui.run_history import RunHistory

    history = RunHistory()
    history.add({"type": "step", "step": 1, "loss": 0.69, "rewards/margins": 0.1, "rewards/accuracies": 0.5,
                 "epoch": 0.1, "eta_s": 3.0})
    history.add({"type": "step", "step": 2, "loss": 0.60, "rewards/margins": 0.4, "rewards/accuracies": 1.0})
    assert history.stage_metrics() == ["rewards/margins", "rewards/accuracies"]
    assert history.series["rewards/margins"].points() == ([1, 2], [0.1, 0.4])


async def test_a_quiet_running_run_is_called_out(home: Path, fake_runs, monkeypatch) -> None:
    import lmftui.screens.monitor as monitor

    monkeypatch.setattr(monitor, "QUIET_S", 1.0)
    run = fake_runs(home / "runs" / "quiet", steps=3, interval=600)  # one step, then a long silence
    app = make_app(home, attach=run.run_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.running)
        title = app.screen.query_one("#run-title")
        await wait_for(pilot, lambda: "no new step for" in str(title.render()))


async def test_a_hub_download_fills_the_progress_bar_before_training(home: Path) -> None:
    from textual.widgets import ProgressBar

    run_dir = home / "runs" / "downloading"
    journal = EventWriter(run_dir)
    journal.emit("download", what="org/big", bytes=4_000_000_000, total=16_000_000_000, rate=5e7, eta_s=240.0,
                 finished=False)
    journal.close()
    app = make_app(home, attach=run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.history.downloading)
        bar = app.screen.query_one(ProgressBar)
        await wait_for(pilot, lambda: bar.total == 16_000_000_000 and bar.progress == 4_000_000_000)
        text = str(app.screen.query_one("#run-progress-text").render())
        assert text.startswith("downloading org/big 4.00/16.00 GB") and "ETA 4m00s" in text


async def test_library_lines_stay_in_console_log_not_the_log_pane(home: Path) -> None:
    from textual.widgets import Log

    run_dir = write_journal(home / "runs" / "noisy", steps=3)
    (run_dir / "console.log").write_text("step 1/3 own line\n[lib] FutureWarning: old API\nstep 3/3 own line\n")
    app = make_app(home, attach=run_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.screen.history.done)
        log = app.screen.query_one("#run-log", Log)
        await wait_for(pilot, lambda: "step 3/3 own line" in "\n".join(log.lines))
        assert "FutureWarning" not in "\n".join(log.lines) and "step 1/3 own line" in "\n".join(log.lines)
