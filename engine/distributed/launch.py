"""The launch plan: one process, or torchrun with LLaMA-Factory's switches (no torch here).

LLaMA-Factory's environment variables mean the same here: FORCE_TORCHRUN=1 (torchrun even on one GPU or
on the CPU), NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT, NPROC_PER_NODE, and CUDA_VISIBLE_DEVICES (which
GPUs a node uses). A bad value is a one-line ConfigError naming the variable, raised before any weight loads.
"""

from __future__ import annotations

import errno
import os
import shlex
import socket
import sys
from dataclasses import dataclass
from typing import Literal, Mapping

from engine.config import ConfigError, Problem, TrainConfig

from .strategy import Strategy, device_problem, fsdp_settings, require_deepspeed, strategy_of

ENTRY = "engine"  # the module each rank runs: `python -m engine train CONFIG`
DEFAULT_PORT = 29500
CONNECT_TIMEOUT_S = 3.0


def env_enabled(value: str | None) -> bool:
    """LLaMA-Factory's reading of a switch: true, y or 1 (any case)."""
    return (value or "").strip().lower() in ("true", "y", "1")


def under_launcher(env: Mapping[str, str] | None = None) -> bool:
    """True in a rank that torchrun or accelerate started."""
    return "LOCAL_RANK" in (os.environ if env is None else env)


@dataclass(frozen=True)
class LaunchPlan:
    """What torchrun is asked to start on this node."""

    nproc_per_node: int
    nnodes: int
    node_rank: int
    master_addr: str
    master_port: int
    strategy: Strategy
    device: Literal["cuda", "cpu"]

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes

    @property
    def backend(self) -> str:
        return "nccl" if self.device == "cuda" else "gloo"

    def torchrun_args(self) -> list[str]:
        """torchrun's options (static rendezvous at MASTER_ADDR:MASTER_PORT, as LLaMA-Factory starts it)."""
        return [f"--nnodes={self.nnodes}", f"--node_rank={self.node_rank}", f"--nproc_per_node={self.nproc_per_node}",
                f"--master_addr={self.master_addr}", f"--master_port={self.master_port}"]

    def command(self, argv: list[str]) -> list[str]:
        """The whole command line this node runs: torchrun, then each rank's `lmf-tui` arguments."""
        return [sys.executable, "-m", "torch.distributed.run", *self.torchrun_args(), "-m", ENTRY, *argv]

    def summary(self) -> str:
        nodes = f" × {self.nnodes} nodes (this is node {self.node_rank})" if self.nnodes > 1 else ""
        unit = "GPU" if self.device == "cuda" else "CPU rank"
        return (f"{self.strategy.label}, {self.nproc_per_node} {unit}{'s' if self.nproc_per_node > 1 else ''}"
                f"{nodes} = world size {self.world_size}, {self.backend} at {self.master_addr}:{self.master_port}")


def _int(env: Mapping[str, str], name: str, default: int, low: int, fix: str) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low:
        raise ConfigError(Problem((name,), f"'{raw}' is not a whole number ≥ {low}", fix))
    return value


