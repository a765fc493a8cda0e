"""Estimator arithmetic against hand-computed cases (GB = 2**30 bytes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engine.config import TrainConfig
from engine.sizing import estimate_memory, read_model_shape
from engine.sizing.estimate import activation_bytes, logits_bytes
from engine.sizing.params import count_params
from engine.sizing.shape import ModelShape

GB = 2**30
MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "models"
TINY = ModelShape.from_config({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
                               "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                               "vocab_size": 256})
P8B = 8_030_261_248
LORA8B = 32 * 8 * (2 * (4096 + 4096) + 2 * (4096 + 1024) + 3 * (4096 + 14336))  # rank 8 on q,o,k,v,gate,up,down


def case(**keys) -> TrainConfig:
    return TrainConfig(**({"per_device_train_batch_size": 1, "cutoff_len": 512, "bf16": True} | keys))


@pytest.fixture(scope="module")
def llama8b() -> ModelShape:
    return read_model_shape(MODELS / "llama-3-8b")


def test_tiny_activations_and_logits_by_hand():
    config = TrainConfig(finetuning_type="full", per_device_train_batch_size=2, cutoff_len=16, bf16=True)
    p = count_params(TINY)
    tokens, per_token = 32, 4 * 64 + 2 * 64 + 2 * 32 + 4 * 128  # norms, q+attn out, k+v, gate/up/act/product
    layer, outside = tokens * per_token * 2, 3 * tokens * 64 * 2
    assert activation_bytes(config, TINY, p, 2, "cuda") == 2 * tokens * 64 * 2 + layer + outside  # checkpointed
    no_ckpt = config.model_copy(update={"disable_gradient_checkpointing": True})
    # without checkpointing the MLPs keep gate, up and down outputs; one MLP's activation and product recomputed
    kept = tokens * (per_token - 4 * 128 + 2 * 128 + 64) * 2
    recomputed = outside + 2 * tokens * 128 * 2
    assert activation_bytes(no_ckpt, TINY, p, 2, "cuda") == 2 * kept + recomputed
    dense = no_ckpt.model_copy(update={"quantization_bit": 4})  # no recomputation under 4-bit weights
    assert activation_bytes(dense, TINY, p, 2, "cuda") == 2 * layer + outside
    eager = no_ckpt.model_copy(update={"flash_attn": "disabled"})
    scores = 2 * 4 * 16**2 * (4 + 2)  # rows x heads x seq² x (fp32 softmax + bf16 copy)
    assert activation_bytes(eager, TINY, p, 2, "cuda") == 2 * (kept + scores) + recomputed
    full_logits = config.model_copy(update={"use_dft_loss": True})  # the DFT loss reads the logits
    assert logits_bytes(full_logits, TINY, 2) == tokens * 256 * (2 + 4 + 4)
    assert logits_bytes(config, TINY, 2) == tokens * 256 * (4 + 2 + 2) + 2 * tokens * 64 * 2  # one chunk + grad
    assert logits_bytes(config, TINY, 4, device="cpu") == tokens * 256 * 4 + 2 * tokens * 64 * 4
    assert logits_bytes(config.model_copy(update={"stage": "rm"}), TINY, 2) == 0
    dpo = config.model_copy(update={"stage": "dpo"})
    assert logits_bytes(dpo, TINY, 2) == 2 * logits_bytes(full_logits, TINY, 2)


def test_chunked_loss_holds_one_chunk_of_a_large_vocabulary():
    big = ModelShape.from_config({"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
                                  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                                  "vocab_size": 128_000})
    config = TrainConfig(per_device_train_batch_size=4, cutoff_len=1024, use_cpu=True)
    rows = 64 * 2**20 // (4 * 128_000)  # 131 rows of float32 logits
    assert logits_bytes(config, big, 4, device="cpu") == rows * 128_000 * 4 + 2 * 4096 * 64 * 4
    other = dataclasses.replace(big, model_type="gemma2")  # soft-capped logits: the full logits
    assert logits_bytes(config, other, 4, device="cpu") == 4096 * 128_000 * 12


def test_lora_8b_by_hand(llama8b):
    e = estimate_memory(case(finetuning_type="lora"), llama8b)
    assert e.params_b == 8.03 and e.trainable_params == LORA8B == 20_971_520
    b = e.breakdown
    assert b["weights"] == pytest.approx((P8B * 2 + LORA8B * 4) / GB, abs=1e-3)  # bf16 base + fp32 adapter
    assert b["gradients"] == pytest.approx(LORA8B * 4 / GB, abs=1e-3)
    assert b["optimizer"] == pytest.approx(LORA8B * 8 / GB, abs=1e-3)  # AdamW m + v in fp32
    per_token = 4 * 4096 + 2 * 4096 + 2 * 1024 + 4 * 14336 + 7 * 8
    acts = 32 * 512 * 4096 * 2 + 512 * per_token * 2 + 3 * 512 * 4096 * 2
    assert b["activations"] == pytest.approx(acts / GB, abs=1e-3)
    chunk = 64 * 2**20 // (4 * 128256)  # the chunked loss: one chunk of fp32 logits and bf16 copies
    logits = chunk * 128256 * 8 + 2 * 512 * 4096 * 2  # and the hidden states' gradient
    assert b["logits"] == pytest.approx(logits / GB, abs=1e-3)
    dynamic = LORA8B * 4 + acts + logits
    assert b["cuda_overhead"] == pytest.approx(0.45 + 0.05 * dynamic / GB, abs=1e-3)
    assert e.peak_gb == pytest.approx(sum(b.values()), abs=0.01) and e.peak_gb == pytest.approx(16.09, abs=0.01)


def test_qlora_weights_by_hand(llama8b):
    embeddings, norms = 128256 * 4096, 32 * 2 * 4096 + 4096
    linear = P8B - 2 * embeddings - norms
    e4 = estimate_memory(case(finetuning_type="lora", quantization_bit=4), llama8b)
    nf4 = linear * (0.5 + 1 / 64 + 4 / (64 * 256)) + (P8B - linear) * 2 + LORA8B * 4
    assert e4.breakdown["weights"] == pytest.approx(nf4 / GB, abs=1e-3)
    assert e4.breakdown["transient"] == pytest.approx(4096 * 14336 * 2 / GB, abs=1e-3)  # one dequantized weight
    e4_plain = estimate_memory(case(finetuning_type="lora", quantization_bit=4, double_quantization=False), llama8b)
    assert e4_plain.breakdown["weights"] - e4.breakdown["weights"] == pytest.approx(
        linear * (4 / 64 - 1 / 64 - 4 / (64 * 256)) / GB, abs=1e-3)
    e8 = estimate_memory(case(finetuning_type="lora", quantization_bit=8), llama8b)
    rows = 32 * (4096 + 1024 + 1024 + 4096 + 14336 + 14336 + 4096)  # out_features of every block linear
    int8 = linear + 4 * rows + (P8B - linear) * 2 + LORA8B * 4
    assert e8.breakdown["weights"] == pytest.approx(int8 / GB, abs=1e-3)


def test_full_mixed_precision_pure_bf16_and_8bit_optimizer(llama8b):
    mixed = estimate_memory(case(finetuning_type="full"), llama8b).breakdown
    assert [mixed[k] for k in ("weights", "master_weights", "gradients", "optimizer")] == pytest.approx(
        [P8B * 2 / GB, P8B * 4 / GB, P8B * 2 / GB, P8B * 8 / GB], abs=1e-3)  # ZeRO's 16 bytes per parameter
    pure = estimate_memory(case(finetuning_type="full", pure_bf16=True), llama8b).breakdown
    assert "master_weights" not in pure and pure["optimizer"] == pytest.approx(P8B * 4 / GB, abs=1e-3)
    eight = estimate_memory(case(finetuning_type="full", optim="paged_adamw_8bit"), llama8b).breakdown
    fp32 = count_params(llama8b).embeddings + count_params(llama8b).norms  # the Trainer keeps these in 32-bit state
    assert eight["optimizer"] == pytest.approx(((P8B - fp32) * (2 + 8 / 256) + fp32 * 8) / GB, abs=1e-3)
    assert estimate_memory(case(finetuning_type="full", optim="sgd"), llama8b).breakdown["optimizer"] == 0


def test_zero3_shards_state_but_not_activations(llama8b):
    one = estimate_memory(case(finetuning_type="full"), llama8b)
    two = estimate_memory(case(finetuning_type="full"), llama8b, gpus=2, strategy="zero3")
    for key in ("weights", "master_weights", "gradients", "optimizer"):
        assert two.breakdown[key] == pytest.approx(one.breakdown[key] / 2, abs=2e-3)
    assert two.breakdown["activations"] == one.breakdown["activations"]
    assert two.breakdown["zero3_gather"] == pytest.approx(128256 * 4096 * 2 / GB, abs=1e-3)  # the embedding
    assert two.gpus == 2 and two.total_gb == pytest.approx(2 * two.peak_gb, abs=0.01)
    assert estimate_memory(case(finetuning_type="full", use_cpu=True), llama8b, gpus=4).gpus == 1


def test_cpu_mode_is_fp32_with_runtime_and_no_cuda_overhead(llama8b):
    e = estimate_memory(case(finetuning_type="full", use_cpu=True), llama8b)
    assert e.device == "cpu" and "cuda_overhead" not in e.breakdown and e.breakdown["runtime"] == 0.53
    assert "master_weights" not in e.breakdown
    assert [e.breakdown[k] for k in ("weights", "gradients", "optimizer")] == pytest.approx(
        [P8B * 4 / GB, P8B * 4 / GB, P8B * 8 / GB], abs=1e-3)
    chunk = 64 * 2**20 // (4 * 128256)  # fp32 logits of one chunk of the loss, the hidden states' gradient
    assert e.breakdown["logits"] == pytest.approx((chunk * 128256 * 4 + 2 * 512 * 4096 * 4) / GB, abs=1e-3)
    dft = estimate_memory(case(finetuning_type="full", use_cpu=True, use_dft_loss=True), llama8b)
    assert dft.breakdown["logits"] == pytest.approx(512 * 128256 * 12 / GB, abs=1e-3)
    # the CPU trainer leaves gradient checkpointing off unless asked
    checkpointed = case(finetuning_type="full", use_cpu=True, disable_gradient_checkpointing=False)
    assert e.breakdown["activations"] > estimate_memory(checkpointed, llama8b).breakdown["activations"]


def test_batch_and_length_scale_activations(llama8b):
    one = estimate_memory(case(finetuning_type="lora"), llama8b).breakdown
    four = estimate_memory(case(finetuning_type="lora", per_device_train_batch_size=4), llama8b).breakdown
    assert four["activations"] == pytest.approx(4 * one["activations"], abs=3e-3)
    one, four = (estimate_memory(case(finetuning_type="lora", use_dft_loss=True, per_device_train_batch_size=rows),
                                 llama8b).breakdown for rows in (1, 4))
    assert four["logits"] == pytest.approx(4 * one["logits"], abs=3e-3)  # full logits grow with the batch
    eager = estimate_memory(case(finetuning_type="lora", flash_attn="disabled", cutoff_len=4096), llama8b).breakdown
    sdpa = estimate_memory(case(finetuning_type="lora", cutoff_len=4096), llama8b).breakdown
    assert eager["activations"] - sdpa["activations"] == pytest.approx(32 * 4096**2 * 6 / GB, abs=1e-3)


def test_dpo_full_keeps_a_reference_copy(llama8b):
    sft = estimate_memory(case(finetuning_type="full", use_dft_loss=True), llama8b).breakdown  # full logits
    dpo = estimate_memory(case(finetuning_type="full", stage="dpo"), llama8b).breakdown
    assert dpo["reference_model"] == pytest.approx(P8B * 2 / GB, abs=1e-3)
    assert dpo["logits"] == pytest.approx(2 * sft["logits"], abs=1e-3)
    assert "reference_model" not in estimate_memory(case(finetuning_type="lora", stage="dpo"), llama8b).breakdown
    assert "not included" in estimate_memory(case(stage="grpo"), llama8b).notes[0]


def test_accepts_a_config_json_mapping():
    e = estimate_memory(case(finetuning_type="lora"), {"model_type": "llama", "hidden_size": 64,
                        "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                        "num_key_value_heads": 2, "vocab_size": 256})
    assert e.trainable_params == 2 * 8 * (128 + 96 + 96 + 128 + 192 + 192 + 192) and e.params_b == 0.0


def test_estimate_to_dict_is_json_ready(llama8b):
    import json

    data = json.loads(json.dumps(estimate_memory(case(finetuning_type="full"), llama8b, gpus=2,
                                                 strategy="zero3").to_dict()))
    assert data["gpus"] == 2 and data["total_gb"] == pytest.approx(2 * data["peak_gb"], abs=0.01)
    assert data["strategy"] == "zero3"
    assert data["notes"] == ["optimizer, master weights, gradients, weights divided over 2 GPUs (zero3)"]


def test_measured_peak_is_rss_without_cuda_and_cuda_peak_with_it(monkeypatch):
    import resource
    import sys
    import types

    from engine.sizing import measured_peak_gb

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB
    assert measured_peak_gb() == pytest.approx(rss, abs=0.01) and measured_peak_gb() > 0.01
    cuda = types.SimpleNamespace(is_available=lambda: True, is_initialized=lambda: True,
                                 max_memory_allocated=lambda: 3 * GB)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    assert measured_peak_gb() == 3.0
    cuda.is_initialized = lambda: False  # torch imported but CUDA never used: the process RSS
    assert measured_peak_gb() == pytest.approx(rss, abs=0.01)


def test_eager_attention_scores_follow_the_batch_layout():
    """Eager attention keeps the scores: per row when padded, the square of all tokens when padding-free;
    SDPA (per example under padding-free) keeps none."""
    p = count_params(TINY)
    base = dict(finetuning_type="full", per_device_train_batch_size=4, cutoff_len=16, use_cpu=True)
    padded = TrainConfig(flash_attn="disabled", padding_free=False, **base)
    flat = TrainConfig(flash_attn="disabled", padding_free=True, **base)
    sdpa = TrainConfig(flash_attn="sdpa", padding_free=True, **base)
    heads, layers, fp32 = 4, 2, 4
    scores_padded = layers * heads * 4 * 16**2 * (4 + fp32)
    scores_flat = layers * heads * (4 * 16) ** 2 * (4 + fp32)
    assert activation_bytes(padded, TINY, p, fp32, "cpu") - activation_bytes(sdpa, TINY, p, fp32, "cpu") == scores_padded
    assert activation_bytes(flat, TINY, p, fp32, "cpu") - activation_bytes(sdpa, TINY, p, fp32, "cpu") == scores_flat


def test_the_largest_batch_follows_the_layout_and_the_data():
    from engine.sizing.estimate import batch_tokens

    lengths = [100, 512, 60, 300, 480, 90]
    flat = TrainConfig(per_device_train_batch_size=4, cutoff_len=512, padding_free=True)
    padded = flat.model_copy(update={"padding_free": False})
    assert batch_tokens(flat) == batch_tokens(padded) == 4 * 512  # no data: the worst case
    assert 100 + 60 + 90 + 300 <= batch_tokens(flat, lengths) <= 512 + 480 + 300 + 100  # a random batch's rows
    assert batch_tokens(padded, [64, 32]) == 2 * 64  # one batch, padded to its longest
    grouped = flat.model_copy(update={"group_by_length": True})
    assert batch_tokens(grouped, lengths) == 512 + 480 + 300 + 100  # the four longest side by side
    assert batch_tokens(flat, lengths) == batch_tokens(flat, lengths)  # seeded: the same every time
    short = estimate_memory(flat, TINY, device="cpu", lengths=[20] * 8)
    assert short.peak_gb <= estimate_memory(flat, TINY, device="cpu").peak_gb
    assert short.parts["activations"] == activation_bytes(flat, TINY, count_params(TINY), 4, "cpu", 80)
