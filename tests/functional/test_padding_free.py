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


@pytest.mark.parametrize("attn", ["sdpa", "eager", "sdpa_segments"])
def test_padding_free_equals_padded(tiny_model_dir, attn):
    if attn == "sdpa_segments":
        from engine.models import segment_attention

        segment_attention.register()
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


def test_sdpa_with_padding_free_runs_per_example_and_says_so():
    from engine.config.resolve import Hardware, attention_layout, attn_implementation, resolve

    config = resolve(parse_config({"stage": "sft", "flash_attn": "sdpa"}), Hardware())
    assert config.padding_free and attn_implementation(config) == "sdpa_segments"
    assert attention_layout(config) == "padding-free (SDPA per example)"
    flat = make_collator(config, _Tok(), "sdpa_segments")(FEATURES)
    assert flat["cu_seq_lens_q"].tolist() == [0, 6, 9, 18] and "attention_mask" not in flat
    padded = resolve(parse_config({"stage": "sft", "flash_attn": "sdpa", "padding_free": False}), Hardware())
    assert attn_implementation(padded) == "sdpa" and attention_layout(padded) == "padded rows"
