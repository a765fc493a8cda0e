"""Several processes for one run: the launch plan (torchrun with LLaMA-Factory's switches), the strategy
(DDP, DeepSpeed ZeRO, FSDP2) and the launcher that watches the ranks. Importing this package loads no torch."""

from .launch import LaunchPlan, env_enabled, plan_launch, under_launcher
from .strategy import STRATEGIES, Strategy, deepspeed_path, load_deepspeed, strategy_of

__all__ = ["LaunchPlan", "STRATEGIES", "Strategy", "deepspeed_path", "env_enabled", "load_deepspeed", "plan_launch",
           "strategy_of", "under_launcher"]
