"""The estimator against presets/sizing.yaml, and the suggestions and fixes built on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import TrainConfig, parse_overrides
from engine.hardware import GpuInfo, HardwareInfo
from engine.sizing import estimate_memory, fix_for, read_model_shape, reference_row, reference_rows, suggest
from engine.sizing.params import count_params
from engine.sizing.suggest import case_config

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "models"
REFERENCE = {"7-8B": "llama-3-8b", "14B": "qwen2.5-14b", "30B": "qwen2.5-32b", "70B": "llama-3-70b",
             "671B MoE": "deepseek-v3"}
METHOD_KEYS = {("qlora", 4): {"finetuning_type": "lora", "quantization_bit": 4},
               ("lora", 16): {"finetuning_type": "lora"}, ("full", 32): {"finetuning_type": "full"}}


def hardware(vram: float, count: int = 1) -> HardwareInfo:
    return HardwareInfo(gpus=[GpuInfo(i, "GPU", vram) for i in range(count)], cpu_name="cpu", cpu_count=8,
                        ram_total_gb=64, ram_available_gb=60, backend="cuda", source="nvml")


def test_table_has_every_row_of_the_issue():
    rows = {(r["size"], r["method"], r["bits"]): r["min_vram_gb"] for r in reference_rows()}
    assert rows == {("7-8B", "qlora", 4): 6, ("7-8B", "lora", 16): 16, ("7-8B", "full", 32): 120,
                    ("14B", "qlora", 4): 12, ("14B", "lora", 16): 32, ("30B", "qlora", 4): 24,
                    ("70B", "qlora", 4): 48, ("70B", "lora", 16): 160, ("671B MoE", "lora", 16): 70}


@pytest.mark.parametrize("row", [r for r in reference_rows() if r.get("runs_here", True)],
                         ids=lambda r: f"{r['size']}-{r['method']}{r['bits']}-x{r['gpus']}")
def test_estimate_within_25_percent_of_the_table(row):
    shape = read_model_shape(MODELS / REFERENCE[row["size"]])
    config = case_config(METHOD_KEYS[(row["method"], row["bits"])] | {"bf16": True})
    estimate = estimate_memory(config, shape, gpus=row["gpus"], strategy=row.get("strategy", "ddp"))
    assert row["params_b"][0] <= estimate.params_b <= row["params_b"][1]
    assert 0.75 * row["min_vram_gb"] <= estimate.total_gb <= 1.25 * row["min_vram_gb"], estimate.breakdown
    assert reference_row(estimate.params_b, row["method"], row["bits"]) == row


def test_reference_sizes_are_what_the_table_says():
    for size, model in REFERENCE.items():
        params_b = count_params(read_model_shape(MODELS / model)).total / 1e9
        (low, high), = {tuple(r["params_b"]) for r in reference_rows() if r["size"] == size}
        assert low <= params_b <= high, size


FITS = {  # (model, card GB) -> methods that fit one card, as the table's minimums say
    ("llama-3-8b", 24): {"qlora4", "qlora8", "lora16", "oft16", "freeze16", "full + GaLore16", "full + BAdam16"},
    ("llama-3-8b", 8): {"qlora4"},
    ("qwen2.5-14b", 24): {"qlora4", "qlora8"},
    ("qwen2.5-14b", 8): set(),
    ("llama-3-70b", 24): set(),
    ("llama-3-70b", 8): set(),
}


@pytest.mark.parametrize("model, vram", list(FITS))
def test_suggestions_for_one_card(model, vram):
    result = suggest(str(MODELS / model), vram_gb=vram)
    fitting = {f"{m.method}{m.bits}" for m in result.methods if m.fits}
    assert fitting == FITS[(model, vram)]
    for m in result.methods:
        row = reference_row(result.params_b, m.method, m.bits)
        if row and row["gpus"] == 1:
            assert m.fits == (vram >= row["min_vram_gb"]), (m, row)
        assert m.gpus == 1 and m.peak_gb == pytest.approx(sum(m.breakdown.values()), abs=0.02)
    assert [m.method for m in result.methods] == ["full", "full", "full + GaLore", "full + BAdam", "freeze", "oft",
                                                  "lora", "qlora", "qlora"]  # full AdamW fits none of these
    assert result.hardware["compared_to"] == "vram" and result.hardware["memory_gb"] == vram


def test_70b_qlora_fits_two_24gb_cards_as_the_table_says():
    result = suggest(str(MODELS / "llama-3-70b"), vram_gb=24, gpus=2)
    qlora4 = next(m for m in result.methods if (m.method, m.bits) == ("qlora", 4))
    assert qlora4.fits and qlora4.gpus == 2
    lora = next(m for m in result.methods if (m.method, m.bits) == ("lora", 16))
    assert not lora.fits and lora.gpus == 2
    four = suggest(str(MODELS / "llama-3-70b"), vram_gb=80, gpus=4)
    assert next(m for m in four.methods if m.method == "lora").fits


def test_detected_hardware_and_cpu_only():
    result = suggest(read_model_shape(MODELS / "llama-3-8b"), hardware=hardware(24, 2))
    assert result.hardware["gpus"] == 2 and "summary" in result.hardware
    assert next(m for m in result.methods if m.method == "full" and m.bits == 16).gpus == 2
    cpu = HardwareInfo(gpus=[], cpu_name="cpu", cpu_count=2, ram_total_gb=24, ram_available_gb=20, backend="cpu")
    result = suggest(read_model_shape(MODELS / "llama-3-8b"), hardware=cpu)
    assert result.hardware["compared_to"] == "ram" and result.hardware["memory_gb"] == 20
    assert "RAM" in result.hardware["note"]
    assert {m.bits for m in result.methods if m.method != "qlora"} == {32}
    assert all("runtime" in m.breakdown for m in result.methods)


def apply(line: str, config: TrainConfig) -> TrainConfig:
    """A fix line's key=value overrides applied to config."""
    return config.model_copy(update=parse_overrides(line.split(" → ")[0].split()))


