"""Inside a rank: who writes (rank 0 only), agreeing on a stop, and checks that need every rank.

torchrun starts one process per GPU (or CPU rank with gloo); each runs `run_training`. Rank 0 alone
locks the run directory, writes the journal, trainer_log.jsonl and the run's own files; the Trainer and
its strategy (DDP, DeepSpeed, FSDP2) write the checkpoints collectively.
"""

from __future__ import annotations

import os
import pickle
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from .signals import GracefulStop


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True for rank 0 of a torchrun/accelerate launch, and for a plain single process."""
    return rank() == 0


def join_cpu_group(timeout_s: int, use_cpu: bool) -> None:
    """CPU ranks join their gloo group here, so `ddp_timeout` bounds their collectives as it does on GPUs
    (the Trainer passes it to NCCL and DeepSpeed, but not to the CPU group accelerate would create)."""
    cpu = use_cpu or not torch.cuda.is_available()
    if world_size() > 1 and cpu and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo", timeout=timedelta(seconds=timeout_s))


def leave_group() -> None:
    """Destroy this rank's process group at the end of its run (gloo's threads otherwise race the
    interpreter's exit and can abort the rank)."""
    if _group_ready():
        torch.distributed.destroy_process_group()


def _group_ready() -> bool:
    return world_size() > 1 and torch.distributed.is_available() and torch.distributed.is_initialized()


def any_rank(flag: bool, device: torch.device | str) -> bool:
    """True on every rank when `flag` is true on any rank (one tiny all-reduce; the flag alone with one rank)."""
    if not _group_ready():
        return flag
    value = torch.tensor([int(flag)], device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


def from_rank0(value: Any) -> Any:
    """Rank 0's `value` on every rank (rank 0's decision about the run directory, or its error)."""
    if not _group_ready():
        return value
    box = [pickle.dumps(value) if is_main_process() else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return pickle.loads(box[0])


def checkpoint_world_size(checkpoint: str | os.PathLike) -> int | None:
    """How many ranks wrote a Trainer checkpoint (one rng_state file each), None when it does not say."""
    path = Path(checkpoint)
    ranks = list(path.glob("rng_state_*.pth"))
    if ranks:
        return len(ranks)
    return 1 if (path / "rng_state.pth").exists() else None


def resume_note(checkpoint: str, now: int, strategy: str) -> str | None:
    """What resuming a checkpoint of another rank count does; raises for sharded state that cannot move.

    DDP checkpoints hold the whole model and optimizer, so any rank count can resume them, but the global
    batch changes and the data order after the step differs from an uninterrupted run. DeepSpeed and FSDP
    checkpoints hold one shard per rank and resume only with the rank count that wrote them.
    """
    before = checkpoint_world_size(checkpoint)
    if before is None or before == now:
        return None
    name = Path(checkpoint).name
    if strategy != "ddp":
        from ..config import ConfigError, Problem

        raise ConfigError(Problem(("NPROC_PER_NODE",), f"{name} was written by {before} ranks with sharded "
                                  f"({strategy}) state and this run has {now}",
                                  f"start it with {before} ranks (NPROC_PER_NODE × NNODES), or set "
                                  "overwrite_output_dir: true to start afresh"))
    return (f"{name} was written by {before} rank{'s' if before > 1 else ''}, this run has {now}: the model, "
            f"optimizer and step resume, but the global batch changes ×{now / before:g} and the data order "
            "differs from an uninterrupted run")


def sharding_of(model: Any) -> str:
    """How the prepared model holds its parameters: sharded by FSDP2 or DeepSpeed ZeRO-3, or whole on each rank."""
    from torch.distributed.fsdp import FSDPModule

    if isinstance(model, FSDPModule):
        return "parameters sharded by FSDP2"
    if any(hasattr(p, "ds_id") for p in list(model.parameters())[:1]) if model is not None else False:
        return "parameters sharded by DeepSpeed ZeRO-3"
    return "a whole copy of the model on each rank"


class RanksCallback(TrainerCallback):
    """Every rank: rank 0 journals how the ranks hold the model; a stop signal on any rank makes all ranks
    save one checkpoint at the same step and stop."""

    def __init__(self, stop: GracefulStop, events: Any):
        self.stop = stop
        self.events = events

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any):
        if world_size() > 1:
            held = sharding_of(kw.get("model"))
            self.events.emit("log", message=f"{world_size()} ranks ({args.parallel_mode.value}): {held}",
                             world_size=world_size(), sharding=held)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any):
        if control.should_training_stop:
            return
        if any_rank(self.stop.requested, args.device):
            reason = self.stop.signal_name or "another rank's stop"
            self.events.emit("log", message=f"{reason}: saving a checkpoint and stopping")
            self.stop.requested = True
            control.should_save = True
            control.should_training_stop = True


class NullEvents:
    """The journal of a non-main rank: accepts events and writes nothing."""

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        return {"type": type, **fields}

    def close(self) -> None:
        pass
