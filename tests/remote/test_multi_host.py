"""Two hosts (two names for the loopback sshd) → one run with --hosts A,B: torchrun over gloo, NNODES=2,
one process on each; the loss matches one process on the same global batch; stop reaches every node."""

from __future__ import annotations

import importlib.util
import json

import pytest

from engine.events import read_events
from tests.remote.helpers import cli, one_line_error, tiny_config, wait_for

pytestmark = pytest.mark.skipif(importlib.util.find_spec("engine.distributed") is None,
                                reason="needs the engine's multi-node launcher (engine.distributed)")


@pytest.fixture(autouse=True)
def reap(tmp_path):
    """No run of a test outlives it (a failed assertion would leave its ranks training)."""
    yield
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        if any(str(tmp_path) in word for word in proc.info["cmdline"] or []):
            try:
                proc.kill()
            except psutil.Error:
                pass


def add_two_hosts(sshd, tmp_path) -> None:
    for name, alias in (("node0", "loop-a"), ("node1", "loop-b")):
        python = sshd.remote_python(name, tmp_path / f"home-{name}")
        added = cli("hosts", "add", name, alias, "--python", str(python))
        assert added.returncode == 0, added.stderr


def final_losses(run_dir) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in read_events(run_dir) if e["type"] == "step"}


def test_two_nodes_train_one_run_like_one_process(ssh_env, tiny_model_dir, tiny_data_dir, tmp_path):
    add_two_hosts(ssh_env, tmp_path)
    single = tiny_config(tmp_path / "single.yaml", tiny_model_dir, tiny_data_dir, tmp_path / "single",
                         per_device_train_batch_size=4, max_steps=6, save_steps=100)
    assert cli("train", str(single), timeout=600).returncode == 0

    config = tiny_config(tmp_path / "multi.yaml", tiny_model_dir, tiny_data_dir, tmp_path / "multi",
                         per_device_train_batch_size=2, max_steps=6, save_steps=100)
    started = cli("train", str(config), "--hosts", "node0,node1")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip().splitlines()[-1].split()[-1]
    assert run_id == "multi@node0+node1"
    master = tmp_path / "home-node0" / "runs" / "multi"
    wait_for(lambda: any(e["type"] in ("done", "error") for e in read_events(master)), timeout=600)
    assert read_events(master)[-1].get("status") == "done", (master / "console.log").read_text()[-2000:]
    got, want = final_losses(master), final_losses(tmp_path / "single")
    assert sorted(got) == sorted(want)
    for step in want:
        assert got[step] == pytest.approx(want[step], abs=2e-2), step
    rows = {r["name"]: r for r in json.loads(cli("runs", "--json").stdout)}
    assert rows[run_id]["host"] == "node0+node1" and rows[run_id]["status"] == "done"


def test_stop_reaches_every_node(ssh_env, tiny_model_dir, tiny_data_dir, tmp_path):
    add_two_hosts(ssh_env, tmp_path)
    config = tiny_config(tmp_path / "long.yaml", tiny_model_dir, tiny_data_dir, tmp_path / "long",
                         max_steps=100000, save_steps=100000)
    started = cli("train", str(config), "--hosts", "node0,node1")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip().splitlines()[-1].split()[-1]
    master = tmp_path / "home-node0" / "runs" / "long"
    wait_for(lambda: sum(e["type"] == "step" for e in read_events(master)) >= 2, timeout=600)
    assert cli("stop", run_id).returncode == 0
    wait_for(lambda: any(e["type"] == "done" for e in read_events(master)), timeout=120)
    import psutil

    node1_config = str(tmp_path / "home-node1" / "runs" / "long" / "run_config.node1.yaml")
    for config in (node1_config, str(master / "run_config.yaml")):  # every process of both nodes ends
        wait_for(lambda: not any(config in (p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])),
                 timeout=120)


def test_hosts_must_differ(ssh_env, tiny_model_dir, tiny_data_dir, tmp_path):
    add_two_hosts(ssh_env, tmp_path)
    config = tiny_config(tmp_path / "c.yaml", tiny_model_dir, tiny_data_dir, tmp_path / "c")
    assert "two or more different hosts" in one_line_error(cli("train", str(config), "--hosts", "node0,node0"))


def test_a_killed_node_stops_the_other_within_a_minute(ssh_env, tiny_model_dir, tiny_data_dir, tmp_path):
    import os
    import signal
    import time

    import psutil

    add_two_hosts(ssh_env, tmp_path)
    config = tiny_config(tmp_path / "k.yaml", tiny_model_dir, tiny_data_dir, tmp_path / "k",
                         max_steps=100000, save_steps=100000)
    started = cli("train", str(config), "--hosts", "node0,node1")
    assert started.returncode == 0, started.stderr
    master = tmp_path / "home-node0" / "runs" / "k"
    wait_for(lambda: sum(e["type"] == "step" for e in read_events(master)) >= 2, timeout=600)
    node1_config = str(tmp_path / "home-node1" / "runs" / "k" / "run_config.node1.yaml")
    for proc in psutil.process_iter(["cmdline"]):  # the machine dies: its launcher and its rank
        if node1_config in (proc.info["cmdline"] or []):
            os.kill(proc.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: any(e["type"] in ("error", "done") for e in read_events(master)), timeout=90)
    assert time.monotonic() - killed_at < 60
    once = cli("attach", "k@node0+node1", "--once")
    assert "failed" in once.stdout or "stopped" in once.stdout, once.stdout
    assert "lines of console.node1.log on node1" in once.stdout
