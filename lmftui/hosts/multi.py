"""One run over several SSH hosts: torchrun on each with NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT
(master first; the engine's launcher reads them as LLaMA-Factory does)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .launch import secret_env
from .records import RemoteRun, write_record
from .remote import SshHost
from .store import HostError, get_host

if TYPE_CHECKING:
    from engine.config import TrainConfig

PORTS = (29500, 29600)  # the range a user opens between the nodes (LLaMA-Factory's advice)


def master_address(host: SshHost) -> str:
    """The address other nodes use for the master: the HostName ssh resolves for it (config aliases honoured)."""
    return host.ssh.resolved().get("hostname") or host.spec.destination.rsplit("@", 1)[-1]


def check_nodes(hosts: list[SshHost]) -> None:
    """Every node answers and runs the same lmf-tui (ranks of different versions would disagree)."""
    versions = {h.name: h.require_lmf_tui().lmf_tui for h in hosts}
    if len(set(versions.values())) > 1:
        listed = ", ".join(f"{n} {v}" for n, v in versions.items())
        raise HostError(f"the hosts run different lmf-tui versions ({listed}) — run `lmf-tui hosts setup NAME` "
                        "on each so they match")


def free_master_port(host: SshHost, address: str) -> int:
    """A port of 29500–29600 free on the master (another run may hold 29500)."""
    from .probe import FREE_PORT

    out = host.ssh.run([host.python, "-c", FREE_PORT, address, str(PORTS[0]), str(PORTS[1])]).stdout.strip()
    if not out:
        raise HostError(f"{host.name}: every port of {PORTS[0]}–{PORTS[1]} is taken on {address} — stop the other "
                        "multi-node runs there")
    return int(out)


def start_multi(config: "TrainConfig", names: list[str]) -> Path:
    """Ship the inputs to every node, start rank 0's node then the others; the local record folder.

    A node that cannot start stops the nodes already started, so none waits on a collective."""
    if len(set(names)) != len(names) or len(names) < 2:
        raise HostError(f"--hosts {','.join(names)}: name two or more different hosts, e.g. --hosts gpu1,gpu2")
    hosts = [SshHost(get_host(name)) for name in names]
    check_nodes(hosts)
    run_name = Path(config.output_dir or "run").name
    configs = [h.prepare(config, run_name) for h in hosts]
    address = master_address(hosts[0])
    base = {"NNODES": str(len(hosts)), "MASTER_ADDR": address,
            "MASTER_PORT": str(free_master_port(hosts[0], address)), **secret_env(config)}
    started: list[tuple[SshHost, str]] = []
    try:
        for rank, (host, remote_config) in enumerate(zip(hosts, configs)):
            out = host.cli("train", remote_config, "--detach", env={**base, "NODE_RANK": str(rank)}, timeout=300)
            started.append((host, out.strip().splitlines()[-1].strip()))
    except HostError:
        for host, path in started:
            try:
                host.stop(path)
            except HostError:
                pass
        raise
    paths = {host.name: path for host, path in started}
    return write_record(RemoteRun(hosts=names, path=paths[names[0]], node_paths=paths,
                                  local_paths=hosts[0].last_plan.local_paths))
