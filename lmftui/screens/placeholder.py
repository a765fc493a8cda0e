"""Stands in for an area whose screen is not installed yet (chat, export)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from .base import AreaScreen


class PlaceholderScreen(AreaScreen):
    """Says which command to use until the area's screen exists."""

    def __init__(self, area: str):
        self.AREA = area
        super().__init__()

    def compose_body(self) -> ComposeResult:
        yield Static(f"The {self.AREA} screen is not part of this build yet.\n"
                     f"Use the command line meanwhile: [b]lmf-tui {self.AREA} --help[/b]", classes="placeholder")
