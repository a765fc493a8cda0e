"""The lmf-tui app: areas (modes), shared state (draft config, watched run), palette, errors."""

from __future__ import annotations

import datetime as _dt
import importlib
import re
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from engine.rundir import RunLocked

from .settings import Settings, effective_runs_dir, load_settings, save_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NEW_DRAFT = {"do_train": True}  # a new config trains (LLaMA-Factory's do_train defaults to false)
LIGHT_THEME, DARK_THEME = "textual-light", "textual-dark"


class BindingCommands(Provider):
    """Every binding with an `area.verb` id, as palette commands reading "area: verb"."""

    def _commands(self) -> list[tuple[str, str, Any]]:
        found: dict[str, tuple[str, str, Any]] = {}
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.id or "." not in binding.id or not active.enabled:
                continue
            area, verb = binding.id.split(".", 1)
            text = f"{area}: {verb.replace('-', ' ')}"
            shown = binding.key_display or self.app.get_key_display(binding)
            found.setdefault(text, (text, f"{binding.tooltip} [{shown}]",
                                    partial(self.app.run_action, binding.action, active.node)))
        return sorted(found.values())

    async def discover(self) -> Hits:
        for text, help, command in self._commands():
            yield DiscoveryHit(text, command, help=help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, help, command in self._commands():
            if (score := matcher.match(text)) > 0:
                yield Hit(score, matcher.highlight(text), command, text=text, help=help)


AREA_SCREENS = {"home": "home.HomeScreen", "model": "model.ModelScreen", "config": "config_editor.ConfigEditorScreen",
                "data": "data.DataScreen", "monitor": "monitor.MonitorScreen", "runs": "runs.RunsScreen",
                "chat": "chat.ChatScreen", "export": "export.ExportScreen", "predict": "predict.PredictScreen"}


def make_area_screen(area: str) -> Screen:
    """The screen of an area, its module imported on first use."""
    module_name, class_name = AREA_SCREENS[area].rsplit(".", 1)
    return getattr(importlib.import_module(f"lmftui.screens.{module_name}"), class_name)()


class RemoteStarted(Message):
    """A run was started on an SSH host (folder: its local record), or could not be (error)."""

    def __init__(self, folder: Path | None, host: str, error: str = ""):
        super().__init__()
        self.folder, self.host, self.error = folder, host, error


class LmfApp(App[None]):
    """Terminal workstation for fine-tuning: quitting it never stops a run."""

    TITLE = "lmf-tui"
    CSS_PATH = [PROJECT_ROOT / "lmftui" / "styles" / name for name in ("app.tcss", "screens.tcss")]
    COMMANDS = App.COMMANDS | {BindingCommands}
    MODES = {area: partial(make_area_screen, area) for area in AREA_SCREENS}
    BINDINGS = [
        Binding("f1", "area('home')", "Home", show=False, id="home.open", tooltip="Hardware, presets and recent runs."),
        Binding("f2", "area('model')", "Model", show=False, id="model.open", tooltip="Choose the model and the method."),
        Binding("f3", "area('config')", "Config", show=False, id="config.open", tooltip="Edit every setting of the run."),
        Binding("f4", "area('data')", "Data", show=False, id="data.open", tooltip="Pick data sets and preview samples."),
        Binding("f5", "area('monitor')", "Monitor", show=False, id="run.monitor", tooltip="Watch the current run live."),
        Binding("f6", "area('runs')", "Runs", show=False, id="runs.open", tooltip="Every run: attach, open, compare."),
        Binding("f7", "area('chat')", "Chat", show=False, id="chat.open", tooltip="Chat with a model or a run's result."),
        Binding("f8", "area('export')", "Export", show=False, id="export.open", tooltip="Merge and export a run's result."),
        Binding("f10", "area('predict')", "Predict", show=False, id="predict.open",
                tooltip="Base and tuned model answer the same evaluation rows, with BLEU/ROUGE."),
        Binding("f9", "settings", "Settings", id="app.settings", tooltip="Runs folder and chart refresh."),
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.toggle-theme", tooltip="Switch dark and light themes."),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True,
                tooltip="Quit the app; running trainings keep running."),
    ]

    def __init__(self, settings: Settings | None = None, hardware: Any = None, attach: Path | None = None,
                 detect_hardware: bool = True, settings_file: Path | None = None):
        super().__init__()
        self.settings = settings or load_settings(settings_file)
        self.settings_file = settings_file
        self.hardware = hardware
        self.detect_hardware = detect_hardware and hardware is None
        self.draft: dict[str, Any] = dict(NEW_DRAFT)
        self.draft_source = "custom"
        self.draft_version = 0
        self.watched_run: Path | None = Path(attach).resolve() if attach else None
        self.target_host = "local"  # where new runs start: this machine or a saved SSH host
        self.host_facts: dict[str, Any] = {}  # HostFacts of the saved hosts, as the home screen checked them
        self.theme = self.settings.theme if self.settings.theme in self.available_themes else DARK_THEME

    # --- start-up -----------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.switch_mode("monitor" if self.watched_run else "home")
        if self.detect_hardware:
            self.run_worker(self._detect_hardware, thread=True, exit_on_error=False, group="hardware")
        if not self.settings.linger_notice_shown:
            from .launch import logout_kill_notice

            if notice := logout_kill_notice():
                self.notify(notice, title="Runs may die at logout", severity="warning", timeout=20)
                self.save_settings(linger_notice_shown=True)

    def on_unmount(self) -> None:
        """Attached helpers (chat servers, an export, a data preview) end with the app; runs do not."""
        from engine.process import cancel_attached

        cancel_attached()

    def _detect_hardware(self) -> Any:
        from engine.hardware import detect_hardware

        return detect_hardware()

    # --- shared state -------------------------------------------------------------------------
    @property
    def target_hardware(self) -> Any:
        """The hardware that new runs are sized for: this machine's, or the target host's."""
        facts = self.host_facts.get(self.target_host)
        if self.target_host == "local" or facts is None or not facts.reachable:
            return self.hardware
        return facts.hardware()

    @property
    def runs_dir(self) -> Path:
        return effective_runs_dir(self.settings)

    def set_draft(self, raw: dict[str, Any], source: str | None = None) -> None:
        """Replace the config being edited; screens reload it when shown."""
        self.draft = dict(raw)
        if source:
            self.draft_source = source
        self.draft_version += 1

    def update_draft(self, **changes: Any) -> None:
        """Change some keys of the config being edited."""
        self.set_draft({**self.draft, **changes})

    def watch_run(self, run_dir: Path) -> None:
        """Show this run on the monitor."""
        self.watched_run = Path(run_dir).resolve()
        self.switch_mode("monitor")

    def new_output_dir(self, raw: dict[str, Any]) -> Path:
        """runs_dir/<timestamp>-<preset-or-model>-<stage>."""
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        label = self.draft_source if self.draft_source != "custom" else Path(
            str(raw.get("model_name_or_path") or "model").rstrip("/")).name
        label = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-") or "run"
        return self.runs_dir / f"{stamp}-{label}-{raw.get('stage') or 'sft'}"

    def start_run(self, raw: dict[str, Any]) -> Path | None:
        """Validate and start the draft as a detached run; errors become a modal."""
        from engine.config import ConfigError, parse_config
        from engine.detach import start_detached

        raw = dict(raw)
        if not raw.get("output_dir"):
            raw["output_dir"] = str(self.new_output_dir(raw))
        try:
            config = parse_config(raw, "train")
            if self.target_host != "local":
                self.notify(f"sending the inputs to {self.target_host} and starting there…", title="Run")
                self.run_worker(lambda: self._start_remote(config, self.target_host), thread=True,
                                group="start-remote", exit_on_error=False)
                return None
            run_dir = start_detached(config)
        except (ConfigError, RunLocked, OSError) as exc:
            self.show_error(str(exc), "Cannot start the run")
            return None
        self.notify(f"started {run_dir.name}", title="Run")
        self.watch_run(run_dir)
        return run_dir

    def _start_remote(self, config: Any, host: str) -> None:
        """Worker: ship the inputs and start the run on `host`; the outcome comes back as a message."""
        from engine.config import ConfigError

        from .hosts.launch import start_remote
        from .hosts.store import HostError

        try:
            self.post_message(RemoteStarted(start_remote(config, host), host))
        except (HostError, ConfigError, OSError) as exc:
            self.post_message(RemoteStarted(None, host, str(exc)))

    def on_remote_started(self, message: "RemoteStarted") -> None:
        if message.folder is None:
            self.show_error(message.error, f"Cannot start the run on {message.host}")
            return
        self.notify(f"started {message.folder.name}", title="Run")
        self.watch_run(message.folder)

    def save_settings(self, **changes: Any) -> None:
        self.settings = self.settings.model_copy(update=changes)
        try:
            save_settings(self.settings, self.settings_file)
        except OSError as exc:
            self.notify(f"settings not saved: {exc}", severity="warning")

    # --- actions ------------------------------------------------------------------------------
    def action_area(self, name: str) -> None:
        self.switch_mode(name)

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME
        self.save_settings(theme=self.theme)

    def action_settings(self) -> None:
        from .screens.settings import SettingsScreen

        def saved(updated: Settings | None) -> None:
            if updated is not None:
                self.save_settings(**updated.model_dump())
                self.notify(f"settings saved · runs in {self.runs_dir}", title="Settings")

        self.push_screen(SettingsScreen(self.settings, str(self.runs_dir)), saved)

    def show_error(self, message: str, title: str = "Error", fix: str = "") -> None:
        from .screens.modals import ErrorModal

        self.push_screen(ErrorModal(message, title, fix))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where a failed worker becomes a message for the user."""
        if event.state == WorkerState.SUCCESS and event.worker.group == "hardware":
            self.hardware = event.worker.result
            for screen in self.screen_stack:
                if hasattr(screen, "show_hardware"):
                    screen.show_hardware(self.hardware)
        elif event.state == WorkerState.ERROR:
            self.report_error(event.worker.error, f"{event.worker.name or 'task'} failed")

    def report_error(self, error: BaseException, title: str) -> None:
        """Show a failure in a modal, in the same one line the command line prints; a bug's traceback is
        saved to a file whose path the modal gives, and the app stays usable."""
        from engine.errors import explain, save_crash

        line = explain(error)
        if line is None:
            first = (str(error).splitlines() or [""])[0][:200]
            line = (f"internal error: {type(error).__name__}: {first} — traceback saved to "
                    f"{save_crash(error, 'app')}; please report it")
        self.show_error(line, title)
