"""Normalising alpaca/sharegpt/openai rows to the aligned form, with drops counted by reason."""

import json
from pathlib import Path

import pytest

from engine.config import ConfigError, TrainConfig
from engine.data import load_aligned_rows

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"


def rows_of(dataset, **kw):
    return load_aligned_rows(TrainConfig(dataset_dir=str(FIXTURES), dataset=dataset, **kw))


def test_alpaca_history_system_and_drops():
    rows, report = rows_of("alpaca_small")
    assert report.rows_read == 5 and report.rows_kept == 3
    assert report.dropped == {"empty answer in column 'output'": 1, "missing column 'output'": 1}
    assert rows[0]["system"] == "Be brief." and rows[0]["response"] == [{"role": "assistant", "content": "Hi!"}]
    assert rows[1]["prompt"] == [{"role": "user", "content": "What is 1+1?"}, {"role": "assistant", "content": "2"},
                                 {"role": "user", "content": "Add them.\n2 and 3"}]
    assert rows[2]["response"][0]["content"] == "I am {{name}} by {{author}}."  # placeholders kept as text
    assert rows[0]["kto_tag"] is None and rows[0]["tools"] == ""
    assert any("alpaca_small: 1 of 5 rows left out: missing column 'output'" == w for w in report.warnings())


def test_sharegpt_roles_tools_system_and_bad_order():
    rows, report = rows_of("sharegpt_small")
    assert report.rows_kept == 2
    assert report.dropped == {"bad role order in column 'conversations'": 1,
                              "bad role order in column 'conversations' (needs user/assistant pairs ending with an "
                              "answer)": 1}
    first = rows[0]
    assert first["system"] == "You help." and '"weather"' in first["tools"]
    assert [m["role"] for m in first["prompt"]] == ["user", "function", "observation"]
    assert first["response"] == [{"role": "assistant", "content": "It is 20 degrees."}]
    assert [m["content"] for m in rows[1]["prompt"]] == ["One", "Two", "Three"]


def test_openai_system_and_tool_calls():
    rows, _ = rows_of("openai_small")
    assert rows[0]["system"] == "Sys." and rows[0]["prompt"] == [{"role": "user", "content": "Hello"}]
    assert [m["role"] for m in rows[1]["prompt"]] == ["user", "function", "observation"]
    assert '"name": "f"' in rows[1]["prompt"][1]["content"]


def test_ranking_pairs_and_equal_answers():
    rows, report = rows_of("ranking_small", stage="dpo")
    assert report.dropped == {"chosen == rejected (columns 'good', 'bad')": 1}
    assert [m["content"] for m in rows[0]["response"]] == ["Blue.", "Banana."]
    assert rows[1]["response"][0]["content"] == "1, 2, 3"


def test_kto_tags():
    rows, report = rows_of("kto_small", stage="kto")
    assert [r["kto_tag"] for r in rows] == [True, False]
    assert report.dropped == {"column 'label' is not true/false": 1}
    assert rows[1]["response"] == [{"role": "assistant", "content": "Rude answer."}]


def test_pt_text_folder_and_max_samples():
    rows, _ = rows_of("text_small", stage="pt")
    assert rows[0]["text"].startswith("The quick brown fox")
    rows, _ = rows_of("folder_set")
    assert [r["prompt"][0]["content"] for r in rows] == ["Part one", "Part two"]
    rows, report = rows_of("alpaca_small,sharegpt_small", max_samples=2)
    assert report.rows_read == 4 and report.per_dataset["sharegpt_small"].kept == 2


def test_csv_and_parquet_loaders(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"instruction": ["Q1", "Q2"], "output": ["A1", "A2"]}), tmp_path / "d.parquet")
    (tmp_path / "dataset_info.json").write_text('{"p": {"file_name": "d.parquet"}}')
    rows, _ = load_aligned_rows(TrainConfig(dataset_dir=str(tmp_path), dataset="p"))
    assert rows[1]["response"][0]["content"] == "A2"


def test_interleave_and_num_samples(tmp_path):
    for name, n in (("a", 3), ("b", 9)):
        rows = [{"instruction": f"{name}{i}", "output": "x"} for i in range(n)]
        (tmp_path / f"{name}.json").write_text(json.dumps(rows))
    (tmp_path / "dataset_info.json").write_text('{"a": {"file_name": "a.json", "num_samples": 5}, '
                                                '"b": {"file_name": "b.json"}}')
    cfg = dict(dataset_dir=str(tmp_path), dataset="a,b")
    rows, _ = load_aligned_rows(TrainConfig(**cfg))
    assert len(rows) == 14  # a resampled to 5 (with repeats) + b
    under, _ = load_aligned_rows(TrainConfig(**cfg, mix_strategy="interleave_under"))
    over, _ = load_aligned_rows(TrainConfig(**cfg, mix_strategy="interleave_over"))
    assert len(under) < 14 < len(over)
    assert {r["prompt"][0]["content"] for r in over} >= {f"b{i}" for i in range(9)}
    with pytest.raises(ConfigError, match="interleave_probs"):
        load_aligned_rows(TrainConfig(**cfg, mix_strategy="interleave_under", interleave_probs="1"))


