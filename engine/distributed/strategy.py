"""Which distributed strategy a config asks for: DDP, DeepSpeed ZeRO (shipped configs z0…z3_offload) or FSDP2.

A strategy is never a key of its own: it follows from LLaMA-Factory's keys `deepspeed` (a JSON file or a
shipped short name) and the Trainer's `fsdp` / `fsdp_config` (a dict, a JSON file, or an accelerate
config file with `distributed_type: FSDP`). No torch here.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from engine.config import ConfigError, Problem, TrainConfig

DEEPSPEED_DIR = Path(__file__).resolve().parent / "deepspeed"
DEEPSPEED_NAMES = ("z0", "z2", "z2_offload", "z3", "z3_offload")


@dataclass(frozen=True)
class Strategy:
    """How the ranks share the work; `name` is what the sizing estimator and the journal use."""

    name: str   # ddp, zero0, zero1, zero2, zero2_offload, zero3, zero3_offload, fsdp, fsdp_offload
    label: str  # e.g. "DeepSpeed ZeRO-3"
    explain: str

    @property
    def shards_params(self) -> bool:
        return self.name.startswith(("zero3", "fsdp"))


STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    Strategy("ddp", "DDP", "every GPU holds the whole model and optimizer; gradients are averaged (fastest)"),
    Strategy("zero0", "DeepSpeed ZeRO-0", "DeepSpeed without sharding: the same memory as DDP"),
    Strategy("zero1", "DeepSpeed ZeRO-1", "optimizer state split over the GPUs"),
    Strategy("zero2", "DeepSpeed ZeRO-2", "optimizer state and gradients split over the GPUs; weights on each"),
    Strategy("zero2_offload", "DeepSpeed ZeRO-2 + CPU offload",
             "as ZeRO-2, with optimizer state in CPU RAM (less GPU memory, slower steps)"),
    Strategy("zero3", "DeepSpeed ZeRO-3", "weights, gradients and optimizer state all split over the GPUs"),
    Strategy("zero3_offload", "DeepSpeed ZeRO-3 + CPU offload",
             "as ZeRO-3, with weights and optimizer state in CPU RAM (least GPU memory, slowest)"),
    Strategy("fsdp", "FSDP2", "PyTorch FSDP2: weights, gradients and optimizer state split over the GPUs"),
    Strategy("fsdp_offload", "FSDP2 + CPU offload", "as FSDP2, with weights and optimizer state in CPU RAM"),
)}
# What `deepspeed:` short names and the Config editor offer, with the key=value that picks each.
CHOICES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("ddp", {"deepspeed": None, "fsdp": None, "fsdp_config": None}),
    ("zero0", {"deepspeed": "z0", "fsdp": None, "fsdp_config": None}),
    ("zero2", {"deepspeed": "z2", "fsdp": None, "fsdp_config": None}),
    ("zero2_offload", {"deepspeed": "z2_offload", "fsdp": None, "fsdp_config": None}),
    ("zero3", {"deepspeed": "z3", "fsdp": None, "fsdp_config": None}),
    ("zero3_offload", {"deepspeed": "z3_offload", "fsdp": None, "fsdp_config": None}),
    ("fsdp", {"deepspeed": None, "fsdp": "full_shard auto_wrap", "fsdp_config": None}),
    ("fsdp_offload", {"deepspeed": None, "fsdp": "full_shard auto_wrap offload", "fsdp_config": None}),
)


def deepspeed_path(value: str) -> Path:
    """The JSON file a `deepspeed:` value names: a shipped short name (z0, z2, z3, z3_offload …) or a path."""
    if value in DEEPSPEED_NAMES:
        return DEEPSPEED_DIR / f"{value}.json"
    return Path(value).expanduser()


def load_deepspeed(value: str) -> dict[str, Any]:
    """The DeepSpeed config as a dict; ConfigError naming `deepspeed` when missing, not JSON or a bad stage."""
    path = deepspeed_path(value)
    if not path.is_file():
        raise ConfigError(Problem(("deepspeed",), f"no file at '{value}'",
                                  f"give a DeepSpeed JSON file, or one of {', '.join(DEEPSPEED_NAMES)}"))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(Problem(("deepspeed",), f"'{value}' is not valid JSON ({str(exc).splitlines()[0]})",
                                  "fix the file, or use a shipped config such as deepspeed: z3")) from None
    if not isinstance(data, dict):
        raise ConfigError(Problem(("deepspeed",), f"'{value}' holds a JSON {type(data).__name__}, not an object",
                                  "use a DeepSpeed config object, or deepspeed: z3"))
    stage = (data.get("zero_optimization") or {}).get("stage", 0)
    if stage not in (0, 1, 2, 3):
        raise ConfigError(Problem(("deepspeed",), f"unknown ZeRO stage {stage!r} in '{value}'",
                                  "set zero_optimization.stage to 0, 1, 2 or 3"))
    return data


def _offloaded(zero: dict[str, Any], key: str) -> bool:
    return str((zero.get(key) or {}).get("device", "none")).lower() in ("cpu", "nvme")


@cache
def _accelerate_fsdp(path: str) -> dict[str, Any]:
    """The `fsdp_config` section of an accelerate config file (as the Trainer's fsdp_config keys)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(Problem(("fsdp_config",), f"cannot read '{path}' ({type(exc).__name__})",
                                  "give a JSON file, or an accelerate config file with distributed_type: FSDP"))
    if not isinstance(data, dict):
        raise ConfigError(Problem(("fsdp_config",), f"'{path}' is not a mapping",
                                  "give a JSON object or an accelerate config file"))
    if "distributed_type" not in data:  # a plain fsdp_config file (JSON is YAML too)
        return data
    if data["distributed_type"] != "FSDP":
        raise ConfigError(Problem(("fsdp_config",), f"'{path}' is an accelerate config for "
                                  f"{data['distributed_type']}, not FSDP", "point at an FSDP accelerate config"))
    section = dict(data.get("fsdp_config") or {})
    if "fsdp_offload_params" in section:
        section["cpu_offload"] = bool(section.pop("fsdp_offload_params"))
    if "fsdp_version" in section:
        section["version"] = section.pop("fsdp_version")
    section["_processes"] = data.get("num_processes")
    section["_machines"] = data.get("num_machines")
    return section


