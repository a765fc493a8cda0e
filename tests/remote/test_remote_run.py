"""End to end over a real sshd: add → check → train --host → the link drops mid-run and the run goes on
→ attach again → done → pull the adapter → chat with it here."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lmftui.hosts.base import JournalReader
from lmftui.hosts.records import read_record
from lmftui.hosts.remote import SshHost
from lmftui.hosts.store import get_host
from tests.remote.helpers import cli, tiny_config, wait_for


def test_remote_run_survives_a_dropped_link_then_pull_and_chat(ssh_env, tiny_model_dir, tiny_data_dir, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_e2e_secret_value")  # travels in the run's environment, never in a file
    python = ssh_env.remote_python("e2e", tmp_path / "remote-home")
    assert cli("hosts", "add", "gpu1", "loop-a", "--python", str(python)).returncode == 0
    facts = json.loads(cli("hosts", "check", "gpu1", "--json").stdout)
    assert facts["reachable"] and facts["gpus"] == []

    config = tiny_config(tmp_path / "run.yaml", tiny_model_dir, tiny_data_dir, tmp_path / "local out" / "id run",
                         max_steps=40, save_steps=20)
    started = cli("train", str(config), "--host", "gpu1", "--detach")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip().splitlines()[-1].split()[-1]
    assert run_id == "id-run@gpu1"
    runs = {r["name"]: r for r in json.loads(cli("runs", "--json").stdout)}
    assert runs[run_id]["host"] == "gpu1"
    record = read_record(runs[run_id]["path"])
    assert record.path == str(tmp_path / "remote-home" / "runs" / "id run")

    host = SshHost(get_host("gpu1"))
    reader = JournalReader(host, record.path)
    steps: list[int] = []

    def read_steps(at_least: int):
        events, _, _ = reader.read()
        steps.extend(e["step"] for e in events if e["type"] == "step")
        return len(steps) >= at_least

    wait_for(lambda: read_steps(3))
    host.disconnect()  # the shared SSH connection goes away mid-run
    assert host.ssh.run(["true"]).returncode == 0  # a new one comes up on the next command
    once = cli("attach", run_id, "--once")
    assert once.returncode == 0 and "host    gpu1" in once.stdout and "status  " in once.stdout

    wait_for(lambda: read_steps(40) or steps[-1] == 40, timeout=600)
    assert steps == list(range(1, 41))  # no event lost or repeated across the drop
    wait_for(lambda: {r["name"]: r for r in json.loads(cli("runs", "--json").stdout)}[run_id]["status"] == "done")
    assert "status  done" in cli("attach", run_id, "--once").stdout

    written = [p for p in tmp_path.rglob("*") if p.is_file() and b"hf_e2e_secret_value" in p.read_bytes()]
    assert written == []
    pulled = cli("pull", run_id)
    assert pulled.returncode == 0, pulled.stderr
    local = Path(runs[run_id]["path"])
    assert (local / "adapter_model.safetensors").exists() and not list(local.glob("checkpoint-*"))
    assert json.loads((local / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_model_dir)

    answer = cli("chat", str(local), "--prompt", "Who are you?", "--max-new-tokens", "8", "--temperature", "0")
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip()

    # merge on the host (its GPU, in real life) and pull the merged model back
    export_yaml = tmp_path / "export.yaml"
    export_yaml.write_text(yaml.safe_dump({"model_name_or_path": str(tiny_model_dir), "adapter_name_or_path": run_id,
                                           "finetuning_type": "lora", "template": "chatml",
                                           "export_dir": str(tmp_path / "merged")}))
    exported = cli("export", str(export_yaml), "--host", "gpu1")
    assert exported.returncode == 0, exported.stderr
    assert list((tmp_path / "merged").glob("*.safetensors")) and (tmp_path / "merged" / "config.json").exists()
    assert (tmp_path / "remote-home" / "exports" / "merged" / "config.json").exists()
