"""Config editor files: save (atomic, LLaMA-Factory keys), open a YAML or a run folder, presets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.config import load_config
from lmftui.screens.config_editor import ConfigEditorScreen
from lmftui.screens.modals import ErrorModal, PathPrompt
from lmftui.widgets.config_form import ConfigForm

from .conftest import make_app, wait_for, write_journal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


async def answer_prompt(app, pilot, text: str) -> None:
    await wait_for(pilot, lambda: isinstance(app.screen, PathPrompt))
    box = app.screen.query_one("#path")
    box.value = text
    await pilot.press("enter")
    await pilot.pause()


async def test_save_then_open_round_trip(home: Path) -> None:
    app = make_app(home)
    target = home / "out" / "my.yaml"
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("1")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfigEditorScreen))
        form = app.screen.query_one(ConfigForm)
        form.focus_field("learning_rate")
        await pilot.pause()
        form.rows()["learning_rate"].editor.value = "2e-4"
        await pilot.press("ctrl+s")
        await answer_prompt(app, pilot, str(target))
        saved = yaml.safe_load(target.read_text())
        assert saved["learning_rate"] == 2e-4 and saved["model_name_or_path"] == "tiny-model"
        assert load_config(target).dataset == "tiny_alpaca"  # loads back through the CLI's reader
        assert not [p for p in target.parent.iterdir() if p.name.startswith(".my.yaml.")]  # no temp left

        app.set_draft({}, source="custom")
        await pilot.press("ctrl+o")
        await answer_prompt(app, pilot, str(target))
        assert form.values["learning_rate"] == 2e-4 and app.draft_source == "my"


async def test_open_run_folder_and_bad_yaml(home: Path) -> None:
    run_dir = write_journal(home / "runs" / "old-run", steps=2)
    bad = home / "bad.yaml"
    bad.write_text("learning_rat: 1\n")
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("ctrl+o")
        await answer_prompt(app, pilot, str(run_dir))
        form = app.screen.query_one(ConfigForm)
        assert form.values["dataset"] == "tiny_alpaca" and "output_dir" not in app.draft
        await pilot.press("ctrl+o")
        await answer_prompt(app, pilot, str(bad))
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorModal))
        assert "learning_rat: unknown key — did you mean 'learning_rate'?" in str(
            app.screen.query_one("#error-message").render())


async def test_from_preset_dialog(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: app.draft_source == "tiny")
        assert app.screen.query_one(ConfigForm).values["max_steps"] == 4


async def test_yaml_view_toggles_at_80_columns(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        view = app.screen.query_one("#yaml-view")
        assert not view.display
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert view.display


@pytest.mark.parametrize("extra", [{}, {"quantization_bit": 4, "finetuning_type": "full"}])  # valid and invalid
async def test_yaml_view_redacts_the_hub_token(home: Path, extra) -> None:
    app = make_app(home)
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_draft({"model_name_or_path": "tiny-model", "do_train": True, "dataset": "tiny_alpaca",
                       "hf_hub_token": "hf_SECRET_value", **extra}, source="custom")
        app.switch_mode("config")
        await pilot.pause()
        text = str(app.screen.query_one("#yaml-text").render())
        assert "hf_hub_token: '***'" in text and "hf_SECRET_value" not in text
        assert app.screen.query_one(ConfigForm).rows()["hf_hub_token"].editor.password