def fsdp_settings(config: TrainConfig) -> dict[str, Any] | None:
    """The Trainer's fsdp_config dict when FSDP is asked for (`fsdp` set, or `fsdp_config` an FSDP file)."""
    raw = config.fsdp_config
    if isinstance(raw, str):
        settings = _accelerate_fsdp(str(Path(raw).expanduser()))
        from_accelerate = "_processes" in settings
    else:
        settings, from_accelerate = dict(raw or {}), False
    if not config.fsdp and not from_accelerate:
        return None
    settings = {k[5:] if k.startswith("fsdp_") and k != "fsdp_version" else k: v for k, v in settings.items()}
    if "fsdp_version" in settings:
        settings["version"] = settings.pop("fsdp_version")
    if isinstance(config.fsdp, str) and "offload" in config.fsdp.split():
        settings["cpu_offload"] = True
    return settings


def strategy_of(config: TrainConfig) -> Strategy:
    """The strategy the config's keys choose (DDP when neither deepspeed nor FSDP is set)."""
    if config.deepspeed:
        zero = load_deepspeed(config.deepspeed).get("zero_optimization") or {}
        stage = zero.get("stage", 0)
        offload = _offloaded(zero, "offload_optimizer") or _offloaded(zero, "offload_param")
        return STRATEGIES[f"zero{stage}" + ("_offload" if offload and stage in (2, 3) else "")]
    if (settings := fsdp_settings(config)) is not None:
        return STRATEGIES["fsdp_offload" if settings.get("cpu_offload") else "fsdp"]
    return STRATEGIES["ddp"]


