"""This machine as a Host: what lmf-tui always did, behind the same interface as an SSH host."""

from __future__ import annotations

import platform
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import HostFacts, Poll
from .store import LOCAL

if TYPE_CHECKING:
    from engine.config import TrainConfig


class LocalHost:
    """Runs, journals and hardware of this machine."""

    name = LOCAL

    def facts(self) -> HostFacts:
        from engine.hardware import detect_hardware
        from engine.rundir import app_home, runs_root

        from .. import __version__

        hw = detect_hardware()
        home = app_home()
        where = home
        while not where.exists():
            where = where.parent
        return HostFacts(name=self.name, reachable=True, lmf_tui=__version__, python=platform.python_version(),
                         python_path=sys.executable, cpu_count=hw.cpu_count, ram_gb=round(hw.ram_total_gb, 1),
                         gpus=[{"name": g.name, "memory_gb": round(g.memory_total_gb, 1)} for g in hw.gpus],
                         disk_free_gb=round(shutil.disk_usage(where).free / 2**30, 1), rsync=bool(shutil.which("rsync")),
                         runs_root=str(runs_root()), home=str(home))

    def start_run(self, config: "TrainConfig", env: dict[str, str] | None = None) -> str:
        from engine.detach import start_detached

        return str(start_detached(config, extra_env=env))

    def poll(self, run: str, events_offset: int, console_offset: int, max_bytes: int = 1 << 20,
             console: str = "console.log") -> Poll:
        from engine.events import EVENTS_FILE
        from engine.rundir import is_locked

        running = is_locked(run)  # before reading: a run seen stopped has all its events on disk
        ev_off, events = _chunk(Path(run) / EVENTS_FILE, events_offset, max_bytes)
        con_off, lines = _chunk(Path(run) / console, console_offset, max_bytes)
        return Poll(events, lines, running, ev_off, con_off)

    def stop(self, run: str) -> bool:
        from engine.detach import stop_run

        return stop_run(run)

    def list_runs(self) -> list[dict[str, Any]]:
        from engine.rundir import list_runs

        from ..commands.runs import run_to_dict

        return [run_to_dict(r) for r in list_runs()]

    def pull(self, run: str, dest: Path, checkpoints: bool = False, progress: bool = False) -> Path:
        return Path(run)


def _chunk(path: Path, offset: int, max_bytes: int) -> tuple[int, bytes]:
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            if offset < 0:
                offset = max(0, size - (64 << 10))
            fh.seek(offset)
            return offset, fh.read(max_bytes)
    except FileNotFoundError:
        return max(offset, 0), b""
