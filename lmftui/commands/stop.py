"""`lmf-tui stop RUN`: ask a run to save a checkpoint and stop — here or on its host(s)."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.commands.common import fail

from ..hosts.store import HostError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stop", help="stop a run gracefully (it saves a checkpoint first); local or remote")
    p.add_argument("run", metavar="RUN", help="run folder, or a run's name under the runs folder")
    p.add_argument("--wait", type=float, default=0.0, metavar="S", help="wait up to S seconds for it to end")


def run(args: argparse.Namespace) -> int:
    from ..hosts.records import read_record, stop_everywhere
    from .attach import resolve_run

    try:
        run_dir = resolve_run(args.run)
    except ValueError as exc:
        return fail(str(exc))
    record = read_record(run_dir)
    if record is None:
        from engine.detach import stop_run

        if not (stop_run(run_dir, timeout=args.wait) or stop_launcher(run_dir)):
            return fail(f"{run_dir.name} is not running — nothing to stop", code=1)
        print(f"stopping {run_dir}: it saves a checkpoint, then ends")
        return 0
    try:
        stopped = stop_everywhere(run_dir)  # every node: none is left waiting on a collective
    except HostError as exc:
        return fail(str(exc), code=1)
    if not stopped:
        return fail(f"{run_dir.name} is not running on {', '.join(record.hosts)} — nothing to stop", code=1)
    print(f"stopping {record.path} on {', '.join(stopped)}: it saves a checkpoint, then ends")
    return 0


def stop_launcher(run_dir: Path) -> bool:
    """On a node other than rank 0's (which holds the run's lock): SIGTERM the node's launcher, the process
    of this user started on the run's run_config.yaml; it passes the stop on to its ranks."""
    import os
    import signal

    import psutil

    from engine.rundir import CONFIG_FILE

    configs = {str(run_dir / CONFIG_FILE), *(str(p) for p in run_dir.glob("run_config.node*.yaml"))}
    mine = {p.pid: p for p in psutil.process_iter(["uids", "cmdline", "ppid"])
            if p.pid != os.getpid() and p.info["uids"] and p.info["uids"].real == os.getuid()
            and configs & set(p.info["cmdline"] or []) and "train" in (p.info["cmdline"] or [])}
    launchers = [p for p in mine.values() if p.info["ppid"] not in mine]  # not the ranks it started
    for proc in launchers:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    return bool(launchers)
