"""`lmf-tui predict RUN|CONFIG [key=value ...]`: the base and the tuned model answer the same evaluation rows."""

from __future__ import annotations

import argparse
from typing import Any

from engine.config import ConfigError

from .common import fail

KEYS = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="compare the base and the tuned model on the same evaluation rows (BLEU-4, ROUGE)",
        description="Both the base model and the tuned one (a run's adapter or full model, or a YAML's "
                    "adapter_name_or_path) answer the run's evaluation rows (eval_dataset or val_size, else its "
                    "first training rows); prints prompt, label and both answers, and each model's BLEU-4 and "
                    "ROUGE-1/2/L as LLaMA-Factory scores them. For LLaMA-Factory's own prediction files, run "
                    "`train` with do_predict: true.",
        epilog="example: lmf-tui predict saves/demo --rows 4 do_sample=false max_new_tokens=64",
    )
    p.add_argument("source", help="run folder, or a YAML with model_name_or_path and adapter_name_or_path")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys, typed by the schema")
    p.add_argument("--rows", type=int, default=8, help="how many rows to answer (default: 8)")
    p.add_argument("--jsonl", action="store_true", help="report rows, answers and metrics as JSON lines")


def run(args: argparse.Namespace) -> int:
    from engine.evaluate.compare import comparison, print_lines, run_comparison

    emit = print_lines if args.jsonl else _Printer()
    if args.rows < 1:
        return _failed(args, "--rows: must be 1 or more", 2)
    try:
        plan = comparison(args.source, args.overrides)
        run_comparison(plan, args.rows, emit)
    except ConfigError as exc:
        return _failed(args, str(exc), 2)
    except KeyboardInterrupt:
        return _failed(args, "interrupted", 130)
    except Exception as exc:  # one line for the user, not a traceback
        return _failed(args, f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}", 1)
    return 0


def _failed(args: argparse.Namespace, message: str, code: int) -> int:
    if args.jsonl:
        from engine.evaluate.compare import print_lines

        print_lines({"type": "error", "message": message})
    return fail(message, code)


class _Printer:
    """Plain text: each row with its label and both answers, then each model's scores."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.answers: dict[str, dict[int, str]] = {"base": {}, "tuned": {}}
        self.metrics: dict[str, dict[str, float]] = {}

    def __call__(self, record: dict[str, Any]) -> None:
        event = record["type"]
        if event == "rows":
            self.rows = record["rows"]
            print(f"{len(self.rows)} {record['kind']}; base {record['base']}, tuned {record['tuned']}", flush=True)
        elif event == "answer":
            self.answers[record["model"]][record["index"]] = record["text"]
        elif event == "metrics":
            self.metrics[record["model"]] = record["scores"]
        elif event == "done":
            self._print()

    def _print(self) -> None:
        for i, row in enumerate(self.rows):
            print(f"\n[{i + 1}] prompt: {row['prompt']}\n    label: {row['label']}\n"
                  f"    base:  {self.answers['base'].get(i, '')}\n    tuned: {self.answers['tuned'].get(i, '')}")
        print("\nmodel  " + "".join(f"{k:>9}" for k in KEYS))
        for name, scores in self.metrics.items():
            print(f"{name:<7}" + "".join(f"{scores.get(k, 0.0):9.2f}" for k in KEYS))