def strategy_problems(config: TrainConfig) -> list[Problem]:
    """Config-level problems of the strategy keys (files, stages, methods FSDP/ZeRO cannot shard)."""
    try:
        strategy = strategy_of(config)
    except ConfigError as exc:
        return exc.problems
    problems = []
    if config.deepspeed and fsdp_settings(config) is not None:
        problems.append(Problem(("deepspeed", "fsdp"), "DeepSpeed and FSDP are two ways to shard; pick one",
                                "remove deepspeed, or remove fsdp/fsdp_config"))
    if strategy.name.startswith("fsdp"):
        if config.quantization_bit == 8:
            problems.append(Problem(("fsdp", "quantization_bit"), "FSDP cannot shard 8-bit bitsandbytes weights",
                                    "use quantization_bit: 4 (QLoRA with FSDP2), or deepspeed: z2"))
        if config.use_unsloth:
            problems.append(Problem(("fsdp", "use_unsloth"), "unsloth does not run under FSDP",
                                    "set use_unsloth: false, or drop fsdp"))
        if settings := fsdp_settings(config):
            if int(settings.get("version", 2)) != 2:
                problems.append(Problem(("fsdp_config",), "only FSDP2 is run (fsdp_version 1 is deprecated)",
                                        "set fsdp_version: 2"))
    if config.predict_with_generate and strategy.name.startswith(("zero3", "fsdp")):
        key = "deepspeed" if strategy.name.startswith("zero3") else "fsdp"
        problems.append(Problem(("predict_with_generate", key), f"generation needs whole weights, {strategy.name} "
                                "shards them (as in LLaMA-Factory)",
                                "predict in a run of its own without it: do_train: false, adapter_name_or_path: "
                                "the trained run"))
    problems += _optimizer_problems(config, strategy)
    if strategy.name.startswith("zero3") and config.quantization_bit == 8:
        problems.append(Problem(("deepspeed", "quantization_bit"), "ZeRO-3 cannot shard 8-bit bitsandbytes weights",
                                "use quantization_bit: 4, or deepspeed: z2"))
    return problems


def _optimizer_problems(config: TrainConfig, strategy: Strategy) -> list[Problem]:
    """The memory-efficient optimizers each shard one way only (LLaMA-Factory's rules, plus FSDP)."""
    key = "deepspeed" if strategy.name.startswith("zero") else "fsdp"
    sharded = strategy.name.startswith(("zero3", "fsdp"))
    if (config.use_galore or config.use_apollo) and strategy.name.startswith("fsdp"):
        return [Problem(("use_galore" if config.use_galore else "use_apollo", "fsdp"),
                        "GaLore and APOLLO project whole weight matrices; FSDP shards them", "remove fsdp")]
    if config.use_badam and config.badam_mode == "layer" and strategy.name != "ddp" and not (
            strategy.name.startswith("zero3")):
        return [Problem(("use_badam", key), f"layer-wise BAdam runs distributed with DeepSpeed ZeRO-3 only, "
                        f"not {strategy.name}", "set deepspeed: z3, or train on one GPU")]
    if config.use_badam and config.badam_mode == "ratio" and strategy.name.startswith("fsdp"):  # deepspeed: rules
        return [Problem(("badam_mode", key), "ratio-wise BAdam does not run distributed",
                        "set badam_mode: layer (with deepspeed: z3)")]
    if config.use_muon and sharded:
        return [Problem(("use_muon", key), f"Muon orthogonalises whole weight matrices; {strategy.name} shards "
                        "them", "use deepspeed: z2, or Adam-mini (use_adam_mini) which shards")]
    return []


def device_problem(strategy: Strategy, device: str) -> Problem | None:
    """DeepSpeed ZeRO and FSDP2 (through accelerate) shard across CUDA GPUs only; on CPU ranks accelerate would
    quietly fall back to DDP, so they are refused instead."""
    if device == "cuda" or strategy.name == "ddp":
        return None
    if strategy.name.startswith("zero"):
        return Problem(("deepspeed",), "DeepSpeed ZeRO needs CUDA GPUs and none is used here",
                       "remove deepspeed to train with DDP, or run on a GPU machine")
    return Problem(("fsdp",), "FSDP2 (through accelerate) shards across CUDA GPUs only and none is used here",
                   "remove fsdp/fsdp_config to train the CPU ranks with DDP, or run on a GPU machine")


def deepspeed_missing() -> bool:
    """True when a DeepSpeed config is asked for but the package is not installed."""
    return importlib.util.find_spec("deepspeed") is None


def require_deepspeed(config: TrainConfig) -> None:
    """One-line error when `deepspeed` is set and DeepSpeed is not installed."""
    if config.deepspeed and deepspeed_missing():
        raise ConfigError(Problem(("deepspeed",), "DeepSpeed is not installed",
                                  "pip install 'lmf-tui[deepspeed]' (or pip install deepspeed), or remove deepspeed"))
