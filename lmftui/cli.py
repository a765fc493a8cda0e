"""`lmf-tui` entry point: no arguments opens the app; sub-commands parse here and delegate (the engine's
own commands live in `engine.commands`)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from engine.commands import IntermixedParser, run_command

from . import __version__
from .commands import COMMANDS


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    """The argument parser and every sub-command module by name."""
    parser = argparse.ArgumentParser(
        prog="lmf-tui",
        description="Fine-tune LLMs from the terminal. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"lmf-tui {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show library warnings and progress bars on the terminal (else they go to a log file)")
    parser.add_argument("--runs-dir", help="runs folder (default: $LMF_TUI_RUNS or the user data dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=IntermixedParser)
    modules = {name: importlib.import_module(path) for name, path in COMMANDS.items()}
    for module in modules.values():
        module.add_parser(sub)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the sub-command, or open the app."""
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if args.runs_dir:
        os.environ["LMF_TUI_RUNS"] = args.runs_dir
    if args.verbose:
        os.environ["LMF_TUI_VERBOSE"] = "1"  # seen by this process and the runs it starts
    if args.command is None:
        from .launch import launch_app

        return launch_app()
    if argv is None and not getattr(args, "host", None) and not getattr(args, "hosts", None):
        from engine.allocator import for_training

        for_training(args.command, getattr(args, "dry_run", False))  # a run here, not one sent to a host
    return run_command(args.command, lambda: modules[args.command].run(args))


if __name__ == "__main__":
    sys.exit(main())
