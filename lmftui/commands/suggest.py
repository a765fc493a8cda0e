"""`lmf-tui suggest MODEL`: estimated peak memory of each fine-tuning method and whether it fits here."""

from __future__ import annotations

import argparse
import json

from engine.config import ConfigError
from engine.sizing import MethodFit, Suggestion, reference_row, suggest
from engine.commands.common import fail


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("suggest", help="which fine-tuning methods fit this GPU (or --vram) for a model")
    p.add_argument("model", metavar="MODEL", help="hub id, local folder, config.json, .gguf or embedded:NAME")
    p.add_argument("--vram", type=float, metavar="GB", help="GPU memory per GPU (default: the detected GPUs)")
    p.add_argument("--gpus", type=int, metavar="N", help="number of GPUs (default: detected, or 1 with --vram)")
    p.add_argument("--batch", type=int, default=1, metavar="B", help="per-device batch size (default 1)")
    p.add_argument("--cutoff-len", type=int, default=512, metavar="L", help="tokens per example (default 512)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def render(result: Suggestion) -> None:
    """A rich table: one row per method, with the reference table's minimum beside the estimate."""
    from rich.console import Console
    from rich.table import Table

    hw = result.hardware
    where = (f"{hw['gpus']}x {hw['memory_gb']:.1f} GB GPU" if hw["compared_to"] == "vram"
             else f"{hw['memory_gb']:.1f} GB RAM")
    table = Table(title=f"{result.model} · {result.params_b:.2f}B params · against {where}")
    sharded = any(_strategy(m) for m in result.methods)  # the strategy column only when a row needs several GPUs
    columns = ("method", "bits", "peak GB/device", "GPUs", *(("strategy",) if sharded else ()), "fits",
               "reference table")
    for column in columns:
        table.add_column(column, justify="right" if column in ("bits", "peak GB/device", "GPUs") else "left")
    for m in result.methods:
        ref = reference_row(result.params_b, m.method, m.bits)
        table.add_row(m.method, str(m.bits), f"{m.peak_gb:.1f}", str(m.gpus), *((_strategy(m),) if sharded else ()),
                      "[green]yes[/]" if m.fits else "[red]no[/]",
                      f"{ref['min_vram_gb']} GB ({ref['hardware']})" if ref else "")
    console = Console()
    console.print(table)
    for line in (hw.get("summary"), hw.get("note")):
        if line:
            console.print(line)
    best = result.best()
    console.print(f"best fit: {best.method} {best.bits}-bit on {best.how}: {best.peak_gb:.1f} GB per GPU" if best
                  else "nothing fits: try --gpus or a smaller model")


def _strategy(m: MethodFit) -> str:
    from engine.distributed.strategy import STRATEGIES

    return "" if m.gpus == 1 and m.strategy == "ddp" else STRATEGIES[m.strategy].label


def run(args: argparse.Namespace) -> int:
    for name, value in (("--vram", args.vram), ("--gpus", args.gpus), ("--batch", args.batch),
                        ("--cutoff-len", args.cutoff_len)):
        if value is not None and value <= 0:
            return fail(f"{name} must be positive, got {value:g}")
    try:
        result = suggest(args.model, vram_gb=args.vram, gpus=args.gpus, batch=args.batch, cutoff_len=args.cutoff_len)
    except ConfigError as exc:
        return fail(str(exc))
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        render(result)
    return 0
