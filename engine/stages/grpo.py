"""stage: grpo — TRL's GRPOTrainer: `num_generations` answers per prompt, rewarded by the reward model
and/or Python functions (`reward_funcs: module:function`), advantages relative to the prompt's group."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any, Callable

from transformers import Trainer, TrainingArguments
from trl import GRPOConfig, GRPOTrainer

from ..config import ConfigError, TrainConfig
from ..data import DataBundle
from ..models import apply_method, load_model
from .common import load_data as load_prompts
from .common import trl_args
from .rm import load_reward_model


def load_data(config: TrainConfig, tokenizer: Any) -> DataBundle:
    """Prompts as text rendered with the chat template up to the answer (GRPOTrainer tokenizes them)."""
    data = load_prompts(config, tokenizer)
    data.train = data.train.remove_columns("prompt_ids")
    return data


def reward_function(spec: str) -> Callable[..., list[float]]:
    """`module:function` (or `path/to/file.py:function`): f(prompts, completions, **columns) -> list of floats."""
    module_name, _, name = spec.strip().rpartition(":")
    try:
        if module_name.endswith(".py"):
            location = importlib.util.spec_from_file_location(Path(module_name).stem, module_name)
            if location is None or location.loader is None:
                raise ImportError(f"no such file {module_name}")
            module = importlib.util.module_from_spec(location)
            location.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
        fn = getattr(module, name)
    except (ImportError, AttributeError, OSError, SyntaxError) as exc:
        raise ConfigError(f"reward_funcs: cannot load '{spec}' ({type(exc).__name__}: {exc}) — "
                          "give module:function importable from here, or path/to/file.py:function") from None
    if not callable(fn):
        raise ConfigError(f"reward_funcs: '{spec}' is not a function — name a function in that module")
    return fn


def build_trainer(config: TrainConfig, tokenizer: Any, data: DataBundle, args: TrainingArguments) -> Trainer:
    """GRPOTrainer on the policy with the configured rewards; sampling from the generation keys."""
    model = apply_method(load_model(config, for_training=True), config)
    rewards: list[Any] = [reward_function(s) for s in (config.reward_funcs or "").split(",") if s.strip()]
    processors: list[Any] = [None] * len(rewards)
    if config.reward_model:
        rewards.append(load_reward_model(config))
        processors.append(tokenizer)
    grpo_args = trl_args(GRPOConfig, args, num_generations=config.num_generations,
                         max_completion_length=config.max_new_tokens, temperature=config.temperature,
                         top_p=config.top_p, top_k=config.top_k, disable_dropout=True, shuffle_dataset=True)
    return GRPOTrainer(model=model, reward_funcs=rewards, args=grpo_args, train_dataset=data.train,
                       eval_dataset=data.eval, processing_class=tokenizer, reward_processing_classes=processors)
