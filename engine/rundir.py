"""The run directory: its files, its lock, its status, and where runs live (no torch here)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .events import EVENTS_FILE
from .summary import RunSummary, Status, run_status, summarize

CONFIG_FILE = "run_config.yaml"
CONSOLE_FILE = "console.log"
LOCK_FILE = "run.lock"
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")

def app_home() -> Path:
    """lmf-tui's data folder (settings, runs): $LMF_TUI_HOME or the platform's user data dir."""
    return Path(os.environ.get("LMF_TUI_HOME") or platformdirs.user_data_dir("lmf-tui", appauthor=False))


def runs_root() -> Path:
    """Where the app puts runs: $LMF_TUI_RUNS or <home>/runs."""
    return Path(os.environ.get("LMF_TUI_RUNS") or app_home() / "runs")


def cache_home() -> Path:
    """lmf-tui's cache (converted models, llama.cpp tools): $LMF_TUI_CACHE or the platform's cache dir."""
    return Path(os.environ.get("LMF_TUI_CACHE") or platformdirs.user_cache_dir("lmf-tui", appauthor=False))


class RunLocked(RuntimeError):
    """Another live process is writing this run directory."""


class RunLock:
    """An exclusive flock on `run.lock`, released by the kernel when the holder dies."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLocked(f"{self.path.parent}: another run (pid {holder_pid(self.path.parent)}) is writing "
                            "this folder — stop it first, or choose another output_dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(run_dir: str | os.PathLike) -> bool:
    """True while a live process holds the run's lock."""
    path = Path(run_dir) / LOCK_FILE
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def holder_pid(run_dir: str | os.PathLike) -> int | None:
    """The pid written by the lock's holder, if any."""
    try:
        return int((Path(run_dir) / LOCK_FILE).read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The run's `checkpoint-N` folders, oldest step first."""
    root = Path(run_dir)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def last_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint: the Trainer writes trainer_state.json last, so a checkpoint
    whose state file is missing or cut short was interrupted while saving and is never picked."""
    done = [p for p in checkpoints(run_dir) if _complete(p)]
    return done[-1] if done else None


def discard_partial_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """Delete the checkpoints newer than the last complete one (a save cut short); returns them."""
    last = last_checkpoint(run_dir)
    every = checkpoints(run_dir)
    partial = every[every.index(last) + 1:] if last is not None else [p for p in every if not _complete(p)]
    for path in partial:
        shutil.rmtree(path, ignore_errors=True)
    return partial


def _complete(checkpoint: Path) -> bool:
    try:
        return isinstance(json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


@dataclass
class RunInfo:
    """What the runs list shows about one run."""

    path: Path
    status: Status
    name: str
    stage: str = ""
    model: str = ""
    step: int = 0
    max_steps: int = 0
    loss: float | None = None
    started: float | None = None
    message: str = ""
    summary: RunSummary = field(default_factory=RunSummary, repr=False)  # the journal's fold, for details


def run_info(run_dir: str | os.PathLike) -> RunInfo:
    """Summarise a run from its journal and lock alone."""
    path = Path(run_dir)
    summary = summarize(path)
    return RunInfo(path=path, status=run_status(summary, is_locked(path)), name=path.name,
                   stage=summary.start.get("stage", ""), model=summary.start.get("model", ""), step=summary.step,
                   max_steps=summary.max_steps, loss=summary.loss, started=summary.start.get("time"),
                   message=summary.message, summary=summary)


def journal_status(run_dir: str | os.PathLike) -> Status:
    """The status the journal alone tells (ignoring whether a process holds the lock)."""
    return run_status(summarize(run_dir), running=False)


def register_run(run_dir: str | os.PathLike) -> None:
    """Make a run started outside the runs folder (e.g. `lmf-tui train x.yaml`) visible in it, by a link."""
    path = Path(run_dir).resolve()
    root = runs_root()
    if root.resolve() in path.parents:
        return
    import hashlib

    link = root / f"{path.name}-{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(path, target_is_directory=True)
    except OSError:
        pass  # listing it is a convenience, never a reason to fail a run


def list_runs(root: str | os.PathLike | None = None) -> list[RunInfo]:
    """Every run folder (one holding events.jsonl) under the runs root, newest first."""
    base = Path(root) if root else runs_root()
    if not base.is_dir():
        return []
    runs = [run_info(p.parent) for p in base.glob(f"*/{EVENTS_FILE}")]
    runs += [run_info(p.parent) for p in base.glob(f"*/*/{EVENTS_FILE}")]
    return sorted(runs, key=lambda r: r.started or 0, reverse=True)
