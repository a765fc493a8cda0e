"""Optimizer, LLaMA Pro and DFT keys: LLaMA-Factory's YAML parses, forbidden combinations fail in one line
before any weight loads, and a missing package names the extra."""

from __future__ import annotations

import importlib.util

import pytest

from engine.config import ConfigError, parse_config
from engine.train.optimizers import badam_block_at, require_optimizer_packages


def test_llamafactory_galore_yaml_parses():
    config = parse_config({"finetuning_type": "full", "use_galore": True, "galore_layerwise": True,
                           "galore_target": "mlp,self_attn", "galore_rank": 128, "galore_scale": 2.0})
    assert config.use_galore and config.galore_rank == 128 and config.galore_target == "mlp,self_attn"


@pytest.mark.parametrize("raw,fields", [
    ({"use_galore": True}, ("use_galore", "finetuning_type")),
    ({"use_badam": True, "finetuning_type": "oft"}, ("use_badam", "finetuning_type")),
    ({"use_galore": True, "use_badam": True, "finetuning_type": "full"}, ("use_galore", "use_badam")),
    ({"use_adam_mini": True, "use_muon": True}, ("use_adam_mini", "use_muon")),
    ({"use_adam_mini": True, "loraplus_lr_ratio": 16.0}, ("use_adam_mini", "loraplus_lr_ratio")),
    ({"use_galore": True, "galore_layerwise": True, "finetuning_type": "full", "gradient_accumulation_steps": 4},
     ("galore_layerwise", "gradient_accumulation_steps")),
    ({"use_apollo": True, "apollo_layerwise": True, "finetuning_type": "full", "gradient_accumulation_steps": 2},
     ("apollo_layerwise", "gradient_accumulation_steps")),
    ({"use_apollo": True, "finetuning_type": "full", "optim": "adamw_8bit"}, ("use_apollo", "optim")),
    ({"use_galore": True, "finetuning_type": "full", "optim": "sgd"}, ("use_galore", "optim")),
    ({"use_galore": True, "finetuning_type": "full", "deepspeed": "ds_z2.json"}, ("deepspeed", "use_galore")),
    ({"use_badam": True, "badam_mode": "ratio", "finetuning_type": "full", "deepspeed": "ds_z3.json"},
     ("deepspeed", "badam_mode")),
    ({"use_llama_pro": True, "finetuning_type": "full"}, ("use_llama_pro", "finetuning_type")),
    ({"use_llama_pro": True, "finetuning_type": "freeze", "freeze_trainable_layers": -2},
     ("use_llama_pro", "freeze_trainable_layers")),
    ({"use_dft_loss": True, "stage": "dpo"}, ("use_dft_loss", "stage")),
])
def test_forbidden_combinations_fail_in_one_line(raw, fields):
    with pytest.raises(ConfigError) as exc:
        parse_config(raw)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(", ".join(fields)), message


def test_missing_package_names_the_extra(monkeypatch):
    config = parse_config({"finetuning_type": "full", "use_badam": True})
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "badam" else real(name, *a))
    with pytest.raises(ConfigError) as exc:
        require_optimizer_packages(config)
    assert "\n" not in str(exc.value) and "lmf-tui[optim]" in str(exc.value) and "use_badam" in str(exc.value)


@pytest.mark.parametrize("every,steps,blocks", [(1, range(6), [0, 1, 2, 0, 1, 2]),
                                                (3, range(9), [0, 0, 1, 1, 1, 2, 2, 2, 0])])
def test_badam_block_replays_its_ascending_order(every, steps, blocks):
    """BAdam switches after the steps k with (k + 1) % every == 0; a resumed run must land on the same block."""
    assert [badam_block_at(0, s, every, 3, "ascending") for s in steps] == blocks


def test_dry_run_checks_llama_pro_blocks_and_names_the_optimizer(tmp_path, capsys):
    import json

    import yaml

    from engine.commands import main
    from tests.tiny import write_dataset_dir

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 400}))
    raw = dict(model_name_or_path=str(model), dataset="tiny_identity", dataset_dir=str(write_dataset_dir(tmp_path / "d")),
               output_dir=str(tmp_path / "out"), do_train=True, finetuning_type="freeze", use_llama_pro=True,
               freeze_trainable_layers=3)
    path = tmp_path / "pro.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["train", str(path), "--dry-run"]) != 0
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "freeze_trainable_layers: 4 layers do not split into 3" in err
    path.write_text(yaml.safe_dump({**raw, "use_llama_pro": False, "finetuning_type": "full", "use_badam": True}))
    assert main(["train", str(path), "--dry-run"]) == 0
    assert "optimizer       BAdam, one block at a time" in capsys.readouterr().out


@pytest.mark.parametrize("raw,fields", [
    ({"use_badam": True, "deepspeed": "z2"}, ("use_badam", "deepspeed")),
    ({"use_muon": True, "deepspeed": "z3"}, ("use_muon", "deepspeed")),
    ({"use_galore": True, "fsdp": "full_shard auto_wrap"}, ("use_galore", "fsdp")),
    ({"use_badam": True, "badam_mode": "ratio", "fsdp": "full_shard auto_wrap"}, ("badam_mode", "fsdp")),
])
def test_optimizers_refuse_the_sharding_they_cannot_run(raw, fields):
    with pytest.raises(ConfigError) as exc:
        parse_config({"finetuning_type": "full", **raw})
    assert "\n" not in str(exc.value) and str(exc.value).startswith(", ".join(fields)), str(exc.value)
    parse_config({"finetuning_type": "full", "use_badam": True, "deepspeed": "z3"})  # what BAdam runs with


def test_liger_is_noted_on_the_cpu_and_names_its_extra_on_cuda(monkeypatch):
    import torch

    from engine.models.liger import liger_note

    config = parse_config({"enable_liger_kernel": True, "model_name_or_path": "m"})
    assert liger_note(config.model_copy(update={"use_cpu": True})).endswith("ignored on the CPU")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "liger_kernel" else real(name, *a))
    with pytest.raises(ConfigError) as exc:
        liger_note(config)
    assert "lmf-tui[liger]" in str(exc.value) and "\n" not in str(exc.value)
    assert liger_note(parse_config({})) is None


def test_several_processes_refuse_layerwise_and_plain_ddp_badam():
    from engine.train.optimizers import check_world_size

    layerwise = parse_config({"finetuning_type": "full", "use_galore": True, "galore_layerwise": True})
    check_world_size(layerwise, 1)
    with pytest.raises(ConfigError) as exc:
        check_world_size(layerwise, 2)
    assert str(exc.value).startswith("galore_layerwise:") and "\n" not in str(exc.value)
    with pytest.raises(ConfigError):
        check_world_size(parse_config({"finetuning_type": "full", "use_badam": True}), 4)
    check_world_size(parse_config({"finetuning_type": "full", "use_badam": True, "deepspeed": "z3"}), 4)
