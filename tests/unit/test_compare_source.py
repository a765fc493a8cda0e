"""What the Predict view compares: the base, and the run's adapter (on top of the adapters it started from) or
its full model; sources that cannot be compared fail in one line."""

from __future__ import annotations

import pytest
import yaml

from engine.config import ConfigError
from engine.evaluate.compare import comparison


def run_folder(path, saved: str, **config):
    path.mkdir(parents=True)
    raw = {"model_name_or_path": "tiny-model", "stage": "sft", "finetuning_type": "lora", "do_train": True,
           "dataset": "tiny", "output_dir": str(path), **config}
    (path / "run_config.yaml").write_text(yaml.safe_dump(raw))
    if saved:
        (path / saved).write_text("{}")
    return path


def test_a_lora_run_is_its_adapter_on_the_base(tmp_path):
    run = run_folder(tmp_path / "run", "adapter_config.json")
    plan = comparison(str(run), ["max_new_tokens=16"])
    assert plan.adapter == str(run) and plan.tuned_model is None
    assert plan.config.adapter_name_or_path is None and plan.config.max_new_tokens == 16
    assert not plan.config.do_train and plan.config.output_dir is None


def test_a_new_adapter_keeps_the_adapters_it_started_from(tmp_path):
    run = run_folder(tmp_path / "run", "adapter_config.json", adapter_name_or_path="/old", create_new_adapter=True)
    assert comparison(str(run)).adapter == f"/old,{run}"
    resumed = run_folder(tmp_path / "more", "adapter_config.json", adapter_name_or_path="/old")
    assert comparison(str(resumed)).adapter == str(resumed)  # the same adapter trained further: saved whole


def test_a_full_run_is_its_own_model(tmp_path):
    run = run_folder(tmp_path / "run", "config.json", finetuning_type="full")
    plan = comparison(str(run))
    assert plan.tuned_model == str(run) and plan.adapter is None


@pytest.mark.parametrize("case, words", [
    ("empty-folder", "not a run folder"), ("unfinished", "saved no adapter or model yet"),
    ("yaml-without-adapter", "adapter_name_or_path is required"),
])
def test_what_cannot_be_compared(tmp_path, case, words):
    if case == "empty-folder":
        source = tmp_path
    elif case == "unfinished":
        source = run_folder(tmp_path / "run", "")
    else:
        source = tmp_path / "x.yaml"
        source.write_text(yaml.safe_dump({"model_name_or_path": "tiny-model"}))
    with pytest.raises(ConfigError, match=words):
        comparison(str(source))


def test_generation_is_refused_where_the_weights_are_sharded(tmp_path):
    import json

    from engine.config import check_config, parse_config

    z3 = tmp_path / "ds_z3.json"
    z3.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    base = dict(model_name_or_path="m", stage="sft", do_train=True, dataset="d", eval_dataset="e", do_predict=True,
                predict_with_generate=True, output_dir=str(tmp_path / "o"))
    for sharding, key in (({"deepspeed": str(z3)}, "deepspeed"), ({"fsdp": True}, "fsdp")):
        with pytest.raises(ConfigError) as err:
            parse_config({**base, **sharding})
        assert any(p.fields == ("predict_with_generate", key) for p in err.value.problems), err.value.problems
    assert not [p for p in check_config(parse_config(base), "any") if "predict_with_generate" in p.fields]
