"""Open the app in a terminal, or explain how when there is none (e.g. `ssh host lmf-tui` without -t)."""

from __future__ import annotations

import configparser
import getpass
import shutil
import subprocess
import sys
from pathlib import Path

NO_TTY = """lmf-tui needs an interactive terminal, and this session has none.
  Over SSH, ask for one:      ssh -t HOST lmf-tui
  Without the app:            lmf-tui runs              (list runs; --json for scripts)
                              lmf-tui attach RUN --once (status, step, loss, last log lines)
"""
LOGIND_CONF = Path("/etc/systemd/logind.conf")


def launch_app(attach: Path | None = None) -> int:
    """Run the app (on the monitor of `attach` when given); 2 when stdin/stdout is not a terminal."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        sys.stderr.write(NO_TTY)
        return 2
    from .app import LmfApp

    LmfApp(attach=attach).run()
    return 0


def logout_kill_notice(conf: Path = LOGIND_CONF, user: str | None = None) -> str | None:
    """A one-time warning when systemd-logind kills this user's processes (and runs) at logout."""
    if not conf.exists() or not _kills_user_processes(conf):
        return None
    user = user or getpass.getuser()
    if _lingering(user):
        return None
    return ("systemd-logind is set to kill your processes when you log out, runs included. "
            f"Fix: `loginctl enable-linger {user}`, or start the app inside `systemd-run --user --scope lmf-tui`.")


def _kills_user_processes(conf: Path) -> bool:
    parser = configparser.ConfigParser(strict=False)
    try:
        parser.read(conf, encoding="utf-8")
    except (configparser.Error, OSError):
        return False
    value = parser.get("Login", "KillUserProcesses", fallback="no").strip().lower()
    return value in ("yes", "true", "1", "on")


def _lingering(user: str) -> bool:
    if shutil.which("loginctl") is None:
        return False
    try:
        out = subprocess.run(["loginctl", "show-user", user, "-p", "Linger"], capture_output=True, text=True,
                             timeout=3).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.strip().lower() == "linger=yes"
