"""The GPU path's decisions for simulated machines, and the estimator's inputs against the model lmf-tui builds.

No GPU here: `Facts` stands for an H200, a T4 or a CPU box; the loaded-model checks run on the CPU in bf16
(bitsandbytes' CPU backend for 4-bit), where parameter bytes are the same as on a GPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.config import ConfigError, TrainConfig
from engine.config.resolve import Hardware
from engine.models.choices import gpu_plan
from engine.sizing import ModelShape, estimate_memory
from tests.tiny import build_tokenizer

ROOT = Path(__file__).resolve().parents[2]
H200 = Hardware(cuda=True, bf16=True)
H200_FA2 = Hardware(cuda=True, bf16=True, flash_attn=frozenset({"flash_attn"}))
T4 = Hardware(cuda=True, bf16=False)
CPU = Hardware()


def test_gpu_plan_per_machine():
    sft = TrainConfig(stage="sft")
    assert gpu_plan(sft, H200) == {"device": "cuda", "precision": "bf16", "attn": "sdpa", "padding_free": False,
                                   "gradient_checkpointing": True, "device_map": None, "liger": False}
    flash = gpu_plan(sft, H200_FA2)
    assert flash["attn"] == "flash_attention_2" and flash["padding_free"] is True  # varlen batches
    assert gpu_plan(sft, T4)["precision"] == "fp16"
    # padding-free rows on the CPU: SDPA runs per example (sdpa_segments)
    assert gpu_plan(sft, CPU) == {"device": "cpu", "precision": "fp32", "attn": "sdpa_segments", "padding_free": True,
                                  "gradient_checkpointing": False, "device_map": None, "liger": False}
    qlora = TrainConfig(quantization_bit=4, enable_liger_kernel=True)
    assert gpu_plan(qlora, H200)["device_map"] == {"": 0} and gpu_plan(qlora, H200)["liger"] is True
    assert gpu_plan(qlora, H200, local_rank=3)["device_map"] == {"": 3}
    assert gpu_plan(qlora, CPU)["device_map"] == {"": "cpu"} and gpu_plan(qlora, CPU)["liger"] is False
    assert gpu_plan(sft.model_copy(update={"use_cpu": True}), H200)["device"] == "cpu"
    assert gpu_plan(TrainConfig(neat_packing=True), H200_FA2)["attn"] == "sdpa"
    assert gpu_plan(TrainConfig(disable_gradient_checkpointing=True), H200)["gradient_checkpointing"] is False
    assert gpu_plan(TrainConfig(fp16=True), H200)["precision"] == "fp16"  # as asked
    with pytest.raises(ConfigError, match="flash_attn: fa2 needs a CUDA GPU and the 'flash_attn' package"):
        gpu_plan(TrainConfig(flash_attn="fa2"), H200)


def test_the_loader_puts_a_quantized_model_where_the_plan_says(monkeypatch):
    from engine.models.loader import _local_device

    monkeypatch.setenv("LOCAL_RANK", "2")
    assert _local_device() == gpu_plan(TrainConfig(quantization_bit=4), CPU)["device_map"][""] == "cpu"


def _model_dir(tmp_path, tie: bool):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=4096, hidden_size=256, intermediate_size=512, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=tie)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    build_tokenizer().save_pretrained(tmp_path)  # the loader reads it (400 tokens: no resize)
    return tmp_path, config.to_dict()


def _param_bytes(model: torch.nn.Module) -> int:
    """Bytes of every parameter as stored, with the quantization constants of 4-bit weights."""
    total = 0
    for param in model.parameters():
        total += param.numel() * param.element_size()
        state = getattr(param, "quant_state", None)
        if state is not None:
            total += state.absmax.numel() * state.absmax.element_size()
            if state.nested:
                total += state.state2.absmax.numel() * state.state2.absmax.element_size()
    return total


def measure(folder: Path, hf_config: dict, method: str) -> tuple[float, float, int, int]:
    """(measured bytes, the estimator's bytes, trainable params, the estimator's trainable params)."""
    from engine.models import apply_method, load_model

    config = TrainConfig(model_name_or_path=str(folder), finetuning_type="full" if method == "full" else "lora",
                         lora_target="all", quantization_bit=4 if method == "qlora" else None, bf16=True)
    model = apply_method(load_model(config, for_training=True), config)
    estimate = estimate_memory(config, ModelShape.from_config(hf_config), device="cuda")
    measured = _param_bytes(model)
    if method == "full":  # bf16 weights + fp32 master (estimate) = fp32 weights trained under autocast (lmf-tui)
        expected = estimate.parts["weights"] + estimate.parts["master_weights"] + estimate.parts["gradients"]
        measured += sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    else:
        expected = estimate.parts["weights"]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return measured, expected, trainable, estimate.trainable_params


@pytest.mark.parametrize("tie", [False, True])
def test_estimator_weights_are_the_bytes_of_the_model_lmf_tui_trains(tmp_path, tie):
    """LoRA, QLoRA (bitsandbytes' CPU backend) and full, in a fresh process: an earlier dry run in this one
    may have kept bitsandbytes out."""
    folder, hf_config = _model_dir(tmp_path, tie)
    code = ("import importlib.util, json, sys; from tests.functional.test_gpu_path_cpu import measure; "
            "methods = ['lora', 'full'] + ['qlora'] * bool(importlib.util.find_spec('bitsandbytes')); "
            "print(json.dumps({m: measure(sys.argv[1], json.loads(sys.argv[2]), m) for m in methods}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code, str(folder), json.dumps(hf_config)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"lora", "full"} <= set(results)  # qlora too where bitsandbytes is installed (the dev extra has it)
    for method, (measured, expected, trainable, estimated_trainable) in results.items():
        assert measured == pytest.approx(expected, rel=0.01), method
        assert trainable == estimated_trainable, method
