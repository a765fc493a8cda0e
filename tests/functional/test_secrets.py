"""hf_hub_token: used by the run, never written to run_config.yaml, the journal or the console log."""

from __future__ import annotations

import time
from pathlib import Path

from engine.config import config_to_dict, load_config, parse_config, save_config, secret_env
from engine.events import read_events
from engine.rundir import is_locked

SECRET = "hf_SECRET_token_123"


def test_saved_config_holds_stars_and_reads_back_unset(tmp_path):
    config = parse_config({"model_name_or_path": "m", "hf_hub_token": SECRET})
    assert config.hf_hub_token == SECRET and config_to_dict(config)["hf_hub_token"] == "***"
    path = save_config(config, tmp_path / "c.yaml")
    assert SECRET not in path.read_text() and "'***'" in path.read_text()
    assert load_config(path).hf_hub_token is None  # the environment or the hub login then applies
    assert secret_env(config) == {"HF_TOKEN": SECRET} and secret_env(load_config(path)) == {}


def files_text(run_dir: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file()
                   and p.suffix in (".yaml", ".jsonl", ".json", ".log", ".txt", ""))


def test_detached_run_writes_the_token_nowhere(tiny_model_dir, tiny_data_dir, tmp_path):
    from engine.detach import start_detached

    out = tmp_path / "run"
    config = parse_config(dict(model_name_or_path=str(tiny_model_dir), do_train=True, dataset="tiny_identity",
                               dataset_dir=str(tiny_data_dir), output_dir=str(out), cutoff_len=32,
                               per_device_train_batch_size=2, max_steps=1, logging_steps=1, save_steps=1000,
                               report_to="none", hf_hub_token=SECRET), "train")
    start_detached(config)
    deadline = time.monotonic() + 300
    time.sleep(1)
    while is_locked(out) or not (out / "events.jsonl").exists():
        assert time.monotonic() < deadline, (out / "console.log").read_text()
        time.sleep(0.5)
    assert [e["type"] for e in read_events(out)][-1] == "done", (out / "console.log").read_text()
    assert SECRET not in files_text(out)
    assert "model_name_or_path" in (out / "run_config.yaml").read_text()
