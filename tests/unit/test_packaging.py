"""Packaging: the wheel carries presets, the sizing table, demo data and styles; code finds them either way."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine.presets import assets_dir, get_preset, presets_dir
from engine.shipped import SOURCE_ROOT, shipped_dir
from engine.sizing.table import reference_rows

ROOT = Path(__file__).resolve().parents[2]
SKIP = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", "tests", "bench",
                              ".pytest_cache", "saves", "runs")


def test_a_source_checkout_finds_the_top_level_folders(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LMF_TUI_PRESETS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert shipped_dir("presets") == SOURCE_ROOT / "presets" and presets_dir() == ROOT / "presets"
    assert (assets_dir() / "data" / "dataset_info.json").is_file()
    assert reference_rows(), "the sizing table is found"
    config = get_preset("demo").load()
    assert Path(config.dataset_dir) == ROOT / "assets" / "data"


@pytest.mark.timeout(300)
def test_the_wheel_carries_what_the_tool_reads_at_run_time(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    wheel = next((tmp_path / "dist").glob("lmf_tui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"engine/shipped/presets/{p.name}" for p in (ROOT / "presets").glob("*.yaml")}
    shipped |= {f"engine/shipped/assets/data/{p.name}" for p in (ROOT / "assets" / "data").iterdir()}
    shipped |= {f"lmftui/styles/{p.name}" for p in (ROOT / "lmftui" / "styles").glob("*.tcss")}
    assert "engine/shipped/presets/sizing.yaml" in shipped and "engine/shipped/presets/demo.yaml" in shipped
    assert shipped <= names, sorted(shipped - names)
    assert any(n.startswith("engine/distributed/deepspeed/") for n in names)
