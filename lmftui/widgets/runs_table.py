"""A table of runs with their status, shared by the home and runs screens."""

from __future__ import annotations

import datetime as _dt

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist

from engine.rundir import RunInfo

STATUS_STYLE = {"running": "bold green", "done": "bold dodger_blue2", "failed": "bold red", "stopped": "bold dark_orange",
                "new": "dim"}  # readable on dark and light themes


class RunsTable(DataTable):
    """One row per run, keyed by its path; marked rows show a ✓."""

    def __init__(self, **kw):
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.runs: dict[str, RunInfo] = {}

    def on_mount(self) -> None:
        self._add_columns(12)

    def _add_columns(self, name_width: int) -> None:
        self.add_column(" ", key="mark", width=1)
        self.add_column("status", key="status", width=7)
        self.add_column("run", key="name", width=name_width)
        self.add_column("stage", key="stage", width=5)
        self.add_column("step", key="step", width=11)
        self.add_column("loss", key="loss", width=6)
        self.add_column("started", key="started", width=11)

    def show_runs(self, runs: list[RunInfo], marked: set[str] = frozenset()) -> None:
        """Replace the rows, keeping the cursor on the same run."""
        current = self.current_path()
        self.runs = {str(r.path): r for r in runs}
        self.clear(columns=True)
        self._add_columns(max([12] + [len(r.name) for r in runs]))
        for run in runs:
            key = str(run.path)
            started = _dt.datetime.fromtimestamp(run.started).strftime("%m-%d %H:%M") if run.started else ""
            self.add_row("✓" if key in marked else "", Text(run.status, style=STATUS_STYLE.get(run.status, "")),
                         run.name, run.stage, f"{run.step}/{run.max_steps or '?'}",
                         f"{run.loss:.3f}" if run.loss is not None else "", started, key=key)
        if current and current in self.runs:
            self.move_cursor(row=self.get_row_index(current))

    def current_path(self) -> str | None:
        """The path of the run under the cursor."""
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        except CellDoesNotExist:
            return None

    def current_run(self) -> RunInfo | None:
        path = self.current_path()
        return self.runs.get(path) if path else None
