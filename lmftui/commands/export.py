"""`lmf-tui export`: the engine's export command, plus --host to merge and convert on a GPU host."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.commands import export as engine_export
from engine.commands.common import fail
from engine.config import ConfigError, load_config


def add_parser(sub: argparse._SubParsersAction) -> None:
    engine_export.add_parser(sub)
    p = sub.choices["export"]
    p.add_argument("--host", metavar="NAME",
                   help="export on a saved SSH host (adapter_name_or_path may be a run of that host, RUN@NAME), "
                        "then pull the export_dir here")


def run(args: argparse.Namespace) -> int:
    if not args.host:
        return engine_export.run(args)
    from ..hosts.remote import SshHost
    from ..hosts.store import HostError, get_host

    try:
        config = load_config(args.config, args.overrides, purpose="export")
        if config.adapter_name_or_path:  # a run id of the runs list stands for its folder
            from .attach import resolve_run

            try:
                config = config.model_copy(update={"adapter_name_or_path": str(resolve_run(config.adapter_name_or_path))})
            except ValueError:
                pass
        host = SshHost(get_host(args.host))
        remote_dir = host.export(config, progress=sys.stdout.isatty())
        local = Path(config.export_dir or "export").expanduser().resolve()
        host.ssh.copy_from(remote_dir, local, rsync=host.facts().rsync, progress=sys.stdout.isatty())
    except ConfigError as exc:
        return fail(str(exc))
    except HostError as exc:
        return fail(str(exc), code=1)
    print(f"exported on {args.host} ({remote_dir}) and pulled into {local}")
    return 0
