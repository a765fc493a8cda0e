"""`lmf-tui runs` and `lmf-tui attach RUN --once`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmftui.cli import main

from .conftest import write_journal


def test_runs_table_and_json(home: Path, capsys: pytest.CaptureFixture, fake_runs) -> None:
    write_journal(home / "runs" / "a", steps=3)
    write_journal(home / "runs" / "b", steps=2, error={"message": "boom"})
    fake_runs(home / "runs" / "c", steps=10_000, interval=0.05)
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["STATUS", "RUN", "HOST", "STAGE", "STEP", "LOSS", "STARTED"]
    assert "running" in out and "failed" in out and "done" in out
    assert main(["runs", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["a"]["status"] == "done" and rows["a"]["step"] == 3 and rows["b"]["message"] == "boom"
    assert rows["c"]["status"] == "running" and rows["c"]["host"] == "local"


def test_runs_dir_option(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_journal(tmp_path / "elsewhere" / "x", steps=1)
    assert main(["runs", "--runs-dir", str(tmp_path / "elsewhere"), "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["x"]


def test_attach_once(home: Path, capsys: pytest.CaptureFixture) -> None:
    write_journal(home / "runs" / "20260101-demo-sft", steps=7)
    write_journal(home / "runs" / "20260102-bad-sft", steps=1,
                  error={"message": "CUDA out of memory", "fix": "lower the batch size"})
    assert main(["attach", "20260101-demo-sft", "--once"]) == 0
    out = capsys.readouterr().out
    assert "status  done" in out and "step    7/7" in out and "log line 19" in out
    assert main(["attach", str(home / "runs" / "20260102-bad-sft"), "--once"]) == 0
    out = capsys.readouterr().out
    assert "status  failed" in out and "error   CUDA out of memory" in out and "fix     lower the batch size" in out
    assert main(["attach", "2026", "--once"]) == 2
    assert "matches 2 runs" in capsys.readouterr().err
    assert main(["attach", "nope", "--once"]) == 2
    assert "no run 'nope'" in capsys.readouterr().err
