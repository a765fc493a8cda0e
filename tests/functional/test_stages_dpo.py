"""stage: dpo on a tiny Llama and a separable preference set: every pref_loss trains, the reference stays put."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.config import ConfigError, load_config
from engine.events import read_events
from engine.train import run_training
from tests.stage_data import assert_resumed, stage_config, stop_then_resume


def dpo_config(model_dir: Path, data_dir: Path, out: Path, **over):
    return stage_config(model_dir, data_dir, out, **{"stage": "dpo", "dataset": "tiny_pairs",
                                                     "per_device_train_batch_size": 8, "learning_rate": 5e-3,
                                                     "max_steps": 16, **over})


def steps(run_dir: Path) -> list[dict]:
    return [e for e in read_events(run_dir) if e["type"] == "step"]


@pytest.mark.parametrize("method", ["lora", "full"])
def test_dpo_separates_pairs_and_reference_is_frozen(tiny_model_dir, stage_data, tmp_path, method):
    out = tmp_path / "dpo"
    beta = 0.1
    done = run_training(dpo_config(tiny_model_dir, stage_data, out, finetuning_type=method, pref_beta=beta,
                                   learning_rate=5e-3 if method == "lora" else 1e-3))
    assert done["status"] == "done"
    log = steps(out)
    for key in ("loss", "rewards/margins", "rewards/chosen", "rewards/rejected", "rewards/accuracies"):
        assert key in log[0], key
    assert log[-1]["rewards/accuracies"] > 0.9 and log[-1]["tokens"] > 0
    margin = [e["logps/chosen"] - e["logps/rejected"] for e in log]
    assert margin[-1] > margin[0] + 1.0, margin
    # one batch holds all 8 pairs, so the reference log-probs (policy - reward/beta) must not move
    ref = [e["logps/chosen"] - e["rewards/chosen"] / beta for e in log]
    assert max(ref) - min(ref) < 1e-2 * abs(ref[0]), ref
    assert log[-1]["loss"] < log[0]["loss"]


@pytest.mark.parametrize("loss", ["sigmoid", "ipo", "hinge", "orpo", "simpo"])
def test_each_preference_loss_falls(tiny_model_dir, stage_data, tmp_path, loss):
    out = tmp_path / loss
    run_training(dpo_config(tiny_model_dir, stage_data, out, pref_loss=loss, max_steps=8,
                            dataset="tiny_pairs_chat"))
    curve = [e["loss"] for e in steps(out)]
    assert all(math.isfinite(x) for x in curve)
    assert curve[-1] < curve[0], curve


def test_sft_term_smoothing_eval_and_unusable_pairs_reported(tiny_model_dir, stage_data, tmp_path):
    out = tmp_path / "ftx"
    run_training(dpo_config(tiny_model_dir, stage_data, out, pref_ftx=0.5, dpo_label_smoothing=0.1, max_steps=4,
                            dataset="tiny_pairs,tiny_pairs_dirty", val_size=2, eval_strategy="steps", eval_steps=2))
    curve = [e["loss"] for e in steps(out)]
    assert all(math.isfinite(x) for x in curve) and curve[-1] < curve[0]
    evals = [e for e in read_events(out) if e["type"] == "eval"]
    assert [e["step"] for e in evals] == [2, 4] and all("eval_rewards/accuracies" in e for e in evals)
    warnings = " | ".join(e["message"] for e in read_events(out) if e["type"] == "warning")
    assert "chosen == rejected" in warnings and "missing column 'rejected'" in warnings, warnings


@pytest.mark.parametrize("loss,method,ref,has_ref", [
    ("orpo", "full", False, False), ("simpo", "full", False, False), ("sigmoid", "lora", False, False),
    ("sigmoid", "full", False, True), ("sigmoid", "lora", True, True),
])
def test_reference_model_held_only_when_needed(tiny_model_dir, stage_data, tmp_path, loss, method, ref, has_ref):
    from engine.models import load_tokenizer
    from engine.stages import stage_module
    from engine.train.trainer import training_arguments

    config = dpo_config(tiny_model_dir, stage_data, tmp_path / "x", pref_loss=loss, finetuning_type=method,
                        ref_model=str(tiny_model_dir) if ref else None)
    tokenizer = load_tokenizer(config)
    stage = stage_module("dpo")
    trainer = stage.build_trainer(config, tokenizer, stage.load_data(config, tokenizer),
                                  training_arguments(config, False))
    assert (getattr(trainer, "ref_model", None) is not None) == has_ref


def test_dpo_on_sft_data_is_refused_before_loading(tiny_model_dir, stage_data, tmp_path):
    with pytest.raises(ConfigError, match="ranking"):
        run_training(dpo_config(tiny_model_dir, stage_data, tmp_path / "bad", dataset="tiny_prompts"))


def test_llamafactory_dpo_and_kto_yaml(tiny_model_dir, shared_demo, tmp_path):
    for stage, dataset in (("dpo", "dpo_en_demo"), ("kto", "kto_en_demo")):
        path = tmp_path / f"{stage}.yaml"
        path.write_text(f"""\
model_name_or_path: {tiny_model_dir}
trust_remote_code: true
stage: {stage}
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all
pref_beta: 0.1
pref_loss: sigmoid
dataset: {dataset}
dataset_dir: {shared_demo}
template: chatml
cutoff_len: 128
max_samples: 8
overwrite_cache: true
output_dir: {tmp_path / stage}
logging_steps: 1
save_steps: 500
plot_loss: true
overwrite_output_dir: true
report_to: none
per_device_train_batch_size: 2
gradient_accumulation_steps: 2
learning_rate: 5.0e-6
num_train_epochs: 1.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: false
ddp_timeout: 180000000
""")
        done = run_training(load_config(path))
        assert done["status"] == "done" and done["step"] == 2, stage


@pytest.mark.parametrize("stage,dataset,words", [
    ("dpo", "tiny_prompts", "ranking"), ("rm", "tiny_kto", "ranking"), ("kto", "tiny_pairs", "kto_tag"),
    ("kto", "tiny_prompts", "kto_tag"),
])
def test_dry_run_reports_data_that_cannot_train_the_stage(tiny_model_dir, stage_data, tmp_path, stage, dataset, words):
    import subprocess
    import sys

    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(dict(model_name_or_path=str(tiny_model_dir), do_train=True, stage=stage, dataset=dataset,
                                        dataset_dir=str(stage_data), output_dir=str(tmp_path / "o"))))
    proc = subprocess.run([sys.executable, "-m", "lmftui.cli", "train", str(path), "--dry-run"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and dataset in lines[0], proc.stderr


def test_dpo_stops_and_resumes(tiny_model_dir, stage_data, tmp_path):
    out = tmp_path / "resume"
    config = dpo_config(tiny_model_dir, stage_data, out, per_device_train_batch_size=2, max_steps=10, save_steps=3)
    first, second = stop_then_resume(config, at_step=4)
    assert_resumed(out, first, second)
    kinds = [e["type"] for e in read_events(out)]
    assert kinds.count("checkpoint") >= 3 and kinds[-1] == "done"
