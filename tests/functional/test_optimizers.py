"""The memory-efficient optimizers train a tiny real Llama on the CPU, and resume from a checkpoint with their
state (the resumed losses match an uninterrupted run) or say in the journal why they cannot."""

from __future__ import annotations

import math
import shutil

import pytest

from engine.events import read_events
from engine.train import run_training

from tests.functional.test_train import losses, tiny_config

OPTIMIZERS = {
    "galore": dict(use_galore=True, galore_rank=8, galore_update_interval=4, galore_scale=1.0),
    "galore_layerwise": dict(use_galore=True, galore_rank=8, galore_layerwise=True, galore_scale=1.0),
    "apollo": dict(use_apollo=True, apollo_rank=8, apollo_scale=1.0, apollo_update_interval=4),
    "badam_layer": dict(use_badam=True, badam_switch_interval=3),
    "badam_ratio": dict(use_badam=True, badam_mode="ratio", badam_update_ratio=0.5),
    "adam_mini": dict(use_adam_mini=True),
    "muon": dict(use_muon=True),
}


def optimizer_config(model_dir, data_dir, out, name, **over):
    return tiny_config(model_dir, data_dir, out, finetuning_type="full", learning_rate=3e-3,
                       **{"max_steps": 10, "logging_steps": 1, **OPTIMIZERS[name], **over})


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_trains_and_loss_falls(tiny_model_dir, tiny_data_dir, tmp_path, name):
    out = tmp_path / name
    done = run_training(optimizer_config(tiny_model_dir, tiny_data_dir, out, name))
    assert done["status"] == "done" and done["step"] == 10
    curve = losses(out)
    assert all(x == x for x in curve) and min(curve[-3:]) < 0.95 * curve[0], curve
    shown = {"galore_layerwise": "galore", "badam_layer": "badam (layer)", "badam_ratio": "badam (ratio)"}
    assert read_events(out)[0]["plan"]["optimizer"] == shown.get(name, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["galore", "apollo", "badam_layer", "badam_ratio", "adam_mini", "muon"])
def test_resume_restores_optimizer_state(tiny_model_dir, tiny_data_dir, tmp_path, name):
    """A run killed after checkpoint-4 restarts from it: steps 5..8 give the uninterrupted run's losses."""
    straight = tmp_path / "straight"
    run_training(optimizer_config(tiny_model_dir, tiny_data_dir, straight, name, max_steps=8, save_steps=4))
    reference = {e["step"]: e["loss"] for e in read_events(straight) if e["type"] == "step"}
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(straight / "checkpoint-4", resumed / "checkpoint-4")
    run_training(optimizer_config(tiny_model_dir, tiny_data_dir, resumed, name, max_steps=8, save_steps=4))
    events = read_events(resumed)
    assert events[0]["plan"]["resume_from"].endswith("checkpoint-4")
    assert not [e for e in events if e["type"] == "warning" and "resumed with fresh" in e["message"]]
    after = {e["step"]: e["loss"] for e in events if e["type"] == "step"}
    assert sorted(after) == [5, 6, 7, 8]
    for step, loss in after.items():
        assert abs(loss - reference[step]) < 1e-4, (step, loss, reference[step])


@pytest.mark.slow
def test_layerwise_resume_says_why_state_is_fresh(tiny_model_dir, tiny_data_dir, tmp_path):
    straight = tmp_path / "straight"
    run_training(optimizer_config(tiny_model_dir, tiny_data_dir, straight, "galore_layerwise", max_steps=4,
                                  save_steps=2))
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(straight / "checkpoint-2", resumed / "checkpoint-2")
    done = run_training(optimizer_config(tiny_model_dir, tiny_data_dir, resumed, "galore_layerwise", max_steps=4,
                                         save_steps=2))
    assert done["status"] == "done" and done["step"] == 4
    warnings = [e["message"] for e in read_events(resumed) if e["type"] == "warning"]
    assert any("layer-wise GaLore" in w and "fresh moments" in w for w in warnings), warnings


@pytest.mark.slow
def test_dft_loss_is_the_trained_loss_and_liger_is_noted_on_cpu(tiny_model_dir, tiny_data_dir, tmp_path):
    plain = tmp_path / "plain"
    run_training(tiny_config(tiny_model_dir, tiny_data_dir, plain, max_steps=2, logging_steps=1))
    dft = tmp_path / "dft"
    done = run_training(tiny_config(tiny_model_dir, tiny_data_dir, dft, max_steps=2, logging_steps=1,
                                    use_dft_loss=True, enable_liger_kernel=True))
    assert done["status"] == "done"
    first_ce = losses(plain)[0]  # a random model: every answer token has p ~ exp(-CE), so DFT ~ CE * exp(-CE)
    assert abs(losses(dft)[0] - first_ce * math.exp(-first_ce)) < 0.5 * first_ce * math.exp(-first_ce)
    notes = [e["message"] for e in read_events(dft) if e["type"] == "warning"]
    assert any(n.startswith("enable_liger_kernel:") and "ignored on the CPU" in n for n in notes), notes


@pytest.mark.slow
def test_galore_runs_from_the_command_line(tiny_model_dir, tiny_data_dir, tmp_path):
    """The CLI keeps bitsandbytes out of runs that do not need it; galore-torch imports it, so it must stay."""
    import subprocess
    import sys

    import yaml

    out = tmp_path / "cli"
    raw = dict(model_name_or_path=str(tiny_model_dir), dataset="tiny_identity", dataset_dir=str(tiny_data_dir),
               output_dir=str(out), do_train=True, finetuning_type="full", use_galore=True, galore_rank=8,
               cutoff_len=64, per_device_train_batch_size=4, max_steps=2, logging_steps=1, report_to="none")
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(raw))
    result = subprocess.run([sys.executable, "-m", "engine", "train", str(tmp_path / "g.yaml")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert read_events(out)[-1]["status"] == "done"
