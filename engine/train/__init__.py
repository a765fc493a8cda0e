"""Training: `run_training(config)` runs a whole pt/sft run and writes its journal."""

from .run import run_training

__all__ = ["run_training"]
