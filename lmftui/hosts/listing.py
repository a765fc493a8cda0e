"""One list of runs: this machine's and those recorded on SSH hosts (asked once per host)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.rundir import RunInfo, list_runs

from .records import list_records, open_host
from .store import HostError, LOCAL


CACHE_S = 5.0  # a screen refreshing every 2 s asks each host at most this often
_answers: dict[str, tuple[float, list[dict[str, Any]] | str]] = {}


def host_runs(name: str, max_age: float = CACHE_S) -> list[dict[str, Any]] | str:
    """`runs --json` of a host (cached a few seconds), or the one-line reason it cannot answer."""
    now = time.monotonic()
    cached = _answers.get(name)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    try:
        answer: list[dict[str, Any]] | str = open_host(name).list_runs()
    except HostError as exc:
        answer = str(exc)
    _answers[name] = (now, answer)
    return answer


def all_runs(local: list[RunInfo], root: str | Path | None = None, max_age: float = 0.0) -> list[dict[str, Any]]:
    """Local runs and remote runs as dicts with a `host`, newest first; an unreachable host's runs
    show status 'unreachable' with the reason."""
    from ..commands.runs import run_to_dict

    records = list_records(root)
    record_dirs = {folder.resolve() for folder, _ in records}
    out = [{**run_to_dict(r), "host": LOCAL} for r in local if r.path.resolve() not in record_dirs]
    for folder, record in records:
        answer = host_runs(record.host, max_age)
        remote = next((r for r in answer if r["path"] == record.path), None) if isinstance(answer, list) else None
        row = {"name": folder.name, "path": str(folder), "status": "unknown", "stage": "", "model": "", "step": 0,
               "max_steps": 0, "loss": None, "started": record.started, "message": "",
               **(remote or {}), "host": "+".join(record.hosts), "remote_path": record.path}
        row["name"], row["path"] = folder.name, str(folder)
        if isinstance(answer, str):
            row.update(status="unreachable", message=answer)
        out.append(row)
    return sorted(out, key=lambda r: r.get("started") or 0, reverse=True)


def run_infos(root: str | Path | None = None) -> list[RunInfo]:
    """The runs screen's list: local runs and remote ones (named RUN@HOST, their folder the local record)."""
    fields = RunInfo.__dataclass_fields__
    out = []
    for row in all_runs(list_runs(root), root, max_age=CACHE_S):
        info = RunInfo(**{k: v for k, v in row.items() if k in fields and k != "path"}, path=Path(row["path"]))
        out.append(info)
    return out
