"""stage: ppo and grpo — online RL runs end to end on a tiny Llama, events carry its metrics, stop and resume."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from engine.config import ConfigError
from engine.events import read_events
from engine.train import run_training
from tests.stage_data import assert_resumed, stage_config, stop_then_resume


def base(model_dir: Path, data_dir: Path, out: Path, **over):
    return stage_config(model_dir, data_dir, out, **{"per_device_train_batch_size": 4, "learning_rate": 1e-3,
                                                     "max_new_tokens": 12, "temperature": 1.0, "top_p": 1.0,
                                                     "top_k": 0, **over})


@pytest.fixture(scope="module")
def reward_models(tiny_model_dir, stage_data, tmp_path_factory) -> dict[str, Path]:
    """A LoRA and a full reward model trained on the separable pairs."""
    out = {}
    for method in ("lora", "full"):
        path = tmp_path_factory.mktemp(f"rm-{method}")
        run_training(base(tiny_model_dir, stage_data, path, stage="rm", dataset="tiny_pairs", finetuning_type=method,
                          per_device_train_batch_size=8, max_steps=8, learning_rate=5e-3 if method == "lora" else 5e-4))
        out[method] = path
    return out


def steps(out: Path) -> list[dict]:
    return [e for e in read_events(out) if e["type"] == "step"]


def test_gae_by_hand():
    from engine.stages.ppo import gae

    advantages, returns = gae(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.5, 0.2]]), torch.tensor([[1, 1]]))
    assert torch.allclose(advantages, torch.tensor([[-0.3 + 0.95 * 0.8, 0.8]]))
    assert torch.allclose(returns, torch.tensor([[0.96, 1.0]]))
    advantages, _ = gae(torch.tensor([[2.0, 5.0]]), torch.tensor([[0.5, 0.2]]), torch.tensor([[1, 0]]))
    assert torch.allclose(advantages, torch.tensor([[1.5, 0.0]]))  # nothing after the answer's end counts


def test_ppo_lora_reports_metrics_and_resumes(tiny_model_dir, stage_data, reward_models, tmp_path):
    out = tmp_path / "ppo"
    config = base(tiny_model_dir, stage_data, out, stage="ppo", dataset="tiny_prompts", max_steps=6, save_steps=2,
                  reward_model=str(reward_models["lora"]), reward_model_type="lora", ppo_epochs=2, ppo_buffer_size=2)
    first, second = stop_then_resume(config, at_step=3)
    assert_resumed(out, first, second)
    log = steps(out)
    for key in ("ppo/reward", "ppo/kl", "ppo/value_loss", "ppo/policy_loss", "ppo/clipfrac", "ppo/answer_len"):
        assert all(math.isfinite(e[key]) for e in log), key
    assert log[0]["ppo/kl"] == 0.0  # the LoRA starts at zero: the policy is still its reference, the base
    assert (out / "adapter_model.safetensors").exists() and (out / "value_head.safetensors").exists()
    assert not (out / "reward").exists()  # the reward adapter rode along on the policy but is not saved with it


def test_lora_reward_adapter_on_the_policy_scores_like_the_standalone_model(tiny_model_dir, stage_data,
                                                                            reward_models, tmp_path):
    from engine.models import apply_method, load_model, load_tokenizer
    from engine.stages.ppo import AdapterReward, reward_scorer
    from engine.stages.rm import load_reward_model, score

    config = base(tiny_model_dir, stage_data, tmp_path, stage="ppo", dataset="tiny_prompts",
                  reward_model=str(reward_models["lora"]), reward_model_type="lora")
    tokenizer = load_tokenizer(config)
    policy = apply_method(load_model(config, for_training=True), config)
    shared = reward_scorer(config, policy, tokenizer.pad_token_id)
    assert isinstance(shared, AdapterReward)
    batch = tokenizer(["<|im_start|>user\nWho are you?<|im_end|>\n<|im_start|>assistant\nLumen.<|im_end|>\n",
                       "Paris is the capital of France."], return_tensors="pt", padding=True)
    expected = score(load_reward_model(config), batch["input_ids"], batch["attention_mask"])
    assert torch.allclose(score(shared, batch["input_ids"], batch["attention_mask"]), expected, atol=1e-4)
    assert policy.active_adapter == "default"
    assert all(not p.requires_grad for n, p in policy.named_parameters() if ".reward." in n)


def test_ppo_full_with_full_reward_model(tiny_model_dir, stage_data, reward_models, tmp_path):
    out = tmp_path / "ppo-full"
    done = run_training(base(tiny_model_dir, stage_data, out, stage="ppo", dataset="tiny_prompts",
                             finetuning_type="full", learning_rate=1e-4, max_steps=2,
                             reward_model=str(reward_models["full"]), reward_model_type="full",
                             ppo_score_norm=True, ppo_whiten_rewards=True, disable_gradient_checkpointing=False))
    assert done["status"] == "done" and read_events(out)[0]["plan"]["gradient_checkpointing"]
    log = steps(out)
    assert log[0]["ppo/kl"] == pytest.approx(0.0, abs=1e-4)  # the reference is a frozen copy of the base
    assert all(math.isfinite(e["ppo/value_loss"]) and math.isfinite(e["ppo/reward"]) for e in log)
    assert (out / "model.safetensors").exists()


REWARDS = '''
def says_lumen(prompts, completions, **columns):
    return [1.0 if "Lumen" in c else -0.01 * len(c) for c in completions]
'''


def test_grpo_with_python_reward_resumes(tiny_model_dir, stage_data, tmp_path):
    (tmp_path / "my_rewards.py").write_text(REWARDS)
    out = tmp_path / "grpo"
    config = base(tiny_model_dir, stage_data, out, stage="grpo", dataset="tiny_prompts", max_steps=6, save_steps=2,
                  reward_funcs=f"{tmp_path / 'my_rewards.py'}:says_lumen", num_generations=4)
    first, second = stop_then_resume(config, at_step=3)
    assert_resumed(out, first, second)
    log = steps(out)
    assert all("rewards/says_lumen/mean" in e and math.isfinite(e["reward"]) for e in log)


def test_grpo_with_reward_model(tiny_model_dir, stage_data, reward_models, tmp_path):
    out = tmp_path / "grpo-rm"
    done = run_training(base(tiny_model_dir, stage_data, out, stage="grpo", dataset="tiny_prompts", max_steps=2,
                             reward_model=str(reward_models["lora"]), reward_model_type="lora", num_generations=2))
    assert done["status"] == "done"
    assert all(math.isfinite(e["reward"]) for e in steps(out))


def test_bad_reward_function_is_one_line(tiny_model_dir, stage_data, tmp_path):
    with pytest.raises(ConfigError, match="reward_funcs"):
        run_training(base(tiny_model_dir, stage_data, tmp_path / "bad", stage="grpo", dataset="tiny_prompts",
                          max_steps=1, reward_funcs="no_such_module_xyz:f"))


def test_grpo_planned_steps_count_every_generation(tiny_model_dir, stage_data, tmp_path):
    from engine.train.run import _planned_steps

    config = base(tiny_model_dir, stage_data, tmp_path, stage="grpo", dataset="tiny_prompts", reward_funcs="m:f",
                  num_generations=4, max_steps=-1, num_train_epochs=1.0)
    assert _planned_steps(config, list(range(8))) == 8  # 8 prompts x 4 answers in batches of 4
