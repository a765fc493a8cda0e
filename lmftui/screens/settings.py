"""The settings dialog: runs folder and chart refresh (the theme toggles with ctrl+t)."""

from __future__ import annotations

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from ..settings import Settings


class SettingsScreen(ModalScreen[Settings | None]):
    """Edits a copy of the settings; enter returns it validated, escape returns None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel", tooltip="Close without saving.")]

    def __init__(self, settings: Settings, runs_dir_in_use: str):
        super().__init__(classes="dialog-screen")
        self.settings, self.runs_dir_in_use = settings, runs_dir_in_use

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Settings"
            yield Label(f"Runs folder (empty: default; --runs-dir and LMF_TUI_RUNS win) · now {self.runs_dir_in_use}")
            yield Input(self.settings.runs_dir or "", placeholder="default", id="runs-dir")
            yield Label("Chart refresh in seconds (0.1–10; applies to monitors opened after)")
            yield Input(str(self.settings.chart_refresh_s), id="chart-refresh")
            yield Static("", id="settings-error", markup=False)
            yield Label("enter: save · escape: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        runs_dir = self.query_one("#runs-dir", Input).value.strip() or None
        refresh = self.query_one("#chart-refresh", Input).value.strip()
        try:
            updated = Settings.model_validate({**self.settings.model_dump(), "runs_dir": runs_dir,
                                               "chart_refresh_s": refresh})
        except ValidationError as exc:
            err = exc.errors()[0]
            self.query_one("#settings-error", Static).update(f"{err['loc'][0]}: {err['msg']}")
            return
        self.dismiss(updated)

    def action_cancel(self) -> None:
        self.dismiss(None)
