"""Several ranks on the CPU (gloo) through torchrun, started as LLaMA-Factory starts them (FORCE_TORCHRUN=1,
NPROC_PER_NODE, NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT): same loss as one process with the same global
batch, one journal, one stop for every rank, resume, a dead rank named, and two "nodes" on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from engine.detach import stop_run
from engine.events import read_events
from engine.rundir import checkpoints, is_locked
from tests.functional.test_resume import step_losses, wait_for, write_config

pytestmark = pytest.mark.slow


def ranks_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NNODES", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")}
    return {**env, "FORCE_TORCHRUN": "1", "NPROC_PER_NODE": "2", "OMP_NUM_THREADS": "1", **extra}


def train(config: Path, env: dict[str, str] | None = None, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lmftui.cli", "train", str(config), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def events_of(run_dir: Path, kind: str) -> list[dict]:
    return [e for e in read_events(run_dir) if e["type"] == kind]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_cpu_ranks_match_one_process_with_the_same_global_batch(tiny_model_dir, tiny_data_dir, tmp_path):
    common = dict(max_steps=8, save_steps=100, learning_rate=1e-3, cutoff_len=48)
    one = tmp_path / "one"
    finish(train(write_config(tmp_path / "one.yaml", tiny_model_dir, tiny_data_dir, one,
                              per_device_train_batch_size=4, **common)))
    two = tmp_path / "two"
    out = finish(train(write_config(tmp_path / "two.yaml", tiny_model_dir, tiny_data_dir, two,
                                    per_device_train_batch_size=2, **common), ranks_env()))
    assert "world size 2" in out
    start, = events_of(two, "start")  # one journal: rank 1 wrote nothing
    assert start["plan"]["world_size"] == 2 and start["plan"]["strategy"] == "ddp"
    assert sorted(step_losses(two)) == list(range(1, 9)) and len(events_of(two, "step")) == 8
    lines = [json.loads(line) for line in (two / "trainer_log.jsonl").read_text().splitlines()]
    assert [line["current_steps"] for line in lines] == list(range(1, 9))  # no line twice
    loss_one, loss_two = (events_of(d, "done")[0]["train_loss"] for d in (one, two))
    # the same 32 rows in one epoch of 8 steps of 4; DDP deals them to the ranks in another order
    assert loss_two == pytest.approx(loss_one, rel=0.02)
    assert not list(two.glob("error*.log"))


def test_one_stop_reaches_every_rank_and_the_run_resumes(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, tiny_data_dir, out, max_steps=100000,
                          save_steps=100000)
    launcher = train(config, ranks_env())
    wait_for(lambda: len(step_losses(out)) >= 2)
    launcher.send_signal(signal.SIGTERM)  # to the launcher: it passes the stop to both ranks
    finish(launcher, timeout=120)
    done = events_of(out, "done")[-1]
    assert done["status"] == "stopped"
    stopped_at = done["step"]
    assert [p.name for p in checkpoints(out)] == [f"checkpoint-{stopped_at}"]
    assert {p.name for p in (out / f"checkpoint-{stopped_at}").glob("rng_state_*.pth")} == {
        "rng_state_0.pth", "rng_state_1.pth"}  # one coherent checkpoint, saved by both ranks at one step

    again = train(config, ranks_env())
    wait_for(lambda: max(step_losses(out)) >= stopped_at + 2)
    assert stop_run(out)  # the app's stop: SIGTERM to rank 0, which holds the run's lock
    finish(again, timeout=120)
    starts = events_of(out, "start")
    assert starts[1]["plan"]["resume_from"].endswith(f"checkpoint-{stopped_at}")
    after = [e["step"] for e in read_events(out)[read_events(out).index(starts[1]):] if e["type"] == "step"]
    assert after[0] == stopped_at + 1
    assert events_of(out, "done")[-1]["status"] == "stopped" and not is_locked(out)

    last = events_of(out, "done")[-1]["step"]  # one process resumes the 2-rank checkpoint and says what changes
    finish(train(write_config(tmp_path / "c1.yaml", tiny_model_dir, tiny_data_dir, out, max_steps=last + 1,
                              save_steps=100000)))
    note = events_of(out, "warning")[-1]["message"]
    assert note.startswith(f"checkpoint-{last} was written by 2 ranks, this run has 1") and "global batch" in note
    assert events_of(out, "done")[-1]["status"] == "done"


def test_a_killed_rank_ends_the_run_with_an_error_naming_it(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    config = write_config(tmp_path / "k.yaml", tiny_model_dir, tiny_data_dir, out, max_steps=100000,
                          save_steps=100000)
    launcher = train(config, ranks_env())
    wait_for(lambda: len(step_losses(out)) >= 2)
    ranks = psutil.Process(launcher.pid).children()
    rank1 = next(p for p in ranks if p.environ().get("RANK") == "1")
    killed_at = time.monotonic()
    rank1.send_signal(signal.SIGKILL)
    launcher.communicate(timeout=60)
    assert launcher.returncode == 1 and time.monotonic() - killed_at < 60
    error = events_of(out, "error")[-1]
    assert error["kind"] == "rank" and error["rank"] == 1
    assert error["message"].startswith("rank 1 (local rank 1") and "SIGKILL" in error["message"]
    assert not is_locked(out) and not any(p.is_running() for p in ranks)  # nothing hangs


def test_two_nodes_on_loopback_train_together(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    config = write_config(tmp_path / "n.yaml", tiny_model_dir, tiny_data_dir, out, max_steps=4, save_steps=100)
    port = str(free_port())
    nodes = {rank: ranks_env(NNODES="2", NODE_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
                             NPROC_PER_NODE="1") for rank in (0, 1)}
    for rank in (0, 1):  # each node as the remote hosts start it: `lmf-tui train CONFIG --detach`
        printed = subprocess.run([sys.executable, "-m", "lmftui.cli", "train", str(config), "--detach"],
                                 env=nodes[rank], capture_output=True, text=True, timeout=120)
        assert printed.returncode == 0 and printed.stdout.strip() == str(out), printed.stderr
    wait_for(lambda: events_of(out, "done") or events_of(out, "error"), timeout=600)
    wait_for(lambda: not is_locked(out))
    start, = events_of(out, "start")
    assert start["plan"]["world_size"] == 2 and start["plan"]["nnodes"] == 2
    assert events_of(out, "done")[0]["status"] == "done" and sorted(step_losses(out)) == [1, 2, 3, 4]
    assert (out / "run_config.node1.yaml").exists() and (out / "console.node1.log").exists()



def test_a_locked_run_folder_is_refused_before_any_rank_starts(tmp_path, tiny_model_dir, tiny_data_dir):
    from engine.rundir import RunLock

    out = tmp_path / "run"
    config = write_config(tmp_path / "l.yaml", tiny_model_dir, tiny_data_dir, out)
    with RunLock(out):
        proc = subprocess.run([sys.executable, "-m", "lmftui.cli", "train", str(config)], env=ranks_env(),
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "another run" in proc.stderr and "Launching" not in proc.stdout
    assert not (out / "events.jsonl").exists()
