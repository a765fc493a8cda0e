"""A training program runs on tcmalloc where the system has it, and on the system allocator when told to."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from engine.allocator import CHOICE, allocator_in_use, find_tcmalloc, planned_allocator
from engine.events import read_events


def train(config, env: dict[str, str]) -> dict:
    subprocess.run([sys.executable, "-m", "engine", "train", str(config)], check=True, capture_output=True,
                   timeout=600, env={**os.environ, **env})
    return next(e for e in read_events(yaml.safe_load(config.read_text())["output_dir"]) if e["type"] == "start")


def write(tmp_path, name, model, data) -> object:
    config = tmp_path / f"{name}.yaml"
    config.write_text(yaml.safe_dump(dict(
        model_name_or_path=str(model), do_train=True, dataset="tiny_identity", dataset_dir=str(data),
        output_dir=str(tmp_path / name), finetuning_type="lora", cutoff_len=32, max_steps=1, report_to="none")))
    return config


def test_training_runs_on_tcmalloc_where_the_system_has_it(tiny_model_dir, tiny_data_dir, tmp_path):
    if find_tcmalloc() is None:
        pytest.skip("no tcmalloc on this system (make setup installs libtcmalloc-minimal4)")
    assert planned_allocator() == "tcmalloc"
    start = train(write(tmp_path, "fast", tiny_model_dir, tiny_data_dir), {})
    assert start["plan"]["allocator"] == "tcmalloc"
    start = train(write(tmp_path, "plain", tiny_model_dir, tiny_data_dir), {CHOICE: "system"})
    assert start["plan"]["allocator"] == "system"


def test_without_tcmalloc_or_when_told_the_system_allocator(monkeypatch):
    if allocator_in_use() == "tcmalloc":
        pytest.skip("this test process already runs on tcmalloc")
    monkeypatch.setattr("engine.allocator.find_tcmalloc", lambda: None)
    assert planned_allocator() == "system"
    monkeypatch.undo()
    monkeypatch.setenv(CHOICE, "system")
    assert planned_allocator() == "system"
