"""Tokenizing rows: loss masks, truncation, validation split, packing, collation and the report."""

from pathlib import Path

import pytest
import torch

from engine.config import ConfigError, TrainConfig
from engine.data import IGNORE_INDEX, build_datasets, make_collator
from engine.data.batching import length_grouped_order, padding_share, random_order
from engine.data.collator import block_causal_mask
from engine.data.encode import encode_supervised, truncate_turns
from engine.data.packing import pack_examples, pack_texts
from engine.data.templates import get_template
from tests.tiny import tiny_tokenizer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"
ROW = {"prompt": [{"role": "user", "content": "What is 1+1?"}, {"role": "assistant", "content": "It is 2."},
                  {"role": "user", "content": "Add them."}],
       "response": [{"role": "assistant", "content": "5"}], "system": "", "tools": ""}


def trained_text(tok, example):
    return tok.decode([t for t in example["labels"] if t != IGNORE_INDEX])


def test_every_turn_trained_unless_mask_history_or_train_on_prompt():
    tok = tiny_tokenizer()
    tpl = get_template(TrainConfig(), tok)
    both, _ = encode_supervised(ROW, tpl, tok, 1024)
    assert trained_text(tok, both) == "It is 2.<|im_end|>\n5<|im_end|>\n"
    last, _ = encode_supervised(ROW, tpl, tok, 1024, mask_history=True)
    assert trained_text(tok, last) == "5<|im_end|>\n" and last["input_ids"] == both["input_ids"]
    everything, _ = encode_supervised(ROW, tpl, tok, 1024, train_on_prompt=True)
    assert everything["labels"] == everything["input_ids"]


def test_truncate_turns_keeps_whole_turns_first():
    pairs = [([1] * 4, [2] * 4), ([3] * 4, [4] * 4), ([5] * 4, [6] * 4)]
    assert truncate_turns(pairs, 100) == (pairs, False)
    kept, cut = truncate_turns(pairs, 12)
    assert cut and kept == [([1] * 4, [2] * 4), ([3] * 2, [4] * 2)]
    kept, _ = truncate_turns(pairs, 12, keep_last=True)
    assert kept == [([3] * 2, [4] * 2), ([5] * 4, [6] * 4)]
    kept, _ = truncate_turns([([1] * 20, [2] * 6)], 10)
    assert kept == [([1] * 5, [2] * 5)]  # the answer keeps at least half


def test_build_sft_reports_drops_truncation_and_split():
    tok = tiny_tokenizer()
    config = TrainConfig(dataset_dir=str(FIXTURES), dataset="alpaca_small,sharegpt_small,openai_small",
                         cutoff_len=40, val_size=2, per_device_train_batch_size=2)
    bundle = build_datasets(config, tok)
    report = bundle.report
    assert report.rows_read == 11 and report.rows_kept == 7 and sum(report.dropped.values()) == 4
    assert len(bundle.train) == 5 and len(bundle.eval) == 2
    assert set(bundle.train.column_names) >= {"input_ids", "attention_mask", "labels"}
    assert report.truncated >= 1 and max(len(r) for r in bundle.train["input_ids"]) <= 40
    assert report.tokens == sum(sum(t != IGNORE_INDEX for t in r[1:]) for r in
                                list(bundle.train["labels"]) + list(bundle.eval["labels"]))
    assert 0 <= report.padding_share < 1 and report.length_stats()["max"] <= 40
    data = report.to_dict()
    assert data["per_dataset"]["sharegpt_small"] == {"read": 4, "kept": 2, "dropped": {
        "bad role order in column 'conversations'": 1,
        "bad role order in column 'conversations' (needs user/assistant pairs ending with an answer)": 1}}
    assert any("cut to cutoff_len=40" in w for w in report.warnings())
    assert bundle.template.name == "tokenizer"


def test_build_with_eval_dataset_and_max_samples():
    tok = tiny_tokenizer()
    config = TrainConfig(dataset_dir=str(FIXTURES), dataset="alpaca_small", eval_dataset="folder_set", max_samples=2)
    bundle = build_datasets(config, tok)
    assert len(bundle.train) == 2 and len(bundle.eval) == 2 and bundle.report.eval.rows_kept == 2


def test_build_pt_packs_text_and_sft_packs_whole_examples():
    tok = tiny_tokenizer(chat_template=None)
    pt = build_datasets(TrainConfig(dataset_dir=str(FIXTURES), dataset="text_small", stage="pt", cutoff_len=16), tok)
    rows = pt.train["input_ids"]
    assert all(len(r) == 16 for r in rows[:-1]) and pt.report.packed_rows == len(rows)
    assert sum(map(len, rows)) == pt.report.tokens_seen
    assert pt.template.name == "empty"
    unpacked = build_datasets(TrainConfig(dataset_dir=str(FIXTURES), dataset="text_small", stage="pt",
                                          cutoff_len=16, packing=False), tok)
    assert unpacked.report.truncated == 2 and "position_ids" not in unpacked.train.column_names
    tok = tiny_tokenizer()
    sft = build_datasets(TrainConfig(dataset_dir=str(FIXTURES), dataset="alpaca_small,sharegpt_small",
                                     cutoff_len=256, neat_packing=True), tok)
    assert sft.report.packed_rows == len(sft.train) < sft.report.rows_kept
    row = sft.train[0]
    assert sum(row["seq_lens"]) == len(row["input_ids"]) and row["position_ids"][0] == 0


