"""LLaMA Pro: `lmf-tui expand` adds copied blocks with zeroed output projections (same outputs as the original),
and use_llama_pro trains only the added blocks."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from engine.config import ConfigError
from engine.train import run_training
from lmftui.cli import main
from tests.functional.test_train import losses, tiny_config


@pytest.fixture(scope="module")
def expanded_dir(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("pro") / "expanded"
    assert main(["expand", str(tiny_model_dir), str(out), "--num-expand", "2"]) == 0
    return out


def test_expanded_model_has_the_planned_layers_and_same_outputs(tiny_model_dir, expanded_dir):
    original = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    expanded = AutoModelForCausalLM.from_pretrained(expanded_dir).eval()
    assert expanded.config.num_hidden_layers == 4 == 2 * original.config.num_hidden_layers
    state = expanded.state_dict()
    for added in (1, 3):  # a copy of the block before it, its output projections zero
        assert not state[f"model.layers.{added}.self_attn.o_proj.weight"].any()
        assert not state[f"model.layers.{added}.mlp.down_proj.weight"].any()
        assert torch.equal(state[f"model.layers.{added}.self_attn.q_proj.weight"],
                           state[f"model.layers.{added - 1}.self_attn.q_proj.weight"])
    ids = torch.tensor([[5, 17, 42, 99, 3, 250, 7]])
    with torch.no_grad():
        assert torch.allclose(original(ids).logits, expanded(ids).logits, atol=1e-5)
    assert (expanded_dir / "tokenizer_config.json").exists()


def test_freeze_llama_pro_changes_only_the_added_blocks(expanded_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "run"
    done = run_training(tiny_config(expanded_dir, tiny_data_dir, out, finetuning_type="freeze", use_llama_pro=True,
                                    freeze_trainable_layers=2, max_steps=6, learning_rate=1e-2, logging_steps=1))
    assert done["status"] == "done" and losses(out)[-1] < losses(out)[0]
    before, after = load_file(expanded_dir / "model.safetensors"), load_file(out / "model.safetensors")
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all(".layers.1." in n or ".layers.3." in n for n in changed), sorted(changed)
    assert any(".layers.1." in n for n in changed) and any(".layers.3." in n for n in changed)


def test_lora_llama_pro_adapts_only_the_added_blocks(expanded_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "lora"
    run_training(tiny_config(expanded_dir, tiny_data_dir, out, use_llama_pro=True, freeze_trainable_layers=2,
                             max_steps=2))
    keys = load_file(out / "adapter_model.safetensors").keys()
    assert keys and all(".layers.1." in k or ".layers.3." in k for k in keys), sorted(keys)


def test_block_count_must_split_before_weights_load(expanded_dir, tiny_data_dir, tmp_path):
    with pytest.raises(ConfigError) as exc:
        run_training(tiny_config(expanded_dir, tiny_data_dir, tmp_path / "bad", finetuning_type="freeze",
                                 use_llama_pro=True, freeze_trainable_layers=3))
    assert "\n" not in str(exc.value) and str(exc.value).startswith("freeze_trainable_layers:")
