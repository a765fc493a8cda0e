"""Predict: the base model and the tuned one answer the same evaluation rows, side by side, with their scores.

The answers come from `python -m engine predict RUN --jsonl` in a child process (the app never loads
torch); a worker reads its JSON lines and posts them here, and this screen owns what is shown.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Checkbox, DataTable, Input, Static

from engine.process import ChildProcess
from engine.rundir import CONFIG_FILE

from .base import AreaScreen

STYLES = Path(__file__).resolve().parent.parent / "styles" / "predict.tcss"
MODELS = ("base", "tuned")
SCORES = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")


class PredictScreen(AreaScreen):
    """A run (or YAML) and a few settings; then a table of prompt / label / base / tuned, the highlighted
    row in full, and each model's BLEU-4 and ROUGE."""

    AREA = "predict"
    CSS_PATH = str(STYLES)
    BINDINGS = [
        Binding("ctrl+r", "run", "Predict", id="predict.run",
                tooltip="The base and the tuned model answer the run's evaluation rows."),
        Binding("escape", "cancel", "Cancel", id="predict.cancel", tooltip="Stop the prediction process."),
        Binding("ctrl+o", "edit_source", "Run", id="predict.choose-run",
                tooltip="Edit the run folder or YAML (then key=value overrides)."),
    ]

    class Line(Message):
        """A JSON line from the prediction process, or its end (`record` has `exit`)."""

        def __init__(self, record: dict[str, Any]):
            super().__init__()
            self.record = record

    def __init__(self, source: str | None = None):
        super().__init__()
        self.source = source
        self.proc: ChildProcess | None = None
        self.rows: list[dict[str, str]] = []
        self.answers: dict[str, dict[int, str]] = {m: {} for m in MODELS}
        self.row_scores: dict[str, dict[int, dict[str, float]]] = {m: {} for m in MODELS}
        self.metrics: dict[str, dict[str, float]] = {}
        self.failed = ""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="predict-form"):
            yield Input(placeholder="run folder or YAML with adapter_name_or_path [key=value …]",
                        id="predict-source", tooltip="What to compare; ctrl+r starts.")
            yield Input("8", id="predict-rows", type="integer", tooltip="rows to answer")
            yield Input("64", id="predict-max", type="integer", tooltip="max new tokens")
            yield Checkbox("sample", id="predict-sample", compact=True,
                           tooltip="Sample with the config's temperature, top_p, top_k (off: greedy).")
        yield DataTable(id="predict-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="predict-bottom"):
            with VerticalScroll(id="predict-detail-box"):
                yield Static("", id="predict-detail")
            yield DataTable(id="predict-metrics", cursor_type="none")
        yield Static("ctrl+r: base and tuned answer the same rows", id="predict-status", classes="hint")

    def on_mount(self) -> None:
        metrics = self.query_one("#predict-metrics", DataTable)
        metrics.add_column("model", key="model")
        for key in SCORES:
            metrics.add_column(key, key=key)
        source = self.source or self._watched_run()
        if source:
            self.query_one("#predict-source", Input).value = source
        self._fill_table()

    def _watched_run(self) -> str:
        run = getattr(self.app, "watched_run", None)
        return str(run) if run and (Path(run) / CONFIG_FILE).exists() else ""

    def on_screen_resume(self) -> None:
        box = self.query_one("#predict-source", Input)
        if not self.running and (run := self._watched_run()) and not box.value.startswith(run):
            box.value = run

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.alive

    # --- the child process ----------------------------------------------------------------------
    def command(self) -> list[str] | None:
        """The arguments of `python -m engine predict SOURCE --rows N --jsonl max_new_tokens=M [do_sample=false] …`."""
        try:
            words = shlex.split(self.query_one("#predict-source", Input).value)
            rows = int(self.query_one("#predict-rows", Input).value)
            max_new = int(self.query_one("#predict-max", Input).value)
        except ValueError as exc:
            self._status(f"rows and max new tokens are whole numbers; source: {exc}", error=True)
            return None
        if not words:
            self._status("name a run folder or a YAML with adapter_name_or_path", error=True)
            return None
        if rows < 1 or max_new < 1:
            self._status("rows and max new tokens must be 1 or more", error=True)
            return None
        sampling = [] if self.query_one("#predict-sample", Checkbox).value else ["do_sample=false"]
        return ["predict", words[0], "--rows", str(rows), "--jsonl", f"max_new_tokens={max_new}", *sampling,
                *words[1:]]

    def action_run(self) -> None:
        if self.running:
            self.notify("a prediction is running (escape stops it)", severity="warning")
            return
        args = self.command()
        if args is None:
            return
        self._reset()
        try:
            proc = self.proc = ChildProcess(*args).start()
        except OSError as exc:  # no Python to run the engine with, or no process left to start
            self.proc = None
            self._status(f"cannot start the engine: {exc}", error=True)
            return
        self.work(lambda: self._read_lines(proc), "read")
        self._status("loading the model …")

    def _read_lines(self, proc: ChildProcess) -> None:
        """Worker: each record becomes a Line message; then `exited` with the code and the last error line."""
        while (record := proc.read()) is not None:
            self.post_message(self.Line(record))
        code = proc.wait()
        error = proc.error_text("")
        proc.close()
        self.post_message(self.Line({"type": "exited", "code": code,
                                     "message": error if error.startswith("error:") else ""}))

    def action_cancel(self) -> None:
        if self.running:
            self.proc.cancel()  # type: ignore[union-attr]
            self._status("stopping …")

    def on_unmount(self) -> None:
        self.action_cancel()

    def action_edit_source(self) -> None:
        self.query_one("#predict-source", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.action_run()

    # --- state from the lines -------------------------------------------------------------------
    def on_predict_screen_line(self, message: Line) -> None:
        record = message.record
        event = record["type"]
        if event == "rows":
            self._show_rows(record)
        elif event == "progress":
            self._status(f"{record.get('model')}: {record.get('rows_done')}/{record.get('rows_total')} answers …")
        elif event == "answer" and record.get("model") in MODELS:
            model, index = record["model"], int(record.get("index", 0))
            self.answers[model][index] = str(record.get("text", ""))
            self.row_scores[model][index] = dict(record.get("scores") or {})
            table = self.query_one("#predict-table", DataTable)
            if str(index) in table.rows:
                table.update_cell(str(index), model, _one_line(self.answers[model][index]))
            self._show_detail()
        elif event == "metrics" and record.get("model") in MODELS:
            self.metrics[record["model"]] = dict(record.get("scores") or {})
            self._show_metrics()
        elif event == "done":
            self._status(self._summary())
        elif event == "error":
            self.failed = str(record.get("message", "failed"))
            self._status(self.failed, error=True)
        elif event == "exited" and record["code"] != 0 and not self.failed:
            self._status(record["message"] or f"prediction stopped (exit {record['code']})", error=True)

    def _reset(self) -> None:
        self.rows, self.metrics, self.failed = [], {}, ""
        self.answers = {m: {} for m in MODELS}
        self.row_scores = {m: {} for m in MODELS}
        self.query_one("#predict-table", DataTable).clear()
        self.query_one("#predict-metrics", DataTable).clear()
        self.query_one("#predict-detail", Static).update("")

    def _fill_table(self) -> None:
        """The rows table from the screen's state, its four text columns sharing the width."""
        table = self.query_one("#predict-table", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        width = max(8, (self.size.width - 9) // 4 - 2) if self.size.width else 20  # 4 columns fit beside #
        table.add_column("#", key="index", width=3)
        for key in ("prompt", "label", *MODELS):
            table.add_column(key, key=key, width=width)
        for i, row in enumerate(self.rows):
            answers = [_one_line(self.answers[m][i]) if i in self.answers[m] else "…" for m in MODELS]
            table.add_row(str(i + 1), _one_line(row["prompt"]), _one_line(row["label"]), *answers, key=str(i))
        if self.rows:
            table.move_cursor(row=min(max(cursor, 0), len(self.rows) - 1))

    def on_resize(self) -> None:
        self._fill_table()

    def _show_rows(self, record: dict[str, Any]) -> None:
        self.rows = [{"prompt": str(r.get("prompt", "")), "label": str(r.get("label", ""))}
                     for r in record.get("rows") or []]
        self._fill_table()
        table = self.query_one("#predict-table", DataTable)
        table.border_title = f"{len(self.rows)} {record.get('kind', 'rows')}"
        table.border_subtitle = f"base {record.get('base', '')} · tuned {record.get('tuned', '')}"
        self._show_detail()

    def _show_metrics(self) -> None:
        table = self.query_one("#predict-metrics", DataTable)
        table.clear()
        for model in MODELS:
            if model in self.metrics:
                scores = self.metrics[model]
                table.add_row(model, *(f"{scores.get(k, 0.0):.2f}" for k in SCORES), key=model)

    @on(DataTable.RowHighlighted, "#predict-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """The highlighted row in full: prompt, label, and each answer with its scores."""
        table = self.query_one("#predict-table", DataTable)
        index = table.cursor_row
        if not 0 <= index < len(self.rows):
            return
        row = self.rows[index]
        text = Text()
        text.append("prompt ", style="bold").append(row["prompt"] + "\n")
        text.append("label  ", style="bold").append(row["label"] + "\n")
        for model in MODELS:
            answer = self.answers[model].get(index)
            scores = self.row_scores[model].get(index)
            text.append(f"{model:<6} ", style="bold").append(answer if answer is not None else "…")
            if scores:
                text.append(f"  (rouge-l {scores.get('rouge-l', 0.0):.1f}, bleu-4 {scores.get('bleu-4', 0.0):.1f})",
                            style="dim")
            text.append("\n")
        self.query_one("#predict-detail", Static).update(text)

    def _summary(self) -> str:
        parts = [f"{m} rouge-l {self.metrics[m].get('rouge-l', 0.0):.2f}" for m in MODELS if m in self.metrics]
        return "done · " + " · ".join(parts) if parts else "done"

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#predict-status", Static)
        status.update(Text(text))
        status.set_class(error, "error")


def _one_line(text: str) -> str:
    return " ".join(text.split())
