"""Small dialogs: an error with its fix, a path prompt, a yes/no question."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ErrorModal(ModalScreen[None]):
    """Shows one error message (and its fix) until dismissed."""

    BINDINGS = [Binding("escape,enter", "dismiss", "Close", id="dialog.close", tooltip="Close this message.")]

    def __init__(self, message: str, title: str = "Error", fix: str = ""):
        super().__init__(classes="dialog-screen")
        self.message, self.title_text, self.fix = message, title, fix

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-dialog") as box:
            box.border_title = self.title_text
            yield Static(self.message, id="error-message", markup=False)
            if self.fix:
                yield Static(f"Fix: {self.fix}", id="error-fix", markup=False)
            yield Button("Close", id="close", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)


class PathPrompt(ModalScreen[str | None]):
    """Asks for a file path; returns it, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel", tooltip="Close without choosing.")]

    def __init__(self, title: str, default: str = "", placeholder: str = "path/to/config.yaml"):
        super().__init__(classes="dialog-screen")
        self.title_text, self.default, self.placeholder = title, default, placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.title_text
            yield Input(self.default, placeholder=self.placeholder, id="path")
            yield Label("enter: OK · escape: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmModal(ModalScreen[bool]):
    """A yes/no question; y or enter says yes."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="dialog.yes", tooltip="Answer yes."),
        Binding("n,escape", "answer(False)", "No", id="dialog.no", tooltip="Answer no."),
    ]

    def __init__(self, question: str):
        super().__init__(classes="dialog-screen")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Confirm"
            yield Static(self.question, markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="primary")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)
