"""The top line: the app's areas with their keys, the current one highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

AREAS = (("home", "F1", "Home"), ("model", "F2", "Model"), ("config", "F3", "Config"), ("data", "F4", "Data"),
         ("monitor", "F5", "Monitor"), ("runs", "F6", "Runs"), ("chat", "F7", "Chat"), ("export", "F8", "Export"))
WIDE_AREAS = (("predict", "F10", "Predict"),)  # shown where the line has room (F10 and the palette reach it anyway)
WIDE = {mode for mode, _, _ in WIDE_AREAS}


class NavBar(Static):
    """Renders `F1 Home  F2 Model …` with the active area in reverse."""

    def __init__(self, current: str, **kw):
        super().__init__(**kw)
        self.current = current

    def render(self) -> Text:
        return Text.from_markup(self._text(self.current, self.size.width))

    @staticmethod
    def _text(current: str, width: int = 0) -> str:
        parts = []
        for mode, key, label in AREAS + WIDE_AREAS:
            item = f"[b]{key}[/b] {label}"
            parts.append(f"[reverse] {item} [/reverse]" if mode == current else f" {item} ")
            if width and mode in WIDE and len(Text.from_markup("".join(parts))) > width:
                parts.pop()
        return "".join(parts)
