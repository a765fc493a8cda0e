"""`lmf-tui train CONFIG [key=value ...]`: validate, plan (--dry-run), run here or detached."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.config import ConfigError, TrainConfig, check_config, field_groups, load_config
from engine.errors import explain
from engine.rundir import CONSOLE_FILE

from .common import fail, print_plan


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train from a LLaMA-Factory style YAML (or a preset name)",
        description="Train from a LLaMA-Factory style YAML file or a preset name, with key=value overrides.",
        epilog="example: lmf-tui train demo learning_rate=2e-4 max_steps=20 --detach. Several GPUs or nodes take "
               "LLaMA-Factory's FORCE_TORCHRUN, NPROC_PER_NODE, NNODES, NODE_RANK, MASTER_ADDR and MASTER_PORT, e.g. "
               "FORCE_TORCHRUN=1 NPROC_PER_NODE=2 lmf-tui train my.yaml deepspeed=z3; --dry-run prints the torchrun "
               "command and the per-GPU memory of the strategy.",
    )
    p.add_argument("config", nargs="?", help="YAML file, or a preset name (see `lmf-tui train --list-presets`)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys, typed by the schema")
    p.add_argument("--dry-run", action="store_true", help="validate and print the plan; load no weights")
    p.add_argument("--detach", action="store_true", help="run in the background; print the run directory")
    p.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    p.add_argument("--help-keys", action="store_true", help="list every config key with its help and exit")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="show library warnings and progress bars here (else they go to the run's console.log)")


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
    from engine.quiet import quiet_libraries, skip_unused_libraries

    config = None
    try:
        config = resolve_config(args.config, args.overrides)
        if not (config.use_galore or config.use_apollo):  # their packages import bitsandbytes
            skip_unused_libraries(config.quantization_bit, config.optim)
        if args.dry_run:
            print_plan(config)
            return _print_launch(config, args)
        if problems := check_config(config, "train"):  # refused before anything is written in output_dir
            raise ConfigError(problems)
        plan = _launch_plan(config)  # bad launch switches fail here, before a run starts or detaches
        if args.detach:
            from engine.detach import start_detached

            print(start_detached(config))
            return 0
        if plan is not None:
            from engine.distributed.launcher import run_launch
            from engine.rundir import RunLock

            run_dir = Path(config.output_dir).resolve()
            if plan.node_rank == 0:  # a folder another run writes is refused before any rank starts
                RunLock(run_dir).acquire().release()
            return run_launch(plan, _rank_argv(args), run_dir, echo=lambda line: print(line, flush=True))
        console_log = Path(config.output_dir).resolve() / CONSOLE_FILE if config.output_dir else None
        with quiet_libraries(console_log, verbose=getattr(args, "verbose", False)):
            from engine.train import run_training

            done = run_training(config, echo=lambda line: print(line, flush=True))
        return 0 if done["status"] in ("done", "stopped") else 1
    except Exception as exc:
        trace = Path(config.output_dir or ".") / "error.log" if config is not None else None
        if explain(exc) is None and trace is not None and trace.exists():
            first = (str(exc).splitlines() or [""])[0]
            return fail(f"{type(exc).__name__}: {first} (traceback in {trace})", code=1)
        raise  # engine.commands.run_command reports it in one line


def _launch_plan(config: TrainConfig):
    """torchrun's plan for this node (LLaMA-Factory's FORCE_TORCHRUN, NNODES, … switches), None for one process."""
    from engine.distributed import plan_launch
    from engine.hardware import detect_hardware

    return plan_launch(config, len(detect_hardware().gpus))


def _rank_argv(args: argparse.Namespace) -> list[str]:
    return ["train", args.config, *args.overrides]


def _print_launch(config: TrainConfig, args: argparse.Namespace) -> int:
    """The dry run's launch lines: the command each node runs and the per-GPU estimate for its strategy."""
    from engine.distributed import strategy_of
    from engine.distributed.launch import show_command

    plan = _launch_plan(config)
    strategy = plan.strategy if plan else strategy_of(config)
    device = plan.device if plan else ("cpu" if config.use_cpu else None)
    world = plan.world_size if plan else 1
    lines = [f"launch          {plan.summary() if plan else 'one process'}"]
    if plan:
        lines.append(f"command         {show_command(plan, _rank_argv(args))}")
    lines.append(f"memory          {_estimate_line(config, world, device, strategy.name)}")
    print("\n".join(lines))
    return 0


def _estimate_line(config: TrainConfig, world: int, device: str | None, strategy: str) -> str:
    try:
        from engine.hardware import detect_hardware
        from engine.sizing import estimate_memory, read_model_shape

        shape = read_model_shape(config.model_name_or_path, config.gguf_file)
        if device is None:
            device = "cuda" if detect_hardware().gpus else "cpu"
        est = estimate_memory(config, shape, gpus=world, device=device, strategy=strategy)
    except Exception as exc:  # the plan prints without the estimate
        return f"unknown ({type(exc).__name__})"
    if est.device == "cpu":
        return f"{est.peak_gb:.1f} GB of CPU RAM per rank" + (f", {world} ranks" if world > 1 else "")
    return f"{est.peak_gb:.1f} GB per GPU with {est.strategy_label}" + (
        f" on {est.gpus} GPUs ({est.total_gb:.1f} GB in all)" if est.gpus > 1 else "") + (
        f", {est.offloaded_gb:.1f} GB offloaded to CPU RAM" if est.offloaded_gb else "")


def _print_keys() -> int:
    for group, names in field_groups().items():
        if not names:
            continue
        print(f"\n{group}")
        for name in names:
            info = TrainConfig.model_fields[name]
            print(f"  {name:<32} {info.description} [default: {info.default!r}]")
    from engine.config.io import IGNORED

    print("\nAccepted, no effect (LLaMA-Factory keys lmf-tui reads but does not act on; a run warns of them)")
    for name in sorted(IGNORED):
        print(f"  {name}")
    sys.stdout.flush()
    return 0
