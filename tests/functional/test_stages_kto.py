"""stage: kto — tagged answers train, events carry KTO's metrics, a stopped run resumes at its checkpoint."""

from __future__ import annotations

import math

from engine.events import read_events
from tests.stage_data import assert_resumed, stage_config, stop_then_resume


def test_kto_trains_reports_and_resumes(tiny_model_dir, stage_data, tmp_path):
    out = tmp_path / "kto"
    config = stage_config(tiny_model_dir, stage_data, out, stage="kto", dataset="tiny_kto",
                          per_device_train_batch_size=4, learning_rate=5e-3, max_steps=12, save_steps=4,
                          kto_chosen_weight=1.0, kto_rejected_weight=1.5)
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
    config = stage_config(tiny_model_dir, stage_data, out, stage="kto", dataset="tiny_kto",
                          per_device_train_batch_size=1, gradient_accumulation_steps=4, learning_rate=5e-3,
                          max_steps=6)
    rows = load_data(config, load_tokenizer(config)).train
    assert rows[0]["KL_completion_ids"] == rows[len(rows) - 1]["completion_ids"]  # the pair is in the data
    assert all(rows[i]["KL_completion_ids"] == rows[i - 1]["completion_ids"] for i in range(1, len(rows)))
    done = run_training(config)
    assert done["status"] == "done" and done["step"] == 6
    log = [e for e in read_events(out) if e["type"] == "step"]
    assert len(log) == 6 and all("kl" in e and math.isfinite(e["kl"]) for e in log)
    assert all(math.isfinite(e["loss"]) for e in log)
