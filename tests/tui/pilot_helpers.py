"""Pilot helpers shared by the screen tests: a host app for one screen, and waiting on a condition."""

from __future__ import annotations

from textual.app import App


class Host(App):
    """An app that shows just the screen under test."""

    def __init__(self, screen):
        super().__init__()
        self._screen = screen

    def on_mount(self) -> None:
        self.push_screen(self._screen)


async def until(pilot, condition, timeout: float = 300.0, what: str = "the screen") -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    for _ in range(int(timeout * 10)):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError(f"timed out waiting for {what}")