def plan_launch(config: TrainConfig, gpus: int, env: Mapping[str, str] | None = None,
                check_network: bool = True) -> LaunchPlan | None:
    """torchrun's plan for this node, or None for one plain process.

    Several processes when FORCE_TORCHRUN is set, several GPUs are visible, NNODES > 1, or the config
    shards (deepspeed / fsdp). `gpus` is the number of GPUs visible here (after CUDA_VISIBLE_DEVICES).
    """
    env = os.environ if env is None else env
    if under_launcher(env) or env_enabled(env.get("LMF_TUI_SINGLE_PROCESS")):
        return None
    strategy = strategy_of(config)
    nnodes = _int(env, "NNODES", 1, 1, "set NNODES to the number of machines, e.g. NNODES=2")
    device: Literal["cuda", "cpu"] = "cuda" if gpus > 0 and not config.use_cpu else "cpu"
    sharded = strategy.name != "ddp"
    if not (env_enabled(env.get("FORCE_TORCHRUN")) or nnodes > 1 or sharded or (device == "cuda" and gpus > 1)):
        return None
    if problem := device_problem(strategy, device):
        raise ConfigError(problem)
    require_deepspeed(config)
    default_nproc = gpus if device == "cuda" else 1
    settings = fsdp_settings(config) or {}
    if settings.get("_processes") and settings.get("_machines"):  # an accelerate config file's layout
        default_nproc = max(1, int(settings["_processes"]) // max(1, int(settings["_machines"])))
    nproc = _int(env, "NPROC_PER_NODE", default_nproc, 1, "set NPROC_PER_NODE to the processes per node, e.g. 2")
    if device == "cuda" and nproc > gpus:
        shown = env.get("CUDA_VISIBLE_DEVICES")
        raise ConfigError(Problem(("NPROC_PER_NODE",), f"{nproc} processes but {gpus} GPU{'s' if gpus != 1 else ''} "
                                  f"visible{f' (CUDA_VISIBLE_DEVICES={shown})' if shown is not None else ''}",
                                  f"set NPROC_PER_NODE to at most {gpus}, or make more GPUs visible"))
    node_rank = _int(env, "NODE_RANK", 0, 0, "set NODE_RANK to 0 on the master node and 1…NNODES-1 on the others")
    if node_rank >= nnodes:
        raise ConfigError(Problem(("NODE_RANK",), f"{node_rank} is not below NNODES={nnodes}",
                                  f"number the nodes 0…{nnodes - 1}"))
    master_addr = (env.get("MASTER_ADDR") or "127.0.0.1").strip()
    port_default = DEFAULT_PORT if nnodes > 1 else 0
    master_port = _int(env, "MASTER_PORT", port_default, 0, "set MASTER_PORT to a free TCP port, e.g. 29500")
    if master_port > 65535:
        raise ConfigError(Problem(("MASTER_PORT",), f"{master_port} is not a TCP port", "use 1024…65535, e.g. 29500"))
    if check_network:
        master_port = check_master(master_addr, master_port, node_rank, nnodes)
    return LaunchPlan(nproc, nnodes, node_rank, master_addr, master_port, strategy, device)


def check_master(addr: str, port: int, node_rank: int, nnodes: int) -> int:
    """Check MASTER_ADDR/MASTER_PORT from this node's side; returns the port (a free one when 0 on one node)."""
    try:
        infos = socket.getaddrinfo(addr, port or None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise ConfigError(Problem(("MASTER_ADDR",), f"cannot resolve '{addr}'",
                                  "set MASTER_ADDR to the IP address or host name of node 0")) from None
    family, _, _, _, sockaddr = infos[0]
    if node_rank == 0:  # this node hosts the rendezvous on every interface (MASTER_ADDR may be a NAT address)
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("", port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                raise ConfigError(Problem(("MASTER_PORT",), f"port {port} is already in use on this machine",
                                          "choose another MASTER_PORT, e.g. 29501")) from None
            return sock.getsockname()[1]
    with socket.socket(family, socket.SOCK_STREAM) as sock:  # another node: node 0 must be reachable
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(sockaddr)
        except ConnectionRefusedError:
            pass  # the host answers; node 0's rendezvous may simply not be up yet
        except (TimeoutError, socket.timeout):
            raise ConfigError(Problem(("MASTER_ADDR",), f"{addr}:{port} did not answer in {CONNECT_TIMEOUT_S:g} s",
                                      "check MASTER_ADDR, and that MASTER_PORT is open on node 0's firewall")) from None
        except OSError as exc:
            raise ConfigError(Problem(("MASTER_ADDR",), f"{addr}:{port} is unreachable ({exc.strerror or exc})",
                                      "set MASTER_ADDR to node 0's address as this node sees it")) from None
    return port


def show_command(plan: LaunchPlan, argv: list[str]) -> str:
    """The launch command as a shell line, with the switches that chose it."""
    return shlex.join(plan.command(argv))
