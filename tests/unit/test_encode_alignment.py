"""Tokenizing rows for the alignment stages: pairs, tagged answers, prompts; cutting and reporting."""

from __future__ import annotations

import pytest

from engine.config import parse_config
from engine.data.aligned import Unfit
from engine.data.encode_alignment import (build_aligned_datasets, encode_pair, encode_prompt, encode_tagged, fit_lengths,
                                  prompt_and_answer)
from engine.data.templates import get_template
from tests.stage_data import write_stage_data
from tests.tiny import build_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="module")
def template(tokenizer):
    return get_template(parse_config({"stage": "dpo"}), tokenizer)


def row(prompt="What is your name?", chosen="My name is Lumen.", rejected="I do not know.", **extra):
    return {"prompt": [{"role": "user", "content": prompt}], "system": "", "tools": "",
            "response": [{"role": "assistant", "content": chosen}, {"role": "assistant", "content": rejected}],
            "kto_tag": None, "dataset": "d", **extra}


def test_pair_splits_at_the_answer_and_matches_the_sft_rendering(tokenizer, template):
    example, cut = encode_pair(row(), template, tokenizer, cutoff_len=512)
    assert not cut
    prompt = tokenizer.decode(example["prompt_ids"])
    assert prompt == "<|im_start|>user\nWhat is your name?<|im_end|>\n<|im_start|>assistant\n"
    assert tokenizer.decode(example["chosen_ids"]).startswith("My name is Lumen.<|im_end|>")
    assert tokenizer.decode(example["rejected_ids"]).startswith("I do not know.<|im_end|>")
    full = template.render(row()["prompt"] + row()["response"][:1])
    assert tokenizer.decode(example["prompt_ids"] + example["chosen_ids"]) == full


def test_history_stays_in_the_prompt(tokenizer, template):
    r = row()
    r["prompt"] = [{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hello!"}] + r["prompt"]
    prompt, answer = prompt_and_answer(r, r["response"][0], template, tokenizer)
    assert "Hello!" in tokenizer.decode(prompt) and "Hello!" not in tokenizer.decode(answer)


def test_fit_lengths_keeps_half_for_answers():
    prompt, (a, b), cut = fit_lengths(list(range(50)), [list(range(30)), list(range(10))], cutoff_len=40)
    assert cut and len(a) == 20 and len(b) == 10 and len(prompt) == 20
    assert fit_lengths([1, 2], [[3], [4, 5]], 10) == ([1, 2], [[3], [4, 5]], False)


def test_tagged_and_prompt_rows(tokenizer, template):
    example, _ = encode_tagged(row(kto_tag=False) | {"kto_tag": False}, template, tokenizer, 512)
    assert example["label"] is False and tokenizer.decode(example["completion_ids"]).startswith("My name is Lumen.")
    with pytest.raises(Unfit, match="kto_tag"):
        encode_tagged(row(), template, tokenizer, 512)
    prompt, cut = encode_prompt(row(), template, tokenizer, 512)
    assert prompt["prompt"].endswith("<|im_start|>assistant\n") and not cut
    assert tokenizer.decode(prompt["prompt_ids"]) == prompt["prompt"]


def test_unusable_pairs_are_counted_and_reported(tokenizer, tmp_path):
    data_dir = write_stage_data(tmp_path)
    config = parse_config({"stage": "dpo", "dataset": "tiny_pairs_dirty", "dataset_dir": str(data_dir),
                           "cutoff_len": 64})
    data = build_aligned_datasets(config, tokenizer)
    assert len(data.train) == 4 and set(data.train.column_names) == {"prompt_ids", "chosen_ids", "rejected_ids"}
    warnings = data.report.warnings()
    assert any("chosen == rejected" in w for w in warnings)
    assert any("missing column 'rejected'" in w for w in warnings)


def test_kto_and_prompt_sets(tokenizer, tmp_path):
    data_dir = write_stage_data(tmp_path)
    kto = build_aligned_datasets(parse_config({"stage": "kto", "dataset": "tiny_kto", "dataset_dir": str(data_dir)}),
                                 tokenizer)
    assert sorted(set(kto.train["label"])) == [False, True]
    rl = build_aligned_datasets(parse_config({"stage": "ppo", "reward_model": "r", "dataset": "tiny_prompts",
                                              "dataset_dir": str(data_dir), "val_size": 2}), tokenizer)
    assert len(rl.train) == 6 and len(rl.eval) == 2
