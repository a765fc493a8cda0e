"""`lmf-tui train CONFIG [key=value ...]`: validate, plan (--dry-run), run here or detached."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine.config import TrainConfig, field_groups, load_config
from engine.errors import explain

from .common import fail, print_plan


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train from a LLaMA-Factory style YAML (or a preset name)",
        description="Train from a LLaMA-Factory style YAML file or a preset name, with key=value overrides.",
        epilog="example: lmf-tui train demo learning_rate=2e-4 max_steps=20 --detach",
    )
    p.add_argument("config", nargs="?", help="YAML file, or a preset name (see `lmf-tui train --list-presets`)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys, typed by the schema")
    p.add_argument("--dry-run", action="store_true", help="validate and print the plan; load no weights")
    p.add_argument("--detach", action="store_true", help="run in the background; print the run directory")
    p.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    p.add_argument("--help-keys", action="store_true", help="list every config key with its help and exit")


def resolve_config(name: str, overrides: list[str]) -> TrainConfig:
    """A YAML path or a preset name, with overrides applied."""
    if Path(name).exists() or name.endswith((".yaml", ".yml")):
        return load_config(name, overrides)
    from engine.presets import get_preset

    return get_preset(name).load(overrides)


def run(args: argparse.Namespace) -> int:
    if args.help_keys:
        return _print_keys()
    if args.list_presets:
        from engine.presets import list_presets

        for preset in list_presets():
            print(f"{preset.name:<22} {preset.title} — {preset.description}")
        return 0
    if not args.config:
        return fail("train: name a config file or a preset — e.g. `lmf-tui train demo`")
    config = None
    try:
        config = resolve_config(args.config, args.overrides)
        if args.dry_run:
            return print_plan(config)
        if args.detach:
            from engine.detach import start_detached

            print(start_detached(config))
            return 0
        if (launch := _multi_gpu_launch(config, args)) is not None:
            os.execvp(launch[0], launch)
        from engine.train import run_training

        done = run_training(config, echo=lambda line: print(line, flush=True))
        return 0 if done["status"] in ("done", "stopped") else 1
    except Exception as exc:
        trace = Path(config.output_dir or ".") / "error.log" if config is not None else None
        if explain(exc) is None and trace is not None and trace.exists():
            first = (str(exc).splitlines() or [""])[0]
            return fail(f"{type(exc).__name__}: {first} (traceback in {trace})", code=1)
        raise  # engine.commands.run_command reports it in one line


def _multi_gpu_launch(config: TrainConfig, args: argparse.Namespace) -> list[str] | None:
    """torchrun with one process per visible GPU, when there are several and no launcher started us."""
    from engine.hardware import detect_hardware
    from engine.train.distributed import torchrun_command, under_launcher

    if under_launcher() or config.use_cpu or os.environ.get("LMF_TUI_SINGLE_PROCESS"):
        return None
    gpus = len(detect_hardware().gpus)
    return torchrun_command(["train", args.config, *args.overrides], gpus) if gpus > 1 else None


def _print_keys() -> int:
    for group, names in field_groups().items():
        if not names:
            continue
        print(f"\n{group}")
        for name in names:
            info = TrainConfig.model_fields[name]
            print(f"  {name:<32} {info.description} [default: {info.default!r}]")
    sys.stdout.flush()
    return 0
