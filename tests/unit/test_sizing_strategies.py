"""Per-GPU memory of each distributed strategy against hand-computed numbers (GB = 2**30 bytes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import TrainConfig
from engine.sizing import estimate_memory, read_model_shape
from engine.sizing.suggest import suggest

GB = 2**30
MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "models"
P8B = 8_030_261_248
EMBED = 128256 * 4096


def full(**keys) -> TrainConfig:
    return TrainConfig(**({"finetuning_type": "full", "per_device_train_batch_size": 1, "cutoff_len": 512,
                           "bf16": True} | keys))


@pytest.fixture(scope="module")
def llama8b():
    return read_model_shape(MODELS / "llama-3-8b")


def parts(config: TrainConfig, shape, gpus: int, strategy: str) -> dict[str, float]:
    return estimate_memory(config, shape, gpus=gpus, strategy=strategy).breakdown


def test_ddp_replicates_everything(llama8b):
    one, four = parts(full(), llama8b, 1, "ddp"), parts(full(), llama8b, 4, "ddp")
    assert [four[k] for k in ("weights", "master_weights", "gradients", "optimizer")] == pytest.approx(
        [P8B * 2 / GB, P8B * 4 / GB, P8B * 2 / GB, P8B * 8 / GB], abs=1e-3)  # 16 bytes/param on every GPU
    assert four == one and "zero3_gather" not in four


def test_zero2_divides_optimizer_master_weights_and_gradients(llama8b):
    z2 = parts(full(), llama8b, 4, "zero2")
    assert z2["weights"] == pytest.approx(P8B * 2 / GB, abs=1e-3)  # bf16 weights stay whole
    assert [z2[k] for k in ("master_weights", "gradients", "optimizer")] == pytest.approx(
        [P8B * 4 / 4 / GB, P8B * 2 / 4 / GB, P8B * 8 / 4 / GB], abs=1e-3)
    assert "zero3_gather" not in z2


@pytest.mark.parametrize("strategy", ["zero3", "fsdp"])
def test_zero3_and_fsdp_divide_the_weights_too_and_gather_a_block(llama8b, strategy):
    e = estimate_memory(full(), llama8b, gpus=8, strategy=strategy)
    b = e.breakdown
    assert [b[k] for k in ("weights", "master_weights", "gradients", "optimizer")] == pytest.approx(
        [P8B * 2 / 8 / GB, P8B * 4 / 8 / GB, P8B * 2 / 8 / GB, P8B * 8 / 8 / GB], abs=1e-3)
    assert b["zero3_gather"] == pytest.approx(EMBED * 2 / GB, abs=1e-3)  # the embedding is the largest gather
    assert e.strategy == strategy and e.gpus == 8


def test_offload_moves_state_to_cpu_ram(llama8b):
    e = estimate_memory(full(), llama8b, gpus=2, strategy="zero3_offload")
    assert {"weights", "master_weights", "optimizer"}.isdisjoint(e.breakdown)
    assert e.breakdown["gradients"] == pytest.approx(P8B * 2 / 2 / GB, abs=1e-3)
    assert e.offloaded_gb == pytest.approx(P8B * (2 + 4 + 8) / GB, abs=0.01)
    z2 = estimate_memory(full(), llama8b, gpus=2, strategy="zero2_offload")
    assert z2.breakdown["weights"] == pytest.approx(P8B * 2 / GB, abs=1e-3)
    assert z2.offloaded_gb == pytest.approx(P8B * (4 + 8) / GB, abs=0.01)


def test_the_config_keys_choose_the_strategy(llama8b):
    assert estimate_memory(full(), llama8b, gpus=2).strategy == "ddp"
    assert estimate_memory(full(deepspeed="z3"), llama8b, gpus=2).strategy == "zero3"
    assert estimate_memory(full(deepspeed="z2"), llama8b, gpus=2).strategy == "zero2"
    assert estimate_memory(full(fsdp="full_shard auto_wrap offload"), llama8b, gpus=2).strategy == "fsdp_offload"


def test_suggestion_names_the_strategy_that_makes_full_fit():
    result = suggest(str(MODELS / "llama-3-8b"), vram_gb=80, gpus=8)
    full32 = next(m for m in result.methods if (m.method, m.bits) == ("full", 32))
    assert full32.fits and full32.gpus == 2 and full32.strategy == "zero2"
    assert full32.how == "2 GPUs with DeepSpeed ZeRO-2"
    lora = next(m for m in result.methods if m.method == "lora")
    assert lora.gpus == 1 and lora.strategy == "ddp" and lora.how == "1 GPU"
    big = suggest(str(MODELS / "llama-3-70b"), vram_gb=80, gpus=8)
    lora70 = next(m for m in big.methods if m.method == "lora")
    assert lora70.fits and lora70.strategy == "zero3"  # ZeRO-2 would keep 131 GB of bf16 weights on each GPU
    assert lora70.gpus == 2 and lora70.peak_gb < 80


def test_suggest_table_shows_the_strategy_when_a_row_needs_several_gpus(capsys):
    from lmftui.cli import main

    assert main(["suggest", str(MODELS / "llama-3-8b"), "--vram", "80", "--gpus", "8"]) == 0
    out = capsys.readouterr().out
    assert "strategy" in out and "ZeRO-2" in out
    assert out.strip().splitlines()[-1] == "best fit: full 32-bit on 2 GPUs with DeepSpeed ZeRO-2: 68.5 GB per GPU"
    assert main(["suggest", str(MODELS / "llama-3-8b"), "--vram", "80"]) == 0
    assert "strategy" not in capsys.readouterr().out
