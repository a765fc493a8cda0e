"""`lmf-tui train`: the engine's train command, plus --host to run it on a saved SSH host."""

from __future__ import annotations

import argparse

from engine.commands import train as engine_train
from engine.commands.common import fail
from engine.config import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:
    engine_train.add_parser(sub)
    p = sub.choices["train"]
    where = p.add_mutually_exclusive_group()
    where.add_argument("--host", metavar="NAME", help="run on a saved SSH host (see `lmf-tui hosts`); always detached")
    where.add_argument("--hosts", metavar="A,B", help="one run over several saved hosts (torchrun, NNODES=N, "
                                                      "master first); always detached")


def run(args: argparse.Namespace) -> int:
    if not (args.host or args.hosts):
        return engine_train.run(args)
    if not args.config:
        return fail("train: name a config file or a preset — e.g. `lmf-tui train demo --host gpu1`")
    from ..hosts.launch import start_remote
    from ..hosts.records import read_record
    from ..hosts.store import HostError

    try:
        config = engine_train.resolve_config(args.config, args.overrides)
        if args.hosts:
            from ..hosts.multi import start_multi

            folder = start_multi(config, [n.strip() for n in args.hosts.split(",") if n.strip()])
        else:
            folder = start_remote(config, args.host)
    except (ConfigError, HostError) as exc:
        return fail(str(exc), code=1 if isinstance(exc, HostError) else 2)
    record = read_record(folder)
    for name in record.hosts if record else []:
        print(f"started on {name}: {record.path_on(name)}")
    print(f"run {folder.name}")  # the last word is the run id for runs/attach/stop/pull
    return 0
