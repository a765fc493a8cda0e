"""The Host seam: what the app and the commands ask of a machine, local or over SSH (torch-free)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.config import TrainConfig


@dataclass
class HostFacts:
    """What `hosts check` reports and the sizing uses: GPUs, Python, lmf-tui, disk."""

    name: str
    reachable: bool
    gpus: list[dict[str, Any]] = field(default_factory=list)  # {"name", "memory_gb"}
    lmf_tui: str | None = None
    python: str | None = None
    python_path: str | None = None
    disk_free_gb: float | None = None
    cpu_count: int | None = None
    ram_gb: float | None = None
    rsync: bool = False
    runs_root: str | None = None
    home: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def hardware(self):
        """These facts as the engine's HardwareInfo, for the sizing of runs meant for this host."""
        from engine.hardware.info import GpuInfo, HardwareInfo

        gpus = [GpuInfo(index=i, name=g["name"], memory_total_gb=g["memory_gb"]) for i, g in enumerate(self.gpus)]
        ram = self.ram_gb or 0.0
        return HardwareInfo(gpus=gpus, cpu_name=f"{self.name} CPU", cpu_count=self.cpu_count or 1, ram_total_gb=ram,
                            ram_available_gb=ram, backend="cuda" if gpus else "cpu")

    def summary(self) -> str:
        """One line: GPUs (or CPU), Python, lmf-tui, free disk."""
        if not self.reachable:
            return f"unreachable: {self.error}"
        gpus = ", ".join(f"{g['name']} {g['memory_gb']:g} GB" for g in self.gpus) or f"CPU only ({self.cpu_count} cores)"
        parts = [gpus, f"Python {self.python}", f"lmf-tui {self.lmf_tui or 'not installed'}"]
        if self.disk_free_gb is not None:
            parts.append(f"{self.disk_free_gb:g} GB free")
        return " · ".join(parts)


@dataclass
class Poll:
    """New journal and console bytes of a run and whether it still runs."""

    events: bytes
    console: bytes
    running: bool
    events_offset: int  # where `events` starts
    console_offset: int


class Host(Protocol):
    """A machine that runs lmf-tui: its facts, its runs, and files in and out."""

    name: str

    def facts(self) -> HostFacts: ...

    def start_run(self, config: "TrainConfig", env: dict[str, str] | None = None) -> str:
        """Start `lmf-tui train --detach` there; the run's folder on that host."""

    def poll(self, run: str, events_offset: int, console_offset: int, max_bytes: int = 1 << 20,
             console: str = "console.log") -> Poll:
        """Journal and console bytes from the offsets (console -1: near its end), and the lock state."""

    def stop(self, run: str) -> bool:
        """Ask the run to save a checkpoint and stop; False when nothing ran."""

    def list_runs(self) -> list[dict[str, Any]]:
        """`lmf-tui runs --json` of that host."""

    def pull(self, run: str, dest: Path, checkpoints: bool = False, progress: bool = False) -> Path:
        """Copy a run's results (adapter, exports; checkpoints when asked) into `dest` (progress: on the terminal)."""


class JournalReader:
    """Tails a run's events.jsonl and console.log through any Host, by byte offset; no event is lost
    across a dropped link because the offsets move only when an answer arrived."""

    def __init__(self, host: Host, run: str, console: str = "console.log"):
        self.host, self.run, self.console = host, run, console
        self.events_offset, self.console_offset = 0, -1
        self._ev_pending = b""
        self._con_pending = b""

    def read(self) -> tuple[list[dict[str, Any]], list[str], bool]:
        """New events, new console lines, and whether the run still runs (raises HostError when offline)."""
        got = self.host.poll(self.run, self.events_offset, self.console_offset, console=self.console)
        self.events_offset = got.events_offset + len(got.events)
        self.console_offset = got.console_offset + len(got.console)
        ev_lines = (self._ev_pending + got.events).split(b"\n")
        self._ev_pending = ev_lines.pop()
        con_lines = (self._con_pending + got.console).split(b"\n")
        self._con_pending = con_lines.pop()
        events = [e for line in ev_lines if (e := parse_event(line)) is not None]
        lines = [line.decode("utf-8", "replace").rstrip("\r").rsplit("\r", 1)[-1] for line in con_lines]
        return events, lines, got.running


def parse_event(line: bytes) -> dict[str, Any] | None:
    """One journal line as an event; None for a blank or damaged line."""
    try:
        event = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return event if isinstance(event, dict) and "type" in event else None
