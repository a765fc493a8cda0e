"""Merging adapters: the merged model computes what base + adapter computes; files are written atomically."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from engine.config import parse_config
from engine.export.merge import load_merged, save_merged
from engine.models import load_model
from tests.tiny import build_adapter, build_chat_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-merge")
    base = build_chat_model(root / "base")
    return {"root": root, "base": base, "lora": build_adapter(base, root / "lora"),
            "dora": build_adapter(base, root / "dora", use_dora=True)}


@pytest.mark.parametrize("adapter", ["lora", "dora"])
def test_merged_model_matches_base_plus_adapter(tiny, adapter, tmp_path):
    from transformers import AutoModelForCausalLM

    config = parse_config({"model_name_or_path": str(tiny["base"]), "adapter_name_or_path": str(tiny[adapter]),
                           "template": "chatml", "export_dir": str(tmp_path / "merged")}, "export")
    ids = torch.tensor([[5, 40, 80, 120, 300, 12, 7]])
    with torch.no_grad():
        expected = load_model(config, for_training=False)(input_ids=ids).logits
        base = load_model(config.model_copy(update={"adapter_name_or_path": None}), for_training=False)
        assert not torch.allclose(base(input_ids=ids).logits, expected, atol=1e-3), "the adapter changes nothing"
    model, tokenizer, template = load_merged(config)
    save_merged(model, tokenizer, template, tmp_path / "merged", shard_gb=1)
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged", dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(merged(input_ids=ids).logits, expected, atol=1e-4, rtol=1e-4)
    assert not any(p.name.startswith(".merge-") for p in (tmp_path / "merged").iterdir())
    assert "<|im_start|>" in (tmp_path / "merged" / "chat_template.jinja").read_text()
    assert not any("lora" in name for name in merged.state_dict())


def test_quantization_bit_is_merged_in_16_bit(tiny, tmp_path):
    from engine.export.merge import export_config

    config = parse_config({"model_name_or_path": str(tiny["base"]), "adapter_name_or_path": str(tiny["lora"]),
                           "quantization_bit": 4, "bf16": True, "export_dir": str(tmp_path)}, "export")
    loaded = export_config(config)
    assert loaded.quantization_bit is None and loaded.bf16
    model, _, _ = load_merged(config)
    assert model.dtype == torch.bfloat16
    assert getattr(model.config, "quantization_config", None) is None


def test_export_command_reports_json_progress(tiny, tmp_path):
    (tmp_path / "export.yaml").write_text(
        f"model_name_or_path: {tiny['base']}\nadapter_name_or_path: {tiny['lora']}\ntemplate: chatml\n"
        f"finetuning_type: lora\nexport_dir: {tmp_path / 'out'}\nexport_size: 1\n")
    result = subprocess.run([sys.executable, "-m", "lmftui.cli", "export", str(tmp_path / "export.yaml"),
                             "--progress-jsonl"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["type"], r.get("step")) for r in records] == [
        ("plan", None), ("start", "merge"), ("done", "merge"), ("finished", None)]
    assert records[-1]["ok"] and any(f.endswith("model.safetensors") for f in records[-1]["files"])
    assert (tmp_path / "out" / "tokenizer.json").exists()


def test_export_command_bad_config_is_one_line(tmp_path):
    (tmp_path / "export.yaml").write_text("model_name_or_path: x\nexport_gguf: [q9]\nexport_dir: out\n")
    result = subprocess.run([sys.executable, "-m", "lmftui.cli", "export", str(tmp_path / "export.yaml")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "export_gguf: unknown type 'q9'" in result.stderr


KILL_IN_SAVE = """
import os
import transformers

_save = transformers.PreTrainedModel.save_pretrained


def _killing_save(self, path, *args, **kwargs):
    _save(self, path, *args, **kwargs)
    os.kill(os.getpid(), 9)  # the weights are written to the temp folder, none yet moved in


transformers.PreTrainedModel.save_pretrained = _killing_save
"""


def test_an_export_killed_midway_leaves_the_folder_as_before(tiny, tmp_path):
    import os

    out = tmp_path / "merged"
    config = tmp_path / "export.yaml"
    config.write_text(json.dumps({"model_name_or_path": str(tiny["base"]), "template": "chatml",
                                  "adapter_name_or_path": str(tiny["lora"]), "export_dir": str(out)}))
    cmd = [sys.executable, "-m", "engine", "export", str(config)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(KILL_IN_SAVE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    killed = subprocess.run(cmd, capture_output=True, timeout=300, env=env)
    assert killed.returncode == -9
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # as before the kill

    subprocess.run(cmd, check=True, capture_output=True, timeout=300)  # the next export cleans up after it
    assert not any(p.name.startswith(".") for p in out.iterdir())
