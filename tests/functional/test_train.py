"""Real training of a tiny random Llama on the CPU: loss falls, methods run, journal and outputs are right."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config import ConfigError, load_config, parse_config
from engine.config.resolve import resolved_values
from engine.events import read_events
from engine.train import run_training


def tiny_config(model_dir: Path, data_dir: Path, out: Path, **over):
    raw = dict(model_name_or_path=str(model_dir), do_train=True, dataset="tiny_identity", dataset_dir=str(data_dir),
               output_dir=str(out), stage="sft", finetuning_type="lora", lora_rank=8, lora_target="all",
               cutoff_len=64, per_device_train_batch_size=4, learning_rate=5e-3, max_steps=30, logging_steps=2,
               save_steps=1000, report_to="none", seed=1)
    raw.update(over)
    return parse_config(raw, "train")


def losses(run_dir: Path) -> list[float]:
    return [e["loss"] for e in read_events(run_dir) if e["type"] == "step"]


def test_lora_sft_loss_falls_and_journal_is_complete(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    done = run_training(tiny_config(tiny_model_dir, tiny_data_dir, out, learning_rate=1e-2, max_steps=40))
    assert done["status"] == "done" and done["step"] == 40
    curve = losses(out)
    assert curve[-1] < 0.85 * curve[0], curve
    kinds = [e["type"] for e in read_events(out)]
    assert kinds[0] == "start" and kinds[-1] == "done" and "step" in kinds
    start = read_events(out)[0]
    assert start["plan"]["trainable_params"] < start["plan"]["total_params"]
    assert start["num_examples"] == 32
    step = next(e for e in read_events(out) if e["type"] == "step")
    for key in ("loss", "lr", "grad_norm", "epoch", "tokens_per_s", "mem_gb", "eta_s", "max_steps"):
        assert key in step, key
    assert (out / "adapter_model.safetensors").exists() and (out / "adapter_config.json").exists()
    assert (out / "run_config.yaml").exists() and (out / "tokenizer_config.json").exists()
    saved = load_config(out / "run_config.yaml")  # what actually ran: every auto value decided
    assert start["resolved"] == resolved_values(saved) and start["resolved"]["flash_attn"] == "sdpa"
    assert start["resolved"]["padding_free"] is True and start["resolved"]["lora_alpha"] == 16
    lf_log = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    assert {"current_steps", "total_steps", "loss", "lr", "epoch", "percentage"} <= set(lf_log[0])
    assert done["metrics"]["num_real_tokens"] > 0


def test_full_finetune_memorises_the_set(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    run_training(tiny_config(tiny_model_dir, tiny_data_dir, out, finetuning_type="full", learning_rate=3e-3,
                             max_steps=40))
    curve = losses(out)
    assert curve[-1] < 0.4 * curve[0], curve


@pytest.mark.parametrize("method", [
    {"finetuning_type": "full"},
    {"finetuning_type": "freeze", "freeze_trainable_layers": 1},
    {"finetuning_type": "oft", "oft_block_size": 16},
    {"finetuning_type": "lora", "use_dora": True},
    {"finetuning_type": "lora", "use_rslora": True, "loraplus_lr_ratio": 16.0},
    {"finetuning_type": "lora", "pissa_init": True, "pissa_iter": 4},
])
def test_methods_train(tiny_model_dir, tiny_data_dir, tmp_path, method):
    out = tmp_path / "run"
    done = run_training(tiny_config(tiny_model_dir, tiny_data_dir, out, max_steps=6, learning_rate=1e-3, **method))
    assert done["status"] == "done"
    curve = losses(out)
    assert all(x == x for x in curve) and curve[-1] < curve[0] * 1.05


def test_pt_stage_packs_text(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "pt"
    done = run_training(tiny_config(tiny_model_dir, tiny_data_dir, out, stage="pt", dataset="tiny_text",
                                    max_steps=4, cutoff_len=32))
    assert done["status"] == "done"
    assert read_events(out)[0]["plan"]["packing"] is True


def test_finished_run_is_not_clobbered(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    run_training(tiny_config(tiny_model_dir, tiny_data_dir, out, max_steps=2))
    with pytest.raises(ConfigError, match="overwrite_output_dir"):
        run_training(tiny_config(tiny_model_dir, tiny_data_dir, out, max_steps=2))
    again = run_training(tiny_config(tiny_model_dir, tiny_data_dir, out, max_steps=2, overwrite_output_dir=True))
    assert again["status"] == "done"
    assert [e["type"] for e in read_events(out)].count("start") == 1


def test_llamafactory_demo_yaml_trains(tiny_model_dir, shared_demo, tmp_path):
    yaml_text = f"""\
model_name_or_path: {tiny_model_dir}
stage: sft
do_train: true
finetuning_type: lora
lora_target: all
dataset: identity,alpaca_en_demo
dataset_dir: {shared_demo}
cutoff_len: 128
max_samples: 16
overwrite_cache: true
preprocessing_num_workers: 16
output_dir: {tmp_path / 'lf'}
logging_steps: 1
save_steps: 500
plot_loss: true
overwrite_output_dir: true
report_to: none
per_device_train_batch_size: 4
gradient_accumulation_steps: 2
learning_rate: 1.0e-4
num_train_epochs: 1.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
ddp_timeout: 180000000
"""
    path = tmp_path / "lf.yaml"
    path.write_text(yaml_text)
    from engine.config import load_config

    done = run_training(load_config(path))
    assert done["status"] == "done" and done["step"] == 4


def test_llamafactory_shaped_folder_trains_one_good_entry(tiny_model_dir, tmp_path):
    from tests.tiny import write_llamafactory_like_dir

    data = write_llamafactory_like_dir(tmp_path / "data")
    out = tmp_path / "run"
    done = run_training(tiny_config(tiny_model_dir, data, out, dataset="tiny_chat", max_steps=2))
    assert done["status"] == "done"
    with pytest.raises(ConfigError, match="entry 'ms_only': ModelScope"):
        run_training(tiny_config(tiny_model_dir, data, tmp_path / "bad", dataset="tiny_chat,ms_only", max_steps=2))


def test_use_unsloth_without_cuda_is_a_one_line_error(tiny_model_dir, tiny_data_dir, tmp_path):
    with pytest.raises(ConfigError, match="use_unsloth: unsloth runs on CUDA GPUs only"):
        run_training(tiny_config(tiny_model_dir, tiny_data_dir, tmp_path / "u", use_unsloth=True))
    assert read_events(tmp_path / "u")[-1]["type"] == "error"


@pytest.mark.parametrize("bits", [4, 8])
def test_qlora_trains_on_the_cpu_backend(tiny_model_dir, tiny_data_dir, tmp_path, bits):
    pytest.importorskip("bitsandbytes")
    out = tmp_path / f"q{bits}"
    done = run_training(tiny_config(tiny_model_dir, tiny_data_dir, out, quantization_bit=bits, max_steps=4,
                                    learning_rate=1e-3))
    assert done["status"] == "done"
    assert all(x == x for x in losses(out))
    assert (out / "adapter_model.safetensors").exists()
