"""Config editor: every TrainConfig field as a form, validated as you type, with a live YAML view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.events import Resize
from textual.widgets import Checkbox, Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from engine.config import (ConfigError, TrainConfig, config_to_dict, dump_yaml, parse_config, read_yaml, redact,
                           save_config)

from ..widgets.config_form import ConfigForm, FieldRow, StrategyRow
from .base import AreaScreen
from .home import preset_draft
from .modals import PathPrompt
from .presets import PresetPicker

WIDE = 110
VALIDATE_DELAY_S = 0.15


class ConfigEditorScreen(AreaScreen):
    """Edits the app's draft config; ctrl+r starts it as a run."""

    AREA = "config"
    BINDINGS = [
        Binding("ctrl+r", "start", "Start", id="config.start-run", tooltip="Validate and start this config as a run."),
        Binding("ctrl+s", "save", "Save", id="config.save", tooltip="Save the config as a YAML file (atomic)."),
        Binding("ctrl+o", "load", "Open", id="config.open-yaml", tooltip="Load a LLaMA-Factory YAML file."),
        Binding("ctrl+n", "preset", "Preset", id="config.from-preset", tooltip="Start over from a preset."),
        Binding("ctrl+y", "toggle_yaml", "YAML", id="config.toggle-yaml", tooltip="Show or hide the YAML view."),
        Binding("ctrl+g", "groups", "Groups", id="config.focus-groups", tooltip="Jump to the list of field groups."),
        Binding("ctrl+l", "first_error", "Error", id="config.goto-error", tooltip="Jump to the first invalid field."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.seen_version = -1
        self.explicit: set[str] = set()
        self.problems = []
        self.save_path = ""
        self._timer = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="editor"):
            yield OptionList(id="groups")
            yield ConfigForm(id="form")
            with VerticalScroll(id="yaml-view"):
                yield Static("", id="yaml-text", markup=False)
        yield Static("", id="config-status", markup=False)

    def on_mount(self) -> None:
        form = self.query_one(ConfigForm)
        groups = self.query_one("#groups", OptionList)
        groups.add_options([Option(g, id=g) for g in form.groups])
        groups.border_title = "Groups"
        self.query_one("#yaml-view").border_title = "YAML"
        self._reload()

    def on_screen_resume(self) -> None:
        self._reload()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")

    def _reload(self) -> None:
        """Fill the form from the app's draft when another screen changed it."""
        if self.seen_version == self.app.draft_version:
            return
        self.seen_version = self.app.draft_version
        self.explicit = set(self.app.draft)
        form = self.query_one(ConfigForm)
        form.load(self.app.draft)
        self.query_one("#form").border_title = f"Config · {self.app.draft_source}"
        self.call_after_refresh(self.validate)

    # --- validation ---------------------------------------------------------------------------
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    def _changed(self, event: Input.Changed | Select.Changed | Checkbox.Changed) -> None:
        row = event.control.parent
        if isinstance(row, StrategyRow) and isinstance(event, Select.Changed) and event.value != Select.NULL:
            self.query_one(ConfigForm).choose_strategy(str(event.value))
        elif isinstance(row, FieldRow):
            self.query_one(ConfigForm).field_changed(row)
        else:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(VALIDATE_DELAY_S, self.validate)

    def raw(self) -> dict[str, Any]:
        return self.query_one(ConfigForm).raw(self.explicit)

    def validate(self) -> bool:
        """Check the form as `lmf-tui train` would; put each message at its fields. True when valid."""
        raw = self.raw()
        self.app.draft = raw
        checked = {**raw, "output_dir": raw.get("output_dir") or str(self.app.new_output_dir(raw))}
        status = self.query_one("#config-status", Static)
        try:
            config = parse_config(checked, "train")
        except ConfigError as exc:
            self.problems = exc.problems
            self.query_one(ConfigForm).show_problems(exc.problems)
            self._mark_groups()
            status.update(f"✗ {exc}")
            status.set_class(True, "-invalid")
            self.query_one("#yaml-text", Static).update(dump_yaml(redact(raw)))
            return False
        self.problems = []
        self.query_one(ConfigForm).show_problems([])
        self._mark_groups()
        status.update("✓ valid — ctrl+r starts the run" + ("" if raw.get("output_dir") else
                                                           f" in {self.app.runs_dir}"))
        status.set_class(False, "-invalid")
        shown = config_to_dict(config)
        if not raw.get("output_dir"):
            shown.pop("output_dir", None)
        self.query_one("#yaml-text", Static).update(dump_yaml(shown))
        return True

    def _mark_groups(self) -> None:
        """A ✗ beside every group holding an invalid field."""
        form = self.query_one(ConfigForm)
        bad = {form.group_of(n) for p in self.problems for n in p.fields if n in TrainConfig.model_fields}
        groups = self.query_one("#groups", OptionList)
        for group in form.groups:
            groups.replace_option_prompt(group, f"{group} ✗" if group in bad else group)

    # --- actions ------------------------------------------------------------------------------
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "groups" and event.option.id:
            self.query_one(ConfigForm).show_group(event.option.id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "groups" and event.option.id:
            form = self.query_one(ConfigForm)
            form.show_group(event.option.id)
            self.call_after_refresh(form.focus_field, form.groups[event.option.id][0])

    def action_groups(self) -> None:
        self.query_one("#groups").focus()

    def action_first_error(self) -> None:
        for problem in self.problems:
            for name in problem.fields:
                if name in TrainConfig.model_fields:
                    self.query_one(ConfigForm).focus_field(name)
                    return
        self.notify("no invalid field")

    def action_toggle_yaml(self) -> None:
        self.toggle_class("-show-yaml")

    def action_start(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        if self.validate():
            self.app.start_run(self.raw())
        else:
            self.action_first_error()

    def action_save(self) -> None:
        default = self.save_path or str(Path.cwd() / f"{self.app.draft_source}.yaml")
        self.app.push_screen(PathPrompt("Save config as", default), self._save_to)

    def _save_to(self, path: str | None) -> None:
        if not path:
            return
        try:
            saved = save_config(parse_config(self.raw(), "any"), Path(path).expanduser())
        except Exception as exc:
            self.app.report_error(exc, "Not saved")
            return
        self.save_path = str(saved)
        self.notify(f"saved {saved}", title="Config")

    def action_load(self) -> None:
        self.app.push_screen(PathPrompt("Open config YAML (a file or a run folder)", self.save_path), self._load_from)

    def _load_from(self, path: str | None) -> None:
        if not path:
            return
        target = Path(path).expanduser()
        if target.is_dir():
            target = target / "run_config.yaml"
        try:
            config = parse_config(read_yaml(target), "any")
        except Exception as exc:
            self.app.report_error(exc, "Cannot open")
            return
        raw = config_to_dict(config)
        if target.name == "run_config.yaml":
            raw.pop("output_dir", None)
        self.save_path = str(target)
        self.app.set_draft(raw, source=target.parent.name if target.name == "run_config.yaml" else target.stem)
        self._reload()

    def action_preset(self) -> None:
        self.app.push_screen(PresetPicker(), self._from_preset)

    def _from_preset(self, name: str | None) -> None:
        if name:
            from engine.presets import get_preset

            try:
                config = get_preset(name).load()
            except ConfigError as exc:
                self.app.show_error(str(exc), f"Preset {name}")
                return
            self.app.set_draft(preset_draft(config), source=name)
            self._reload()
