"""The engine's sub-commands; each module has `add_parser(subparsers)` and `run(args) -> int`.

`python -m engine COMMAND ...` runs them on their own (every child process the app or the engine starts);
`lmf-tui` puts the app's commands beside them and parses both.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Callable

COMMANDS = ("train", "data", "export", "chat", "predict", "expand")
# Commands whose stderr is left alone: train quiets libraries into its run's console.log itself; the others
# load no library that writes warnings, and print their own warnings there.
LOUD_COMMANDS = frozenset({"train", "runs", "attach", "env", "doctor", "stop", "pull", "hosts", "download"})


class IntermixedParser(argparse.ArgumentParser):
    """A sub-command parser that takes options anywhere, as `llamafactory-cli train X.yaml key=value` users
    expect: `lmf-tui train X.yaml --dry-run key=value` gives the override to the config, not an error."""

    _inside = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._inside or self._subparsers is not None:  # intermixed parsing takes no nested sub-commands
            # (and parse_known_intermixed_args calls back into this method)
            return super().parse_known_args(args, namespace)
        self._inside = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inside = False


def command_module(name: str) -> ModuleType:
    """The module of an engine sub-command."""
    return importlib.import_module(f"engine.commands.{name}")


def build_parser(prog: str = "python -m engine") -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    """The engine's own argument parser and its sub-command modules by name."""
    parser = argparse.ArgumentParser(prog=prog, description="The lmf-tui engine, headless.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=IntermixedParser)
    modules = {name: command_module(name) for name in COMMANDS}
    for module in modules.values():
        module.add_parser(sub)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the engine sub-command."""
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if argv is None:  # run as a program, not called by a host process
        from ..allocator import for_training

        for_training(args.command, getattr(args, "dry_run", False))
    return run_command(args.command, lambda: modules[args.command].run(args))


def run_command(name: str, command: Callable[[], int | None]) -> int:
    """Run a sub-command: errors a user can fix end in one line; a bug leaves its traceback in a file."""
    from ..errors import check_environment, explain, save_crash
    from .common import fail

    from ..quiet import quiet_libraries
    from ..rundir import app_home

    log = None if name in LOUD_COMMANDS else app_home() / "logs" / f"{name}.log"  # train: the run's console.log
    try:
        check_environment()
        with quiet_libraries(log):
            return int(command() or 0)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except Exception as exc:
        if (line := explain(exc)) is not None:
            return fail(line)
        path = save_crash(exc, name)
        first = (str(exc).splitlines() or [""])[0][:200]
        return fail(f"internal error in `lmf-tui {name}`: {type(exc).__name__}: {first} — "
                    f"traceback saved to {path}; please report it", code=1)
