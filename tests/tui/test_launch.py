"""Launching: no terminal → how to run it instead; the app's process stays torch-free and paints fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmftui.launch import logout_kill_notice

from .conftest import PROJECT_ROOT

PILOT_SESSION = r'''
import asyncio, json, sys, time
began, cpu_began = time.perf_counter(), time.process_time()
from lmftui.app import LmfApp
from lmftui.settings import Settings

async def main():
    app = LmfApp(settings=Settings(linger_notice_shown=True), detect_hardware=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        painted = time.perf_counter() - began, time.process_time() - cpu_began
        for key in ("f2", "f3", "f4", "f5", "f6", "f7", "f8", "f1"):
            await pilot.press(key)
            await pilot.pause()
        await app.workers.wait_for_complete()
    return painted

painted = asyncio.run(main())
print(json.dumps({"painted_s": painted[0], "painted_cpu_s": painted[1], "torch": "torch" in sys.modules,
                  "transformers": "transformers" in sys.modules}))
'''


def run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "LMF_TUI_HOME": str(tmp_path / "home"),
           "LMF_TUI_RUNS": str(tmp_path / "runs")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=tmp_path)


@pytest.mark.timeout(180)
def test_app_never_imports_torch_and_paints_fast(tmp_path: Path) -> None:
    done = run_python(PILOT_SESSION, tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["torch"] is False and result["transformers"] is False
    # CPU seconds from interpreter start-up to the first painted screen (wall time varies with machine load)
    assert result["painted_cpu_s"] < 1.5, result  # ~0.4 s on an idle machine


@pytest.mark.timeout(60)
def test_without_a_terminal_it_says_how_to_run(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "LMF_TUI_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "lmftui.cli"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert "ssh -t HOST lmf-tui" in done.stderr and "lmf-tui attach RUN --once" in done.stderr


def test_logout_notice(tmp_path: Path) -> None:
    conf = tmp_path / "logind.conf"
    assert logout_kill_notice(conf) is None  # no file
    conf.write_text("[Login]\n#KillUserProcesses=yes\n")
    assert logout_kill_notice(conf) is None
    conf.write_text("[Login]\nKillUserProcesses=yes\n")
    notice = logout_kill_notice(conf, user="someone")
    assert notice is not None and "loginctl enable-linger someone" in notice and "systemd-run --user --scope" in notice
