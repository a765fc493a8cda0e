"""Multi-GPU runs: torchrun launches one process per GPU; only rank 0 locks the run dir and journals."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any


def is_main_process() -> bool:
    """True for rank 0 of a torchrun/accelerate launch, and for a plain single process."""
    return int(os.environ.get("RANK", "0")) == 0


def under_launcher() -> bool:
    """True when torchrun or accelerate started this process."""
    return "LOCAL_RANK" in os.environ


def torchrun_command(argv: list[str], gpus: int) -> list[str]:
    """The command that re-runs `python -m engine train ...` with one process per GPU (multi-node from env)."""
    torchrun = shutil.which("torchrun") or f"{sys.executable} -m torch.distributed.run"
    nodes = os.environ.get("NNODES", "1")
    cmd = [*torchrun.split(), f"--nproc_per_node={os.environ.get('NPROC_PER_NODE', gpus)}", f"--nnodes={nodes}"]
    if nodes != "1":
        cmd += [f"--node_rank={os.environ.get('NODE_RANK', '0')}",
                f"--master_addr={os.environ.get('MASTER_ADDR', '127.0.0.1')}",
                f"--master_port={os.environ.get('MASTER_PORT', '29500')}"]
    return [*cmd, "-m", "engine", *argv]


class NullEvents:
    """The journal of a non-main rank: accepts events and writes nothing."""

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        return {"type": type, **fields}

    def close(self) -> None:
        pass