def test_fix_for_lists_cheapest_single_changes_that_each_fit():
    shape = read_model_shape(MODELS / "llama-3-8b")
    config = TrainConfig(finetuning_type="lora", per_device_train_batch_size=8, cutoff_len=2048, bf16=True,
                         use_dft_loss=True)  # the DFT loss reads the whole logits: 8 x 2048 x 128k are ~20 GB
    assert estimate_memory(config, shape).peak_gb > 24
    assert estimate_memory(config.model_copy(update={"use_dft_loss": False}), shape).peak_gb < 24  # chunked loss
    fixes = fix_for(config, shape, hardware(24))
    assert [f.split(" → ")[0] for f in fixes] == ["per_device_train_batch_size=2 gradient_accumulation_steps=4",
                                                 "cutoff_len=512"]
    for line in fixes:
        assert estimate_memory(apply(line, config), shape).peak_gb <= 24, line
    assert fix_for(config, shape, hardware(80)) == []
    small = TrainConfig(finetuning_type="lora", per_device_train_batch_size=1, cutoff_len=512, bf16=True)
    fixes = fix_for(small, shape, hardware(8))
    assert fixes[0].startswith("finetuning_type=lora quantization_bit=4 → 6.6 GB of 8.0 GB")
    assert fixes[1].startswith("deepspeed=z3 on 3 GPUs (this machine has 1) → 6.9 GB each (fits with DeepSpeed ZeRO-3)")
    fixes = fix_for(small, shape, hardware(12, 2))
    assert fixes[0].startswith("finetuning_type=lora quantization_bit=8 ") and "on 2 GPUs →" in fixes[1]


def test_fix_for_combines_changes_when_none_fits_alone():
    shape = read_model_shape(MODELS / "llama-3-8b")
    config = TrainConfig(finetuning_type="full", per_device_train_batch_size=8, cutoff_len=2048, bf16=True,
                         disable_gradient_checkpointing=True)
    (line,) = fix_for(config, shape, hardware(24))
    assert "use_badam=true" in line and estimate_memory(apply(line, config), shape).peak_gb <= 24  # full FT kept
    (line,) = fix_for(config, shape, hardware(8))
    assert "quantization_bit=4" in line and estimate_memory(apply(line, config), shape).peak_gb <= 8
    assert fix_for(config, read_model_shape(MODELS / "llama-3-70b"), hardware(8))[0].startswith("nothing fits")
