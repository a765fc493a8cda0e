"""`lmf-tui runs`: every run under the runs folder with its status (a table, or JSON)."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os

from engine.rundir import RunInfo, list_runs, runs_root


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list runs and their status (running/done/failed/stopped)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("--runs-dir", dest="sub_runs_dir", help="runs folder (default: $LMF_TUI_RUNS or the user data dir)")


def run_to_dict(run: RunInfo) -> dict:
    """A run as plain JSON data."""
    return {"name": run.name, "path": str(run.path), "status": run.status, "stage": run.stage, "model": run.model,
            "step": run.step, "max_steps": run.max_steps, "loss": run.loss, "started": run.started,
            "message": run.message}


def format_table(runs: list[dict]) -> str:
    """Fixed-width columns, newest first."""
    rows = [("STATUS", "RUN", "HOST", "STAGE", "STEP", "LOSS", "STARTED")]
    for r in runs:
        started = _dt.datetime.fromtimestamp(r["started"]).strftime("%Y-%m-%d %H:%M") if r["started"] else "-"
        rows.append((r["status"], r["name"], r.get("host", "local"), r["stage"] or "-",
                     f"{r['step']}/{r['max_steps'] or '?'}", f"{r['loss']:.4f}" if r["loss"] is not None else "-",
                     started))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "sub_runs_dir", None):
        os.environ["LMF_TUI_RUNS"] = args.sub_runs_dir
    root = runs_root()
    from ..hosts.listing import all_runs

    runs = all_runs(list_runs(root))
    if args.json:
        print(json.dumps(runs, indent=2))
    elif runs:
        print(format_table(runs))
    else:
        print(f"no runs in {root} — start one with `lmf-tui train CONFIG.yaml` or in the app")
    return 0
