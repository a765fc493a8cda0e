"""dataset_info.json: entries, defaults, errors, stage fit — and that it stays light to import."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import ConfigError, TrainConfig
from engine.data.dataset_info import read_dataset_info, resolve_datasets
from tests.tiny import write_llamafactory_like_dir

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"


def config(**kw):
    return TrainConfig(dataset_dir=str(FIXTURES), **kw)


def test_defaults_follow_llamafactory():
    info = read_dataset_info(FIXTURES)
    share = info["sharegpt_small"]
    assert share.formatting == "sharegpt" and share.tags["role_tag"] == "from" and share.tags["user_tag"] == "human"
    assert share.column("tools") == "tools" and share.column("system") is None
    kto = info["kto_small"]  # tags given: unlisted tags are unset, as in LLaMA-Factory
    assert kto.tags["observation_tag"] is None and kto.tags["role_tag"] == "role"
    text = info["text_small"]  # columns given: unlisted columns are unset
    assert text.column("prompt") == "text" and text.column("query") is None and text.column("response") is None
    assert info["openai_small"].column("messages") == "messages"
    assert info["hub_set"].load_from == "hf_hub" and info["hub_set"].source == "someone/some-data"
    assert info["folder_set"].file_type == "json"


def test_kinds_and_stage_fit():
    info = read_dataset_info(FIXTURES)
    assert info["ranking_small"].is_ranking and info["ranking_small"].fits_stage("dpo")
    assert not info["ranking_small"].fits_stage("sft")
    assert info["kto_small"].has_kto_tag and info["kto_small"].fits_stage("kto")
    assert not info["alpaca_small"].fits_stage("kto") and not info["alpaca_small"].fits_stage("rm")
    assert info["text_small"].fits_stage("pt") and info["text_small"].kind == "text"
    assert not info["sharegpt_small"].fits_stage("pt") and info["sharegpt_small"].fits_stage("sft")


def test_resolve_several_names():
    attrs = resolve_datasets(config(dataset="alpaca_small, sharegpt_small"))
    assert [a.name for a in attrs] == ["alpaca_small", "sharegpt_small"]
    assert resolve_datasets(config(dataset="alpaca_small"), "eval_dataset") == []


@pytest.mark.parametrize("kw, words", [
    ({"dataset": "alpaca_smal"}, "did you mean 'alpaca_small'"),
    ({"dataset": "missing_file"}, "nope.json does not exist"),
    ({"dataset": "ranking_small"}, "cannot train stage sft"),
    ({"dataset": "alpaca_small", "stage": "dpo"}, "ranking"),
])
def test_resolve_errors_are_one_line(kw, words):
    with pytest.raises(ConfigError) as err:
        resolve_datasets(config(**kw))
    assert words in str(err.value) and "\n" not in str(err.value)


def test_missing_and_malformed_info(tmp_path):
    with pytest.raises(ConfigError, match="dataset_info.json: no such file.*dataset_dir"):
        read_dataset_info(tmp_path)
    (tmp_path / "dataset_info.json").write_text('{\n  "a": {"file_name": "a.json"},\n  "b": \n}\n')
    with pytest.raises(ConfigError, match=r"line 4 column 1: not valid JSON"):
        read_dataset_info(tmp_path)


@pytest.mark.parametrize("entry, words", [
    ({"ms_hub_url": "x/y"}, "not supported"),
    ({"script_url": "x"}, "not supported"),
    ({"file_name": "a.json", "formatting": "vicuna"}, "formatting 'vicuna' is unknown"),
    ({"file_name": "a.json", "columns": {"promt": "q"}}, "column key 'promt' is unknown"),
    ({"file_name": "a.json", "num_samples": 0}, "num_samples"),
    ({"columns": {}}, "needs file_name or hf_hub_url"),
    ("a.json", "should be an object"),
])
def test_bad_entries_fail_only_when_selected(tmp_path, entry, words):
    (tmp_path / "a.json").write_text('[{"instruction": "q", "output": "a"}]')
    (tmp_path / "dataset_info.json").write_text(json.dumps({"x": entry, "good": {"file_name": "a.json"}}))
    info = read_dataset_info(tmp_path)
    assert not info["x"].usable and words in info["x"].error and info["x"].status == "unusable"
    assert info["good"].usable and info["good"].status == ""
    assert [a.name for a in resolve_datasets(TrainConfig(dataset_dir=str(tmp_path), dataset="good"))] == ["good"]
    with pytest.raises(ConfigError) as err:
        resolve_datasets(TrainConfig(dataset_dir=str(tmp_path), dataset="good,x"))
    assert words in str(err.value) and "entry 'x'" in str(err.value) and "\n" not in str(err.value)


def test_llamafactory_shaped_folder_lists_every_entry(tmp_path):
    folder = write_llamafactory_like_dir(tmp_path)
    info = read_dataset_info(folder)
    assert {n: a.status for n, a in info.items() if a.status} == {
        "ms_only": "unusable", "script_set": "unusable", "hub_only": "hub", "hub_and_ms": "hub",
        "gone": "missing file", "bad_columns": "unusable"}
    assert info["hub_and_ms"].source == "org/both"  # the hub entry wins over ModelScope, as in LLaMA-Factory
    with pytest.raises(ConfigError, match="'gone': file .*gone.json does not exist"):
        resolve_datasets(TrainConfig(dataset_dir=str(folder), dataset="gone"))


def test_import_is_light():
    code = ("import sys, engine.data.dataset_info, engine.data; "
            "print([m for m in ('torch', 'transformers', 'datasets') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
