"""`lmf-tui` entry point: no arguments opens the app; sub-commands run the engine headless."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .commands import COMMANDS


class IntermixedParser(argparse.ArgumentParser):
    """A sub-command parser that takes options anywhere, as `llamafactory-cli train X.yaml key=value` users
    expect: `lmf-tui train X.yaml --dry-run key=value` gives the override to the config, not an error."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._inside:  # parse_known_intermixed_args calls back into this method
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    """The argument parser with every sub-command module that is present."""
    parser = argparse.ArgumentParser(
        prog="lmf-tui",
        description="Fine-tune LLMs from the terminal. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"lmf-tui {__version__}")
    parser.add_argument("--runs-dir", help="runs folder (default: $LMF_TUI_RUNS or the user data dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=IntermixedParser)
    modules = {}
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"lmftui.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"lmftui.commands.{name}":
                continue
            raise
        module.add_parser(sub)
        modules[name] = module
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the sub-command, or open the app."""
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if args.runs_dir:
        import os

        os.environ["LMF_TUI_RUNS"] = args.runs_dir
    if args.command is None:
        from .launch import launch_app

        return launch_app()
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
