"""A form generated from TrainConfig: one row per field, grouped, with help and per-field errors."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union

import yaml
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Checkbox, ContentSwitcher, Input, Label, Select, Static

from engine.config import ConfigError, Problem, TrainConfig, coerce_value, field_groups
from engine.distributed.strategy import CHOICES, STRATEGIES, strategy_of

STRATEGY_GROUP = "Advanced"  # the group whose page starts with the strategy choice
from engine.config.io import SECRET_KEYS
from engine.config.relevance import unused_fields


def literal_choices(annotation: Any) -> tuple[list[Any], bool] | None:
    """The values of a Literal (or Optional Literal / Optional bool) and whether None is allowed."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return list(typing.get_args(annotation)), False
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and typing.get_origin(args[0]) is Literal:
            return list(typing.get_args(args[0])), True
        if args == [bool]:
            return [True, False], True
    return None


def value_text(value: Any) -> str:
    """How a field value is written in an Input ('' for unset)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return str(value)


class FieldRow(Vertical):
    """The field's name and help, its editor, and the rule it breaks (if any)."""

    def __init__(self, name: str, value: Any, problem: str = ""):
        super().__init__(id=f"row-{name}", classes="field-row")
        self.field_name = name
        self.info = TrainConfig.model_fields[name]
        self.default = self.info.default
        self.loaded = value
        self.problem = problem

    def compose(self) -> ComposeResult:
        yield Label(f"[b]{self.field_name}[/b] [dim]{self.info.description or ''}[/]", classes="field-label")
        yield self._editor()
        yield Static("", classes="field-error", markup=False)

    def on_mount(self) -> None:
        self.set_problem(self.problem)

    def _editor(self) -> Widget:
        wid, value = f"f-{self.field_name}", self.loaded
        choices = literal_choices(self.info.annotation)
        if self.info.annotation is bool:
            return Checkbox(self.field_name, bool(value), id=wid, compact=True, classes="field-editor")
        if choices is not None:
            values, nullable = choices
            return Select([(value_text(v), v) for v in values], value=Select.NULL if value is None else value,
                          allow_blank=nullable, id=wid, compact=True, classes="field-editor", prompt="(unset)")
        return Input(value_text(value), placeholder=value_text(self.default) or "(unset)", id=wid, compact=True,
                     classes="field-editor", password=self.field_name in SECRET_KEYS)

    @property
    def editor(self) -> Widget:
        return self.query_one(".field-editor")

    def get_value(self) -> Any:
        """The editor's value in the field's type; untouched text keeps the value it was loaded with."""
        editor = self.editor
        if isinstance(editor, Checkbox):
            return editor.value
        if isinstance(editor, Select):
            return None if editor.is_blank() else editor.value
        if editor.value == value_text(self.loaded):
            return self.loaded
        return coerce_value(self.field_name, editor.value.strip())

    def set_value(self, value: Any) -> None:
        self.loaded = value
        editor = self.editor
        if isinstance(editor, Checkbox):
            editor.value = bool(value)
        elif isinstance(editor, Select):
            editor.value = Select.NULL if value is None else value
        else:
            editor.value = value_text(value)

    def set_problem(self, text: str) -> None:
        self.problem = text
        self.query_one(".field-error", Static).update(text)
        self.set_class(bool(text), "-invalid")


def strategy_name(values: dict[str, Any]) -> str | None:
    """The strategy the form's deepspeed/fsdp keys choose; None when they name a file of the user's own."""
    keys = {k: values.get(k) for k in ("deepspeed", "fsdp", "fsdp_config")}
    for name, choice in CHOICES:
        if choice == keys:
            return name
    try:
        return strategy_of(TrainConfig(**{k: v for k, v in keys.items() if v is not None})).name + "*"
    except (ConfigError, ValueError):
        return None


class StrategyRow(Vertical):
    """How several GPUs share a run, as one choice that sets deepspeed / fsdp, with a line explaining it."""

    def __init__(self, values: dict[str, Any]):
        super().__init__(id="row-strategy", classes="field-row")
        self.current = strategy_name(values)

    def compose(self) -> ComposeResult:
        yield Label("[b]multi-GPU strategy[/b] [dim]sets deepspeed / fsdp; used when several GPUs or nodes train "
                    "(FORCE_TORCHRUN, NNODES …)[/]", classes="field-label")
        yield Select([(STRATEGIES[name].label, name) for name, _ in CHOICES], id="f-strategy", compact=True,
                     value=self.current if self.current in dict(CHOICES) else Select.NULL, allow_blank=True,
                     prompt="(a file of your own)")
        yield Static(self.explain(), id="strategy-explain", markup=False)

    def explain(self) -> str:
        if self.current is None:
            return "deepspeed / fsdp name a file that cannot be read — see the fields below"
        custom = self.current.endswith("*")
        return ("your own file: " if custom else "") + STRATEGIES[self.current.rstrip("*")].explain

    def show(self, values: dict[str, Any]) -> None:
        """Follow the keys when they change in their own fields."""
        self.current = strategy_name(values)
        select = self.query_one(Select)
        with select.prevent(Select.Changed):
            select.value = self.current if self.current in dict(CHOICES) else Select.NULL
        self.query_one("#strategy-explain", Static).update(self.explain())


