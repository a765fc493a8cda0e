"""`resolve(config, hardware)`: every auto value decided in one place, for the machine the run is on."""

import pytest

from engine.config import ConfigError, parse_config
from engine.config.resolve import RESOLVED_KEYS, Hardware, attn_implementation, resolve, resolved_values

CPU = Hardware()
AMPERE = Hardware(cuda=True, bf16=True, flash_attn=frozenset({"flash_attn"}))
TURING = Hardware(cuda=True, bf16=False)


def test_the_cpu_trains_fp32_unpadded_without_checkpointing():
    config = resolve(parse_config({"stage": "sft", "lora_rank": 4}), CPU)
    assert resolved_values(config) == {"flash_attn": "sdpa", "packing": False, "padding_free": True, "bf16": False,
                                       "fp16": False, "disable_gradient_checkpointing": True, "lora_alpha": 8}


def test_a_gpu_gets_its_precision_kernel_and_checkpointing():
    config = resolve(parse_config({"stage": "sft"}), AMPERE)
    assert (config.flash_attn, config.bf16, config.fp16, config.disable_gradient_checkpointing) == ("fa2", True, False, False)
    assert config.padding_free is True and attn_implementation(config, AMPERE) == "flash_attention_2"
    old = resolve(parse_config({"stage": "sft"}), TURING)
    assert (old.flash_attn, old.fp16, old.padding_free) == ("sdpa", True, False)
    assert resolve(parse_config({"stage": "sft", "neat_packing": True}), AMPERE).flash_attn == "sdpa"


def test_what_the_config_says_wins():
    raw = {"stage": "pt", "flash_attn": "disabled", "padding_free": False, "fp16": True, "lora_alpha": 3,
           "disable_gradient_checkpointing": False}
    config = resolve(parse_config(raw), AMPERE)
    assert resolved_values(config) == {"flash_attn": "disabled", "packing": True, "padding_free": False,
                                       "bf16": False, "fp16": True, "disable_gradient_checkpointing": False,
                                       "lora_alpha": 3}


def test_resolving_twice_changes_nothing():
    for hardware in (CPU, AMPERE, TURING):
        once = resolve(parse_config({"stage": "pt"}), hardware)
        assert resolve(once, hardware) == once and all(getattr(once, k) is not None for k in RESOLVED_KEYS)


def test_flash_attention_that_cannot_run_is_one_line():
    config = resolve(parse_config({"flash_attn": "fa3"}), AMPERE)  # refused when the model loads, journaled
    with pytest.raises(ConfigError, match="flash_attn: fa3 needs a CUDA GPU and the 'flash_attn_interface'"):
        attn_implementation(config, AMPERE)
    with pytest.raises(ConfigError, match="flash_attn: fa2 needs a CUDA GPU"):
        attn_implementation(parse_config({"flash_attn": "fa2"}), CPU)
