"""The target host of new runs: this machine or a saved SSH host, each with its hardware."""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ..hosts.base import HostFacts
from ..hosts.store import LOCAL


class HostChecked(Message):
    """A host answered (or not) `hosts check`."""

    def __init__(self, facts: HostFacts):
        super().__init__()
        self.facts = facts


def host_line(name: str, facts: HostFacts | None, target: bool) -> str:
    """One option: a mark for the target, the name, and GPUs/CPU or why it cannot be reached."""
    mark = "[b]▶[/b]" if target else " "
    if facts is None:
        return f"{mark} [b]{name}[/b] [dim]checking…[/]"
    if not facts.reachable:
        return f"{mark} [b]{name}[/b] [red]unreachable[/]"
    gpus = ", ".join(f"{g['name']} {g['memory_gb']:g}GB" for g in facts.gpus) or f"CPU {facts.cpu_count} cores"
    missing = "" if facts.lmf_tui else " [yellow]no lmf-tui[/]"
    return f"{mark} [b]{name}[/b] {gpus}{missing}"


class HostPicker(OptionList):
    """Options: local, then each saved host; Enter makes the highlighted one the target of new runs."""

    def __init__(self, names: list[str], target: str = LOCAL, **kw: Any):
        self.host_names = [LOCAL, *names]
        self.host_facts: dict[str, HostFacts | None] = {name: None for name in self.host_names}
        self.target_name = target
        super().__init__(*self._host_options(), **kw)

    def _host_options(self) -> list[Option]:
        return [Option(host_line(n, self.host_facts[n], n == self.target_name), id=n) for n in self.host_names]

    def show_facts(self, facts: HostFacts) -> None:
        if facts.name in self.host_facts:
            self.host_facts[facts.name] = facts
            self._refresh_options()

    def choose(self, name: str) -> None:
        self.target_name = name
        self._refresh_options()

    def _refresh_options(self) -> None:
        highlighted = self.highlighted
        self.clear_options()
        self.add_options(self._host_options())
        self.highlighted = highlighted