def test_no_usable_rows_is_one_line(tmp_path):
    (tmp_path / "a.json").write_text('[{"instruction": "q"}]')
    (tmp_path / "dataset_info.json").write_text('{"a": {"file_name": "a.json"}}')
    with pytest.raises(ConfigError, match=r"'a' has no usable rows \(1 read; missing column 'output'\)"):
        load_aligned_rows(TrainConfig(dataset_dir=str(tmp_path), dataset="a"))


def test_bad_json_line_is_dropped_with_its_reason(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"instruction": "q", "output": "a"}\n{"instruction": \n')
    (tmp_path / "dataset_info.json").write_text('{"a": {"file_name": "a.jsonl"}}')
    rows, report = load_aligned_rows(TrainConfig(dataset_dir=str(tmp_path), dataset="a"))
    assert len(rows) == 1 and report.rows_read == 2
    assert any(reason.startswith("not valid JSON") for reason in report.dropped)


def test_a_json_array_that_does_not_parse_names_its_line(tmp_path):
    (tmp_path / "a.json").write_text('[{"instruction": "q", "output": "a"},\n{"instruction": ]')
    (tmp_path / "dataset_info.json").write_text('{"a": {"file_name": "a.json"}}')
    with pytest.raises(ConfigError, match="a.json line 2 column .*: not valid JSON"):
        load_aligned_rows(TrainConfig(dataset_dir=str(tmp_path), dataset="a"))


@pytest.mark.demo
@pytest.mark.parametrize("name, stage", [("alpaca_en_demo", "sft"), ("identity", "sft"),
                                         ("glaive_toolcall_en_demo", "sft"), ("dpo_en_demo", "dpo"),
                                         ("kto_en_demo", "kto"), ("c4_demo", "pt")])
def test_llamafactory_demo_sets(shared_demo, name, stage):
    rows, report = load_aligned_rows(TrainConfig(dataset_dir=str(shared_demo), dataset=name, stage=stage))
    assert report.rows_kept == report.rows_read > 0 and not report.dropped
    if name == "identity":
        assert "{{name}}" in rows[0]["response"][0]["content"]
    if stage == "dpo":
        assert all(len(r["response"]) == 2 for r in rows)


def test_media_columns_are_reported_as_ignored(tmp_path):
    (tmp_path / "m.json").write_text('[{"instruction": "Describe.", "output": "A cat.", "images": ["cat.png"]}]')
    (tmp_path / "dataset_info.json").write_text('{"m": {"file_name": "m.json", "columns": {"prompt": "instruction", '
                                                '"response": "output", "images": "images"}}}')
    rows, report = load_aligned_rows(TrainConfig(dataset_dir=str(tmp_path), dataset="m"))
    assert rows[0]["response"][0]["content"] == "A cat."
    assert report.warnings() == ["m: images columns ignored (lmf-tui trains on text only)"]


def test_more_unfit_rows_are_counted(tmp_path):
    rows = [
        {"instruction": "q", "output": "a", "history": [["only one"]]},
        {"instruction": "q", "output": "a", "history": [["h1", "a1"]]},
        {"instruction": "", "output": "a"},
        {"instruction": ["not", "text"], "output": "a"},
        "not an object",
    ]
    (tmp_path / "a.json").write_text(json.dumps(rows))
    chat = [
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
                      {"role": "assistant", "content": "Hello"}], "ok": "true"},
        {"messages": [{"role": "narrator", "content": "x"}, {"role": "assistant", "content": "y"}], "ok": "false"},
        {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "  "}], "ok": True},
    ]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in chat) + "\n")
    (tmp_path / "dataset_info.json").write_text(json.dumps({
        "a": {"file_name": "a.json", "columns": {"prompt": "instruction", "response": "output", "history": "history"}},
        "c": {"file_name": "c.jsonl", "formatting": "openai", "columns": {"messages": "messages", "kto_tag": "ok"}},
    }))
    got, report = load_aligned_rows(TrainConfig(dataset_dir=str(tmp_path), dataset="a"))
    assert len(got) == 1 and len(got[0]["prompt"]) == 3
    assert report.dropped == {"column 'history' is not a list of [question, answer] pairs": 1,
                              "empty prompt in column 'instruction'": 1, "column 'instruction' is not text": 1,
                              "row is not an object": 1}
    got, report = load_aligned_rows(TrainConfig(dataset_dir=str(tmp_path), dataset="c", stage="kto"))
    assert got[0]["prompt"][0]["content"] == "Hi there" and got[0]["kto_tag"] is True
    assert report.dropped == {"unknown role 'narrator' in column 'messages' (set tags in dataset_info.json)": 1,
                              "empty answer in column 'messages'": 1}


def test_folder_and_file_type_errors(tmp_path):
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.json").write_text("[]")
    (tmp_path / "mixed" / "b.csv").write_text("instruction,output\n")
    (tmp_path / "data.arrow").write_text("")
    (tmp_path / "dataset_info.json").write_text('{"m": {"file_name": "mixed"}, "x": {"file_name": "data.arrow"}}')
    with pytest.raises(ConfigError, match="mixes file types"):
        load_aligned_rows(TrainConfig(dataset_dir=str(tmp_path), dataset="m"))
    with pytest.raises(ConfigError, match="not a supported file type"):
        load_aligned_rows(TrainConfig(dataset_dir=str(tmp_path), dataset="x"))
