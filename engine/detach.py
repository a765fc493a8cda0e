"""Start a run in its own process session and stop it gracefully (no torch here).

The child outlives the terminal, the app and an SSH hang-up: new session, stdin closed, output to
`console.log` in the run directory (never a pipe that someone must drain).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from .config import ConfigError, TrainConfig, save_config, secret_env
from .process import child_env, engine_command
from .rundir import CONFIG_FILE, CONSOLE_FILE, RunLocked, holder_pid, is_locked


def start_detached(config: TrainConfig) -> Path:
    """Write the config into its output_dir and start `python -m engine train` there in a new session."""
    if not config.output_dir:
        raise ConfigError("output_dir: is required — set the folder where the run is written")
    run_dir = Path(config.output_dir).resolve()
    plan = _launch_plan(config)  # bad launch switches fail here, in one line, before anything starts
    node = plan.node_rank if plan is not None else 0
    if node == 0 and is_locked(run_dir):
        raise RunLocked(f"{run_dir}: another run (pid {holder_pid(run_dir)}) is writing this folder — "
                        "stop it first, or choose another output_dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    config = config.model_copy(update={"output_dir": str(run_dir)})
    # the other nodes of a multi-node run may share this folder with node 0: they keep their own files
    config_path = save_config(config, run_dir / (CONFIG_FILE if node == 0 else f"run_config.node{node}.yaml"))
    with open(run_dir / (CONSOLE_FILE if node == 0 else f"console.node{node}.log"), "ab") as console:
        subprocess.Popen(
            engine_command("train", str(config_path)),
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True, env=child_env(secret_env(config)), cwd=os.getcwd(),
        )
    return run_dir


def _launch_plan(config: TrainConfig):
    """The node's launch plan (None for one process); raises the one-line ConfigError of a bad switch."""
    from .distributed import plan_launch
    from .hardware import detect_hardware

    return plan_launch(config, len(detect_hardware().gpus))


def stop_run(run_dir: str | os.PathLike, timeout: float = 0.0) -> bool:
    """Ask a running run to save and stop (SIGTERM); wait up to `timeout` s. False if none ran."""
    pid = holder_pid(run_dir) if is_locked(run_dir) else None
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while timeout and time.monotonic() < deadline and is_locked(run_dir):
        time.sleep(0.2)
    return True
