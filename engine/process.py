"""How a child process of the engine is started: `python -m engine COMMAND ...` with this very engine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
