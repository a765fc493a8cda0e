"""`lmf-tui data`: report and samples as text and as one JSON object (what the TUI's Data screen reads)."""

import json
from pathlib import Path

import pytest

from lmftui.cli import main
from tests.tiny import tiny_tokenizer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from transformers import LlamaConfig

    path = tmp_path_factory.mktemp("tiny-model")
    tiny_tokenizer().save_pretrained(path)
    LlamaConfig(vocab_size=400, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4).save_pretrained(path)  # the tokenizer loader expects a model folder
    return path


def config_file(tmp_path, model_dir, **extra):
    lines = [f"model_name_or_path: {model_dir}", f"dataset_dir: {FIXTURES}", "dataset: alpaca_small,sharegpt_small",
             "cutoff_len: 64"] + [f"{k}: {v}" for k, v in extra.items()]
    path = tmp_path / "c.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_json_report_and_segments(tmp_path, model_dir, capsys):
    assert main(["data", config_file(tmp_path, model_dir), "--json", "--rows", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    report = data["report"]
    assert report["rows_read"] == 9 and report["rows_kept"] == 5
    assert report["dropped"]["missing column 'output'"] == 1 and report["length_stats"]["max"] <= 64
    assert data["template"] == "tokenizer" and data["stop_words"] == ["<|im_end|>"]
    first = data["samples"][0]
    assert len(data["samples"]) == 2 and first["dataset"] == "alpaca_small"
    assert [s["text"] for s in first["segments"] if s["trained"]] == ["Hi!<|im_end|>\n"]
    assert "".join(s["text"] for s in first["segments"]).startswith("<|im_start|>system\nBe brief.")
    assert first["trained_tokens"] == sum(1 for _ in tiny_tokenizer()("Hi!<|im_end|>\n",
                                                                          add_special_tokens=False)["input_ids"])


def test_text_output_marks_trained_tokens(tmp_path, model_dir, capsys):
    assert main(["data", config_file(tmp_path, model_dir), "cutoff_len=32", "--rows", "1"]) == 0
    out = capsys.readouterr().out
    assert "rows            9 read, 5 kept" in out and "dropped: missing column 'output' (1)" in out
    assert "truncated" in out and "cutoff_len 32" in out and "⟦Hi!<|im_end|>\n⟧" in out


def test_preference_stage_and_errors(tmp_path, model_dir, capsys):
    cfg = config_file(tmp_path, model_dir)
    assert main(["data", cfg, "dataset=ranking_small", "stage=dpo", "--json", "--rows", "1"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["report"]["rows_kept"] == 2 and data["samples"][0]["segments"][-1]["text"].startswith("Blue.")
    assert main(["data", cfg, "dataset=alpaca_smal"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'alpaca_small'" in err


def test_json_stdout_holds_only_the_json(tmp_path, model_dir):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "lmftui.cli", "data", config_file(tmp_path, model_dir), "--json",
                          "--rows", "1"], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["report"]["rows_kept"] == 5
