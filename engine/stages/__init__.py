"""Training stages: each module turns the config, tokenizer and data into a ready Trainer.

A stage is a module that satisfies `StageModule` (two functions); `stage_module` says which module runs
each `stage:` value, by explicit imports (loaded on first use: they import TRL). The run itself (lock,
journal, resume, saving) is engine.train.run's. A new stage: a module with these two functions, a `case`
below, and its name in the schema's `Stage`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from transformers import Trainer, TrainingArguments

    from ..config.schema import Stage, TrainConfig
    from ..data import DataBundle


class StageModule(Protocol):
    """What engine.train.run needs of a stage."""

    def load_data(self, config: TrainConfig, tokenizer: Any) -> DataBundle:
        """The tokenized train (and eval) sets with their report and chat template."""

    def build_trainer(self, config: TrainConfig, tokenizer: Any, data: DataBundle,
                      args: TrainingArguments) -> Trainer:
        """A Trainer ready to `train()`: the model loaded and made trainable, the data and collator set."""


def stage_module(stage: Stage) -> StageModule:
    """The module that runs `stage` (pt and sft share one)."""
    match stage:
        case "pt" | "sft":
            from . import sft as module
        case "rm":
            from . import rm as module
        case "dpo":
            from . import dpo as module
        case "kto":
            from . import kto as module
        case "ppo":
            from . import ppo as module
        case "grpo":
            from . import grpo as module
        case _:
            raise ValueError(f"stage: no stage module for {stage!r}")
    return module
