"""The config schema: LLaMA-Factory keys, one-line errors, cross-field rules, overrides, YAML round trip."""

from __future__ import annotations

import pytest
import yaml

from engine.config import (ConfigError, TrainConfig, check_config, coerce_value, config_to_dict, field_groups,
                           load_config, parse_config, parse_overrides, save_config)
from engine.config.rules import RULES

LF_EXAMPLE = """\
### model
model_name_or_path: meta-llama/Meta-Llama-3-8B-Instruct
trust_remote_code: true

### method
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 8
lora_target: all

### dataset
dataset: identity,alpaca_en_demo
template: llama3
cutoff_len: 2048
max_samples: 1000
overwrite_cache: true
preprocessing_num_workers: 16
dataloader_num_workers: 4

### output
output_dir: saves/llama3-8b/lora/sft
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true
save_only_model: false
report_to: none

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 8
learning_rate: 1.0e-4
num_train_epochs: 3.0
lr_scheduler_type: cosine
warmup_ratio: 0.1
bf16: true
ddp_timeout: 180000000
resume_from_checkpoint: null
"""


def test_llamafactory_example_yaml_loads(tmp_path):
    path = tmp_path / "llama3_lora_sft.yaml"
    path.write_text(LF_EXAMPLE)
    config = load_config(path, purpose="train")
    assert config.learning_rate == 1e-4
    assert config.dataset_names() == ["identity", "alpaca_en_demo"]
    assert config.template == "llama3" and config.bf16 and config.gradient_accumulation_steps == 8


def test_unknown_key_names_it_with_did_you_mean():
    with pytest.raises(ConfigError) as exc:
        parse_config({"lora_rnak": 8})
    assert str(exc.value) == "lora_rnak: unknown key — did you mean 'lora_rank'?"


@pytest.mark.parametrize("key,value,feature", [
    ("use_mca", True, "Megatron"), ("ray_num_workers", 4, "Ray"), ("use_kt", True, "KTransformers"),
    ("use_swanlab", True, "SwanLab"),
])
def test_unsupported_feature_is_one_line(key, value, feature):
    with pytest.raises(ConfigError) as exc:
        parse_config({key: value})
    message = str(exc.value)
    assert "\n" not in message and key in message and feature in message and "does not run" in message


def test_one_feature_is_one_problem_and_hides_its_unknown_keys():
    raw = {"tensor_model_parallel_size": 1, "pipeline_model_parallel_size": 4, "overlap_grad_reduce": True,
           "sequence_parallel": False}
    with pytest.raises(ConfigError) as exc:
        parse_config(raw)
    assert str(exc.value) == ("tensor_model_parallel_size, pipeline_model_parallel_size: Megatron (MCA) is a "
                              "LLaMA-Factory feature lmf-tui does not run — remove 'tensor_model_parallel_size', "
                              "'pipeline_model_parallel_size' from the config")


def test_unsupported_feature_switched_off_is_accepted():
    assert parse_config({"use_swanlab": False, "use_mca": False}).stage == "sft"


def test_bad_type_names_field_and_expected_type():
    with pytest.raises(ConfigError) as exc:
        parse_config({"learning_rate": "fast"})
    assert str(exc.value).startswith("learning_rate: ") and "'fast'" in str(exc.value)


def test_bad_choice_lists_the_choices():
    with pytest.raises(ConfigError) as exc:
        parse_config({"finetuning_type": "qlora"})
    assert "finetuning_type" in str(exc.value) and "'lora'" in str(exc.value)


