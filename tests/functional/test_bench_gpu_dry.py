"""bench/gpu/run.py in its CPU dry mode: every planned part runs on tiny shapes, is recorded, and a second
call with the first one's results runs nothing again (so the GPU script cannot rot between GPU visits)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "gpu" / "run.py"

pytestmark = pytest.mark.slow


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(BENCH), "--dry", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_dry_run_records_every_part_and_resumes(tmp_path):
    sys.path.insert(0, str(ROOT / "bench" / "gpu"))
    try:
        from run import plan
    finally:
        sys.path.pop(0)
    first = _run("--out", str(tmp_path / "a"), "--work", str(tmp_path / "work"), cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    assert set(results) == {p.name for p in plan(dry=True)}
    trains = [r for r in results.values() if r["kind"] == "train"]
    assert {r["path"] for r in trains} == {"lmf", "lmf-pf", "lmf-nogc", "hf"}
    assert {r["method"] for r in trains} == {"lora", "qlora", "full"}
    for r in trains:
        assert r["status"] == "ok" and r["tokens_per_s"] > 0 and r["real_tokens"] > 0 and r["estimate_gb"] > 0
        assert r["plan"]["device"] == "cpu" and r["dry"] is True
        assert "peak_allocated_gb" not in r  # no GPU here: no GPU number is written
    lmf = results["tiny-llama/lora/64/lmf"]
    assert lmf["plan"]["padding_free"] is True and lmf["padding_share"] == 0.0
    assert results["tiny-llama/lora/64/hf"]["plan"]["gradient_checkpointing"] is True
    assert results["tiny-llama/lora/64/lmf-nogc"]["plan"]["gradient_checkpointing"] is False
    assert results["tiny-llama/chat"]["status"] == "ok" and results["tiny-llama/chat"]["new_tokens"] == 8
    assert results["llama.cpp/chat"]["status"] == "not run" and "64 MiB" in results["llama.cpp/chat"]["why"]
    table = (tmp_path / "a" / "results.md").read_text()
    assert "| tiny-llama/lora/64/lmf | ok |" in table

    again = _run("--out", str(tmp_path / "b"), "--work", str(tmp_path / "work"), "--resume",
                 str(tmp_path / "a" / "results.json"), cwd=tmp_path)
    assert again.returncode == 0
    assert again.stdout.count("done before, skipped") == len([p for p in plan(dry=True) if p.shape])
    assert json.loads((tmp_path / "b" / "results.json").read_text()) == results


def test_a_part_that_would_overrun_the_budget_is_skipped_not_guessed(tmp_path):
    out = _run("--out", str(tmp_path / "o"), "--work", str(tmp_path / "work"), "--budget", "1", cwd=tmp_path)
    assert out.returncode == 0  # the child starts after the 1 s budget is spent on imports
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    skipped = [r for r in results.values() if r["kind"] != "llamacpp"]
    assert skipped and all(r["status"] == "skipped" and "time budget" in r["why"] for r in skipped)
    assert not any("tokens_per_s" in r for r in skipped)
