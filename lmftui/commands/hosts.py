"""`lmf-tui hosts add|list|check|rm|setup`: the SSH machines runs can go to (stored in the config folder)."""

from __future__ import annotations

import argparse
import json
import sys

from engine.commands.common import fail

from ..hosts.records import check_host
from ..hosts.store import HostError, HostSpec, check_name, get_host, hosts_path, key_warning, load_hosts, save_hosts


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hosts", help="SSH hosts to train on: add, list, check, rm",
                       description="Machines reached with the system's OpenSSH client (your ~/.ssh/config, agent, "
                                   "ProxyJump and known_hosts apply). Host keys are verified: a first connection "
                                   "adds the key, a changed key stops.")
    hs = p.add_subparsers(dest="hosts_command", metavar="ACTION", required=True)
    add = hs.add_parser("add", help="save a host (and check that it answers)",
                        epilog="example: lmf-tui hosts add gpu1 ubuntu@203.0.113.7 -i ~/.ssh/ec2.pem")
    add.add_argument("name", help="short name for --host and the app")
    add.add_argument("destination", metavar="DEST", help="user@address, or a ~/.ssh/config alias")
    add.add_argument("-i", dest="key", help="private key file (its path is stored, never its content)")
    add.add_argument("-p", dest="port", type=int, help="SSH port")
    add.add_argument("--python", help="Python of an existing lmf-tui install on the host")
    add.add_argument("--no-check", action="store_true", help="save without connecting")
    ls = hs.add_parser("list", help="the saved hosts")
    ls.add_argument("--json", action="store_true", help="print JSON")
    check = hs.add_parser("check", help="connect; report GPUs and VRAM, free disk, Python, lmf-tui there")
    check.add_argument("name")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    rm = hs.add_parser("rm", help="forget a host (nothing on it is touched)")
    rm.add_argument("name")
    setup = hs.add_parser("setup", help="install this lmf-tui on the host (venv, torch, a wheel built here)")
    setup.add_argument("name")
    setup.add_argument("--dry-run", action="store_true", help="print the steps; install nothing")


def run(args: argparse.Namespace) -> int:
    try:
        return {"add": _add, "list": _list, "check": _check, "rm": _rm, "setup": _setup}[args.hosts_command](args)
    except HostError as exc:
        return fail(str(exc), code=1)


def _add(args: argparse.Namespace) -> int:
    check_name(args.name)
    if args.destination.startswith("-"):
        return fail(f"hosts add: destination '{args.destination}' must not start with '-' — give user@address")
    key = None
    if args.key:
        from pathlib import Path

        key = str(Path(args.key).expanduser().resolve())
        if (warning := key_warning(key)) is not None:
            if "does not exist" in warning:
                return fail(f"hosts add {args.name}: {warning}")
            print(f"warning: {warning}", file=sys.stderr)
    spec = HostSpec(name=args.name, destination=args.destination, key=key, port=args.port, python=args.python)
    hosts = load_hosts()
    replaced = args.name in hosts
    if not args.no_check:
        from ..hosts.remote import SshHost

        host = SshHost(spec)
        if not _trust_first_contact(host):
            return fail(f"hosts add {args.name}: host key not trusted — compare the fingerprint with the one your "
                        "provider shows (e.g. the EC2 console's system log), then add again", code=1)
        facts = host.facts()  # HostError: not saved, one line why
        print(f"{args.name}: {facts.summary()}")
    hosts[args.name] = spec
    save_hosts(hosts)
    print(f"{'updated' if replaced else 'added'} host {args.name} ({args.destination}) in {hosts_path()}")
    return 0


def _trust_first_contact(host) -> bool:
    """Show the fingerprints of a host seen for the first time; ask when someone is at the terminal."""
    prints = host.ssh.first_contact()
    if not prints:
        return True
    print(f"first connection to {host.spec.destination}; it presents:")
    for line in prints:
        print(f"  {line}")
    if sys.stdin.isatty():
        return input("Trust this host and add its key to known_hosts? [y/N] ").strip().lower() in ("y", "yes")
    print("trusted on first use (accept-new): a changed key later stops with a warning")
    return True


def _list(args: argparse.Namespace) -> int:
    hosts = load_hosts()
    if args.json:
        print(json.dumps([h.model_dump() for h in hosts.values()], indent=2))
        return 0
    if not hosts:
        print("no hosts yet — add one with `lmf-tui hosts add NAME USER@ADDRESS [-i KEY]`")
        return 0
    rows = [("NAME", "DESTINATION", "PORT", "KEY", "PYTHON")]
    rows += [(h.name, h.destination, str(h.port or "-"), h.key or "-", h.python or "-") for h in hosts.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print("\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows))
    return 0


def _check(args: argparse.Namespace) -> int:
    get_host(args.name)
    facts = check_host(args.name)
    if args.json:
        print(json.dumps(facts.to_dict(), indent=2))
    elif facts.reachable:
        print(f"{args.name}: {facts.summary()}")
    else:
        print(f"error: {facts.error}", file=sys.stderr)
    return 0 if facts.reachable else 1


def _rm(args: argparse.Namespace) -> int:
    hosts = load_hosts()
    from ..hosts.ssh import SshClient

    SshClient(get_host(args.name)).disconnect()  # its shared connection, if one is open
    del hosts[args.name]
    save_hosts(hosts)
    print(f"removed host {args.name} (nothing on it was touched)")
    return 0


def _setup(args: argparse.Namespace) -> int:
    from ..hosts.remote import SshHost
    from ..hosts.setup import setup_host

    spec = get_host(args.name)
    python = setup_host(SshHost(spec), say=lambda line: print(line, flush=True), dry_run=args.dry_run)
    if args.dry_run:
        return 0
    hosts = load_hosts()
    hosts[args.name] = spec.model_copy(update={"python": python})
    save_hosts(hosts)
    print(f"{args.name}: lmf-tui installed; runs there use {python}")
    return 0
