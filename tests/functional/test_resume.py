"""Crash safety: kill -9 mid-run then restart resumes at the checkpoint with the same data order;
SIGTERM saves and stops; a second run cannot write a locked folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from engine.events import read_events
from engine.rundir import is_locked


def write_config(path: Path, model_dir: Path, data_dir: Path, out: Path, **over) -> Path:
    raw = dict(model_name_or_path=str(model_dir), do_train=True, dataset="tiny_identity", dataset_dir=str(data_dir),
               output_dir=str(out), stage="sft", finetuning_type="lora", cutoff_len=64,
               per_device_train_batch_size=2, learning_rate=5e-3, max_steps=24, logging_steps=1, save_steps=8,
               report_to="none", seed=3)
    raw.update(over)
    path.write_text(yaml.safe_dump(raw))
    return path


def train_cmd(config: Path) -> list[str]:
    return [sys.executable, "-m", "lmftui.cli", "train", str(config)]


# The same train command, held forever at the end of step 12 (after checkpoint-8 is saved) so that the kill
# lands mid-run however fast the machine is: the training itself is untouched.
HELD_AT_STEP_12 = """
import sys, time
from transformers.trainer_callback import CallbackHandler
step_end = CallbackHandler.on_step_end
def held(self, args, state, control):
    while state.global_step >= 12:
        time.sleep(60)
    return step_end(self, args, state, control)
CallbackHandler.on_step_end = held
from lmftui.cli import main
sys.exit(main(["train", sys.argv[1]]))
"""


def wait_for(predicate, timeout: float = 240.0, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


def step_losses(run_dir: Path) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in read_events(run_dir) if e["type"] == "step"}


def test_kill9_then_restart_resumes_same_steps_and_data(tiny_model_dir, tiny_data_dir, tmp_path):
    straight = tmp_path / "straight"
    config = write_config(tmp_path / "a.yaml", tiny_model_dir, tiny_data_dir, straight)
    subprocess.run(train_cmd(config), check=True, capture_output=True, timeout=600)
    reference = step_losses(straight)

    crashed = tmp_path / "crashed"
    config = write_config(tmp_path / "b.yaml", tiny_model_dir, tiny_data_dir, crashed, logging_steps=1)
    proc = subprocess.Popen([sys.executable, "-c", HELD_AT_STEP_12, str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: any(e["type"] == "checkpoint" and e["step"] == 8 for e in read_events(crashed))
             and max(step_losses(crashed), default=0) >= 10)
    assert proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not is_locked(crashed)

    subprocess.run(train_cmd(config), check=True, capture_output=True, timeout=600)
    starts = [e for e in read_events(crashed) if e["type"] == "start"]
    assert len(starts) == 2
    resumed_at = int(starts[1]["plan"]["resume_from"].rsplit("-", 1)[1])
    assert resumed_at == 8
    after = [e for e in read_events(crashed)[read_events(crashed).index(starts[1]):] if e["type"] == "step"]
    assert after[0]["step"] == resumed_at + 1
    assert [e["type"] for e in read_events(crashed)][-1] == "done"
    for event in after:  # same data order and state: the same losses as the uninterrupted run
        assert abs(event["loss"] - reference[event["step"]]) < 1e-3, (event["step"], event["loss"])


def test_sigterm_saves_and_stops_gracefully(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, tiny_data_dir, out, max_steps=100000, save_steps=100000)
    proc = subprocess.Popen(train_cmd(config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: len(step_losses(out)) >= 3)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    done = read_events(out)[-1]
    assert done["type"] == "done" and done["status"] == "stopped"
    assert (out / f"checkpoint-{done['step']}" / "trainer_state.json").exists()
    assert (out / "adapter_model.safetensors").exists()


def test_second_run_on_a_locked_folder_fails_in_one_line(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    config = write_config(tmp_path / "d.yaml", tiny_model_dir, tiny_data_dir, out, max_steps=100000, save_steps=100000)
    first = subprocess.Popen(train_cmd(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: is_locked(out))
        second = subprocess.run(train_cmd(config), capture_output=True, text=True, timeout=120)
        assert second.returncode != 0
        assert second.stderr.strip().count("\n") == 0 and "another run" in second.stderr
    finally:
        first.kill()
        first.wait()


def test_detach_outlives_its_parent_and_writes_console_log(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    config = write_config(tmp_path / "e.yaml", tiny_model_dir, tiny_data_dir, out, max_steps=4)
    result = subprocess.run(train_cmd(config) + ["--detach"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and Path(result.stdout.strip()) == out.resolve()
    wait_for(lambda: any(e["type"] in ("done", "error") for e in read_events(out)))
    assert read_events(out)[-1]["status"] == "done"
    assert (out / "console.log").read_text().strip()
