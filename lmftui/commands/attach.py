"""`lmf-tui attach RUN [--once]`: show a run live in the app, or print its state once."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from engine.events import EVENTS_FILE
from engine.rundir import CONSOLE_FILE, run_info, runs_root
from engine.commands.common import fail

LOG_LINES = 10


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attach", help="open the app on a run's monitor (--once: print its state and exit)")
    p.add_argument("run", metavar="RUN", help="run folder, or a run's name under the runs folder")
    p.add_argument("--once", action="store_true", help="print status, step, loss and the last log lines, then exit")
    p.add_argument("--runs-dir", dest="sub_runs_dir", help="runs folder (default: $LMF_TUI_RUNS or the user data dir)")


def resolve_run(name: str) -> Path:
    """A run folder from a path or a (unique prefix of a) name under the runs folder; ValueError otherwise."""
    path = Path(name).expanduser()
    if _is_run(path):
        return path.resolve()
    root = runs_root()
    if _is_run(root / name):
        return (root / name).resolve()
    matches = sorted(p for p in root.glob(f"{name}*") if p.is_dir()) if root.is_dir() and "/" not in name else []
    if len(matches) == 1:
        return matches[0].resolve()
    if len(matches) > 1:
        raise ValueError(f"'{name}' matches {len(matches)} runs in {root} ({', '.join(p.name for p in matches[:3])}…)"
                         " — give more of the name")
    raise ValueError(f"no run '{name}' here or in {root} — see `lmf-tui runs` for the names")


def _is_run(path: Path) -> bool:
    """A local run folder, or the local record of a run on an SSH host."""
    from ..hosts.records import RECORD_FILE

    return any((path / name).exists() for name in (EVENTS_FILE, "run_config.yaml", RECORD_FILE)) \
        or any(path.glob("run_config.node*.yaml"))  # another node's share of a multi-node run


def last_lines(path: Path, n: int = LOG_LINES, max_bytes: int = 64 << 10) -> list[str]:
    """The last `n` lines of a text file (carriage-return progress bars reduced to their last state)."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - max_bytes))
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    lines = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
    return [line for line in lines if line.strip()][-n:]


def describe_once(run_dir: Path) -> str:
    """Status, progress, loss, the error with its fix, and the last log lines."""
    info = run_info(run_dir)
    epoch = info.summary.last_step.get("epoch")
    loss = f"{info.loss:.4f}" if info.loss is not None else "-"
    out = [f"run     {info.name}  ({run_dir})", f"status  {info.status}",
           f"step    {info.step}/{info.max_steps or '?'}" + (f"  epoch {epoch:.2f}" if epoch is not None else ""),
           f"loss    {loss}"]
    if info.status == "failed" and (error := info.summary.error):
        out.append(f"error   {error.get('message', '')}")
        if error.get("fix"):
            out.append(f"fix     {error['fix']}")
    out.extend(_results(run_dir))
    lines = last_lines(run_dir / CONSOLE_FILE)
    if lines:
        out.append(f"--- last {len(lines)} lines of {CONSOLE_FILE}")
        out.extend(lines)
    return "\n".join(out)


def _results(run_dir: Path) -> list[str]:
    """`eval    loss 1.2345 · accuracy 0.4100` and `predict bleu-4 … · rouge-l …` from the run's *_results.json."""
    import json

    out = []
    for split in ("eval", "predict"):
        try:
            metrics = json.loads((run_dir / f"{split}_results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        ordered = sorted(metrics.items(), key=lambda item: not item[0].endswith("_loss"))  # the loss first
        shown = [f"{key.removeprefix(split + '_')} {value:.4g}" for key, value in ordered
                 if isinstance(value, (int, float)) and key.startswith(split + "_")
                 and not key.endswith(("_runtime", "_per_second", "_preparation_time"))]
        out.append(f"{split:<8}" + " · ".join(shown))
    return out


def run(args: argparse.Namespace) -> int:
    if getattr(args, "sub_runs_dir", None):
        os.environ["LMF_TUI_RUNS"] = args.sub_runs_dir
    try:
        run_dir = resolve_run(args.run)
    except ValueError as exc:
        return fail(str(exc))
    if args.once:
        from ..hosts.base import JournalReader
        from ..hosts.records import node_consoles, open_host, read_record
        from ..hosts.store import HostError

        record = read_record(run_dir)
        if record is None:
            print(describe_once(run_dir))
            return 0
        try:
            print(f"host    {'+'.join(record.hosts)}")
            print(open_host(record.host).describe(record.path), end="")
            for name, node, there, console in node_consoles(run_dir):  # every other node's last lines
                lines = JournalReader(node, there, console).read()[1][-LOG_LINES:]
                print(f"--- last {len(lines)} lines of {console} on {name}")
                print("\n".join(lines))
        except HostError as exc:
            return fail(str(exc), code=1)
        return 0
    from ..launch import launch_app

    return launch_app(attach=run_dir)
