"""Data: the data sets of dataset_info.json that fit the stage, and tokenized samples to check."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from engine.config import ConfigError, dump_yaml
from engine.process import ChildProcess

from ..widgets.sample_view import SampleView
from .base import AreaScreen

SAMPLE_ROWS = 5
TABLE_COLUMNS = (" ", "name", "kind", "format", "source")
PREVIEW_TIMEOUT_S = 600


class DatasetsRead(Message):
    def __init__(self, dataset_dir: str, entries: dict[str, Any] | None, error: str = ""):
        super().__init__()
        self.dataset_dir, self.entries, self.error = dataset_dir, entries, error


class SamplesRead(Message):
    def __init__(self, data: dict[str, Any] | None, error: str = ""):
        super().__init__()
        self.data, self.error = data, error


def read_datasets(dataset_dir: str) -> DatasetsRead:
    """dataset_info.json entries, or the one-line reason they cannot be read."""
    from engine.data.dataset_info import read_dataset_info

    try:
        return DatasetsRead(dataset_dir, read_dataset_info(dataset_dir))
    except ConfigError as exc:
        return DatasetsRead(dataset_dir, None, str(exc))


def preview_samples(raw: dict[str, Any], rows: int = SAMPLE_ROWS) -> SamplesRead:
    """Run `python -m engine data CONFIG --json --rows N` in a subprocess (tokenizers stay out of the app)."""
    with tempfile.TemporaryDirectory(prefix="lmf-tui-data-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(dump_yaml(raw), encoding="utf-8")
        child = ChildProcess("data", str(config), "--json", "--rows", str(rows)).start()
        try:
            code, records = child.run(timeout=PREVIEW_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return SamplesRead(None, f"lmf-tui data took over {PREVIEW_TIMEOUT_S}s — lower max_samples")
    if code != 0:
        return SamplesRead(None, child.error_text(f"lmf-tui data exited with {code}"))
    reports = [r for r in records if r["type"] == "data"]
    return SamplesRead(reports[-1]) if reports else SamplesRead(None, "lmf-tui data --json printed no report")


def source_label(attr: Any) -> str:
    """Where an entry's rows come from, marked when they cannot be read here as they are."""
    if not attr.usable:
        return "✗ " + attr.error.split(f"entry '{attr.name}': ", 1)[-1]
    if attr.load_from == "hf_hub":
        return f"hub: {attr.source}"
    name = Path(attr.source).name
    return f"✗ missing: {name}" if attr.status == "missing file" else name


class DataScreen(AreaScreen):
    """Choose data sets for the draft config and preview how they are tokenized and masked."""

    AREA = "data"
    BINDINGS = [
        Binding("space", "toggle", "Use/unuse", id="data.toggle",
                tooltip="Add the data set to the config, or remove it."),
        Binding("p", "preview", "Preview", id="data.preview",
                tooltip="Tokenize a few rows: trained tokens, lengths, truncation."),
        Binding("ctrl+l", "reload", "Reload", id="data.reload", tooltip="Re-read dataset_info.json."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, Any] = {}
        self.stage = ""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="data-top"):
            yield Input(placeholder="folder holding dataset_info.json", id="dataset-dir")
            yield Static("", id="data-stage")
        with Horizontal(id="data-main"):
            with Vertical(id="data-left"):
                yield DataTable(id="datasets", cursor_type="row")
                yield Static("", id="data-error", markup=False)
            with VerticalScroll(id="samples-box"):
                yield SampleView("[dim]p: preview tokenized rows of the chosen data sets[/]", id="samples")

    def on_mount(self) -> None:
        table = self.query_one("#datasets", DataTable)
        table.border_title = "Data sets (space: use)"
        self.query_one("#samples-box").border_title = "Samples"
        self.on_screen_resume()

    def on_screen_resume(self) -> None:
        folder = str(self.app.draft.get("dataset_dir") or "data")
        box = self.query_one("#dataset-dir", Input)
        stage = self.app.draft.get("stage") or "sft"
        self.query_one("#data-stage", Static).update(f"stage [b]{stage}[/b]")
        if box.value != folder or self.stage != stage:
            box.value = folder
            self.stage = stage
            self.action_reload()
        else:
            self._fill()
        self.query_one("#datasets").focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.app.update_draft(dataset_dir=event.value.strip() or "data")
        self.action_reload()

    def action_reload(self) -> None:
        folder = self.query_one("#dataset-dir", Input).value.strip() or "data"
        self.work(lambda: self.post_message(read_datasets(folder)), "read-datasets")

    def on_datasets_read(self, message: DatasetsRead) -> None:
        error = self.query_one("#data-error", Static)
        if message.entries is None:
            self.entries = {}
            error.update(f"✗ {message.error}")
            error.set_class(True, "-invalid")
        else:
            self.entries = message.entries
            error.update("")
            error.set_class(False, "-invalid")
        self._fill()

    def _chosen(self) -> list[str]:
        return [n.strip() for n in str(self.app.draft.get("dataset") or "").split(",") if n.strip()]

    def _fill(self) -> None:
        table = self.query_one("#datasets", DataTable)
        stage = self.app.draft.get("stage") or "sft"
        chosen = self._chosen()
        fitting = {n: a for n, a in self.entries.items() if a.fits_stage(stage) or not a.usable}
        rows = [("✓" if name in chosen else "", name, attr.kind, attr.formatting, source_label(attr))
                for name, attr in fitting.items()]
        # Widths from the rows themselves: auto-sized columns resize one refresh late and show cut names.
        table.clear(columns=True)
        for index, label in enumerate(TABLE_COLUMNS):
            table.add_column(label, width=max([cell_len(label), *(cell_len(row[index]) for row in rows)]))
        for row in rows:
            table.add_row(*row, key=row[1])
        hidden = len(self.entries) - len(fitting)
        unusable = sum(not a.usable for a in fitting.values())
        error = self.query_one("#data-error", Static)
        if self.entries and not error.has_class("-invalid"):
            notes = [f"{hidden} hidden: not for stage {stage}"] if hidden else []
            if unusable:
                notes.append(f"{unusable} unusable (✗)")
            if len(fitting) == unusable:
                notes = [f"✗ none of the {len(self.entries)} data sets fits stage {stage}"]
            error.update(" · ".join(notes))

    def action_toggle(self) -> None:
        table = self.query_one("#datasets", DataTable)
        if not table.row_count:
            return
        name = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        chosen = self._chosen()
        attr = self.entries.get(name)
        if name not in chosen and attr is not None and not attr.usable:
            self.app.show_error(attr.error, "Cannot use this data set")
            return
        chosen = [n for n in chosen if n != name] if name in chosen else chosen + [name]
        self.app.update_draft(dataset=",".join(chosen) or None,
                              dataset_dir=self.query_one("#dataset-dir", Input).value.strip() or "data")
        row = table.cursor_row
        self._fill()
        table.move_cursor(row=row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_toggle()

    def action_preview(self) -> None:
        raw = dict(self.app.draft)
        if not raw.get("model_name_or_path"):
            self.app.show_error("model_name_or_path: is required — choose a model first (F2)", "Cannot preview")
            return
        if not raw.get("dataset"):
            self.app.show_error("dataset: is required — choose a data set with space", "Cannot preview")
            return
        self.query_one("#samples", SampleView).update("[dim]tokenizing…[/]")
        self.work(lambda: self.post_message(preview_samples(raw)), "preview")

    def on_samples_read(self, message: SamplesRead) -> None:
        view = self.query_one("#samples", SampleView)
        if message.data is None:
            view.update(f"[red]{escape(message.error)}[/]")
        else:
            view.show(message.data)
