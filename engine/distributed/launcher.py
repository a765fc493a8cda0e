"""This node's launcher: torchrun's agent run in this process, stops forwarded to the ranks, dead ranks named.

The launcher is the process `lmf-tui train` becomes when a run needs several processes. SIGTERM or SIGINT
(a first Ctrl-C, `kill`, the app's stop) goes to every rank of this node as SIGTERM: the ranks agree on it at
the next step, save one checkpoint and exit; a second SIGINT aborts them. SIGHUP is ignored, so a dropped
SSH link does not stop the run. When a rank dies, torchrun stops the others (SIGTERM, then SIGKILL after
30 s) and the launcher appends an `error` event naming the rank to the run's journal.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, Callable

from ..events import EventWriter
from ..process import child_env
from ..rundir import last_checkpoint
from .launch import ENTRY, LaunchPlan

Echo = Callable[[str], None]
CONFIG_EXIT = 2  # what `lmf-tui train` exits with for bad input (a ConfigError or a locked run directory)


class _Forwarder:
    """Signal handlers that pass stop requests on to this process's children (the ranks)."""

    def __init__(self) -> None:
        self.count = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_Forwarder":
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if signum == signal.SIGHUP:
            return
        self.count += 1
        send = signal.SIGINT if signum == signal.SIGINT and self.count > 1 else signal.SIGTERM
        import psutil

        for child in psutil.Process().children():
            try:
                child.send_signal(send)
            except psutil.Error:
                pass


def root_cause(failures: dict[int, Any]) -> tuple[int, Any]:
    """The failure that took the run down: a rank killed by a signal other than the shutdown's SIGTERM
    first, then the earliest one."""
    def order(item: tuple[int, Any]) -> tuple[int, int, int]:
        rank, failure = item
        killed = failure.exitcode < 0 and -failure.exitcode != signal.SIGTERM
        return (0 if killed else 1, failure.timestamp, rank)

    return min(failures.items(), key=order)


def describe_failure(rank: int, failure: Any, run_dir: Path) -> str:
    """One line naming the rank, how it ended, and how to go on."""
    if failure.exitcode < 0:
        how = f"was killed by {failure.signal_name()}"
    else:
        how = f"failed with exit code {failure.exitcode}"
        log = run_dir / ("error.log" if rank == 0 else f"error-rank{rank}.log")
        if log.exists():
            how += f" (traceback in {log.name})"
    checkpoint = last_checkpoint(run_dir)
    then = (f"start the run again to resume from {checkpoint.name}" if checkpoint
            else "start the run again (no checkpoint was saved yet)")
    return f"rank {rank} (local rank {failure.local_rank}, pid {failure.pid}) {how}; every rank was stopped — {then}"


def run_launch(plan: LaunchPlan, argv: list[str], run_dir: Path, echo: Echo | None = None) -> int:
    """Run torchrun's agent for this node until every rank has exited; the exit code of the run."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    say = echo or (lambda line: None)
    os.environ.update(child_env())  # each rank runs `python -m engine` with this very engine
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # torchrun's own default for several ranks, without its warning
    say(f"Launching {plan.summary()}")
    # SIGTERM, SIGINT and SIGHUP are the launcher's (forwarded to the ranks); torchrun keeps SIGQUIT only
    args = parse_args([*plan.torchrun_args(), "--signals-to-handle=SIGQUIT", "--module", ENTRY, *argv])
    with _Forwarder():
        try:
            run(args)
            return 0
        except ChildFailedError as exc:
            if all(f.exitcode == CONFIG_EXIT for f in exc.failures.values()):
                return CONFIG_EXIT  # every rank printed the same one-line config error; the journal is untouched
            rank, failure = root_cause(exc.failures)
            message = describe_failure(rank, failure, run_dir)
            kind = "rank"
        except Exception as exc:  # rendezvous timeouts, a port taken meanwhile, SIGQUIT …
            rank, message, kind = None, f"launch failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", "launch"
    if run_dir.is_dir():
        events = EventWriter(run_dir)
        events.emit("error", message=message, kind=kind, rank=rank, node_rank=plan.node_rank)
        events.close()
    say(f"error: {message}")
    return 1
