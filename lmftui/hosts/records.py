"""Remote runs as the local runs folder knows them: `<runs>/<run>@<host>/remote.json` (torch-free)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .base import Host, HostFacts
from .store import LOCAL, HostError, get_host

RECORD_FILE = "remote.json"


@dataclass
class RemoteRun:
    """Where a run lives: its host(s) and its folder there; rank 0's host comes first."""

    hosts: list[str]
    path: str
    started: float = field(default_factory=time.time)
    local_paths: dict[str, str] = field(default_factory=dict)  # host path -> local path (undone on pull)
    node_paths: dict[str, str] = field(default_factory=dict)  # the run's folder on each node, when several

    @property
    def host(self) -> str:
        return self.hosts[0]

    def path_on(self, host: str) -> str:
        return self.node_paths.get(host, self.path)


def open_host(name: str) -> Host:
    """The Host called `name`: this machine for 'local', else a saved SSH host."""
    if name == LOCAL:
        from .local import LocalHost

        return LocalHost()
    from .remote import SshHost

    return SshHost(get_host(name))


def record_dir(run_name: str, hosts: list[str]) -> Path:
    from engine.rundir import runs_root

    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", run_name).strip("-") or "run"
    return runs_root() / f"{slug}@{'+'.join(hosts)}"


def write_record(run: RemoteRun) -> Path:
    """Save the record of a remote run in the local runs folder; its folder."""
    from engine.config import atomic_write_text

    folder = record_dir(Path(run.path).name, run.hosts)
    atomic_write_text(folder / RECORD_FILE, json.dumps(asdict(run), indent=2) + "\n")
    return folder


def read_record(folder: str | Path) -> RemoteRun | None:
    """The remote record in a local folder, or None for a local run."""
    try:
        data = json.loads((Path(folder) / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return RemoteRun(**{k: v for k, v in data.items() if k in RemoteRun.__dataclass_fields__})


def list_records(root: str | Path | None = None) -> list[tuple[Path, RemoteRun]]:
    """Every remote run recorded in the runs folder, newest first."""
    from engine.rundir import runs_root

    root = Path(root) if root else runs_root()
    found = [(p.parent, r) for p in root.glob(f"*/{RECORD_FILE}") if (r := read_record(p.parent))] \
        if root.is_dir() else []
    return sorted(found, key=lambda item: item[1].started, reverse=True)


def node_consoles(folder: str | Path) -> list[tuple[str, Host, str, str]]:
    """(host name, Host, run folder there, console file) of every node but rank 0's, for a multi-node run."""
    record = read_record(folder)
    if record is None:
        return []
    return [(name, open_host(name), record.path_on(name), f"console.node{rank}.log")
            for rank, name in enumerate(record.hosts) if rank > 0]


def run_target(folder: str | Path) -> tuple[Host, str]:
    """The Host holding a run and the run's folder there (this machine and the folder for a local run)."""
    record = read_record(folder)
    if record is None:
        return open_host(LOCAL), str(folder)
    return open_host(record.host), record.path


def stop_everywhere(folder: str | Path) -> list[str]:
    """Ask a run to save and stop: through rank 0's node, which takes every node with it, or on each other
    node when rank 0 no longer runs (none is left waiting on a collective); where it was asked."""
    record = read_record(folder)
    if record is None:
        return [LOCAL] if open_host(LOCAL).stop(str(folder)) else []
    if open_host(record.host).stop(record.path):  # rank 0: the other ranks agree on the stop at the next step
        return [record.host]
    return [name for name in record.hosts[1:] if open_host(name).stop(record.path_on(name))]


def check_host(name: str) -> HostFacts:
    """Facts of a host; an unreachable one answers reachable=False with the one-line reason."""
    try:
        return open_host(name).facts()
    except HostError as exc:
        return HostFacts(name=name, reachable=False, error=str(exc))
