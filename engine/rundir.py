"""The run directory: its files, its lock, its status, and where runs live (no torch here)."""

from __future__ import annotations

import fcntl
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs

from .events import EVENTS_FILE, iter_events

CONFIG_FILE = "run_config.yaml"
CONSOLE_FILE = "console.log"
LOCK_FILE = "run.lock"
CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")

Status = Literal["running", "done", "failed", "stopped", "new"]


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
    """The newest complete checkpoint (one whose trainer_state.json was written)."""
    done = [p for p in checkpoints(run_dir) if (p / "trainer_state.json").exists()]
    return done[-1] if done else None


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


def run_info(run_dir: str | os.PathLike) -> RunInfo:
    """Summarise a run from its journal and lock alone."""
    path = Path(run_dir)
    info = RunInfo(path=path, status="new", name=path.name)
    last_type = None
    for event in iter_events(path):
        kind = event["type"]
        if kind == "start":
            info.started = event.get("time")
            info.stage = event.get("stage", "")
            info.model = event.get("model", "")
            info.max_steps = event.get("max_steps", 0) or 0
            info.message = ""
        elif kind == "step":
            info.step = event.get("step", info.step)
            info.max_steps = event.get("max_steps", info.max_steps) or info.max_steps
            info.loss = event.get("loss", info.loss)
        elif kind == "error":
            info.message = event.get("message", "")
        elif kind == "done":
            info.message = event.get("status", "done")
        if kind in ("start", "error", "done"):
            last_type = kind if kind != "done" else f"done:{event.get('status', 'done')}"
    info.status = "running" if is_locked(path) else _status_from_last(last_type)
    return info


def journal_status(run_dir: str | os.PathLike) -> Status:
    """The status the journal alone tells (ignoring whether a process holds the lock)."""
    last_type = None
    for event in iter_events(run_dir):
        if event["type"] in ("start", "error", "done"):
            last_type = event["type"] if event["type"] != "done" else f"done:{event.get('status', 'done')}"
    return _status_from_last(last_type)


def _status_from_last(last_type: str | None) -> Status:
    if last_type == "error":
        return "failed"
    if last_type == "done:done":
        return "done"
    return "new" if last_type is None else "stopped"


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
