"""Smoke test of an installed lmf-tui (wheel, pipx or editable): run with the Python of that install.

    VENV/bin/python tests/install_smoke.py     (from any folder; `make smoke-wheel` runs it on a fresh wheel)

Checks that presets, the sizing table, demo data and styles are found wherever the package lives, that the
command line works, and that the app paints its first frame headless. Exits non-zero on the first failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent


def lmf_tui(*args: str, cwd: Path) -> str:
    """Run the installed `lmf-tui` script; its stdout, or exit with what it printed."""
    done = subprocess.run([str(BIN / "lmf-tui"), *args], capture_output=True, text=True, cwd=cwd, timeout=900)
    if done.returncode != 0:
        sys.exit(f"FAIL: lmf-tui {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    print(f"ok: lmf-tui {' '.join(args)}")
    return done.stdout


async def first_paint() -> str:
    from lmftui.app import LmfApp
    from lmftui.settings import Settings

    app = LmfApp(settings=Settings(linger_notice_shown=True), detect_hardware=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        return app.export_screenshot()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lmf-tui-smoke-") as tmp:
        work = Path(tmp)
        os.environ.update(LMF_TUI_HOME=str(work / "home"), LMF_TUI_RUNS=str(work / "runs"))
        os.environ.pop("PYTHONPATH", None)
        os.chdir(work)  # never the repository: everything must come from the install
        import engine
        import lmftui

        print(f"engine from {Path(engine.__file__).parent}, lmftui from {Path(lmftui.__file__).parent}")
        presets = lmf_tui("train", "--list-presets", cwd=work)
        assert any(line.split()[:1] == ["demo"] for line in presets.splitlines()), presets
        plan = lmf_tui("train", "demo", "--dry-run", cwd=work)
        assert "identity_lumen" in plan, plan
        suggestion = json.loads(lmf_tui("suggest", "embedded:smollm2-135m-instruct", "--json", cwd=work))
        assert suggestion, suggestion
        screen = asyncio.run(first_paint())
        assert "Demo" in screen, "the home screen lists no presets"
        print("ok: first paint, presets on the home screen")


if __name__ == "__main__":
    main()
