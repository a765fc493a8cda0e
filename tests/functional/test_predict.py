"""Evaluation and prediction on a tiny real model: LLaMA-Factory's files, metric keys and journal events;
eval-only and predict-only runs; token accuracy; left-padded batches give the answers one-by-one gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config import ConfigError, parse_config
from engine.evaluate.metrics import similarity
from engine.events import read_events
from engine.train import run_training

pytestmark = pytest.mark.slow


def config(model_dir: Path, data_dir: Path, out: Path, **over):
    raw = dict(model_name_or_path=str(model_dir), dataset_dir=str(data_dir), output_dir=str(out), stage="sft",
               finetuning_type="lora", cutoff_len=64, report_to="none", seed=1, logging_steps=1, save_steps=1000,
               per_device_train_batch_size=4, per_device_eval_batch_size=3, max_new_tokens=6)
    raw.update(over)
    return parse_config(raw, "train")


@pytest.fixture(scope="module")
def adapter(tiny_model_dir, tiny_data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("trained") / "run"
    run_training(config(tiny_model_dir, tiny_data_dir, out, do_train=True, dataset="tiny_identity",
                        learning_rate=1e-2, max_steps=12))
    return out


def test_predict_only_writes_llamafactory_files(tiny_model_dir, tiny_data_dir, adapter, tmp_path):
    out = tmp_path / "predict"
    done = run_training(config(tiny_model_dir, tiny_data_dir, out, do_train=False, do_predict=True,
                               predict_with_generate=True, eval_dataset="tiny_chat", max_samples=5,
                               adapter_name_or_path=str(adapter), do_sample=False))
    assert done["status"] == "done"
    lines = [json.loads(line) for line in (out / "generated_predictions.jsonl").read_text().splitlines()]
    assert len(lines) == 5 and all(set(line) == {"prompt", "predict", "label"} for line in lines)
    assert lines[0]["prompt"].endswith("<|im_start|>assistant\n") and "Thanks." in lines[0]["prompt"]
    assert lines[0]["label"] == "You are welcome."  # the last answer of the conversation
    results = json.loads((out / "predict_results.json").read_text())
    for key in ("predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l", "predict_runtime",
                "predict_samples_per_second"):
        assert key in results, key
    # the file's scores are the library's scores of the file's rows, averaged
    rows = [similarity(line["predict"], line["label"]) for line in lines]
    assert results["predict_bleu-4"] == pytest.approx(sum(r["bleu-4"] for r in rows) / 5, abs=1e-3)
    assert results["predict_rouge-l"] == pytest.approx(sum(r["rouge-l"] for r in rows) / 5, abs=1e-3)
    events = read_events(out)
    assert [e["type"] for e in events][0] == "start" and events[-1]["type"] == "done"
    progress = [e for e in events if e["type"] == "predict"]
    assert [e["rows_done"] for e in progress] == [3, 5, 5] and progress[-1]["metrics"] == results
    assert not (out / "adapter_model.safetensors").exists()  # nothing was trained
    from lmftui.run_history import RunHistory

    history = RunHistory()
    for event in events:
        history.add(event)
    texts = [text for kind, text in history.messages if kind == "predict"]
    assert texts[0] == "predict: 3/5 answers" and texts[-1].startswith("predict: bleu-4 ")
    from lmftui.commands.attach import describe_once

    assert f"predict bleu-4 {results['predict_bleu-4']:.4g} · rouge-1" in describe_once(out)


def test_tuned_model_beats_base_and_greedy_batches_match_single_rows(tiny_model_dir, tiny_data_dir, adapter,
                                                                     tmp_path):
    common = dict(do_train=False, do_predict=True, predict_with_generate=True, eval_dataset="tiny_identity",
                  max_samples=8, do_sample=False, max_new_tokens=8)
    run_training(config(tiny_model_dir, tiny_data_dir, tmp_path / "tuned", adapter_name_or_path=str(adapter),
                        **common))
    run_training(config(tiny_model_dir, tiny_data_dir, tmp_path / "one", adapter_name_or_path=str(adapter),
                        per_device_eval_batch_size=1, **common))
    run_training(config(tiny_model_dir, tiny_data_dir, tmp_path / "base", **common))

    def predictions(name):
        return [json.loads(line)["predict"] for line in (tmp_path / name / "generated_predictions.jsonl")
                .read_text().splitlines()]

    assert predictions("tuned") == predictions("one")  # left padding changes no answer
    # the Predict view's comparison: the adapter switched off gives the base's answers, on the tuned ones
    from engine.evaluate.compare import comparison, run_comparison

    lines: list[dict] = []
    run_comparison(comparison(str(adapter), ["eval_dataset=tiny_identity", "max_samples=8", "do_sample=false",
                                             "max_new_tokens=8"]), 8, lines.append)
    answers = {m: [r["text"] for r in lines if r["type"] == "answer" and r["model"] == m] for m in ("base", "tuned")}
    assert answers["base"] == predictions("base") and answers["tuned"] == predictions("tuned")
    assert [r["type"] for r in lines][0] == "rows" and lines[-1] == {"type": "done"}

    def rouge(name):
        return json.loads((tmp_path / name / "predict_results.json").read_text())["predict_rouge-l"]

    assert rouge("tuned") > rouge("base")


def test_eval_only_reports_loss_and_token_accuracy(tiny_model_dir, tiny_data_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.data.pipeline import tokenize_rows, stage_template
    from engine.data.report import DataReport
    from engine.evaluate.predict import eval_rows

    cfg = config(tiny_model_dir, tiny_data_dir, tmp_path / "eval", do_train=False, do_eval=True,
                 compute_accuracy=True, eval_dataset="tiny_identity", max_samples=6)
    done = run_training(cfg)
    results = json.loads((tmp_path / "eval" / "eval_results.json").read_text())
    assert {"eval_loss", "eval_accuracy"} <= set(results)
    assert done["metrics"]["eval_accuracy"] == results["eval_accuracy"]
    assert any(e["type"] == "eval" and "eval_accuracy" in e for e in read_events(tmp_path / "eval"))
    from lmftui.commands.attach import describe_once

    assert f"eval    loss {results['eval_loss']:.4g} · accuracy" in describe_once(tmp_path / "eval")
    # the same accuracy by hand: per row, argmax at t against label t+1 over answer tokens, then the mean
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    examples = tokenize_rows(eval_rows(cfg), cfg, tokenizer, stage_template(cfg, tokenizer), DataReport())
    shares = []
    for example in examples:
        with torch.no_grad():
            logits = model(torch.tensor([example["input_ids"]])).logits[0]
        pred, labels = logits.argmax(-1)[:-1].tolist(), example["labels"][1:]
        hits = [p == label for p, label in zip(pred, labels) if label != -100]
        shares.append(sum(hits) / len(hits))
    assert results["eval_accuracy"] == pytest.approx(sum(shares) / len(shares), abs=1e-6)


def test_eval_only_pretraining_text_is_chunked_as_in_training(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "pt"
    done = run_training(config(tiny_model_dir, tiny_data_dir, out, stage="pt", do_train=False, do_eval=True,
                               eval_dataset="tiny_text", cutoff_len=32, per_device_eval_batch_size=2))
    assert done["metrics"]["eval_loss"] > 0
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.config import load_config
    from engine.data.pipeline import stage_template
    from engine.evaluate.jobs import eval_trainer
    from engine.evaluate.predict import eval_rows

    cfg = load_config(out / "run_config.yaml")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    trainer = eval_trainer(cfg, AutoModelForCausalLM.from_pretrained(tiny_model_dir), tokenizer,
                           stage_template(cfg, tokenizer), eval_rows(cfg))
    lengths = [len(ids) for ids in trainer.eval_dataset["input_ids"]]
    assert len(lengths) > 8 and max(lengths) == 32  # 8 long texts, concatenated and cut into rows of 32


def test_train_then_eval_and_predict(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    done = run_training(config(tiny_model_dir, tiny_data_dir, out, do_train=True, dataset="tiny_identity",
                               val_size=4, max_steps=3, do_eval=True, compute_accuracy=True,
                               eval_strategy="steps", eval_steps=3))
    evals = [e for e in read_events(out) if e["type"] == "eval"]
    assert evals and all("eval_accuracy" in e for e in evals)
    assert "eval_accuracy" in done["metrics"]
    out2 = tmp_path / "run2"
    run_training(config(tiny_model_dir, tiny_data_dir, out2, do_train=True, dataset="tiny_identity",
                        eval_dataset="tiny_chat", max_samples=4, max_steps=2, do_eval=True, do_predict=True,
                        predict_with_generate=True, do_sample=True, temperature=0.8, top_k=5))
    results = json.loads((out2 / "all_results.json").read_text())
    assert {"train_loss", "eval_bleu-4", "predict_bleu-4"} <= set(results)
    assert len((out2 / "generated_predictions.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize("over, words", [
    ({"do_predict": True}, "predict_with_generate"),
    ({"predict_with_generate": True, "compute_accuracy": True, "do_predict": True}, "compute_accuracy"),
    ({"do_eval": True, "eval_dataset": None}, "eval_dataset"),
    ({"stage": "pt", "compute_accuracy": True, "do_eval": True}, "sft only"),
])
def test_prediction_settings_refused_in_one_line(tiny_model_dir, tiny_data_dir, tmp_path, over, words):
    raw = {"do_train": False, "eval_dataset": "tiny_identity", **over}
    with pytest.raises(ConfigError) as err:
        run_training(config(tiny_model_dir, tiny_data_dir, tmp_path / "x", **raw))
    assert words in str(err.value) and "\n" not in str(err.value).strip()


def test_predict_command_prints_both_models(adapter, capsys):
    from engine.commands import main

    assert main(["predict", str(adapter), "--rows", "2", "max_new_tokens=4", "do_sample=false"]) == 0
    out = capsys.readouterr().out
    assert "2 training rows (the run has no evaluation rows)" in out
    assert "[2] prompt: Who are you?" in out and "    tuned: " in out
    table = out.split("model ")[-1].splitlines()
    assert table[0].split() == ["bleu-4", "rouge-1", "rouge-2", "rouge-l"]
    assert [line.split()[0] for line in table[1:3]] == ["base", "tuned"]


def test_predict_command_refuses_a_folder_without_a_run(tmp_path, capsys):
    from engine.commands import main

    assert main(["predict", str(tmp_path), "--jsonl"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["type"] == "error" and "not a run folder" in captured.err


def test_eval_only_on_a_quantized_base(tiny_model_dir, tiny_data_dir, tmp_path):
    pytest.importorskip("bitsandbytes")  # the qlora extra
    out = tmp_path / "q"
    run_training(config(tiny_model_dir, tiny_data_dir, out, do_train=False, do_eval=True, quantization_bit=4,
                        eval_dataset="tiny_identity", max_samples=3))
    assert "eval_loss" in json.loads((out / "eval_results.json").read_text())


def test_dry_run_says_what_runs_instead_of_training(tiny_model_dir, tiny_data_dir, tmp_path, capsys):
    import yaml

    from engine.commands import main

    path = tmp_path / "predict.yaml"
    path.write_text(yaml.safe_dump(dict(
        model_name_or_path=str(tiny_model_dir), stage="sft", do_predict=True, predict_with_generate=True,
        eval_dataset="tiny_chat", dataset_dir=str(tiny_data_dir), output_dir=str(tmp_path / "out"),
        do_sample=False, max_new_tokens=32)))
    assert main(["train", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "no training     predict (generated answers, max_new_tokens 32, greedy, batch 8" in out
    assert "schedule" not in out and "eval            tiny_chat" in out


def test_sampling_keys_reach_generate(tiny_model_dir, tiny_data_dir, tmp_path):
    from transformers import AutoTokenizer

    from engine.data.templates import get_template
    from engine.evaluate.generate import generation_kwargs

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = config(tiny_model_dir, tiny_data_dir, tmp_path / "k", do_train=False, do_predict=True,
                  predict_with_generate=True, eval_dataset="tiny_identity")
    template = get_template(base, tokenizer)
    sampled = generation_kwargs(base.model_copy(update=dict(temperature=0.5, top_p=0.8, top_k=7,
                                                            repetition_penalty=1.3)), tokenizer, template)
    assert {k: sampled[k] for k in ("do_sample", "temperature", "top_p", "top_k", "repetition_penalty",
                                    "max_new_tokens")} == dict(do_sample=True, temperature=0.5, top_p=0.8, top_k=7,
                                                               repetition_penalty=1.3, max_new_tokens=6)
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in sampled["eos_token_id"]
    assert sampled["use_cache"] is True  # also after training with gradient checkpointing, which turns it off
    beams = generation_kwargs(base.model_copy(update=dict(num_beams=3, length_penalty=0.5)), tokenizer, template)
    assert beams["num_beams"] == 3 and beams["length_penalty"] == 0.5
    for greedy in (dict(do_sample=False), dict(temperature=0.0)):
        kwargs = generation_kwargs(base.model_copy(update=greedy), tokenizer, template)
        assert kwargs["do_sample"] is False and kwargs["temperature"] is None


def test_max_new_tokens_bounds_every_answer(tiny_model_dir, tiny_data_dir, tmp_path):
    def answers(max_new_tokens: int, **over) -> list[str]:
        out = tmp_path / f"max{max_new_tokens}-{len(over)}"
        run_training(config(tiny_model_dir, tiny_data_dir, out, do_train=False, do_predict=True,
                            predict_with_generate=True, eval_dataset="tiny_identity", max_samples=4,
                            max_new_tokens=max_new_tokens, do_sample=False, **over))
        return [json.loads(line)["predict"] for line in (out / "generated_predictions.jsonl").read_text().splitlines()]

    short, long = answers(2), answers(12)  # greedy: the short answers are where the long ones stop early
    assert all(len(a) <= len(b) for a, b in zip(short, long)) and sum(map(len, short)) < sum(map(len, long))
    beams = answers(12, num_beams=2)  # beam search runs (and may choose other answers than greedy)
    assert len(beams) == 4


def test_skip_special_tokens_decides_what_the_answer_shows(tiny_model_dir, tiny_data_dir, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.data.templates import get_template
    from engine.evaluate.generate import generate_batches, generation_kwargs

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    torch.nn.init.zeros_(model.lm_head.weight)  # every logit 0: greedy picks id 0, <|endoftext|>, not a stop token
    cfg = config(tiny_model_dir, tiny_data_dir, tmp_path / "s", do_train=False, do_predict=True,
                 predict_with_generate=True, eval_dataset="tiny_identity", max_new_tokens=3, do_sample=False)
    kwargs = generation_kwargs(cfg, tokenizer, get_template(cfg, tokenizer))
    prompt = [tokenizer("Hello there")["input_ids"]]
    assert next(generate_batches(model, tokenizer, prompt, kwargs, 1, skip_special_tokens=False)) == \
        ["<|endoftext|>" * 3]
    assert next(generate_batches(model, tokenizer, prompt, kwargs, 1, skip_special_tokens=True)) == [""]
