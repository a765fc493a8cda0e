"""stage: rm — pair accuracy rises on a separable set; the saved reward model reloads and scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.events import read_events
from engine.train import run_training
from tests.stage_data import BAD, stage_config


def rm_config(model_dir: Path, data_dir: Path, out: Path, **over):
    return stage_config(model_dir, data_dir, out, **{"stage": "rm", "dataset": "tiny_pairs",
                                                     "per_device_train_batch_size": 8, "learning_rate": 5e-3,
                                                     "max_steps": 12, **over})


@pytest.mark.parametrize("method", ["lora", "full"])
def test_reward_model_learns_pairs_and_reloads(tiny_model_dir, stage_data, tmp_path, method):
    from engine.data import get_template
    from engine.models import load_tokenizer
    from engine.stages.rm import load_reward_model, score_texts

    out = tmp_path / "rm"
    config = rm_config(tiny_model_dir, stage_data, out, finetuning_type=method, dataset="tiny_pairs,tiny_pairs_chat",
                       eval_dataset="tiny_pairs", eval_strategy="steps", eval_steps=6,
                       learning_rate=5e-3 if method == "lora" else 5e-4)
    done = run_training(config)
    assert done["status"] == "done"
    log = [e for e in read_events(out) if e["type"] == "step"]
    assert {"accuracy", "margin"} <= set(log[0])
    assert log[-1]["accuracy"] == 1.0 and log[-1]["margin"] > log[0]["margin"]
    assert log[-1]["loss"] < 0.5 * log[0]["loss"]
    evals = [e for e in read_events(out) if e["type"] == "eval"]
    assert evals and evals[-1]["eval_accuracy"] == 1.0

    reader = config.model_copy(update={"stage": "ppo", "reward_model": str(out),
                                       "reward_model_type": "lora" if method == "lora" else "full"})
    model, tokenizer = load_reward_model(reader), load_tokenizer(reader)
    template = get_template(reader, tokenizer)
    good, bad = score_texts(model, tokenizer, [
        template.render([{"role": "user", "content": "What is your name?"}, {"role": "assistant", "content": a}])
        for a in ("My name is Lumen.", BAD)])
    assert good > bad + 1.0, (good, bad)
