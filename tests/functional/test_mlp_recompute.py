"""Recomputing the MLPs' cheap work gives the same loss and gradients, and a CPU run uses it by default."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from engine.events import read_events
from engine.models.recompute import decoder_mlps, install_mlp_recompute
from engine.train import run_training
from tests.functional.test_train import tiny_config


def loss_and_grads(model, ids) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad()
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("method", ["lora", "full"])
def test_recomputed_mlps_give_the_same_gradients(method):
    torch.manual_seed(0)  # hidden 128: the projections' outputs are kept, the LoRA up-projections recomputed
    model = LlamaForCausalLM(LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, vocab_size=200))
    if method == "lora":
        model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", lora_dropout=0.0))
    model.train()
    ids = torch.randint(0, 200, (2, 24))
    plain_loss, plain = loss_and_grads(model, ids)
    assert install_mlp_recompute(model) == 2
    loss, grads = loss_and_grads(model, ids)
    assert loss == pytest.approx(plain_loss, abs=1e-6) and grads.keys() == plain.keys()
    for name, grad in plain.items():
        assert torch.allclose(grads[name], grad, atol=1e-6), name
    model.eval()  # evaluation runs the MLPs as they are
    with torch.no_grad():
        assert model(input_ids=ids, labels=ids).loss.item() == pytest.approx(plain_loss, abs=1e-5)


def test_a_cpu_run_recomputes_the_mlps_unless_layers_are_checkpointed(tiny_model_dir, tiny_data_dir, tmp_path):
    runs = {"mlp": {}, "layers": {"disable_gradient_checkpointing": False}}
    for expected, keys in runs.items():
        out = tmp_path / expected
        run_training(tiny_config(tiny_model_dir, tiny_data_dir, out, max_steps=2, **keys))
        plan = next(e for e in read_events(out) if e["type"] == "start")["plan"]
        assert plan["recompute"] == expected and plan["allocator"] in ("tcmalloc", "system")


def test_decoder_mlps_are_found_in_a_peft_model():
    model = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                                         num_attention_heads=4, num_key_value_heads=2, vocab_size=100))
    assert len(decoder_mlps(get_peft_model(model, LoraConfig(r=2, target_modules="all-linear")))) == 3
