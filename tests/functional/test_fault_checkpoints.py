"""Faults while a checkpoint is saved lose nothing: a save cut by SIGKILL or by a full disk leaves the
previous checkpoint whole, and starting again resumes from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from engine.events import read_events
from engine.rundir import checkpoints, last_checkpoint
from tests.functional.test_resume import train_cmd, wait_for, write_config

KILL_IN_SAVE = """
import os
import transformers.trainer as _t

_save = _t.Trainer._save_rng_state


def _killing_save(self, output_dir):
    if output_dir.endswith("checkpoint-{step}"):
        os.kill(os.getpid(), 9)  # dies after the weights and optimizer, before trainer_state.json
    return _save(self, output_dir)


_t.Trainer._save_rng_state = _killing_save
"""


def _env_with_site(site: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    return env


def test_kill_during_checkpoint_save_resumes_from_the_last_whole_one(tiny_model_dir, tiny_data_dir, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(KILL_IN_SAVE.format(step=16)))
    out = tmp_path / "run"
    config = write_config(tmp_path / "a.yaml", tiny_model_dir, tiny_data_dir, out, do_train=True)
    killed = subprocess.run(train_cmd(config), capture_output=True, text=True, timeout=600,
                            env=_env_with_site(site))
    assert killed.returncode == -9
    assert [p.name for p in checkpoints(out)] == ["checkpoint-8", "checkpoint-16"]
    assert last_checkpoint(out).name == "checkpoint-8"  # the half-saved one is never picked

    subprocess.run(train_cmd(config), check=True, capture_output=True, timeout=600)
    events = read_events(out)
    start = [e for e in events if e["type"] == "start"][-1]
    assert start["plan"]["resume_from"].endswith("checkpoint-8")
    assert any(e["type"] == "warning" and "checkpoint-16 was cut short" in e["message"] for e in events)
    assert events[-1]["type"] == "done" and events[-1]["step"] == 24


@pytest.fixture
def small_disk(tmp_path):
    """A 64 MB tmpfs; skipped where this machine does not let the tests mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_during_checkpoint_keeps_the_previous_one(tiny_model_dir, tiny_data_dir, tmp_path, small_disk):
    out = small_disk / "run"
    config = write_config(tmp_path / "b.yaml", tiny_model_dir, tiny_data_dir, out, do_train=True,
                          max_steps=400, save_steps=8)
    proc = subprocess.Popen(train_cmd(config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: any(e["type"] == "checkpoint" for e in read_events(out)))
    filler = small_disk / "filler"
    with open(filler, "wb") as fh:  # fill the disk, then leave room for journal lines, not a checkpoint
        try:
            while True:
                fh.write(b"\0" * (1 << 20))
                fh.flush()
        except OSError:
            pass
        fh.truncate(max(fh.tell() - 24 * 1024, 0))
    assert proc.wait(timeout=300) != 0
    stderr = proc.stderr.read().strip()
    assert "Traceback" not in stderr and stderr.splitlines()[-1].startswith("error: "), stderr
    error = read_events(out)[-1]
    assert error["type"] == "error" and "no space left" in error["message"], error
    kept = last_checkpoint(out)
    assert kept is not None and (kept / "adapter_model.safetensors").exists()

    filler.unlink()
    subprocess.run(train_cmd(config) + ["max_steps=" + str(int(kept.name.split("-")[1]) + 2)],
                   check=True, capture_output=True, timeout=600)
    start = [e for e in read_events(out) if e["type"] == "start"][-1]
    assert start["plan"]["resume_from"] == str(kept)
    assert read_events(out)[-1]["type"] == "done"
