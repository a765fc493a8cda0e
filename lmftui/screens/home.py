"""Home: the machine, the presets as one-key quick starts, and recent runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from engine.rundir import RunInfo

from ..hosts.base import HostFacts
from ..hosts.listing import run_infos
from ..hosts.records import check_host
from ..hosts.store import HostError, load_hosts
from ..widgets.hardware_panel import HardwarePanel
from ..widgets.host_picker import HostChecked, HostPicker
from ..widgets.runs_table import RunsTable
from .base import AreaScreen

RECENT_RUNS = 8


class RunsListed(Message):
    """A fresh listing of the runs folder (coalesced: only the newest matters)."""

    def __init__(self, runs: list[RunInfo]):
        super().__init__()
        self.runs = runs

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunsListed)


class PresetsListed(Message):
    """The presets folder was read (the config schema loads off the first paint)."""

    def __init__(self, presets: list[Any], error: str = ""):
        super().__init__()
        self.presets, self.error = presets, error


def read_presets() -> PresetsListed:
    from engine.presets import list_presets

    try:
        return PresetsListed(list_presets())
    except OSError as exc:
        return PresetsListed([], f"presets unreadable: {exc}")


def preset_draft(config: Any) -> dict[str, Any]:
    """A preset as a draft: its output_dir is dropped so the run gets its own folder under the runs dir."""
    from engine.config import config_to_dict

    raw = config_to_dict(config)
    raw.pop("output_dir", None)
    return raw


def saved_host_names() -> list[str]:
    try:
        return sorted(load_hosts())
    except HostError:
        return []


def local_facts(hw: Any) -> HostFacts:
    """This machine's detected hardware as host facts (GPUs empty while detecting)."""
    gpus = [{"name": g.name, "memory_gb": round(g.memory_total_gb, 1)} for g in getattr(hw, "gpus", []) or []]
    return HostFacts(name="local", reachable=True, gpus=gpus, lmf_tui="here", cpu_count=getattr(hw, "cpu_count", None))


class HomeScreen(AreaScreen):
    """The first screen: what this machine can do and what is running."""

    AREA = "home"
    BINDINGS = [
        *[Binding(str(i), f"preset({i - 1})", "Preset", show=i == 1, key_display="1-9" if i == 1 else None,
                  id=f"preset.open-{i}", tooltip=f"Open preset {i} in the config editor, ready to start (ctrl+r).")
          for i in range(1, 10)],
        Binding("n", "new", "New", id="config.new", tooltip="Start a config from a model of your choice."),
        Binding("o", "open_run", "Open run", id="run.open", tooltip="Show the selected run on the monitor."),
        Binding("r", "refresh", "Refresh", id="home.refresh", tooltip="Re-read the runs folder."),
        Binding("t", "pick_host", "Target", id="host.pick", show=False,
                tooltip="Choose where new runs start: this machine or a saved SSH host (Enter on it)."),
    ]

    def compose_body(self) -> ComposeResult:
        self.presets: list[Any] = []
        with Horizontal(id="home-top"):
            yield HardwarePanel(self.app.hardware, id="hardware")
            with Vertical(id="presets-box"):
                yield OptionList(id="presets")
            if hosts := saved_host_names():  # only with hosts: the home of a one-machine user is unchanged
                yield HostPicker(hosts, self.app.target_host, id="hosts")
        yield RunsTable(id="recent-runs")
        yield Static("", id="runs-empty", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#presets-box").border_title = "Quick start (1-9)"
        self.query_one("#recent-runs").border_title = f"Recent runs · {self.app.runs_dir}"
        self.work(lambda: self.post_message(read_presets()), "list-presets")
        if self.query("#hosts"):
            picker = self.query_one(HostPicker)
            picker.border_title = "Target (t)"
            picker.show_facts(local_facts(self.app.hardware))
            for name in picker.host_names[1:]:
                self.work(lambda name=name: self.post_message(HostChecked(check_host(name))), f"check-{name}")
        self.action_refresh()
        self.set_interval(2.0, self.action_refresh)

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def show_hardware(self, hw) -> None:
        self.query_one(HardwarePanel).show(hw)
        if self.query("#hosts"):
            self.query_one(HostPicker).show_facts(local_facts(hw))

    def on_host_checked(self, message: HostChecked) -> None:
        self.app.host_facts[message.facts.name] = message.facts
        self.query_one(HostPicker).show_facts(message.facts)

    def action_pick_host(self) -> None:
        if not self.query("#hosts"):
            self.notify("no SSH hosts yet — add one with `lmf-tui hosts add NAME USER@ADDRESS`", severity="warning")
            return
        self.query_one(HostPicker).focus()

    def on_presets_listed(self, message: PresetsListed) -> None:
        options = self.query_one("#presets", OptionList)
        self.presets = message.presets
        for i, preset in enumerate(self.presets[:9], 1):
            gpu = " [dim](GPU)[/]" if preset.needs_gpu else ""
            options.add_option(Option(f"[b]{i}[/b] {preset.title}{gpu} [dim]{preset.description}[/]", id=preset.name))
        if not self.presets:
            options.add_option(Option(message.error or "no presets found", disabled=True))

    def action_preset(self, index: int) -> None:
        if index >= len(self.presets):
            self.notify(f"there is no preset {index + 1}", severity="warning")
            return
        from engine.config import ConfigError

        preset = self.presets[index]
        try:
            config = preset.load()
        except ConfigError as exc:
            self.app.show_error(str(exc), f"Preset {preset.name}")
            return
        self.app.set_draft(preset_draft(config), source=preset.name)
        self.app.switch_mode("config")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "hosts":
            name = event.option.id or "local"
            self.app.target_host = name
            event.option_list.choose(name)
            self.notify(f"new runs start on {name}", title="Target")
            return
        self.action_preset(event.option_index)

    def action_new(self) -> None:
        from ..app import NEW_DRAFT

        self.app.set_draft(dict(NEW_DRAFT), source="custom")
        self.app.switch_mode("model")

    def action_refresh(self) -> None:
        root = self.app.runs_dir
        self.work(lambda: self.post_message(RunsListed(run_infos(root)[:RECENT_RUNS])), "list-runs")

    def on_runs_listed(self, message: RunsListed) -> None:
        self.query_one(RunsTable).show_runs(message.runs)
        self.query_one("#runs-empty", Static).update(
            "" if message.runs else "No runs yet — press 1 for the demo preset, or n for a new config.")

    def action_open_run(self) -> None:
        run = self.query_one(RunsTable).current_run()
        if run is not None:
            self.app.watch_run(Path(run.path))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_run()