class ConfigForm(ContentSwitcher):
    """One scrolling page per schema group, its rows built when first shown; `values` holds every field."""

    def __init__(self, **kw: Any):
        self.groups = {g: names for g, names in field_groups().items() if names}
        self.values: dict[str, Any] = {n: f.default for n, f in TrainConfig.model_fields.items()}
        self.problems: dict[str, str] = {}
        self.built: set[str] = set()
        super().__init__(initial=f"group-{next(iter(self.groups))}", **kw)

    def compose(self) -> ComposeResult:
        for group in self.groups:
            yield VerticalScroll(id=f"group-{group}", classes="form-group")

    def on_mount(self) -> None:
        self.show_group(next(iter(self.groups)))

    def rows(self) -> dict[str, FieldRow]:
        """The rows built so far, by field name."""
        return {row.field_name: row for row in self.query(FieldRow)}

    def show_group(self, group: str) -> None:
        """Show a group's page, building its rows the first time."""
        if group not in self.built:
            self.built.add(group)
            rows: list[Widget] = [StrategyRow(self.values)] if group == STRATEGY_GROUP else []
            self.query_one(f"#group-{group}").mount_all(
                rows + [FieldRow(n, self.values[n], self.problems.get(n, "")) for n in self.groups[group]])
            self.call_after_refresh(self.hide_unused)
        self.current = f"group-{group}"

    def field_changed(self, row: FieldRow) -> None:
        """Take a row's editor value into `values`."""
        self.values[row.field_name] = row.get_value()
        if row.field_name in ("deepspeed", "fsdp", "fsdp_config"):
            for strategy in self.query(StrategyRow):
                strategy.show(self.values)
        self.hide_unused()

    def choose_strategy(self, name: str) -> None:
        """Set deepspeed / fsdp / fsdp_config as the strategy `name` needs."""
        keys = dict(CHOICES)[name]
        self.values.update(keys)
        rows = self.rows()
        for key, value in keys.items():
            if key in rows:
                rows[key].set_value(value)
        for strategy in self.query(StrategyRow):
            strategy.show(self.values)
        self.hide_unused()

    def hide_unused(self) -> None:
        """Hide the rows of keys the current values leave unused (other optimizers' settings)."""
        hidden = unused_fields(self.values)
        for name, row in self.rows().items():
            row.display = name not in hidden

    def raw(self, explicit: set[str]) -> dict[str, Any]:
        """The form as a config mapping: the keys set before (`explicit`) and every changed one."""
        fields = TrainConfig.model_fields
        return {n: v for n, v in self.values.items() if n in explicit or v != fields[n].default}

    def load(self, raw: dict[str, Any]) -> None:
        """Fill every field from a mapping (missing keys get their defaults)."""
        self.values = {n: raw.get(n, f.default) for n, f in TrainConfig.model_fields.items()}
        for name, row in self.rows().items():
            row.set_value(self.values[name])
        for strategy in self.query(StrategyRow):
            strategy.show(self.values)
        self.hide_unused()

    def show_problems(self, problems: list[Problem]) -> None:
        """Put each broken rule's one-line message at every field it names."""
        texts: dict[str, list[str]] = {}
        for problem in problems:
            for name in problem.fields:
                texts.setdefault(name, []).append(str(problem))
        self.problems = {n: "\n".join(t) for n, t in texts.items()}
        for name, row in self.rows().items():
            row.set_problem(self.problems.get(name, ""))

    def group_of(self, name: str) -> str:
        return (TrainConfig.model_fields[name].json_schema_extra or {})["group"]

    def focus_field(self, name: str) -> None:
        """Show the field's group and put the cursor in its editor."""
        self.show_group(self.group_of(name))

        def focus() -> None:
            row = self.rows()[name]
            row.editor.focus()
            row.scroll_visible()

        self.call_after_refresh(focus)  # rows of a group shown for the first time mount on the next refresh
