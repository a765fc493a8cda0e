"""Padding-free batches: one unpadded row per batch gives the padded batch's loss and gradients."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from engine.config import parse_config
from engine.data import IGNORE_INDEX
from engine.data.collator import make_collator

FEATURES = [
    {"input_ids": [5, 6, 7, 8, 9, 10], "labels": [IGNORE_INDEX, IGNORE_INDEX, 7, 8, 9, 10]},
    {"input_ids": [11, 12, 13], "labels": [11, 12, 13]},  # trained from its first token (train_on_prompt)
    {"input_ids": [20, 21, 22, 23, 24, 25, 26, 27, 28], "labels": [IGNORE_INDEX] * 4 + [24, 25, 26, 27, 28]},
]


def loss_and_grad(model, batch):
    model.zero_grad()
    out = model(**batch)
    out.loss.backward()
    return out.loss.item(), model.model.layers[0].mlp.up_proj.weight.grad.clone()


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_padding_free_equals_padded(tiny_model_dir, attn):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, attn_implementation=attn, dtype=torch.float32)
    config = parse_config({"stage": "sft"})
    padded = make_collator(config.model_copy(update={"padding_free": False}), _Tok(), attn)(FEATURES)
    flat = make_collator(config.model_copy(update={"padding_free": True}), _Tok(), attn)(FEATURES)
    assert flat["input_ids"].shape == (1, 18) and padded["input_ids"].shape == (3, 9)
    # the same tokens are trained; the padded batch's labels at each row start are never predicted
    assert (flat["labels"] != IGNORE_INDEX).sum() == (padded["labels"][:, 1:] != IGNORE_INDEX).sum()
    loss_p, grad_p = loss_and_grad(model, padded)
    loss_f, grad_f = loss_and_grad(model, flat)
    assert loss_f == pytest.approx(loss_p, abs=1e-5)
    assert torch.allclose(grad_f, grad_p, atol=1e-6)


def test_padding_free_is_on_by_default_on_the_cpu_for_sft_only():
    from engine.config.resolve import padding_free

    assert padding_free(parse_config({"stage": "sft"}), "sdpa", cuda=False) is True
    assert padding_free(parse_config({"stage": "sft", "padding_free": False}), "sdpa", cuda=False) is False
    assert padding_free(parse_config({"stage": "sft", "packing": True}), "sdpa", cuda=False) is False
    assert padding_free(parse_config({"stage": "dpo"}), "sdpa", cuda=False) is False


class _Tok:
    pad_token_id = 0
    eos_token_id = 0
