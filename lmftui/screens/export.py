"""Export: merge the adapter, write GGUF files and a Modelfile by running `python -m engine export --progress-jsonl`
in a subprocess (the app never loads torch) and showing each step as its JSON lines arrive."""

from __future__ import annotations

import importlib.util
import threading
import time
from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Checkbox, DataTable, Input, Label, RichLog, Static

from engine.config import ConfigError, atomic_write_text, dump_yaml, parse_config, read_yaml
from engine.export.pipeline import plan_export
from engine.process import ChildProcess
from engine.rundir import CONFIG_FILE

from .base import AreaScreen

STYLES = Path(__file__).resolve().parent.parent / "styles" / "export.tcss"
GGUF_CHOICES = ("f16", "bf16", "q8_0", "q4_k_m", "q5_k_m", "q6_k")
FIELDS = {"model_name_or_path": "hub id, folder or .gguf", "adapter_name_or_path": "adapter folder(s), comma-separated",
          "template": "empty: the tokenizer's own", "export_dir": "where the merged model and GGUF files go"}
LABELS = {"model_name_or_path": "base model", "adapter_name_or_path": "adapter", "template": "chat template",
          "export_dir": "export to"}
DEFAULT_GGUF = "q4_k_m"  # ticked when llama-cpp-python is installed and the config names no GGUF type
SAVED_CONFIG = "export_config.yaml"


def default_gguf() -> set[str]:
    """The GGUF types ticked for a config that names none: q4_k_m where llama-cpp-python can write it."""
    return {DEFAULT_GGUF} if importlib.util.find_spec("llama_cpp") is not None else set()


