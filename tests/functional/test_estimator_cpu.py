"""The CPU estimate against the peak RSS of real training: a tiny and a small random Llama, plain torch AdamW.

What is compared is what training adds to the process: the peak resident set after the imports (the kernel's
high-water mark reset once they are done) minus the resident set then. A machine whose imports peak higher
than they settle (seen on CI) would otherwise hide the model under the imports' transient peak."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.allocator import find_tcmalloc, planned_allocator
from engine.config import TrainConfig
from engine.sizing import estimate_memory

ROOT = Path(__file__).resolve().parents[2]

TRAIN = """
import json, sys
import torch
from transformers import LlamaConfig, LlamaForCausalLM
def kib(key):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key))
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # reset VmHWM: from here on it measures training, not the imports
settled = kib("VmRSS")
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
print((kib("VmHWM") - settled) / 2**20)
"""
BASE = {"num_attention_heads": 8, "num_key_value_heads": 4, "tie_word_embeddings": False}
CASES = {  # name: (config.json, batch, cutoff_len)
    "tiny": (BASE | {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "vocab_size": 256}, 2, 64),
    "small": (BASE | {"hidden_size": 512, "intermediate_size": 1376, "num_hidden_layers": 2, "vocab_size": 8000},
              2, 128),
}


def measure(name: str) -> float:
    """GiB that training adds to the settled resident set of the imports."""
    cfg, batch, seq = CASES[name]
    env = dict(os.environ)
    if planned_allocator() == "tcmalloc":  # the allocator a training run here gets, and the estimate assumes
        env["LD_PRELOAD"] = str(find_tcmalloc())
    out = subprocess.run([sys.executable, "-c", TRAIN, json.dumps(cfg), str(batch), str(seq), "2"],
                         capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def estimate(name: str) -> float:
    """The estimate less its fixed runtime term (torch's own footprint, which the measurement leaves out)."""
    cfg, batch, seq = CASES[name]
    config = TrainConfig(finetuning_type="full", use_cpu=True, per_device_train_batch_size=batch, cutoff_len=seq)
    result = estimate_memory(config, cfg | {"model_type": "llama"})
    return result.peak_gb - result.breakdown["runtime"]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_cpu_estimate_tracks_what_training_adds_to_rss():
    with ThreadPoolExecutor(2) as pool:
        measured = dict(zip(CASES, pool.map(measure, CASES)))
    estimated = {name: estimate(name) for name in CASES}
    assert 0.75 <= estimated["small"] / measured["small"] <= 1.3, (estimated, measured)
    assert abs(estimated["tiny"] - measured["tiny"]) < 0.06, (estimated, measured)  # a few MB: no ratio to take
