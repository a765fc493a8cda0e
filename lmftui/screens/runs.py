"""Runs: every run under the runs folder; attach, open, stop, edit its config, compare losses."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from engine.config import ConfigError, read_yaml
from engine.rundir import CONFIG_FILE

from ..hosts.listing import run_infos
from ..hosts.records import stop_everywhere
from ..widgets.runs_table import RunsTable
from .base import AreaScreen
from .compare import CompareScreen
from .home import RunsListed
from .modals import ConfirmModal


class RunsScreen(AreaScreen):
    """The runs folder as a table that refreshes itself."""

    AREA = "runs"
    BINDINGS = [
        Binding("enter", "open", "Open", id="runs.attach", tooltip="Show the run on the monitor (live if running)."),
        Binding("space", "mark", "Mark", id="runs.mark", tooltip="Mark or unmark the run for comparison."),
        Binding("c", "compare", "Compare", id="runs.compare", tooltip="Compare the loss curves of the marked runs."),
        Binding("e", "edit", "Edit config", id="runs.edit-config",
                tooltip="Open the run's run_config.yaml in the config editor."),
        Binding("s", "stop", "Stop", id="runs.stop", tooltip="Ask the selected running run to save and stop."),
        Binding("r", "refresh", "Refresh", id="runs.refresh", tooltip="Re-read the runs folder."),
        Binding("p", "predict", "Predict", show=False, id="runs.predict",
                tooltip="Compare the selected run's base and tuned answers on its evaluation rows."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marked: set[str] = set()
        self.all_runs = []

    def compose_body(self) -> ComposeResult:
        yield RunsTable(id="runs-table")
        yield Static("", id="runs-hint", classes="hint")

    def on_mount(self) -> None:
        self.query_one(RunsTable).border_title = f"Runs · {self.app.runs_dir}"
        self.action_refresh()
        self.set_interval(2.0, self.action_refresh)

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        root = self.app.runs_dir
        self.work(lambda: self.post_message(RunsListed(run_infos(root))), "list-runs")

    def on_runs_listed(self, message: RunsListed) -> None:
        self.all_runs = message.runs
        self.marked &= {str(r.path) for r in message.runs}
        self.query_one(RunsTable).show_runs(message.runs, self.marked)
        self.query_one("#runs-hint", Static).update(
            f"{len(message.runs)} runs · {len(self.marked)} marked" if message.runs
            else f"No runs in {self.app.runs_dir} yet.")

    def action_open(self) -> None:
        run = self.query_one(RunsTable).current_run()
        if run is not None:
            self.app.watch_run(Path(run.path))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_mark(self) -> None:
        table = self.query_one(RunsTable)
        path = table.current_path()
        if path is None:
            return
        self.marked ^= {path}
        table.show_runs(self.all_runs, self.marked)

    def action_compare(self) -> None:
        table = self.query_one(RunsTable)
        paths = sorted(self.marked) or ([table.current_path()] if table.current_path() else [])
        if not paths:
            self.notify("mark runs with space first", severity="warning")
            return
        self.app.push_screen(CompareScreen([Path(p) for p in paths]))

    def action_edit(self) -> None:
        run = self.query_one(RunsTable).current_run()
        if run is None:
            return
        try:
            raw = read_yaml(Path(run.path) / CONFIG_FILE)
        except ConfigError as exc:
            self.app.show_error(str(exc), "Cannot open the run's config")
            return
        raw.pop("output_dir", None)
        raw.pop("resume_from_checkpoint", None)
        self.app.set_draft(raw, source=run.name)
        self.app.switch_mode("config")

    def action_predict(self) -> None:
        run = self.query_one(RunsTable).current_run()
        if run is not None:
            self.app.watched_run = Path(run.path).resolve()
            self.app.switch_mode("predict")

    def action_stop(self) -> None:
        run = self.query_one(RunsTable).current_run()
        if run is None or run.status != "running":
            self.notify("select a running run to stop", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.work(lambda: stop_everywhere(run.path), "stop")
                self.notify(f"stopping {run.name}", title="Run")

        self.app.push_screen(ConfirmModal(f"Stop {run.name}? It saves a checkpoint first."), answered)
