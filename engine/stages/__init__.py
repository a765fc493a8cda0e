"""Training stages: each module turns the config, tokenizer and data into a ready Trainer.

`stage_module(stage)` picks the module; the run itself (lock, journal, resume, saving) is engine.train.run's.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

MODULES = {"pt": "sft", "sft": "sft", "rm": "rm", "dpo": "dpo", "kto": "kto", "ppo": "ppo", "grpo": "grpo"}


def stage_module(stage: str) -> ModuleType:
    """The module with `load_data(config, tokenizer)` and `build_trainer(config, tokenizer, data, args)`."""
    return import_module(f".{MODULES[stage]}", __name__)
