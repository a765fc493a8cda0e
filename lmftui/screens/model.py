"""Model & method: the model to train, its size and architecture, what fits this machine, the method."""

from __future__ import annotations

import typing
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Label, Select, Static

from engine.config import ConfigError, TrainConfig
from engine.distributed.strategy import CHOICES, STRATEGIES

from .base import AreaScreen

STAGES = typing.get_args(TrainConfig.model_fields["stage"].annotation)
METHODS = typing.get_args(TrainConfig.model_fields["finetuning_type"].annotation)


class ModelInspected(Message):
    """The model's shape and the sizing suggestion (or the one-line reason they are missing)."""

    def __init__(self, model: str, shape: Any = None, params: int | None = None, suggestion: Any = None,
                 error: str = ""):
        super().__init__()
        self.model, self.shape, self.params, self.suggestion, self.error = model, shape, params, suggestion, error


def inspect_model(model: str, hardware: Any) -> ModelInspected:
    """Read the model's config.json or GGUF metadata and size it for this hardware (no torch)."""
    from engine.sizing import count_params, read_model_shape, suggest

    try:
        shape = read_model_shape(model)
    except ConfigError as exc:
        return ModelInspected(model, error=str(exc))
    try:
        suggestion = suggest(shape, hardware=hardware)
    except ConfigError as exc:
        return ModelInspected(model, shape, count_params(shape).total, error=str(exc))
    return ModelInspected(model, shape, count_params(shape).total, suggestion)


def describe_shape(shape: Any, params: int | None) -> str:
    """Size and architecture in two or three lines."""
    size = f"{params / 1e9:.2f} B parameters" if params and params >= 1e9 else (
        f"{params / 1e6:.1f} M parameters" if params else "size unknown")
    moe = f" · MoE {shape.num_experts} experts, {shape.experts_per_token} active" if shape.num_experts else ""
    return (f"[b]{shape.name or 'model'}[/b] · {size}{moe}\n"
            f"{shape.num_layers} layers · hidden {shape.hidden_size} · {shape.num_heads} heads "
            f"({shape.num_kv_heads} kv) · vocab {shape.vocab_size}")


class ModelScreen(AreaScreen):
    """Pick a model (hub id, folder, .gguf) and a stage and method; sizing says what fits."""

    AREA = "model"
    BINDINGS = [
        Binding("ctrl+s", "apply", "Use", id="model.use",
                tooltip="Put the model, stage and method into the config and open the editor."),
        Binding("ctrl+l", "inspect", "Inspect", id="model.inspect", tooltip="Read the model's size and size it."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.methods: list[Any] = []
        # a chosen row's own keys: "full + GaLore/BAdam" settings, the strategy of a several-GPU row
        self.optimizer_keys: dict[str, Any] = {}

    def compose_body(self) -> ComposeResult:
        with Vertical(id="model-form"):
            yield Label("Model: hub id (owner/name), local folder, .gguf file or embedded:smollm2-135m-instruct")
            yield Input(placeholder="e.g. Qwen/Qwen3-0.6B", id="model-path")
            with Horizontal(id="model-choices"):
                yield Select([(s, s) for s in STAGES], value="sft", allow_blank=False, id="stage", compact=True)
                yield Select([(m, m) for m in METHODS], value="lora", allow_blank=False, id="method", compact=True)
                yield Select([("16-bit base", 0), ("4-bit base (QLoRA)", 4), ("8-bit base", 8)], value=0,
                             allow_blank=False, id="bits", compact=True)
        yield Static("Type a model and press enter.", id="model-info")
        yield DataTable(id="methods", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#model-form").border_title = "Model & method"
        table = self.query_one("#methods", DataTable)
        table.border_title = "What fits this machine (enter: choose)"
        table.add_columns("method", "bits", "peak GB", "GPUs", "fits")
        self.on_screen_resume()

    def on_screen_resume(self) -> None:
        draft = self.app.draft
        model = self.query_one("#model-path", Input)
        if draft.get("model_name_or_path") and model.value != draft["model_name_or_path"]:
            model.value = str(draft["model_name_or_path"])
            self.action_inspect()
        self.query_one("#stage", Select).value = draft.get("stage") or "sft"
        self.query_one("#method", Select).value = draft.get("finetuning_type") or "lora"
        self.query_one("#bits", Select).value = draft.get("quantization_bit") or 0
        model.focus()

    def show_hardware(self, hw: Any) -> None:
        if self.query_one("#model-path", Input).value:
            self.action_inspect()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_inspect()

    def action_inspect(self) -> None:
        model = self.query_one("#model-path", Input).value.strip()
        if not model:
            self.query_one("#model-info", Static).update("Type a model and press enter.")
            return
        self.query_one("#model-info", Static).update(f"reading {model}…")
        hardware = self.app.target_hardware  # sized for the machine the run will go to
        self.work(lambda: self.post_message(inspect_model(model, hardware)), "inspect")

    def on_model_inspected(self, message: ModelInspected) -> None:
        info = self.query_one("#model-info", Static)
        if message.error and message.shape is None:
            info.update(f"[red]{message.error}[/]")
        else:
            text = describe_shape(message.shape, message.params)
            info.update(text + (f"\n[yellow]{message.error}[/]" if message.error else ""))
        table = self.query_one("#methods", DataTable)
        table.clear()
        self.methods = list(message.suggestion.methods) if message.suggestion else []
        for m in self.methods:
            gpus = str(m.gpus) if m.strategy == "ddp" else f"{m.gpus} · {STRATEGIES[m.strategy].label}"
            table.add_row(m.method, str(m.bits), f"{m.peak_gb:.1f}", gpus,
                          Text("yes", style="green") if m.fits else Text("no", style="red"))
        if message.suggestion:
            hw = message.suggestion.hardware
            table.border_title = (f"What fits {hw.get('memory_gb', 0):.0f} GB of {hw.get('compared_to', 'memory')}"
                                  " (enter: choose)")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.cursor_row >= len(self.methods):
            return
        chosen = self.methods[event.cursor_row]
        method, bits = chosen.method, chosen.bits
        self.optimizer_keys = {}
        if method.startswith("full +"):
            method = "full"
            self.optimizer_keys = {k: v for k, v in chosen.keys.items() if k.startswith(("use_", "galore_", "pure_"))}
        if chosen.strategy != "ddp":  # the row fits only with this strategy: the config uses it too
            self.optimizer_keys.update(dict(CHOICES)[chosen.strategy])
        if method == "qlora":
            method = "lora"
        if method in METHODS:
            self.query_one("#method", Select).value = method
        self.query_one("#bits", Select).value = bits if bits in (4, 8) else 0

    def action_apply(self) -> None:
        model = self.query_one("#model-path", Input).value.strip()
        bits = self.query_one("#bits", Select).value
        self.app.update_draft(model_name_or_path=model or None, stage=self.query_one("#stage", Select).value,
                              finetuning_type=self.query_one("#method", Select).value,
                              quantization_bit=bits or None, **self.optimizer_keys)
        if self.app.draft_source == "custom" and model:
            self.app.draft_source = model.rstrip("/").rsplit("/", 1)[-1]
        self.app.switch_mode("config")
