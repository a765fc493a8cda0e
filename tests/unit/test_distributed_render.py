"""The strategy keys rendered into the Trainer's arguments: FSDP2's plugin, DeepSpeed's filled-in config."""

from __future__ import annotations

import pytest

from engine.config import TrainConfig
from engine.train.trainer import training_arguments


def args_of(tmp_path, **keys):
    return training_arguments(TrainConfig(**({"finetuning_type": "lora", "output_dir": str(tmp_path),
                                              "per_device_train_batch_size": 3, "report_to": "none"} | keys)), False)


def test_fsdp_keys_become_the_fsdp2_plugin(tmp_path):
    plain = args_of(tmp_path)
    assert not plain.fsdp and plain.deepspeed is None
    plugin = args_of(tmp_path, fsdp="full_shard auto_wrap offload").fsdp_plugin_args
    assert plugin["fsdp_version"] == 2 and plugin["cpu_offload"] is True and plugin["reshard_after_forward"] is True


def test_an_accelerate_config_file_becomes_the_fsdp2_plugin(tmp_path):
    accelerate = tmp_path / "fsdp2_config.yaml"
    accelerate.write_text("distributed_type: FSDP\nfsdp_config:\n  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP\n"
                          "  fsdp_offload_params: false\n  fsdp_reshard_after_forward: false\n"
                          "  fsdp_state_dict_type: FULL_STATE_DICT\n  fsdp_version: 2\nnum_processes: 2\n")
    plugin = args_of(tmp_path, fsdp_config=str(accelerate)).fsdp_plugin_args
    assert plugin["auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP" and plugin["reshard_after_forward"] is False
    assert plugin["state_dict_type"] == "FULL_STATE_DICT" and "cpu_offload" not in plugin


@pytest.mark.parametrize("name,stage", [("z0", 0), ("z2", 2), ("z3", 3), ("z3_offload", 3)])
def test_shipped_deepspeed_configs_fill_their_auto_values(tmp_path, name, stage):
    pytest.importorskip("deepspeed", reason="DeepSpeed is the optional extra lmf-tui[deepspeed]")
    args = args_of(tmp_path, deepspeed=name, gradient_accumulation_steps=2)
    rendered = args.hf_deepspeed_config.config
    assert rendered["zero_optimization"]["stage"] == stage
    assert rendered["train_micro_batch_size_per_gpu"] == 3 and rendered["gradient_accumulation_steps"] == 2
