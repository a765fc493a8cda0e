"""Chat: talk to a model through `lmf-tui chat --jsonl` subprocesses (the app never loads torch).

One pane per model; side by side, the same prompt goes to the fine-tuned model and its base.
"""

from __future__ import annotations

import shlex
import threading
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static

from engine.chat.client import ChatProcess
from engine.rundir import CONFIG_FILE

from .base import AreaScreen

STYLES = Path(__file__).resolve().parent.parent / "styles" / "chat.tcss"


def base_model_args(args: list[str]) -> list[str]:
    """The same source without its adapter: the base model to compare with."""
    return [*args, "adapter_name_or_path=null"]


class ChatPane(Vertical):
    """One model's conversation: its chat process, history and transcript."""

    class Event(Message):
        """A line from one of the pane's chat processes (`ready`, `token`, `done`, `error`, or `exited`)."""

        def __init__(self, pane: "ChatPane", process: ChatProcess, record: dict):
            super().__init__()
            self.pane = pane
            self.process = process
            self.record = record

    def __init__(self, title: str, **kw):
        super().__init__(**kw)
        self.title = title
        self.process: ChatProcess | None = None
        self.args: list[str] = []
        self.history: list[dict] = []
        self.ready = False
        self.busy = False
        self._answer: Static | None = None
        self._text = ""

    def compose(self) -> ComposeResult:
        yield Label(self.title, classes="pane-title")
        yield VerticalScroll(classes="transcript")

    def start(self, args: list[str]) -> None:
        """(Re)start the chat process for `args` (source and key=value overrides)."""
        self.close()
        self.args = list(args)
        self.ready = self.busy = False
        self.query_one(Label).update(f"{self.title}: loading {' '.join(args)} …")
        self.process = ChatProcess(args).start()
        # A daemon thread, not a worker: it ends with the process, and never holds the app open.
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()

    def _read(self, process: ChatProcess) -> None:
        while (record := process.read()) is not None:
            self.post_message(self.Event(self, process, record))
        self.post_message(self.Event(self, process, {"type": "exited", "message": process.error_text()}))

    def ask(self, system: str, params: dict) -> None:
        """Send the history (after the system prompt) and show the answer as it streams."""
        if not self.process:
            return
        messages = ([{"role": "system", "content": system}] if system else []) + self.history
        self.busy = True
        self._text = ""
        self._answer = self._add("assistant", "…")
        self.process.ask(messages, **params)

    def add_user(self, text: str) -> None:
        self.history.append({"role": "user", "content": text})
        self._add("user", text)

    def on_token(self, piece: str) -> None:
        self._text += piece
        if self._answer is not None:
            self._answer.update(self._text)
            self.query_one(".transcript", VerticalScroll).scroll_end(animate=False)

    def on_done(self, record: dict) -> None:
        self.busy = False
        text = record.get("text", self._text)
        if self._answer is not None:
            suffix = " [stopped]" if record.get("reason") == "stopped" else ""
            self._answer.update((text or "(no answer)") + suffix)
        if record.get("reason") == "error":
            self.notify(record.get("error", "generation failed"), severity="error", title=self.title)
        self.history.append({"role": "assistant", "content": text})
        self._answer = None

    def drop_last_answer(self) -> bool:
        """Remove the last answer (history and transcript) so it can be generated again."""
        if not self.history or self.history[-1]["role"] != "assistant":
            return False
        self.history.pop()
        messages = self.query(".msg-assistant")
        if messages:
            messages.last().remove()
        return True

    def clear(self) -> None:
        self.history.clear()
        self.query_one(".transcript", VerticalScroll).remove_children()

    def stop(self) -> None:
        if self.process and self.busy:
            self.process.stop_answer()

    def on_unmount(self) -> None:
        self.close()

    def close(self) -> None:
        """End the chat process (the pane's own, when it leaves the screen or loads another model)."""
        if self.process is not None:
            self.process.close(timeout=3)
            self.process = None

    def _add(self, role: str, text: str) -> Static:
        widget = Static(text, markup=False, classes=f"msg msg-{role}")
        self.query_one(".transcript", VerticalScroll).mount(widget)
        self.query_one(".transcript", VerticalScroll).scroll_end(animate=False)
        return widget


