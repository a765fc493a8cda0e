"""Long-row benchmark: lmf-tui vs LLaMA-Factory vs a raw forward/backward loop, on data it writes itself.

    .venv/bin/python bench/long_rows.py                 # long rows (60–512 tokens, a third cut at 512)
    .venv/bin/python bench/long_rows.py --data alpaca   # alpaca_en_demo from ../shared (short rows)
    .venv/bin/python bench/long_rows.py --no-baseline   # without LLaMA-Factory

Prints one JSON object per run and a Markdown table row: non-padding tokens/s, peak RSS and the
estimator's figure for lmf-tui, LLaMA-Factory's tokens/s on the same YAML, and the raw loop (the same
model, adapter, batches and optimizer with no Trainer around them) as the practical ceiling.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASE_YAML = HERE / "smollm2_lora_alpaca.yaml"
WORDS = ("the model learns from every example it sees and each answer is longer than the last one because "
         "people ask about history science cooking travel music code gardens rivers mountains cities trains "
         "languages numbers stories weather planets oceans animals markets books films games health sleep "
         "energy water light colour sound memory friendship work school family time space").split()


def write_long_rows(folder: Path, rows: int = 64, seed: int = 7) -> Path:
    """A deterministic alpaca data set whose rows run 60–512 tokens and past (about a third longer than
    512, cut there), median near 370 with SmolLM2's tokenizer; its dataset_info.json beside it."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    data = []
    for i in range(rows):
        words = rng.randint(480, 700) if i % 3 == 0 else int(rng.triangular(15, 440, 380))
        answer = " ".join(rng.choice(WORDS) for _ in range(words))
        data.append({"instruction": f"Write note {i} about {rng.choice(WORDS)}.", "input": "", "output": answer})
    (folder / "long_rows.json").write_text(json.dumps(data))
    (folder / "dataset_info.json").write_text(json.dumps({"long_rows": {"file_name": "long_rows.json"}}))
    return folder


def bench_config(data: str, workdir: Path) -> tuple[Path, list[str]]:
    """The YAML to run and the overrides that point it at the data."""
    if data == "alpaca":
        return BASE_YAML, [f"dataset_dir={ROOT.parent / 'shared' / 'data' / 'llamafactory-demo'}"]
    folder = write_long_rows(workdir / "long_rows")
    return BASE_YAML, ["dataset=long_rows", f"dataset_dir={folder}", "max_samples=64"]


def run_lmf(config: Path, overrides: list[str], baseline: bool) -> dict:
    """`lmf-tui bench` (and LLaMA-Factory with --baseline) as one JSON object."""
    cmd = [sys.executable, "-m", "lmftui.cli", "bench", str(config), *overrides, "--json"]
    cmd += ["--baseline"] if baseline else []
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr.strip()[-2000:])
    *before, last = out.stdout.strip().splitlines()
    print("\n".join(before), file=sys.stderr)  # LLaMA-Factory's own line: its tokens, time and final loss
    return json.loads(last)


def raw_loop(config_path: Path, overrides: list[str]) -> dict:
    """The same model, adapter, data order, batches, loss and recomputation through a bare loop (no Trainer,
    no journal): the practical ceiling."""
    import torch

    from engine.commands.train import resolve_config
    from engine.config.resolve import Hardware, attn_implementation, chunked_loss, mlp_recompute, resolve
    from engine.data import make_collator
    from engine.models import apply_method, load_model, load_tokenizer
    from engine.models.recompute import install_mlp_recompute
    from engine.stages import stage_module
    from engine.train.chunked_loss import logits_free

    config = resolve(resolve_config(str(config_path), overrides), Hardware.detect())
    tokenizer = load_tokenizer(config)
    data = stage_module(config.stage).load_data(config, tokenizer)
    model = apply_method(load_model(config, for_training=True), config)
    model.train()
    model_type = model.config.model_type
    if mlp_recompute(config, model_type, torch.cuda.is_available()):
        install_mlp_recompute(model)
    chunked = chunked_loss(config, model_type, torch.cuda.is_available())
    collate = make_collator(config, tokenizer, attn_implementation(config))
    rows = [data.train[i] for i in range(len(data.train))]
    order = list(range(len(rows)))
    random.Random(config.seed).shuffle(order)
    size = config.per_device_train_batch_size
    batches = [collate([rows[i] for i in order[k:k + size]]) for k in range(0, len(order), size)]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    start = time.perf_counter()
    for batch in batches:
        with logits_free(model.get_base_model()) if chunked else contextlib.nullcontext():
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - start
    real = sum(len(r["input_ids"]) for r in rows)
    return {"raw_tokens_per_s": round(real / seconds, 1), "raw_seconds": round(seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("long", "alpaca"), default="long")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-raw", action="store_true")
    parser.add_argument("--workdir", default=str(HERE / "results" / "work"))
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_args()
    if not args.no_raw:  # the bare loop runs here: on the allocator a training run gets
        sys.path.insert(0, str(ROOT))
        from engine.allocator import reexec_with_tcmalloc

        reexec_with_tcmalloc()
    config, overrides = bench_config(args.data, Path(args.workdir))
    overrides += args.overrides
    result = {"data": args.data, "overrides": overrides, **run_lmf(config, overrides, not args.no_baseline)}
    if not args.no_raw:
        result.update(raw_loop(config, overrides))
    print(json.dumps(result))
    base = result.get("baseline_tokens_per_s")
    print(f"| {args.data} | {base or '—'} | {result['real_tokens_per_s']} | "
          f"{result.get('speedup', '—')} | {result.get('raw_tokens_per_s', '—')} | "
          f"{result['peak_memory_gb']} GB | {result['estimate_gb']} GB | {result['train_loss']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
