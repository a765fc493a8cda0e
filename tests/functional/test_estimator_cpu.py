"""The CPU estimate against the peak RSS of real training: a tiny and a small random Llama, plain torch AdamW."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.config import TrainConfig
from engine.sizing import estimate_memory

ROOT = Path(__file__).resolve().parents[2]

TRAIN = """
import json, sys
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from engine.sizing import measured_peak_gb
cfg, batch, seq, steps = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
torch.set_num_threads(1)
model = LlamaForCausalLM(LlamaConfig(**cfg))
model.train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
ids = torch.randint(0, cfg["vocab_size"], (batch, seq))
for _ in range(steps):
    model(input_ids=ids, labels=ids).loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
print(measured_peak_gb())
"""
BASE = {"num_attention_heads": 8, "num_key_value_heads": 4, "tie_word_embeddings": False}
CASES = {  # name: (config.json, batch, cutoff_len)
    "tiny": (BASE | {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "vocab_size": 256}, 2, 64),
    "small": (BASE | {"hidden_size": 512, "intermediate_size": 1376, "num_hidden_layers": 2, "vocab_size": 8000},
              2, 128),
}


def measure(name: str) -> float:
    cfg, batch, seq = CASES[name]
    out = subprocess.run([sys.executable, "-c", TRAIN, json.dumps(cfg), str(batch), str(seq), "2"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def measure_runtime() -> float:
    """The peak RSS of the same imports with no model: torch's own footprint in this environment."""
    code = TRAIN.split("cfg, batch")[0] + "print(measured_peak_gb())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def estimate(name: str, runtime_gb: float) -> float:
    """The estimate with its fixed runtime term replaced by the footprint measured here."""
    cfg, batch, seq = CASES[name]
    config = TrainConfig(finetuning_type="full", use_cpu=True, per_device_train_batch_size=batch, cutoff_len=seq)
    result = estimate_memory(config, cfg | {"model_type": "llama"})
    return result.peak_gb - result.breakdown["runtime"] + runtime_gb


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_cpu_estimate_tracks_measured_peak_rss():
    with ThreadPoolExecutor(2) as pool:
        measured = dict(zip(CASES, pool.map(measure, CASES)))
    runtime_gb = measure_runtime()
    estimated = {name: estimate(name, runtime_gb) for name in CASES}
    for name in CASES:
        assert 0.75 <= estimated[name] / measured[name] <= 1.3, (name, estimated, measured)
    # what the model adds over torch's own footprint is estimated too, not only the runtime constant
    grown = (estimated["small"] - estimated["tiny"]) / (measured["small"] - measured["tiny"])
    assert 0.6 <= grown <= 1.6, (estimated, measured)
