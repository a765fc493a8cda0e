"""The measured peak memory of this process: CUDA max allocated on a GPU, peak RSS on the CPU."""

from __future__ import annotations

import resource
import sys

import torch


def peak_memory_gb() -> float:
    """Peak GPU memory allocated by torch, or the process's peak resident set on the CPU, in GB."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return torch.cuda.max_memory_allocated() / 1024**3
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**3 if sys.platform == "darwin" else peak / 1024**2
