"""Dry-run every LLaMA-Factory example YAML through `lmf-tui train --dry-run` and print pass / refused.

    python bench/lf_examples.py PATH/TO/LLaMA-Factory/examples [--markdown] [--train TINY_MODEL_DIR]

Runs from the examples' parent folder (LLaMA-Factory's root), as its README runs them, so `dataset_dir: data`
and `deepspeed: examples/deepspeed/...` resolve there. Nothing is downloaded: hub model ids are planned
without their weights (HF_HUB_OFFLINE=1). Exit status 1 when an example fails with anything but a one-line
ConfigError (a crash is a bug; a refusal names the feature).

With --train, every example that passes the dry run also trains 2 steps with its model swapped for a tiny local
one (and max_samples 16, cutoff_len 64, no checkpoints; bf16 off without a GPU), in its own `lmf-tui train`
process.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def dry_run(path: Path) -> tuple[str, str]:
    """('pass', plan's first line) or ('refused', the one-line reason) or ('crash', the exception)."""
    from engine.commands.common import print_plan
    from engine.commands.train import resolve_config
    from engine.config import ConfigError

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            print_plan(resolve_config(str(path), []))
    except ConfigError as exc:
        return "refused", str(exc)
    except Exception as exc:  # noqa: BLE001 - reported as a bug to fix
        return "crash", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return "pass", out.getvalue().splitlines()[0] if out.getvalue() else ""


TRAIN_OVERRIDES = ["max_steps=2", "max_samples=16", "cutoff_len=64", "save_steps=1000", "logging_steps=1",
                   "report_to=none", "overwrite_output_dir=true", "preprocessing_num_workers=1"]
CPU_OVERRIDES = ["bf16=false", "pure_bf16=false"]  # the examples ask for bf16 GPUs; a CPU trains in fp32


def train_briefly(path: Path, model_dir: Path, out: Path) -> tuple[str, str]:
    """('trained', last line) or ('failed', the one-line error) for a few steps on the tiny model."""
    cmd = [sys.executable, "-m", "lmftui.cli", "train", str(path), f"model_name_or_path={model_dir}",
           f"output_dir={out}", *TRAIN_OVERRIDES]
    import torch

    if not torch.cuda.is_available():
        cmd += CPU_OVERRIDES
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "LMF_TUI_SINGLE_PROCESS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, stdin=subprocess.DEVNULL)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    if done.returncode == 0:
        return "trained", next((line for line in reversed(lines) if line.startswith(("Done", "Stopped"))), "")
    errors = [line for line in lines if line.startswith("error:")]
    return "failed", (errors or lines or [f"exit {done.returncode}"])[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", type=Path, help="LLaMA-Factory's examples/ folder")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--train", type=Path, metavar="MODEL_DIR", help="also train the passing examples briefly")
    args = parser.parse_args()
    examples = args.examples.resolve()
    model_dir = args.train.resolve() if args.train else None
    os.chdir(examples.parent)
    results = [(p.relative_to(examples), *dry_run(p)) for p in sorted(examples.rglob("*.yaml"))]
    if model_dir is not None:
        with tempfile.TemporaryDirectory(prefix="lf-examples-") as tmp:
            results = [(name, *train_briefly(examples / name, model_dir, Path(tmp) / str(name).replace("/", "_")))
                       if status == "pass" else (name, status, detail) for name, status, detail in results]
    if args.markdown:
        print("| example | result | reason |\n|---|---|---|")
        for name, status, detail in results:
            print(f"| `{name}` | {status} | {detail.replace('|', '/') if status not in ('pass', 'trained') else ''} |")
    else:
        for name, status, detail in results:
            print(f"{status:<8} {name}" + (f"  — {detail}" if status not in ("pass", "trained") else ""))
    counts = {s: sum(r[1] == s for r in results) for s in ("pass", "trained", "failed", "refused", "crash")}
    print(f"\n{len(results)} examples: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return 1 if counts["crash"] or counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
