"""One line for every error a user can fix; a bug is kept with its traceback in a file."""

from __future__ import annotations

import errno
import json

import pytest

from engine.config import ConfigError
from engine.errors import UserError, check_environment, explain, save_crash
from engine.events import EventWriter, read_events
from engine.rundir import run_info


@pytest.mark.parametrize("exc, expected", [
    (OSError(errno.ENOSPC, "No space left on device", "/runs/x/model.safetensors"),
     "/runs/x/model.safetensors: no space left on the disk"),
    (PermissionError(errno.EACCES, "Permission denied", "/data/a.json"), "/data/a.json: permission denied"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "/nope.yaml"), "/nope.yaml: no such file"),
    (ModuleNotFoundError("No module named 'llama_cpp'", name="llama_cpp"), "llama-cpp-python"),
    (ModuleNotFoundError("No module named 'zzz_pkg'", name="zzz_pkg"), "pip install zzz_pkg"),
    (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"), "no space left"),
    (ConfigError("lora_rank: should be >= 1"), "lora_rank: should be >= 1"),
    (UserError("model: corrupt", "download it again"), "model: corrupt — download it again"),
])
def test_explain_gives_one_line(exc, expected):
    line = explain(exc)
    assert line is not None and expected in line and "\n" not in line


def test_a_bug_is_not_explained_and_its_traceback_is_kept():
    try:
        {}["missing"]
    except KeyError as exc:
        assert explain(exc) is None
        path = save_crash(exc, "train")
    text = path.read_text()
    assert "Traceback" in text and "KeyError" in text and text.startswith("lmf-tui train")


def test_environment_variables_that_name_a_file_are_refused(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("LMF_TUI_RUNS", str(not_a_folder / "runs"))
    with pytest.raises(UserError, match="LMF_TUI_RUNS=.*is a file, not a folder"):
        check_environment()
    monkeypatch.setenv("LMF_TUI_RUNS", str(tmp_path / "new" / "runs"))
    check_environment()  # a folder that does not exist yet is fine


def test_a_journal_cut_mid_line_is_read_and_appended_to_cleanly(tmp_path):
    with _writer(tmp_path) as writer:
        writer.emit("start", stage="sft", model="m")
    with open(tmp_path / "events.jsonl", "a") as fh:  # a crash cut the next line short
        fh.write('{"type": "step", "step": 1, "lo')
    assert [e["type"] for e in read_events(tmp_path)] == ["start"]
    with _writer(tmp_path) as writer:  # the run starts again and appends
        writer.emit("start", stage="sft", model="m")
        writer.emit("step", step=1, loss=1.5)
    assert [e["type"] for e in read_events(tmp_path)] == ["start", "start", "step"]
    assert run_info(tmp_path).loss == 1.5
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert sum(1 for line in lines if _parses(line)) == 3


class _writer:
    def __init__(self, path):
        self.writer = EventWriter(path)

    def __enter__(self):
        return self.writer

    def __exit__(self, *exc):
        self.writer.close()


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True
