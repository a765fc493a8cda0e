"""The model types given the chunked loss apply their head and then `loss_function` to the logits, with nothing
between: read from transformers' own forward code, so an upgrade that changes one fails here."""

from __future__ import annotations

import importlib
import inspect

import pytest
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

from engine.config import TrainConfig
from engine.config.resolve import CHUNKED_LOSS_MODELS, chunked_loss, loss_summary

LOSS_CALL = "self.loss_function(logits=logits, labels=labels, vocab_size=self.config.vocab_size, **kwargs)"


@pytest.mark.parametrize("model_type", sorted(CHUNKED_LOSS_MODELS))
def test_forward_applies_the_head_then_the_loss(model_type):
    module = importlib.import_module(f"transformers.models.{model_type}.modeling_{model_type}")
    forward = inspect.getsource(getattr(module, MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[model_type]).forward)
    assert forward.count("self.lm_head(") == 1 and "logits = self.lm_head(" in forward
    assert forward.count("self.loss_function(") == 1 and LOSS_CALL in forward
    assert not any(word in forward for word in ("softcap", "logit_scale", "logits_scaling", "logits = logits",
                                                "aux_loss")), model_type


def test_soft_capped_models_are_left_out():
    for model_type in ("gemma2", "cohere", "granite", "mixtral"):
        assert model_type not in CHUNKED_LOSS_MODELS


def test_when_the_loss_is_chunked():
    sft = TrainConfig(stage="sft", finetuning_type="lora")
    assert chunked_loss(sft, "llama", cuda=False) and not chunked_loss(sft, "gemma2", cuda=False)
    assert "vocabulary chunks" in loss_summary(sft, "llama", cuda=False)
    for keys in ({"use_dft_loss": True}, {"stage": "dpo"}, {"lora_target": "q_proj,lm_head"},
                 {"new_special_tokens": "<tool>"}, {"additional_target": "embed_tokens,lm_head"}):
        assert not chunked_loss(sft.model_copy(update=keys), "llama", cuda=False), keys
    liger = sft.model_copy(update={"enable_liger_kernel": True})
    assert chunked_loss(liger, "llama", cuda=False) and not chunked_loss(liger, "llama", cuda=True)
    assert loss_summary(sft.model_copy(update={"use_dft_loss": True}), "llama", False).endswith("(DFT-weighted)")
