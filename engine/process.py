"""How the engine's child processes start: `python -m engine COMMAND ...` with this very engine, and how an
attached one (chat server, export, data report) is read, cancelled and ended."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .wire import decode, read_stream

ENGINE_ROOT = Path(__file__).resolve().parent.parent  # the folder that holds the `engine` package


def engine_command(*args: str) -> list[str]:
    """The argv that runs an engine sub-command in a child process."""
    return [sys.executable, "-m", "engine", *args]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: unbuffered output, and this engine importable from any folder.

    From a source checkout that is not installed, `python -m engine` only finds the package through
    PYTHONPATH; it is put first so that the child runs the same engine as its parent.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}
    if (ENGINE_ROOT / "pyproject.toml").exists():
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if str(ENGINE_ROOT) not in paths:
            env["PYTHONPATH"] = os.pathsep.join([str(ENGINE_ROOT), *paths])
    return env


class ChildProcess:
    """An attached helper (chat server, export, data report): `python -m engine COMMAND ...` whose stdout
    carries `engine.wire` records and whose stderr is kept for the one line that says why it failed.

    Every started one is in `ATTACHED` until closed, so the app can end the ones left when it exits.
    Detached runs are started by `engine.detach.start_detached` instead: they must outlive the app.
    """

    def __init__(self, *args: str, stdin: bool = False, env: dict[str, str] | None = None):
        self.argv = engine_command(*args)
        self.piped_stdin = stdin
        self.env = child_env(env)
        self.proc: subprocess.Popen | None = None
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")

    def start(self) -> "ChildProcess":
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE if self.piped_stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self._stderr, text=True, encoding="utf-8", bufsize=1, env=self.env)
        ATTACHED.add(self)
        return self

    def read(self) -> dict[str, Any] | None:
        """The next record (blocking); None once the process has closed its output."""
        assert self.proc is not None and self.proc.stdout is not None
        return next(read_stream(self.proc.stdout), None)

    def run(self, timeout: float) -> tuple[int, list[dict[str, Any]]]:
        """Wait for the process to finish: its exit code and every record; TimeoutExpired after killing it."""
        assert self.proc is not None
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.close()
            raise
        self.close()
        return self.proc.returncode, [r for line in out.splitlines() if (r := decode(line)) is not None]

    def send(self, request: dict[str, Any]) -> None:
        """One JSON line on the process's stdin (ignored once it has exited)."""
        if not self.alive or self.proc.stdin is None:  # type: ignore[union-attr]
            return
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass

    def error_text(self, default: str = "the process exited") -> str:
        """The process's last `error:` line on stderr (else its last line): why it failed."""
        try:
            self._stderr.seek(0)
            lines = [line.strip() for line in self._stderr.read().splitlines() if line.strip()]
        except ValueError:  # closed
            lines = []
        errors = [line for line in lines if line.startswith("error:")]
        return (errors or lines or [default])[-1]

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cancel(self) -> None:
        """Interrupt the process as ctrl+c would: it stops at a safe point and reports how it ended."""
        if self.alive:
            self.proc.send_signal(signal.SIGINT)  # type: ignore[union-attr]

    def wait(self, timeout: float | None = None) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """End the process: end of input, then SIGTERM after `timeout` s; forget it."""
        ATTACHED.discard(self)
        if self.proc is None:
            return
        if self.alive:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
                self.proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.terminate()
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()


ATTACHED: set[ChildProcess] = set()


def cancel_attached() -> None:
    """Interrupt every attached helper still running (the app calls this as it exits)."""
    for child in list(ATTACHED):
        child.cancel()
        ATTACHED.discard(child)
