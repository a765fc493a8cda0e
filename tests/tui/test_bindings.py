"""Keyboard-first: every binding has an id and a tooltip; the palette lists them as "area: verb"."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from textual.screen import Screen

import lmftui.screens
from lmftui.app import BindingCommands, LmfApp

from .conftest import make_app

pytestmark = pytest.mark.anyio


def all_bindings():
    yield "LmfApp", LmfApp.BINDINGS
    for info in pkgutil.iter_modules(lmftui.screens.__path__):
        module = importlib.import_module(f"lmftui.screens.{info.name}")
        for name, obj in vars(module).items():
            if isinstance(obj, type) and issubclass(obj, Screen) and obj.__module__ == module.__name__:
                yield name, vars(obj).get("BINDINGS", [])


def test_every_binding_has_an_area_verb_id_and_a_tooltip() -> None:
    for owner, bindings in all_bindings():
        for binding in bindings:
            assert binding.id and "." in binding.id, (owner, binding)
            assert binding.tooltip, (owner, binding)


async def test_palette_lists_area_verb_commands(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f3")
        await pilot.pause()
        provider = BindingCommands(app.screen)
        texts = [text for text, _, _ in provider._commands()]
        assert "config: start run" in texts and "runs: open" in texts and "app: toggle theme" in texts
        help_of = {text: help for text, help, _ in provider._commands()}
        assert help_of["config: save"].endswith("[^s]")
        hits = [hit async for hit in provider.search("config: save")]
        assert hits and hits[0].text == "config: save"
        await hits[0].command()
        await pilot.pause()
        assert app.screen.__class__.__name__ == "PathPrompt"


async def test_theme_toggle_is_saved(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        before = app.current_theme.dark
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.current_theme.dark != before
        assert app.settings.theme == app.theme


async def test_settings_dialog_saves_runs_dir(home: Path) -> None:
    app = make_app(home)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f9")
        await pilot.pause()
        app.screen.query_one("#chart-refresh").value = "0"
        app.screen.query_one("#chart-refresh").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "chart_refresh_s" in str(app.screen.query_one("#settings-error").render())
        app.screen.query_one("#chart-refresh").value = "2"
        app.screen.query_one("#runs-dir").value = str(home / "elsewhere")
        await pilot.press("enter")
        await pilot.pause()
        assert app.settings.chart_refresh_s == 2 and app.settings.runs_dir == str(home / "elsewhere")
        assert '"chart_refresh_s": 2.0' in (home / "home" / "settings.json").read_text()
