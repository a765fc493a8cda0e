"""What every area screen shares: the nav bar, the footer, and workers run under the app."""

from __future__ import annotations

from typing import Any, Callable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker

from ..widgets.nav_bar import NavBar


class AreaScreen(Screen):
    """A top-level area; subclasses set AREA and write `compose_body`."""

    AREA = ""

    def compose(self) -> ComposeResult:
        yield NavBar(self.AREA, id="nav")
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def work(self, fn: Callable[[], Any], name: str, group: str | None = None, thread: bool = True) -> Worker:
        """Run `fn` in a worker owned by the app, whose one handler reports failures.

        Workers never touch widgets: `fn` posts messages to this screen instead.
        """
        return self.app.run_worker(fn, name=name, group=group or f"{self.AREA}.{name}", exclusive=True,
                                   thread=thread, exit_on_error=False)
