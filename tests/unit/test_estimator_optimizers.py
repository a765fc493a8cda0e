"""The estimator's optimizer state (GaLore/APOLLO, BAdam, Adam-mini, Muon, 8-bit AdamW) by hand, and the
suggestion's "full + GaLore/BAdam" rows when full fine-tuning with AdamW does not fit."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import TrainConfig
from engine.sizing import count_params, estimate_memory, read_model_shape, suggest
from engine.sizing.params import layer_params

GB = 2**30
MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "models"


@pytest.fixture(scope="module")
def llama8b():
    return read_model_shape(MODELS / "llama-3-8b")


def full(**keys) -> TrainConfig:
    return TrainConfig(finetuning_type="full", bf16=True, per_device_train_batch_size=1, cutoff_len=512,
                       disable_gradient_checkpointing=False, **keys)


def test_galore_keeps_low_rank_moments_and_a_projection(llama8b):
    p, r = count_params(llama8b), 128
    galore = estimate_memory(full(use_galore=True, galore_rank=r), llama8b).breakdown
    low_rank = sum(lin.count * r * (max(lin.in_features, lin.out_features) * 8 + min(lin.in_features,
                                                                                      lin.out_features) * 4)
                   for lin in p.linears)
    rest = p.total - sum(lin.params for lin in p.linears)  # embeddings, lm_head, norms: plain AdamW
    assert galore["optimizer"] == pytest.approx((low_rank + rest * 8) / GB, abs=1e-3)
    adamw = estimate_memory(full(), llama8b).breakdown
    assert galore["optimizer"] < adamw["optimizer"] / 3 and galore["gradients"] == adamw["gradients"]
    layerwise = estimate_memory(full(use_galore=True, galore_layerwise=True), llama8b).breakdown
    assert layerwise["gradients"] == pytest.approx(p.embeddings * 4 / GB, abs=1e-3)  # one gradient at a time
    apollo = estimate_memory(full(use_apollo=True, apollo_rank=r), llama8b).breakdown
    assert apollo["optimizer"] == pytest.approx(galore["optimizer"], abs=1e-3)


def test_badam_trains_one_block(llama8b):
    badam = estimate_memory(full(use_badam=True, pure_bf16=True), llama8b)
    block = layer_params(llama8b)
    assert "master_weights" not in badam.breakdown
    assert badam.breakdown["optimizer"] == pytest.approx(block * 8 / GB, abs=1e-3)
    assert badam.breakdown["block_copy"] == pytest.approx(block * 4 / GB, abs=1e-3)
    assert badam.peak_gb < 24


def test_adam_mini_muon_and_8bit_state(llama8b):
    p = count_params(llama8b)
    adamw = estimate_memory(full(), llama8b).breakdown["optimizer"]
    mini = estimate_memory(full(use_adam_mini=True), llama8b).breakdown["optimizer"]
    assert mini == pytest.approx((p.total * 4 + p.norms * 4) / GB, abs=1e-3) and mini < 0.51 * adamw
    muon = estimate_memory(full(use_muon=True), llama8b).breakdown["optimizer"]
    hidden = sum(lin.params for lin in p.linears)
    assert muon == pytest.approx((hidden * 4 + (p.total - hidden) * 8) / GB, abs=1e-3)
    eight = estimate_memory(full(optim="adamw_8bit"), llama8b).breakdown["optimizer"]
    assert 0.25 * adamw < eight < 0.5 * adamw  # 2 B per weight, 8 B for the embeddings kept in 32-bit state


def test_suggestion_lists_low_memory_full_rows_when_adamw_does_not_fit(llama8b):
    tight = suggest(llama8b, vram_gb=24)
    names = [m.method for m in tight.methods]
    assert names[:4] == ["full", "full", "full + GaLore", "full + BAdam"]
    galore = tight.methods[2]
    assert galore.fits and galore.keys["use_galore"] and galore.peak_gb < 24
    roomy = suggest(llama8b, vram_gb=200)
    assert roomy.methods[0].fits and not [m for m in roomy.methods if "+" in m.method]
