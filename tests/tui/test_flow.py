"""The main flow: preset → edit → a rule's message at the field → start → live progress → stop."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import engine.detach
from engine.config import save_config
from lmftui.screens.config_editor import ConfigEditorScreen
from lmftui.screens.monitor import MonitorScreen
from lmftui.widgets.charts import MetricChart
from lmftui.widgets.config_form import ConfigForm

from .conftest import FakeRun, make_app, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


async def test_preset_edit_invalid_start_monitor_stop(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[FakeRun] = []

    def fake_start(config, extra_env=None):
        run_dir = Path(config.output_dir)
        run_dir.mkdir(parents=True)
        save_config(config, run_dir / "run_config.yaml")
        started.append(FakeRun(run_dir, steps=2000, interval=0.01))
        return run_dir

    monkeypatch.setattr(engine.detach, "start_detached", fake_start)
    app = make_app(home)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("1")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfigEditorScreen))
            screen = app.screen
            form = screen.query_one(ConfigForm)
            assert app.draft_source == "tiny"
            assert form.values["model_name_or_path"] == "tiny-model"
            assert "output_dir" not in app.draft  # the run gets its own folder under the runs dir

            # an invalid combination: quantization with full finetuning
            form.focus_field("finetuning_type")
            await pilot.pause()
            form.rows()["finetuning_type"].editor.value = "full"
            form.show_group("Quantization")
            await pilot.pause()
            form.rows()["quantization_bit"].editor.value = 4
            await wait_for(pilot, lambda: screen.problems)
            message = "quantization_bit, finetuning_type: a quantized base can only be trained with lora or oft"
            assert str(screen.query_one("#config-status").render()).startswith(f"✗ {message}")
            assert message in str(form.rows()["quantization_bit"].query_one(".field-error").render())
            assert form.rows()["finetuning_type"].has_class("-invalid")
            groups = screen.query_one("#groups")
            assert str(groups.get_option("Quantization").prompt) == "Quantization ✗"
            assert str(groups.get_option("Method").prompt) == "Method ✗"

            # ctrl+r refuses and jumps to the field
            await pilot.press("ctrl+r")
            await pilot.pause()
            assert not started and app.focused is form.rows()["quantization_bit"].editor

            # a typed value that is out of range shows pydantic's rule at that field
            form.rows()["quantization_bit"].editor.clear()
            form.focus_field("lora_rank")
            await pilot.pause()
            editor = form.rows()["lora_rank"].editor
            editor.value = ""
            await pilot.press("0")  # typed, as a user would
            await wait_for(pilot, lambda: "lora_rank" in {f for p in screen.problems for f in p.fields})
            assert "greater than or equal to 1" in str(form.rows()["lora_rank"].query_one(".field-error").render())

            editor.value = "4"
            form.rows()["finetuning_type"].editor.value = "lora"
            await wait_for(pilot, lambda: not screen.problems)
            assert "lora_rank: 4" in str(screen.query_one("#yaml-text").render())

            await pilot.press("ctrl+r")
            await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen))
            monitor = app.screen
            run_dir = started[0].run_dir
            assert run_dir.parent == home / "runs" and run_dir.name.endswith("-tiny-sft")

            await wait_for(pilot, lambda: monitor.history.step >= 20 and monitor.running)
            await wait_for(pilot, lambda: "step" in str(monitor.query_one("#run-progress-text").render()))
            chart = monitor.query_one("#loss-chart", MetricChart)
            await wait_for(pilot, lambda: len(chart.curves.get("loss", ([], []))[0]) >= 10)
            assert "running" in str(monitor.query_one("#run-title").render())

            await pilot.press("s", "y")
            assert started[0].wait(20) == 0
            await wait_for(pilot, lambda: monitor.history.done is not None and not monitor.running)
            await wait_for(pilot, lambda: "stopped" in str(monitor.query_one("#run-title").render()))
    finally:
        for run in started:
            run.kill()


async def test_start_error_is_a_modal(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        app.set_draft({"model_name_or_path": "x", "do_train": True, "dataset": "d"}, source="custom")
        app.switch_mode("config")
        await pilot.pause()
        monkeypatch.setattr(sys, "executable", "/nonexistent/python")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "ErrorModal")
        assert "Cannot start the run" in app.screen.query_one(".dialog").border_title
