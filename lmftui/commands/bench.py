"""`lmf-tui bench CONFIG`: train once and report real tokens/s, padding share and peak memory."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from engine.config import ConfigError
from engine.commands.common import fail

BASELINE_TOOL = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "llamafactory-baseline"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure training throughput and memory for a config",
                       description="Train a config once (in a temporary output_dir) and print non-padding "
                                   "tokens/s, padding share, peak memory and the estimate.")
    p.add_argument("config", help="YAML file or preset name")
    p.add_argument("overrides", nargs="*", metavar="key=value")
    p.add_argument("--baseline", action="store_true",
                   help="also run LLaMA-Factory on the same config (../shared/tools/llamafactory-baseline)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from engine.commands.train import resolve_config

    try:
        config = resolve_config(args.config, args.overrides)
    except ConfigError as exc:
        return fail(str(exc))
    from engine.events import read_events
    from engine.models.loader import model_folder
    from engine.train import run_training

    with tempfile.TemporaryDirectory(prefix="lmf-bench-") as tmp:
        out = Path(tmp) / "run"
        config = config.model_copy(update={"output_dir": str(out), "overwrite_output_dir": True,
                                           "save_strategy": "no"})
        done = run_training(config)
        start = next(e for e in read_events(out) if e["type"] == "start")
    metrics = done["metrics"]
    result = {
        "config": args.config, "steps": done["step"], "real_tokens": metrics["num_real_tokens"],
        "runtime_s": done["runtime_s"], "real_tokens_per_s": metrics["real_tokens_per_s"],
        "padding_share": metrics["padding_share"], "peak_memory_gb": metrics["peak_memory_gb"],
        "estimate_gb": start.get("estimate_gb"), "train_loss": done["train_loss"],
    }
    if args.baseline:
        result["baseline_tokens_per_s"] = _baseline(args, model_folder(config))
        if result["baseline_tokens_per_s"]:
            result["speedup"] = round(result["real_tokens_per_s"] / result["baseline_tokens_per_s"], 3)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<24} {value}")
    return 0


def _baseline(args: argparse.Namespace, model_dir: str) -> float | None:
    """LLaMA-Factory's non-padding tokens/s on the same YAML (model given as a local folder)."""
    tool = Path(os.environ.get("LMF_BASELINE_TOOL", BASELINE_TOOL))
    if not tool.exists():
        print(f"baseline: {tool} not found — skipped")
        return None
    path = Path(args.config)
    overrides = [o for o in args.overrides if not o.startswith("model_name_or_path=")]
    cmd = [str(tool), str(path.resolve()), f"model_name_or_path={model_dir}", *overrides]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path.cwd())
    match = re.search(r"= ([\d.]+) tokens/s", proc.stdout)
    print(proc.stdout.strip() or proc.stderr.strip()[-500:])
    return float(match.group(1)) if match else None
