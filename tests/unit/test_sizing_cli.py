"""`lmf-tui suggest`: one exact JSON object, a readable table, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lmftui.cli import main

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "models"
ROOT = Path(__file__).resolve().parents[2]


def test_suggest_json_is_exactly_the_documented_object(capsys):
    assert main(["suggest", str(MODELS / "qwen2.5-14b"), "--vram", "24", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"model", "params_b", "hardware", "methods"} and data["params_b"] == 14.77
    assert data["hardware"]["memory_gb"] == 24 and data["hardware"]["gpus"] == 1
    for m in data["methods"]:
        assert set(m) == {"method", "bits", "peak_gb", "fits", "gpus", "breakdown", "strategy", "keys"}
        assert m["method"] in {"qlora", "lora", "full", "freeze", "oft", "full + GaLore", "full + BAdam"}
        assert m["bits"] in {4, 8, 16, 32}
        assert isinstance(m["peak_gb"], float) and isinstance(m["fits"], bool) and m["gpus"] == 1
        assert all(isinstance(v, float) for v in m["breakdown"].values())
    fits = {(m["method"], m["bits"]): m["fits"] for m in data["methods"]}
    assert fits[("qlora", 4)] and not fits[("lora", 16)]


def test_suggest_options_change_the_estimate(capsys):
    main(["suggest", str(MODELS / "llama-3-8b" / "config.json"), "--vram", "24", "--gpus", "2", "--batch", "4",
          "--cutoff-len", "1024", "--json"])
    data = json.loads(capsys.readouterr().out)
    full16 = next(m for m in data["methods"] if (m["method"], m["bits"]) == ("full", 16))
    assert data["hardware"]["gpus"] == 2 and full16["gpus"] == 2 and "zero3_gather" in full16["breakdown"]
    lora = next(m for m in data["methods"] if m["method"] == "lora")
    main(["suggest", str(MODELS / "llama-3-8b"), "--vram", "24", "--json"])
    small = next(m for m in json.loads(capsys.readouterr().out)["methods"] if m["method"] == "lora")
    assert lora["breakdown"]["activations"] == pytest.approx(8 * small["breakdown"]["activations"], abs=0.01)


def test_suggest_table_names_the_reference_hardware(capsys):
    assert main(["suggest", str(MODELS / "llama-3-8b"), "--vram", "8"]) == 0
    out = capsys.readouterr().out
    assert "qlora" in out and "6 GB (1x RTX 4090)" in out and "best fit: qlora 4-bit" in out


def test_suggest_without_gpu_compares_against_ram():
    """In a subprocess with no NVML and no nvidia-smi: the CPU-only answer says so."""
    code = ("import sys; sys.modules['pynvml'] = None; from lmftui.cli import main; "
            f"sys.exit(main(['suggest', {str(MODELS / 'llama-3-8b')!r}, '--json']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PATH": "/nonexistent", "HF_HUB_OFFLINE": "1"})
    data = json.loads(out.stdout)
    assert data["hardware"]["compared_to"] == "ram" and "RAM" in data["hardware"]["note"]
    assert data["hardware"]["summary"].startswith("CPU only:")
    assert all(m["bits"] in (4, 8, 32) for m in data["methods"])
    code = code.replace("'--json'", "'--batch', '2'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PATH": "/nonexistent", "HF_HUB_OFFLINE": "1", "COLUMNS": "120"})
    assert "CPU only:" in out.stdout and "compared against the available RAM" in out.stdout


@pytest.mark.parametrize("argv, message", [
    (["suggest", "/no/such/model"], "model_name_or_path: '/no/such/model' is neither"),
    (["suggest", "x.gguf"], "GGUF file 'x.gguf' does not exist"),
    (["suggest", str(MODELS / "llama-3-8b"), "--vram", "0"], "--vram must be positive"),
])
def test_suggest_errors_are_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
