"""build_datasets extras: streaming, the tokenized cache, and hub data sets without a network."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.config import ConfigError, TrainConfig, check_config
from engine.data import build_datasets
from tests.tiny import tiny_tokenizer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"


def test_streaming_tokenizes_on_the_fly():
    tok = tiny_tokenizer()
    config = TrainConfig(dataset_dir=str(FIXTURES), dataset="alpaca_small,sharegpt_small", streaming=True,
                         val_size=1, buffer_size=2)
    bundle = build_datasets(config, tok)
    rows = list(bundle.train)
    held = list(bundle.eval)
    assert len(rows) + len(held) == 5 and len(held) == 1
    assert all(set(r) >= {"input_ids", "attention_mask", "labels"} for r in rows)
    assert bundle.report.tokens > 0 and len(bundle.report.lengths) == 5
    assert bundle.report.rows_read == 9 and bundle.report.rows_kept == 5
    assert bundle.report.dropped["missing column 'output'"] == 1
    problems = check_config(config.model_copy(update={"val_size": 0.5}))  # refused before any row is read
    assert any(p.fields == ("val_size", "streaming") and "row count" in p.fix for p in problems)


def test_tokenized_cache_is_reused(tmp_path):
    tok = tiny_tokenizer()
    config = TrainConfig(dataset_dir=str(FIXTURES), dataset="alpaca_small", tokenized_path=str(tmp_path / "tok"),
                         val_size=1)
    first = build_datasets(config, tok)
    assert (tmp_path / "tok" / "report.json").exists()
    again = build_datasets(config.model_copy(update={"dataset": "no_such_set"}), tok)  # not read again
    assert again.train["input_ids"] == first.train["input_ids"] and len(again.eval) == 1
    assert again.report.rows_kept == first.report.rows_kept and "loaded from" in again.report.warnings()[-1]
    with pytest.raises(ConfigError, match="no_such_set"):
        build_datasets(config.model_copy(update={"dataset": "no_such_set", "overwrite_cache": True}), tok)


def test_hub_data_set_offline_is_one_line(tmp_path):
    code = ("from engine.config import TrainConfig, ConfigError\n"
            "from engine.data import load_aligned_rows\n"
            "try:\n"
            f"    load_aligned_rows(TrainConfig(dataset_dir={str(FIXTURES)!r}, dataset='hub_set'))\n"
            "except ConfigError as exc:\n"
            "    print(exc)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                         cwd=Path(__file__).parents[2])
    line = out.stdout.strip()
    assert line.startswith("data set 'hub_set': cannot load hub data set someone/some-data")
    assert "check the network" in line and "\n" not in line


def test_worker_processes_give_the_same_rows():
    tok = tiny_tokenizer()
    base = dict(dataset_dir=str(FIXTURES), dataset="alpaca_small,sharegpt_small,openai_small", cutoff_len=40)
    one = build_datasets(TrainConfig(**base), tok)
    two = build_datasets(TrainConfig(**base, preprocessing_num_workers=2, preprocessing_batch_size=1), tok)
    assert two.train["input_ids"] == one.train["input_ids"] and two.train["labels"] == one.train["labels"]
    assert two.report.to_dict() == one.report.to_dict()