BROKEN = {
    "_quantization_needs_adapter": {"quantization_bit": 4, "finetuning_type": "full"},
    "_lora_variants_need_lora": {"use_dora": True, "finetuning_type": "freeze"},
    "_pissa_not_quantized": {"pissa_init": True, "quantization_bit": 4},
    "_dora_not_with_pissa": {"use_dora": True, "pissa_init": True},
    "_pissa_convert_needs_pissa": {"pissa_convert": True},
    "_scratch_not_quantized": {"train_from_scratch": True, "quantization_bit": 4},
    "_prompt_masking_exclusive": {"train_on_prompt": True, "mask_history": True},
    "_neat_packing_needs_packing": {"neat_packing": True, "packing": False},
    "_packing_stages": {"packing": True, "stage": "dpo"},
    "_mask_history_sft": {"mask_history": True, "stage": "pt"},
    "_val_or_eval_dataset": {"val_size": 0.1, "eval_dataset": "x"},
    "_val_size_whole_when_large": {"val_size": 2.5},
    "_streaming_needs_max_steps": {"streaming": True},
    "_one_mixed_precision": {"bf16": True, "fp16": True},
    "_adapters_need_adapter_method": {"adapter_name_or_path": "a", "finetuning_type": "full"},
    "_new_adapter_not_quantized": {"create_new_adapter": True, "quantization_bit": 4},
    "_oft_size": {"finetuning_type": "oft", "oft_rank": 4, "oft_block_size": 32},
    "_eval_needs_data": {"eval_strategy": "steps"},
    "_best_model_needs_eval": {"load_best_model_at_end": True},
    "_predict_needs_eval_dataset": {"do_predict": True},
    "_generate_only_sft": {"predict_with_generate": True, "stage": "pt"},
    "_evaluate_alone_pt_sft": {"stage": "dpo", "do_eval": True, "val_size": 0.1},
    "_resume_not_overwrite": {"resume_from_checkpoint": "ckpt", "overwrite_output_dir": True},
    "_label_smoothing_sigmoid": {"dpo_label_smoothing": 0.1, "pref_loss": "ipo"},
    "_reference_free_losses": {"stage": "dpo", "pref_loss": "orpo", "ref_model": "m"},
    "_ppo_needs_reward_model": {"stage": "ppo"},
    "_lora_reward_model_needs_lora": {"stage": "ppo", "reward_model": "r", "finetuning_type": "full"},
    "_kto_pair_is_a_stage": {"stage": "dpo", "pref_loss": "kto_pair"},
    "_ppo_one_rollout_per_step": {"stage": "ppo", "reward_model": "r", "gradient_accumulation_steps": 2},
    "_online_rl_no_eval": {"stage": "ppo", "reward_model": "r", "eval_strategy": "steps", "val_size": 0.1},
    "_grpo_groups_fit_batch": {"stage": "grpo", "reward_funcs": "m:f", "num_generations": 3},
    "_reward_funcs_form": {"stage": "grpo", "reward_funcs": "just_a_module"},
    "_reward_model_type_supported": {"stage": "ppo", "reward_model": "r", "reward_model_type": "api"},
    "_sft_term_where_it_exists": {"stage": "kto", "pref_ftx": 0.5},
    "_ref_model_stages": {"stage": "rm", "ref_model": "m"},
    "_aligned_stages_not_streamed": {"stage": "dpo", "streaming": True, "max_steps": 10},
    "_loraplus_pt_sft": {"stage": "dpo", "loraplus_lr_ratio": 16.0},
    "_gptq_export": {"export_quantization_bit": 4},
    "_unsupported_quantization_method": {"quantization_bit": 8, "quantization_type": "fp4"},
    "_one_optimizer": {"use_adam_mini": True, "use_muon": True},
    "_low_rank_optimizers_train_weights": {"use_galore": True, "finetuning_type": "lora"},
    "_layerwise_without_accumulation": {"use_galore": True, "galore_layerwise": True,
                                        "gradient_accumulation_steps": 2},
    "_low_rank_base_optimizer": {"use_apollo": True, "optim": "sgd"},
    "_optimizers_and_deepspeed": {"use_galore": True, "deepspeed": "ds.json"},
    "_badam_block_settings": {"use_badam": True, "badam_switch_mode": None},
    "_llama_pro_methods": {"use_llama_pro": True, "finetuning_type": "full"},
    "_dft_loss_sft": {"use_dft_loss": True, "stage": "pt"},
}


