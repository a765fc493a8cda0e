"""Peak memory of full fine-tuning SmolLM2-135M with each optimizer, beside the estimator's figure.

Each case trains `bench/smollm2_full_pt.yaml` for a few steps in its own process (`python -m engine train`);
the journal holds both numbers: `estimate_gb` in the start event, the measured `peak_memory_gb` (peak RSS on the
CPU, max allocated on CUDA) in the done event. Prints a Markdown table; `--out FILE` also writes it.

    .venv/bin/python bench/optimizer_memory.py [--jobs 3] [--out FILE] [key=value ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.events import read_events  # noqa: E402

CONFIG = ROOT / "bench" / "smollm2_full_pt.yaml"
CASES = {
    "full, AdamW": [],
    "full, 8-bit AdamW (bitsandbytes)": ["optim=adamw_8bit"],
    "full + GaLore r64": ["use_galore=true", "galore_rank=64"],
    "full + GaLore r64 layer-wise": ["use_galore=true", "galore_rank=64", "galore_layerwise=true"],
    "full + APOLLO r64": ["use_apollo=true", "apollo_rank=64"],
    "full + BAdam (layer)": ["use_badam=true"],
    "full + Adam-mini": ["use_adam_mini=true"],
    "full + Muon": ["use_muon=true"],
}


def run_case(overrides: list[str], out: Path) -> tuple[float, float, float]:
    """(estimate GB, measured peak GB, seconds per step) of one case."""
    cmd = [sys.executable, "-m", "engine", "train", str(CONFIG), f"output_dir={out}", *overrides]
    result = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode:
        raise RuntimeError((result.stderr.strip().splitlines() or ["failed"])[-1])
    events = read_events(out)
    start = next(e for e in events if e["type"] == "start")
    done = events[-1]
    return start["estimate_gb"], done["metrics"]["peak_memory_gb"], done["runtime_s"] / max(done["step"], 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--jobs", type=int, default=1,
                        help="cases run at once (each is its own process, so its peak is its own)")
    parser.add_argument("overrides", nargs="*", help="key=value for every case (e.g. per_device_train_batch_size=2)")
    args = parser.parse_args()
    warm = ("from engine.config import load_config; from engine.models.loader import model_folder; "
            f"model_folder(load_config({str(CONFIG)!r}))")  # dequantize the GGUF once, outside the measured runs
    subprocess.run([sys.executable, "-c", warm], cwd=ROOT, check=True)
    rows = ["| case | estimate GB | measured peak GB | estimate / measured | s/step |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="lmf-optim-bench-") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        runs = {name: pool.submit(run_case, args.overrides + overrides, Path(tmp) / f"case{i}")
                for i, (name, overrides) in enumerate(CASES.items())}
        for name, run in runs.items():
            try:
                estimate, peak, step_s = run.result()
            except RuntimeError as exc:
                rows.append(f"| {name} | failed: {exc} | | | |")
            else:
                rows.append(f"| {name} | {estimate:.2f} | {peak:.2f} | {estimate / peak:.2f} | {step_s:.1f} |")
            print(rows[-1], flush=True)
    table = "\n".join(rows)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
