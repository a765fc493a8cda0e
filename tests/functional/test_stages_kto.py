"""stage: kto — tagged answers train, events carry KTO's metrics, a stopped run resumes at its checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.config import parse_config
from engine.events import read_events
from tests.stage_data import assert_resumed, stop_then_resume, write_stage_data


@pytest.fixture(scope="module")
def stage_data(tmp_path_factory) -> Path:
    return write_stage_data(tmp_path_factory.mktemp("stage-data"))


def test_kto_trains_reports_and_resumes(tiny_model_dir, stage_data, tmp_path):
    out = tmp_path / "kto"
    config = parse_config(dict(
        model_name_or_path=str(tiny_model_dir), do_train=True, dataset="tiny_kto", dataset_dir=str(stage_data),
        output_dir=str(out), stage="kto", finetuning_type="lora", lora_rank=8, lora_target="all", cutoff_len=64,
        per_device_train_batch_size=4, learning_rate=5e-3, max_steps=12, logging_steps=1, save_steps=4,
        kto_chosen_weight=1.0, kto_rejected_weight=1.5, report_to="none", seed=1), "train")
    first, second = stop_then_resume(config, at_step=5)
    assert_resumed(out, first, second)
    log = [e for e in read_events(out) if e["type"] == "step"]
    for key in ("loss", "kl", "rewards/chosen", "rewards/rejected", "rewards/margins"):
        assert key in log[-1], key
    assert all(math.isfinite(e["loss"]) for e in log)
    assert log[-1]["rewards/margins"] > 0


def test_kto_at_batch_one_with_accumulation_trains_and_reports_kl(tiny_model_dir, stage_data, tmp_path):
    """LLaMA-Factory's KTO example shape: per_device_train_batch_size 1, gradient_accumulation_steps > 1."""
    from engine.stages.kto import load_data
    from engine.models import load_tokenizer
    from engine.train import run_training

    out = tmp_path / "kto1"
    config = parse_config(dict(
        model_name_or_path=str(tiny_model_dir), do_train=True, dataset="tiny_kto", dataset_dir=str(stage_data),
        output_dir=str(out), stage="kto", finetuning_type="lora", lora_rank=8, cutoff_len=64,
        per_device_train_batch_size=1, gradient_accumulation_steps=4, learning_rate=5e-3, max_steps=6,
        logging_steps=1, save_steps=1000, report_to="none", seed=1), "train")
    rows = load_data(config, load_tokenizer(config)).train
    assert rows[0]["KL_completion_ids"] == rows[len(rows) - 1]["completion_ids"]  # the pair is in the data
    assert all(rows[i]["KL_completion_ids"] == rows[i - 1]["completion_ids"] for i in range(1, len(rows)))
    done = run_training(config)
    assert done["status"] == "done" and done["step"] == 6
    log = [e for e in read_events(out) if e["type"] == "step"]
    assert len(log) == 6 and all("kl" in e and math.isfinite(e["kl"]) for e in log)
    assert all(math.isfinite(e["loss"]) for e in log)
