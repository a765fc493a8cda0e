"""User settings: defaults, atomic save/load, bad files, and where runs go."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmftui.settings import Settings, effective_runs_dir, load_settings, save_settings, settings_path


def test_round_trip_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "s" / "settings.json"
    assert load_settings(path) == Settings()
    save_settings(Settings(theme="textual-light", chart_refresh_s=1.0), path)
    assert load_settings(path).theme == "textual-light" and load_settings(path).chart_refresh_s == 1.0
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]


@pytest.mark.parametrize("text", ["{broken", '{"chart_refresh_s": -1}', "[]"])
def test_bad_file_gives_defaults(tmp_path: Path, text: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text)
    assert load_settings(path) == Settings()


def test_settings_live_under_app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMF_TUI_HOME", str(tmp_path))
    assert settings_path() == tmp_path / "settings.json"


def test_runs_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMF_TUI_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LMF_TUI_RUNS", raising=False)
    assert effective_runs_dir(Settings()) == tmp_path / "home" / "runs"
    assert effective_runs_dir(Settings(runs_dir=str(tmp_path / "mine"))) == tmp_path / "mine"
    monkeypatch.setenv("LMF_TUI_RUNS", str(tmp_path / "env"))
    assert effective_runs_dir(Settings(runs_dir=str(tmp_path / "mine"))) == tmp_path / "env"