def test_rows_unfit_for_the_template_are_dropped_and_none_left_is_an_error(tmp_path):
    (tmp_path / "t.json").write_text('[{"instruction": "q", "output": "a", "tools": "[not json"}, '
                                     '{"instruction": "q2", "output": "a2", "tools": ""}]')
    (tmp_path / "dataset_info.json").write_text('{"t": {"file_name": "t.json", "columns": {"prompt": "instruction", '
                                                '"response": "output", "tools": "tools"}}}')
    tok = tiny_tokenizer()
    bundle = build_datasets(TrainConfig(dataset_dir=str(tmp_path), dataset="t"), tok)
    assert bundle.report.rows_kept == 1 and bundle.report.dropped == {"tools column is not valid JSON": 1}
    (tmp_path / "t.json").write_text('[{"instruction": "q", "output": "a", "tools": "[not json"}]')
    with pytest.raises(ConfigError, match="no row is usable after tokenizing"):
        build_datasets(TrainConfig(dataset_dir=str(tmp_path), dataset="t"), tok)


def test_val_size_too_big_and_wrong_stage():
    tok = tiny_tokenizer()
    with pytest.raises(ConfigError, match="val_size"):
        build_datasets(TrainConfig(dataset_dir=str(FIXTURES), dataset="openai_small", val_size=2), tok)
    with pytest.raises(ConfigError, match="load_aligned_rows"):
        build_datasets(TrainConfig(dataset_dir=str(FIXTURES), dataset="ranking_small", stage="dpo"), tok)


def test_pack_examples_fits_whole_examples():
    examples = [{"input_ids": [n] * n, "labels": [n] * n} for n in (7, 5, 4, 3, 1)]
    rows = pack_examples(examples, 8)
    assert sorted(sorted(r["seq_lens"]) for r in rows) == [[1, 7], [3, 5], [4]]
    for r in rows:
        assert len(r["input_ids"]) <= 8 and r["position_ids"] == [p for n in r["seq_lens"] for p in range(n)]
        starts = [sum(r["seq_lens"][:i]) for i in range(len(r["seq_lens"]))]
        assert all(r["labels"][s] == IGNORE_INDEX for s in starts)
    chunks = pack_texts([{"input_ids": list(range(5))}, {"input_ids": list(range(7))}], 4)
    assert [c["seq_lens"] for c in chunks] == [[4], [1, 3], [4]] and chunks[1]["input_ids"] == [4, 0, 1, 2]


def test_collator_pads_and_builds_block_masks():
    tok = tiny_tokenizer()
    rows = [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "position_ids": [0, 1, 0], "seq_lens": [2, 1]},
            {"input_ids": [8], "labels": [8], "position_ids": [0], "seq_lens": [1]}]
    plain = make_collator(TrainConfig(padding_free=False), tok, pad_to_multiple_of=4)(rows)
    assert plain["input_ids"].tolist() == [[5, 6, 7, tok.pad_token_id], [8] + [tok.pad_token_id] * 3]
    assert plain["labels"][1].tolist() == [8, -100, -100, -100] and plain["attention_mask"].tolist()[1] == [1, 0, 0, 0]
    assert "position_ids" not in plain
    neat = make_collator(TrainConfig(neat_packing=True), tok)(rows)
    mask = neat["attention_mask"]
    assert mask.shape == (2, 1, 3, 3) and mask.dtype == torch.bool
    assert mask[0, 0].tolist() == [[True, False, False], [True, True, False], [False, False, True]]
    assert mask[1, 0].tolist() == [[True, False, False], [False, True, False], [False, False, True]]
    assert neat["position_ids"].tolist() == [[0, 1, 0], [0, 0, 0]]
    eager = make_collator(TrainConfig(neat_packing=True, flash_attn="disabled"), tok)(rows)["attention_mask"]
    assert eager.dtype == torch.float32 and torch.equal(eager == 0, mask)
    flash = make_collator(TrainConfig(neat_packing=True), tok, attn_implementation="flash_attention_2")(rows)
    assert "attention_mask" not in flash and "position_ids" in flash
    assert block_causal_mask([[2]], 2)[0, 0].tolist() == [[True, False], [True, True]]


def test_length_grouping_lowers_padding():
    lengths = [(i * 37) % 200 + 1 for i in range(400)]
    grouped = length_grouped_order(lengths, 8, seed=1)
    assert sorted(grouped) == list(range(400))
    assert padding_share(lengths, 8, grouped) < padding_share(lengths, 8, random_order(400, 1)) / 3
    assert padding_share([4, 4], 2) == 0.0 and padding_share([1, 3], 2) == 0.3333


@pytest.mark.demo
@pytest.mark.parametrize("dataset, stage", [("alpaca_en_demo,identity,glaive_toolcall_en_demo", "sft"),
                                            ("c4_demo", "pt")])
def test_llamafactory_demo_sets_tokenize(shared_demo, dataset, stage):
    tok = tiny_tokenizer(chat_template=None)
    bundle = build_datasets(TrainConfig(dataset_dir=str(shared_demo), dataset=dataset, stage=stage, template="qwen",
                                        max_samples=20, cutoff_len=512), tok)
    report = bundle.report
    assert report.rows_kept == report.rows_read and not report.dropped and report.tokens > 0
    if stage == "sft":
        sample = bundle.train[0]
        assert sum(t != IGNORE_INDEX for t in sample["labels"]) > 0
