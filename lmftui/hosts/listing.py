"""One list of runs: this machine's and those recorded on SSH hosts (asked once per host)."""

from __future__ import annotations

from typing import Any

from engine.rundir import RunInfo

from .records import list_records, open_host
from .store import HostError, LOCAL


def all_runs(local: list[RunInfo]) -> list[dict[str, Any]]:
    """Local runs and remote runs as dicts with a `host`, newest first; an unreachable host's runs
    show status 'unreachable' with the reason."""
    from ..commands.runs import run_to_dict

    records = list_records()
    record_dirs = {folder.resolve() for folder, _ in records}
    out = [{**run_to_dict(r), "host": LOCAL} for r in local if r.path.resolve() not in record_dirs]
    answers: dict[str, list[dict[str, Any]] | str] = {}
    for folder, record in records:
        if record.host not in answers:
            try:
                answers[record.host] = open_host(record.host).list_runs()
            except HostError as exc:
                answers[record.host] = str(exc)
        answer = answers[record.host]
        remote = next((r for r in answer if r["path"] == record.path), None) if isinstance(answer, list) else None
        row = {"name": folder.name, "path": str(folder), "status": "unknown", "stage": "", "model": "", "step": 0,
               "max_steps": 0, "loss": None, "started": record.started, "message": "",
               **(remote or {}), "host": "+".join(record.hosts), "remote_path": record.path}
        row["name"], row["path"] = folder.name, str(folder)
        if isinstance(answer, str):
            row.update(status="unreachable", message=answer)
        out.append(row)
    return sorted(out, key=lambda r: r.get("started") or 0, reverse=True)
