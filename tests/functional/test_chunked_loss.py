"""The loss in vocabulary chunks gives the plain loss and its gradients, and a run with it trains the same."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

from engine.config import resolve
from engine.events import read_events
from engine.train import run_training
from engine.train.chunked_loss import logits_free, plain_head
from tests.functional.test_train import losses, tiny_config

VOCAB = 300


def tiny_llama(tie: bool) -> LlamaForCausalLM:
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, vocab_size=VOCAB,
                                        tie_word_embeddings=tie))


def batch() -> dict[str, torch.Tensor]:
    torch.manual_seed(1)
    ids = torch.randint(0, VOCAB, (2, 40))
    labels = ids.clone()
    labels[:, :10] = -100  # prompts are not trained
    return {"input_ids": ids, "labels": labels}


def loss_and_grads(model, causal_lm, chunked: bool, **kwargs) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad()
    if chunked:
        with logits_free(causal_lm, chunk_bytes=4 * VOCAB * 7):  # chunks of 7 rows: several, the last short
            loss = model(**batch(), **kwargs).loss
    else:
        loss = model(**batch(), **kwargs).loss
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("method", ["full_tied", "full_untied", "lora"])
@pytest.mark.parametrize("num_items", [None, 50])
def test_chunked_equals_plain_loss_and_gradients(method, num_items):
    causal_lm = tiny_llama(tie=method == "full_tied")
    causal_lm.train()
    model = causal_lm
    if method == "lora":
        model = get_peft_model(causal_lm, LoraConfig(r=4, target_modules="all-linear"))
    assert plain_head(causal_lm)
    kwargs = {} if num_items is None else {"num_items_in_batch": torch.tensor(num_items)}
    plain_loss, plain = loss_and_grads(model, causal_lm, False, **kwargs)
    chunked_loss, chunked = loss_and_grads(model, causal_lm, True, **kwargs)
    assert chunked_loss == pytest.approx(plain_loss, abs=1e-5)
    assert chunked.keys() == plain.keys() and ("lm_head.weight" in plain) == (method == "full_untied")  # tied: one
    for name, grad in plain.items():
        assert torch.allclose(chunked[name], grad, atol=1e-6), name
    # outside the context the model is itself again: real logits, its own loss function
    assert model(**batch()).logits.shape[-1] == VOCAB and "_loss_function" not in causal_lm.__dict__


def test_a_wrapped_head_is_not_plain():
    causal_lm = tiny_llama(tie=False)
    get_peft_model(causal_lm, LoraConfig(r=4, target_modules=["q_proj", "lm_head"]))
    assert not plain_head(causal_lm)


def test_a_run_with_the_chunked_loss_trains_as_the_plain_one(tiny_model_dir, tiny_data_dir, tmp_path, monkeypatch):
    chunked = tmp_path / "chunked"
    run_training(tiny_config(tiny_model_dir, tiny_data_dir, chunked, max_steps=8, logging_steps=1))
    monkeypatch.setattr(resolve, "CHUNKED_LOSS_MODELS", frozenset())
    plain = tmp_path / "plain"
    run_training(tiny_config(tiny_model_dir, tiny_data_dir, plain, max_steps=8, logging_steps=1))
    plan = {run: next(e for e in read_events(run) if e["type"] == "start")["plan"] for run in (chunked, plain)}
    assert plan[chunked]["loss"] == "chunked" and plan[plain]["loss"] == "full logits"
    assert losses(chunked) == pytest.approx(losses(plain), abs=1e-4) and len(losses(plain)) == 8
