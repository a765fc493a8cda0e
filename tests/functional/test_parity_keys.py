"""LLaMA-Factory keys that change results act here: new_special_tokens/resize_vocab (through merge and chat),
plot_loss, neftune_noise_alpha, disable_shuffling, rope_scaling, train_from_scratch, pissa_convert; keys still
accepted without effect are warned of in the journal."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from engine.config import parse_config
from engine.events import read_events
from engine.train import run_training

NEW = "<|lumen|>"


def config(model_dir: Path, data_dir: Path, out: Path, **over):
    raw = dict(model_name_or_path=str(model_dir), do_train=True, dataset="tiny_identity", dataset_dir=str(data_dir),
               output_dir=str(out), stage="sft", finetuning_type="lora", lora_rank=4, cutoff_len=48,
               per_device_train_batch_size=4, learning_rate=5e-3, max_steps=4, logging_steps=1, save_steps=1000,
               report_to="none", seed=1, template="chatml")
    raw.update(over)
    return parse_config(raw, "train")


@pytest.fixture(scope="module")
def lumen_run(tiny_model_dir, tiny_data_dir, tmp_path_factory) -> Path:
    """One LoRA run with new tokens, loss plots, NEFTune, no shuffling and two keys that only warn."""
    out = tmp_path_factory.mktemp("lumen") / "run"
    raw = config(tiny_model_dir, tiny_data_dir, out, new_special_tokens=NEW, plot_loss=True, val_size=0.25,
                 eval_strategy="steps", eval_steps=2, neftune_noise_alpha=5.0, disable_shuffling=True,
                 use_unsloth_gc=True).model_dump(exclude_unset=True)
    done = run_training(parse_config({**raw, "upcast_layernorm": True}, "train"))
    assert done["status"] == "done"
    return out


def test_new_special_tokens_grow_and_train_the_embeddings(lumen_run, tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(lumen_run)
    assert NEW in tokenizer.get_vocab() and NEW in tokenizer.tokenize(f"hi {NEW}")  # one token
    adapter = json.loads((lumen_run / "adapter_config.json").read_text())
    assert set(adapter["modules_to_save"]) == {"embed_tokens", "lm_head"}  # trained, as LLaMA-Factory does
    assert len(AutoTokenizer.from_pretrained(tiny_model_dir)) < len(tokenizer)


def test_new_token_round_trips_through_merge_and_chat(lumen_run, tmp_path):
    from engine.chat.backend import GenParams
    from engine.chat.open import chat_config, open_backend
    from engine.export.merge import load_merged

    config = chat_config(str(lumen_run))  # base + adapter, as `lmf-tui chat RUN` opens it
    model, tokenizer, _ = load_merged(config.model_copy(update={"export_dir": str(tmp_path / "m")}))
    new_id = tokenizer.convert_tokens_to_ids(NEW)
    assert model.get_input_embeddings().weight.shape[0] > new_id
    assert model.get_input_embeddings().weight.shape[0] % 64 == 0
    backend = open_backend(config)
    text = "".join(backend.stream([{"role": "user", "content": f"Who are you {NEW}?"}], GenParams(0.0, 1.0, 4),
                                  threading.Event()))
    assert isinstance(text, str)


def test_plots_neftune_shuffling_and_warnings(lumen_run):
    assert (lumen_run / "training_loss.png").stat().st_size > 1000
    assert (lumen_run / "training_eval_loss.png").exists()
    warnings = [e["message"] for e in read_events(lumen_run) if e["type"] == "warning"]
    assert any(w.startswith("upcast_layernorm: accepted for LLaMA-Factory compatibility, no effect") for w in warnings)
    assert any(w.startswith("use_unsloth_gc: ") for w in warnings)
    from engine.train.trainer import training_arguments

    args = training_arguments(config(Path("m"), Path("d"), lumen_run.parent / "o", neftune_noise_alpha=5.0,
                                     disable_shuffling=True), False)
    assert args.neftune_noise_alpha == 5.0 and args.train_sampling_strategy == "sequential"


def test_help_keys_lists_keys_without_effect(capsys):
    from lmftui.cli import main

    assert main(["train", "--help-keys"]) == 0
    out = capsys.readouterr().out
    tail = out.split("Accepted, no effect")[1]
    assert "upcast_layernorm" in tail and "new_special_tokens" not in tail and "rope_scaling" not in tail


def test_rope_scaling_and_train_from_scratch(tiny_model_dir, tiny_data_dir, tmp_path):
    from engine.models import load_model

    scaled = load_model(config(tiny_model_dir, tiny_data_dir, tmp_path, rope_scaling="linear", cutoff_len=3000),
                        for_training=True)
    assert scaled.config.max_position_embeddings == 3072  # 1024 × ceil(3000 / 1024)
    assert scaled.config.rope_parameters["factor"] == 3.0 and scaled.config.rope_parameters["rope_type"] == "linear"
    with torch.no_grad():
        assert scaled(torch.randint(0, 300, (1, 2048))).logits.shape[1] == 2048
    yarn = load_model(config(tiny_model_dir, tiny_data_dir, tmp_path, rope_scaling="yarn", cutoff_len=2048),
                      for_training=True)
    assert yarn.config.rope_parameters["original_max_position_embeddings"] == 1024
    base = load_model(config(tiny_model_dir, tiny_data_dir, tmp_path), for_training=True)
    fresh = load_model(config(tiny_model_dir, tiny_data_dir, tmp_path, train_from_scratch=True), for_training=True)
    name = "model.layers.0.mlp.up_proj.weight"
    assert not torch.equal(dict(base.named_parameters())[name], dict(fresh.named_parameters())[name])


def test_rope_scaling_within_context_is_a_journal_note(tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    run_training(config(tiny_model_dir, tiny_data_dir, out, rope_scaling="dynamic", max_steps=1))
    warnings = [e["message"] for e in read_events(out) if e["type"] == "warning"]
    assert any("rope_scaling: cutoff_len 48 fits the model's context (1024) — not applied" in w for w in warnings)


def test_pissa_convert_writes_a_lora_for_the_original_base(tiny_model_dir, tiny_data_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "pissa"
    run_training(config(tiny_model_dir, tiny_data_dir, out, pissa_init=True, pissa_iter=-1, pissa_convert=True,
                        learning_rate=1e-2))
    converted = out / "pissa_converted"
    assert json.loads((converted / "adapter_config.json").read_text())["r"] == 8  # rank doubles in the conversion
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        plain = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), converted)
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)(ids).logits
        tuned = plain(ids).logits
    assert not torch.allclose(base, tuned, atol=1e-4)  # the conversion carries the training
    # the PiSSA run's own adapter applied to its residual base gives the same model
    from engine.models import apply_method, load_model

    cfg = config(tiny_model_dir, tiny_data_dir, out, pissa_init=True, pissa_iter=-1)  # exact SVD: the same split
    residual = apply_method(load_model(cfg, for_training=True), cfg)
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(residual, load_file(out / "adapter_model.safetensors"))  # trained A, B on W - A0 B0
    with torch.no_grad():
        assert torch.allclose(residual(ids).logits, tuned, atol=1e-3)


def test_new_token_inside_a_padded_vocabulary_is_initialised_and_trained(tiny_model_dir, tiny_data_dir, tmp_path):
    """Like Qwen's checkpoints: more embedding rows than tokens, so the new token needs no resize — its row
    still gets the mean embedding and the embeddings still train."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.models import apply_method, load_model

    padded = tmp_path / "padded"
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.resize_token_embeddings(448, mean_resizing=False)
    with torch.no_grad():
        model.get_input_embeddings().weight[400:] = 7.0  # what a padding row may hold
    model.save_pretrained(padded)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(padded)
    cfg = config(padded, tiny_data_dir, tmp_path / "run", new_special_tokens=NEW)
    loaded = load_model(cfg, for_training=True)
    weight = loaded.get_input_embeddings().weight
    assert weight.shape[0] == 448 and torch.allclose(weight[400], weight[:400].mean(0), atol=1e-5)
    assert weight[401].eq(7.0).all()  # other padding rows untouched
    wrapped = apply_method(loaded, cfg)
    assert set(wrapped.peft_config["default"].modules_to_save) == {"embed_tokens", "lm_head"}
