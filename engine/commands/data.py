"""`lmf-tui data CONFIG [key=value ...] [--rows N] [--json]`: tokenize the data sets and show the result."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from engine.config import ConfigError
from engine.wire import write

from .common import fail

MARK_ON, MARK_OFF = "\033[1;32m", "\033[0m"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "data", help="tokenize the config's data sets: rows kept/dropped, lengths, trained tokens",
        description="Read, normalise and tokenize the data sets of a config; print the report and a few "
                    "samples with the trained (loss) tokens marked.",
        epilog="example: lmf-tui data train.yaml cutoff_len=1024 --rows 3",
    )
    p.add_argument("config", help="YAML file, or a preset name")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config keys")
    p.add_argument("--rows", type=int, default=3, metavar="N", help="samples to show (default 3)")
    p.add_argument("--json", action="store_true", help='print one JSON object {"type": "data", ...} (report and samples)')


def run(args: argparse.Namespace) -> int:
    try:
        from engine.data.preview import inspect_data

        from .train import resolve_config

        config = resolve_config(args.config, args.overrides)
        if args.json:
            with stdout_to_stderr():
                result = inspect_data(config, max(args.rows, 0))
        else:
            result = inspect_data(config, max(args.rows, 0))
    except ConfigError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return fail("interrupted")
    if args.json:
        write(sys.stdout, "data", **result)
    else:
        print(format_result(result, color=sys.stdout.isatty()))
    return 0


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send whatever libraries print (Python or native code) to stderr, keeping stdout for the JSON."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def format_result(result: dict[str, Any], color: bool = False) -> str:
    """The report and samples as text; trained text is green (or between ⟦ ⟧ without colour)."""
    r = result["report"]
    lines = [f"rows            {r['rows_read']} read, {r['rows_kept']} kept"]
    for name, counts in r["per_dataset"].items():
        lines.append(f"  {name:<20} {counts['read']} read, {counts['kept']} kept")
    lines += [f"  dropped: {reason} ({n})" for reason, n in r["dropped"].items()]
    if r.get("cutoff_len") is not None:
        lines.append(f"truncated       {r['truncated']} rows longer than cutoff_len {r['cutoff_len']}")
    if r.get("length_stats"):
        lines.append("tokens per row  " + ", ".join(f"{k} {v}" for k, v in r["length_stats"].items()))
    lines.append(f"trained tokens  {r['tokens']} of {r['tokens_seen']}")
    if r.get("packed_rows") is not None:
        lines.append(f"packed rows     {r['packed_rows']}")
    if r.get("padding_share") is not None:
        lines.append(f"padding share   {r['padding_share']:.1%}")
    lines.append(f"template        {result['template']} (stop words: {', '.join(result['stop_words']) or 'none'})")
    lines += [f"warning: {w}" for w in r["warnings"]]
    on, off = (MARK_ON, MARK_OFF) if color else ("⟦", "⟧")
    for i, sample in enumerate(result["samples"], 1):
        if sample.get("error"):
            lines += ["", f"#{i} {sample['dataset']}: {sample['error']}"]
            continue
        head = f"#{i} {sample['dataset']} · {sample['length']} tokens · {sample['trained_tokens']} trained"
        body = "".join(f"{on}{s['text']}{off}" if s["trained"] else s["text"] for s in sample["segments"])
        lines += ["", head + (" · truncated" if sample["truncated"] else ""), body]
    return "\n".join(lines)