def test_every_rule_has_a_failing_config():
    assert {fn.__name__ for fn in RULES} == set(BROKEN)


@pytest.mark.parametrize("rule_name", sorted(BROKEN))
def test_rule_fails_with_one_line_naming_fields_and_fix(rule_name):
    raw = BROKEN[rule_name]
    rule = next(fn for fn in RULES if fn.__name__ == rule_name)
    problem = rule(TrainConfig.model_validate(raw))
    assert problem is not None, rule_name
    assert set(problem.fields) & set(raw), "the message names the fields involved"
    assert problem.fix, "every rule says how to fix it"
    with pytest.raises(ConfigError) as exc:
        parse_config(raw)
    assert "\n" not in str(exc.value)


def test_neat_packing_turns_packing_on():
    from engine.config.resolve import packing

    assert packing(parse_config({"neat_packing": True})) is True


def test_train_purpose_requires_model_data_output():
    problems = check_config(TrainConfig(do_train=True), "train")
    assert [p.fields[0] for p in problems] == ["model_name_or_path", "output_dir", "dataset"]


def test_do_train_defaults_to_false_and_a_config_that_does_nothing_fails(tmp_path):
    assert TrainConfig().do_train is False  # as in LLaMA-Factory
    path = tmp_path / "c.yaml"
    path.write_text("model_name_or_path: m\ndataset: d\noutput_dir: o\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, purpose="train")
    assert str(err.value).startswith("do_train: the config does nothing") and "set do_train: true" in str(err.value)
    assert load_config(path, ["do_train=true"], purpose="train").do_train


def test_overrides_are_typed_by_schema():
    got = parse_overrides(["learning_rate=1e-4", "lora_rank=16", "bf16=true", "dataset=a,b",
                           "export_gguf=[f16,q4_k_m]", "quantization_bit=4", "max_samples=null"])
    assert got == {"learning_rate": 1e-4, "lora_rank": 16, "bf16": True, "dataset": "a,b",
                   "export_gguf": ["f16", "q4_k_m"], "quantization_bit": 4, "max_samples": None}
    assert coerce_value("resume_from_checkpoint", "true") is True
    assert coerce_value("report_to", "none") == "none" and coerce_value("max_samples", "none") is None


def test_override_without_equals_is_one_line():
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["learning_rate"])


def test_yaml_round_trip_keeps_only_set_keys(tmp_path):
    config = parse_config({"model_name_or_path": "m", "lora_rank": 16, "stage": "sft"})
    path = save_config(config, tmp_path / "out.yaml")
    data = yaml.safe_load(path.read_text())
    assert data == {"model_name_or_path": "m", "stage": "sft", "lora_rank": 16}
    assert load_config(path) == config
    assert config_to_dict(config, full=True)["cutoff_len"] == 2048


def test_every_field_has_group_and_help():
    groups = field_groups()
    assert sum(len(v) for v in groups.values()) == len(TrainConfig.model_fields)
    assert all(info.description for info in TrainConfig.model_fields.values())


def test_malformed_yaml_is_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("stage: sft\n  lora_rank: [\n")
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert "bad.yaml line" in str(exc.value) and "\n" not in str(exc.value)


def test_schema_bounds_and_rules_agree():
    """A value at the edge of a field's schema bounds is not refused by a rule about that field alone:
    single-field limits live in the schema, rules.py holds the cross-field ones."""
    import annotated_types as at

    checked = 0
    for name, info in TrainConfig.model_fields.items():
        step = 1 if info.annotation in (int, int | None) else 1e-6
        for bound in info.metadata:
            edge = {at.Ge: lambda b: b.ge, at.Gt: lambda b: b.gt + step, at.Le: lambda b: b.le,
                    at.Lt: lambda b: b.lt - step}.get(type(bound))
            if edge is None:
                continue
            config = TrainConfig.model_validate({name: edge(bound)})
            assert [p for p in check_config(config) if p.fields == (name,)] == [], (name, bound)
            checked += 1
    assert checked > 10
