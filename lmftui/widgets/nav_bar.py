"""The top line: the app's areas with their keys, the current one highlighted."""

from __future__ import annotations

from textual.widgets import Static

AREAS = (("home", "F1", "Home"), ("model", "F2", "Model"), ("config", "F3", "Config"), ("data", "F4", "Data"),
         ("monitor", "F5", "Monitor"), ("runs", "F6", "Runs"), ("chat", "F7", "Chat"), ("export", "F8", "Export"))


class NavBar(Static):
    """Renders `F1 Home  F2 Model …` with the active area in reverse."""

    def __init__(self, current: str, **kw):
        super().__init__(self._text(current), **kw)

    @staticmethod
    def _text(current: str) -> str:
        parts = []
        for mode, key, label in AREAS:
            item = f"[b]{key}[/b] {label}"
            parts.append(f"[reverse] {item} [/reverse]" if mode == current else f" {item} ")
        return "".join(parts)
