"""`lmf-tui pull RUN [--to DIR] [--checkpoints]`: copy a remote run's adapter/exports here."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.commands.common import fail

from ..hosts.store import HostError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pull", help="copy a remote run's results (adapter, exports, journal) here",
                       epilog="example: lmf-tui pull demo@gpu1 && lmf-tui chat RUNS/demo@gpu1")
    p.add_argument("run", metavar="RUN", help="a remote run's name (see `lmf-tui runs`)")
    p.add_argument("--to", type=Path, help="folder to copy into (default: the run's folder in the runs folder)")
    p.add_argument("--checkpoints", action="store_true", help="copy the checkpoint-N folders too")


def run(args: argparse.Namespace) -> int:
    from ..hosts.records import open_host, read_record
    from .attach import resolve_run

    try:
        run_dir = resolve_run(args.run)
    except ValueError as exc:
        return fail(str(exc))
    record = read_record(run_dir)
    if record is None:
        return fail(f"{run_dir.name} is a local run — it is already here ({run_dir})")
    dest = (args.to or run_dir).expanduser().resolve()
    try:
        open_host(record.host).pull(record.path, dest, checkpoints=args.checkpoints, progress=sys.stdout.isatty())
    except HostError as exc:
        return fail(str(exc), code=1)
    relocate(dest, record.local_paths)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) / 2**20
    print(f"pulled {record.path} from {record.host} into {dest} ({size:.1f} MB)")
    return 0


def relocate(folder: Path, local_paths: dict[str, str]) -> None:
    """Point a pulled run's adapter and config at this machine's copies of its base model and data."""
    from engine.config import atomic_write_text

    for name in ("adapter_config.json", "run_config.yaml"):
        path = folder / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        for remote, local in sorted(local_paths.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(json.dumps(remote)[1:-1], json.dumps(local)[1:-1]) if name.endswith(".json") \
                else text.replace(remote, local)
        atomic_write_text(path, text)
