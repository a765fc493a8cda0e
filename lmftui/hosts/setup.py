"""`hosts setup`: install this lmf-tui on a host — a venv in the remote user's data folder, the right torch
(a CUDA build where nvidia-smi answers, else the CPU build), and a wheel built here (lmf-tui is not on a
public index) whose dependencies come from the host's own package index."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from .base import HostFacts
from .remote import SshHost
from .store import HostError

MIN_PYTHON = (3, 11)
MIN_FREE_GB = 8.0  # torch with CUDA, transformers and friends
VENV = "${XDG_DATA_HOME:-$HOME/.local/share}/lmf-tui/venv"  # expanded by the host's shell, nothing else is
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def check_ready(facts: HostFacts) -> None:
    """Python new enough and room for the install, or a one-line HostError."""
    version = tuple(int(x) for x in (facts.python or "0.0").split(".")[:2])
    if version < MIN_PYTHON:
        raise HostError(f"{facts.name}: Python {facts.python} is too old (lmf-tui needs 3.11+) — install python3.11 "
                        "or newer there (e.g. `sudo apt install python3.12-venv`) and give it with --python PATH")
    if facts.disk_free_gb is not None and facts.disk_free_gb < MIN_FREE_GB:
        raise HostError(f"{facts.name}: only {facts.disk_free_gb:g} GB free in the home folder "
                        f"({MIN_FREE_GB:g} GB needed for torch and lmf-tui) — free space or grow the volume")


def build_wheel(out_dir: Path) -> Path:
    """This lmf-tui as a wheel, built from its source checkout."""
    if not (SOURCE_ROOT / "pyproject.toml").exists():
        raise HostError("hosts setup: this lmf-tui was not installed from a source checkout, so no wheel can be "
                        "built here — run it from the repository (make run), or install on the host by hand")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(out_dir), str(SOURCE_ROOT)], capture_output=True, text=True, timeout=600)
    wheels = sorted(out_dir.glob("lmf_tui-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise HostError(f"hosts setup: building the lmf-tui wheel failed: {(proc.stderr or proc.stdout).strip()[-200:]}")
    return wheels[-1]


def setup_steps(facts: HostFacts, wheel_name: str, python: str) -> list[tuple[str, str]]:
    """(label, shell line) for each step on the host; every value but $VENV's parts is quoted."""
    import shlex

    pip = f'"{VENV}/bin/python" -m pip install -q'
    torch = "torch" if facts_has_nvidia(facts) else f"torch --index-url {CPU_TORCH_INDEX}"
    wheel = f'"{VENV}/../wheels/"{shlex.quote(wheel_name)}'
    return [
        ("create the venv", f'{shlex.quote(python)} -m venv "{VENV}"'),
        ("upgrade pip", f"{pip} --upgrade pip"),
        (f"install {'CUDA' if facts_has_nvidia(facts) else 'CPU'} torch", f"{pip} {torch}"),
        ("install lmf-tui and its dependencies", f"{pip} {wheel}"),
        ("check", f'"{VENV}/bin/python" -c "import lmftui, engine; print(lmftui.__version__)"'),
    ]


def facts_has_nvidia(facts: HostFacts) -> bool:
    return bool(facts.gpus)


def setup_host(host: SshHost, say: Callable[[str], None] = print, dry_run: bool = False) -> str:
    """Install lmf-tui on the host; the venv's python (to save as the host's --python)."""
    facts = host.facts()
    check_ready(facts)
    venv_python = host.ssh.run(["sh", "-c", f'printf %s "{VENV}/bin/python"']).stdout
    with tempfile.TemporaryDirectory() as tmp:
        say("build the lmf-tui wheel here")
        wheel = build_wheel(Path(tmp))
        steps = setup_steps(facts, wheel.name, host.python)
        if dry_run:
            for label, line in steps:
                say(f"  {label}: {line}")
            return venv_python
        say(f"copy {wheel.name} to {host.name}")
        wheels_dir = str(Path(venv_python).parent.parent.parent / "wheels")
        host.ssh.copy_to([wheel], wheels_dir, rsync=facts.rsync)
    for i, (label, line) in enumerate(steps, 1):
        say(f"[{i}/{len(steps)}] {label}")
        proc = host.ssh.run(["sh", "-c", line], check=False, timeout=3600)
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout).strip().splitlines()
            detail = err[-1] if err else f"exit code {proc.returncode}"
            if "ensurepip" in proc.stdout + proc.stderr:
                detail = "the venv module is missing — install python3-venv there (e.g. `sudo apt install python3-venv`)"
            elif "No space left" in proc.stdout + proc.stderr:
                detail = "the disk is full — free space there (`df -h`)"
            raise HostError(f"{host.name}: setup step '{label}' failed: {detail}")
    return venv_python
