"""`lmf-tui env`: versions read from metadata (torch is not imported) and the hardware, as text or JSON."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

from lmftui.commands.env import format_env, environment
from engine.hardware import GpuInfo, GpuProcess, HardwareInfo

ROOT = Path(__file__).resolve().parents[2]


def test_env_json_in_a_clean_process_imports_no_torch():
    code = ("import sys, json; from lmftui.cli import main; main(['env', '--json']); "
            "print(json.dumps(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    env_text, imported = out.stdout.rsplit("\n", 2)[0], out.stdout.strip().splitlines()[-1]
    env = json.loads(env_text)
    assert json.loads(imported) == []
    assert env["packages"]["torch"] == importlib.metadata.version("torch")
    assert env["packages"]["textual"] == importlib.metadata.version("textual")
    assert env["python"].count(".") == 2 and env["hardware"]["ram_total_gb"] > 0 and env["summary"]


def test_env_text_lists_each_gpu_with_memory_and_processes():
    hw = HardwareInfo(
        gpus=[GpuInfo(0, "NVIDIA GeForce RTX 4090", 23.99, 1.83, 22.16, 7, 41, (8, 9),
                      [GpuProcess(1234, "python3", 1.5)])],
        cpu_name="AMD Ryzen 9 7950X", cpu_count=32, ram_total_gb=62.5, ram_available_gb=50.1, backend="cuda",
        driver_version="550.54.14", cuda_version="12.4", source="nvml", bitsandbytes_available=True)
    text = format_env(environment(hw))
    assert "- GPU 0: NVIDIA GeForce RTX 4090, 1.8/24.0 GB used, compute capability 8.9, bf16" in text
    assert "  - pid 1234 python3: 1.5 GB" in text and "CUDA (driver): 12.4" in text
    assert "- bitsandbytes: yes, flash-attn: no, unsloth: no" in text and "- RAM: 62.5 GB" in text
    cpu = HardwareInfo(gpus=[], cpu_name="x", cpu_count=2, ram_total_gb=8, ram_available_gb=4, backend="cpu")
    assert "- GPU: none (CPU only)" in format_env(environment(cpu))