class ExportScreen(AreaScreen):
    """A small export form, then live progress of every step (merge, GGUF types, check, Modelfile)."""

    AREA = "export"
    CSS_PATH = str(STYLES)
    BINDINGS = [
        Binding("ctrl+r", "start", "Export", id="export.start", tooltip="Validate the form and run the export."),
        Binding("escape", "cancel", "Cancel", id="export.cancel",
                tooltip="Stop the running export; files under their final names stay whole."),
        Binding("ctrl+o", "open_config", "Open config", id="export.open-config",
                tooltip="Type an export YAML path and press enter to fill the form from it."),
    ]

    class Line(Message):
        """A record from the export process, or its end (type `exited`, with `code` and `message`)."""

        def __init__(self, record: dict[str, Any]):
            super().__init__()
            self.record = record

    def __init__(self, config_path: str | None = None, overrides: dict[str, Any] | None = None):
        super().__init__()
        self.config_path = config_path
        self.overrides = dict(overrides or {})
        self.base: dict[str, Any] = {}
        self.proc: ChildProcess | None = None
        self.last_error = ""
        self.started: dict[str, float] = {}  # running steps and when they started

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="export-body"):
            with Vertical(id="export-form"):
                with Horizontal(classes="export-row"):
                    yield Label("export YAML", classes="export-label")
                    yield Input(placeholder="optional: enter fills the form from it", id="export-config",
                                compact=True)
                for key, hint in FIELDS.items():
                    with Horizontal(classes="export-row"):
                        yield Label(LABELS[key], classes="export-label")
                        yield Input(placeholder=hint, id=f"export-{key}", tooltip=key, compact=True)
                with Horizontal(classes="export-row", id="export-gguf"):
                    yield Label("GGUF types", classes="export-label")
                    for kind in GGUF_CHOICES:
                        yield Checkbox(kind, id=f"gguf-{kind}", compact=True)
                with Horizontal(classes="export-row"):
                    yield Label("Ollama", classes="export-label")
                    yield Checkbox("write a Modelfile beside the GGUF", True, id="export-ollama", compact=True)
            yield DataTable(id="export-steps", cursor_type="none")
            yield RichLog(id="export-log", wrap=True, markup=False)
        yield Static("ctrl+r exports", id="export-status", classes="hint")

    def on_mount(self) -> None:
        table = self.query_one("#export-steps", DataTable)
        table.add_column("step", key="step", width=12)
        table.add_column("status", key="status", width=12)
        table.add_column("details", key="details")
        self.query_one("#export-form").border_title = "Export"
        table.border_title = "Steps"
        self.query_one("#export-log", RichLog).border_title = "Log"
        self.set_interval(1.0, self._tick_running)
        raw: dict[str, Any] = {}
        if self.config_path:
            self.query_one("#export-config", Input).value = self.config_path
            raw = self._read(self.config_path)
        else:
            raw = self._from_app()
        self._fill({**raw, **self.overrides})

    def _from_app(self) -> dict[str, Any]:
        """The watched run (its base, its adapter, a folder beside it), else the draft's model."""
        run = getattr(self.app, "watched_run", None)
        if run and (Path(run) / CONFIG_FILE).exists():
            raw = self._read(str(Path(run) / CONFIG_FILE))
            raw = {k: raw[k] for k in ("model_name_or_path", "template", "default_system") if raw.get(k)}
            if (Path(run) / "adapter_config.json").exists():
                raw["adapter_name_or_path"] = str(run)
            return {**raw, "export_dir": str(Path(run) / "export")}
        draft = getattr(self.app, "draft", None) or {}
        return {k: draft[k] for k in ("model_name_or_path", "adapter_name_or_path", "template") if draft.get(k)}

    def _read(self, path: str) -> dict[str, Any]:
        try:
            return read_yaml(path)
        except ConfigError as exc:
            self._status(str(exc), error=True)
            return {}

    def _fill(self, raw: dict[str, Any]) -> None:
        self.base = dict(raw)
        for key in FIELDS:
            self.query_one(f"#export-{key}", Input).value = str(raw.get(key) or "")
        kinds = {str(k).lower() for k in raw.get("export_gguf") or []}
        if "export_gguf" not in raw:
            kinds = default_gguf()
        for kind in GGUF_CHOICES:
            self.query_one(f"#gguf-{kind}", Checkbox).value = kind in kinds
        self.query_one("#export-ollama", Checkbox).value = raw.get("export_ollama") is not False
        self._show_plan()

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _form_changed(self) -> None:
        self._show_plan()

    def _show_plan(self) -> None:
        """While no export runs: the steps the form would run, each waiting (or why it cannot run)."""
        if self.proc is not None and self.proc.alive:
            return
        table = self.query_one("#export-steps", DataTable)
        table.clear()
        try:
            steps = plan_export(parse_config(self.form_config(), "export")).steps
        except ConfigError:
            return
        for step in steps:
            table.add_row(step, "waiting", "", key=step)

    def form_config(self) -> dict[str, Any]:
        """The YAML mapping the form describes: the opened config with the form's values over it."""
        raw = dict(self.base)
        for key in FIELDS:
            value = self.query_one(f"#export-{key}", Input).value.strip()
            if value:
                raw[key] = value
            else:
                raw.pop(key, None)
        kinds = [k for k in GGUF_CHOICES if self.query_one(f"#gguf-{k}", Checkbox).value]
        kinds += [k for k in raw.get("export_gguf") or [] if k not in GGUF_CHOICES]
        raw["export_gguf"] = kinds or None
        raw["export_ollama"] = bool(kinds) and self.query_one("#export-ollama", Checkbox).value
        return {k: v for k, v in raw.items() if v is not None}

    @on(Input.Submitted, "#export-config")
    def _config_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._fill(self._read(event.value.strip()))

    def action_open_config(self) -> None:
        self.query_one("#export-config", Input).focus()

    def action_start(self) -> None:
        if self.proc is not None and self.proc.alive:
            self.notify("an export is running", severity="warning")
            return
        raw = self.form_config()
        try:
            plan = plan_export(parse_config(raw, "export"))
        except ConfigError as exc:
            self._status(str(exc), error=True)
            return
        plan.export_dir.mkdir(parents=True, exist_ok=True)
        yaml_path = atomic_write_text(plan.export_dir / SAVED_CONFIG, dump_yaml(raw))
        self.last_error = ""
        self.started = {}
        table = self.query_one("#export-steps", DataTable)
        table.clear()
        for step in plan.steps:
            table.add_row(step, "waiting", "", key=step)
        self.query_one("#export-log", RichLog).write(f"$ lmf-tui export {yaml_path} --progress-jsonl")
        self.proc = ChildProcess("export", str(yaml_path), "--progress-jsonl").start()
        threading.Thread(target=self._read_lines, args=(self.proc,), daemon=True).start()
        self._status(f"exporting to {plan.export_dir} … (escape cancels)")

    def _read_lines(self, proc: ChildProcess) -> None:
        while (record := proc.read()) is not None:
            self.post_message(self.Line(record))
        code = proc.wait()
        error = proc.error_text("")
        proc.close()
        self.post_message(self.Line({"type": "exited", "code": code,
                                     "message": error if error.startswith("error:") else ""}))

    def on_export_screen_line(self, message: Line) -> None:
        record = message.record
        table = self.query_one("#export-steps", DataTable)
        log = self.query_one("#export-log", RichLog)
        event, step = record["type"], record.get("step", "")
        known = step in table.rows
        if event == "start" and known:
            self.started[step] = time.monotonic()
            table.update_cell(step, "status", "running")
            table.update_cell(step, "details", record.get("message", ""))
        elif event == "done" and known:
            self.started.pop(step, None)
            table.update_cell(step, "status", "✓ done")
            table.update_cell(step, "details", f"{record.get('message', '')} ({record.get('seconds', 0)}s)")
        elif event == "error":
            self.last_error = f"{step}: {record.get('message')}"
            self.started.pop(step, None)
            if known:
                table.update_cell(step, "status", "✗ failed")
            log.write(f"✗ {step}: {record.get('message')}")
        elif event == "warning":
            log.write(f"! {step}: {record.get('message')}")
        elif event == "finished":
            log.write("\n".join(["export done:", *record.get("files", [])]) if record["ok"] else "export failed")
        elif event == "exited":
            code = record["code"]
            if code == 0:
                self._status("export done")
            else:
                self._status(record["message"] or self.last_error or f"export failed (exit {code})", error=True)

    def _tick_running(self) -> None:
        """Running steps show their elapsed seconds, so a long merge or quantization visibly moves."""
        table = self.query_one("#export-steps", DataTable)
        for step, began in self.started.items():
            if step in table.rows:
                table.update_cell(step, "status", f"running {time.monotonic() - began:.0f}s")

    def action_cancel(self) -> None:
        if self.proc is not None and self.proc.alive:
            self.proc.cancel()
            self._status("cancelling …")

    def on_unmount(self) -> None:
        self.action_cancel()

    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#export-status", Static)
        status.update(text)
        status.set_class(error, "error")