class ChatScreen(AreaScreen):
    """Type a prompt, read the streamed answer; history, system prompt, sampling, side by side."""

    AREA = "chat"
    CSS_PATH = str(STYLES)
    BINDINGS = [
        Binding("escape", "stop", "Stop", id="chat.stop", tooltip="Stop the answer being generated."),
        Binding("ctrl+r", "regenerate", "Regenerate", id="chat.regenerate",
                tooltip="Drop the last answer and generate it again."),
        Binding("ctrl+l", "clear", "Clear", id="chat.clear", tooltip="Forget the conversation (keeps the model)."),
        Binding("ctrl+b", "side_by_side", "Side by side", id="chat.side-by-side",
                tooltip="Also send each prompt to the base model (without the adapter), side by side."),
        Binding("ctrl+o", "switch_model", "Model", id="chat.switch-model",
                tooltip="Edit the model field (config, folder, .gguf or hub id, then key=value) and press enter."),
        Binding("ctrl+y", "edit_system", "System", id="chat.system-prompt", tooltip="Edit the system prompt."),
        Binding("ctrl+t", "edit_sampling", "Sampling", id="chat.sampling",
                tooltip="Edit temperature, top_p and max new tokens."),
    ]

    def __init__(self, source: list[str] | None = None, compare: list[str] | None = None,
                 temperature: float = 0.7, top_p: float = 0.9, max_new_tokens: int = 512):
        super().__init__()
        self.source = list(source) if source else None
        self.compare = list(compare) if compare else None
        self.sampling = (temperature, top_p, max_new_tokens)
        self.speed = ""  # tokens and tokens/s of the last answer, for the status line
        self.side_by_side = False

    def compose_body(self) -> ComposeResult:
        temperature, top_p, max_new = self.sampling
        with Horizontal(id="chat-settings"):
            yield Input(placeholder="model: config.yaml, folder, file.gguf or hub id [key=value …]",
                        id="chat-model", tooltip="What to chat with; enter loads it.")
            yield Input(placeholder="system prompt", id="chat-system", tooltip="Sent first in every request.")
            yield Input(str(temperature), id="chat-temperature", type="number", tooltip="temperature (0 = greedy)")
            yield Input(str(top_p), id="chat-top-p", type="number", tooltip="top_p")
            yield Input(str(max_new), id="chat-max", type="integer", tooltip="max new tokens")
        with Horizontal(id="chat-panes"):
            yield ChatPane("fine-tuned", id="pane-main")
            yield ChatPane("base", id="pane-base", classes="-hidden")
        yield Input(placeholder="Type a message, enter to send", id="chat-prompt", disabled=True)
        yield Static("", id="chat-status", classes="hint")

    def on_mount(self) -> None:
        source = self.source or self._default_source()
        if source:
            self.query_one("#chat-model", Input).value = shlex.join(source)
            self._load(source)
        else:
            self._status("Name a model (config, folder, .gguf or hub id) and press enter.")
            self.query_one("#chat-model", Input).focus()

    def _default_source(self) -> list[str]:
        """The watched run (its config and the adapter it saved), else the draft's model."""
        run = getattr(self.app, "watched_run", None)
        if run and (Path(run) / CONFIG_FILE).exists():
            extra = [f"adapter_name_or_path={run}"] if (Path(run) / "adapter_config.json").exists() else []
            return [str(Path(run) / CONFIG_FILE), *extra]
        draft = getattr(self.app, "draft", None) or {}
        model = draft.get("model_name_or_path")
        extra = [f"{k}={draft[k]}" for k in ("adapter_name_or_path", "template") if draft.get(k)]
        return [model, *extra] if model else []

    def _load(self, args: list[str]) -> None:
        self.source = args
        self.query_one("#chat-prompt", Input).disabled = True
        self.query_one("#pane-main", ChatPane).start(args)
        if self.side_by_side:
            self.query_one("#pane-base", ChatPane).start(self.compare or base_model_args(args))
        self._status("loading the model …")

    def _panes(self) -> list[ChatPane]:
        panes = [self.query_one("#pane-main", ChatPane)]
        return panes + [self.query_one("#pane-base", ChatPane)] if self.side_by_side else panes

    def _params(self) -> dict | None:
        try:
            temperature = float(self.query_one("#chat-temperature", Input).value)
            top_p = float(self.query_one("#chat-top-p", Input).value)
            max_new = int(self.query_one("#chat-max", Input).value)
        except ValueError:
            self.notify("temperature, top_p and max tokens must be numbers", severity="error")
            return None
        if temperature < 0 or not 0 < top_p <= 1 or max_new < 1:
            self.notify("temperature >= 0, top_p in (0, 1], max tokens >= 1", severity="error")
            return None
        return {"temperature": temperature, "top_p": top_p, "max_new_tokens": max_new}

    @on(Input.Submitted, "#chat-model")
    def _model_submitted(self, event: Input.Submitted) -> None:
        try:
            args = shlex.split(event.value)
        except ValueError as exc:
            self.notify(f"model: {exc}", severity="error")
            return
        if args:
            self._load(args)

    @on(Input.Submitted, "#chat-prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        panes = self._panes()
        params = self._params()
        if not text or params is None or not all(p.ready and not p.busy for p in panes):
            return
        event.input.value = ""
        system = self.query_one("#chat-system", Input).value.strip()
        for pane in panes:
            pane.add_user(text)
            pane.ask(system, params)
        self._lock()

    def on_chat_pane_event(self, event: ChatPane.Event) -> None:
        pane, record = event.pane, event.record
        if event.process is not pane.process:
            return  # a line from a process this pane has replaced or closed
        kind = record["type"]
        if kind == "token":
            pane.on_token(record["text"])
        elif kind == "done":
            pane.on_done(record)
            if record.get("tokens_per_s"):
                self.speed = f"{record.get('tokens', 0)} tokens, {record['tokens_per_s']:.1f} tokens/s"
            self._unlock_when_idle()
        elif kind == "ready":
            pane.ready = True
            where = f", {record['device']}" if record.get("device") else ""
            pane.query_one(Label).update(f"{pane.title}: {record.get('model')} ({record.get('backend')}{where})")
            if record.get("system") and not self.query_one("#chat-system", Input).value:
                self.query_one("#chat-system", Input).value = record["system"]
            if record.get("note"):
                self.notify(record["note"], severity="warning", title="Chat")
            self._unlock_when_idle()
        elif kind == "exited":
            pane.ready = pane.busy = False
            pane.query_one(Label).update(f"{pane.title}: not loaded")
            self._status(f"{pane.title}: {record['message']}")
            self.notify(record["message"], severity="error", title="Chat")
        elif kind == "error" and not record.get("fatal"):
            self.notify(record["message"], severity="warning", title=pane.title)

    def _lock(self) -> None:
        self.query_one("#chat-prompt", Input).disabled = True
        self._status("answering … (escape stops)")

    def _unlock_when_idle(self) -> None:
        panes = self._panes()
        if all(p.ready and not p.busy for p in panes):
            prompt = self.query_one("#chat-prompt", Input)
            prompt.disabled = False
            prompt.focus()
            self._status("ready" + (" · side by side" if self.side_by_side else "")
                         + (f" · last answer {self.speed}" if self.speed else ""))

    def _status(self, text: str) -> None:
        self.query_one("#chat-status", Static).update(text)

    def action_stop(self) -> None:
        for pane in self._panes():
            pane.stop()

    def action_regenerate(self) -> None:
        panes = self._panes()
        params = self._params()
        if params is None or not all(p.ready and not p.busy for p in panes):
            return
        system = self.query_one("#chat-system", Input).value.strip()
        regenerated = [pane for pane in panes if pane.drop_last_answer()]
        for pane in regenerated:
            pane.ask(system, params)
        if regenerated:
            self._lock()

    def action_clear(self) -> None:
        for pane in self.query(ChatPane):
            pane.clear()
        self._status("conversation cleared")

    def action_side_by_side(self) -> None:
        if not self.source:
            self.notify("load a model first", severity="warning")
            return
        base = self.query_one("#pane-base", ChatPane)
        self.side_by_side = not self.side_by_side
        base.set_class(not self.side_by_side, "-hidden")
        if self.side_by_side:
            base.clear()
            base.history = [dict(m) for m in self.query_one("#pane-main", ChatPane).history]
            base.start(self.compare or base_model_args(self.source))
            self.query_one("#chat-prompt", Input).disabled = True
            self._status("loading the base model …")
        else:
            base.close()
            self._unlock_when_idle()

    def action_switch_model(self) -> None:
        self.query_one("#chat-model", Input).focus()

    def action_edit_system(self) -> None:
        self.query_one("#chat-system", Input).focus()

    def action_edit_sampling(self) -> None:
        self.query_one("#chat-temperature", Input).focus()
