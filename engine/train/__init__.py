"""Training: `run_training(config)` runs a whole run of any stage and writes its journal."""

from .run import run_training

__all__ = ["run_training"]
