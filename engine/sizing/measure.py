"""`measured_peak_gb()`: the real peak to record beside the estimate in the run journal."""

from __future__ import annotations

import resource
import sys

GB = 2**30


def measured_peak_gb() -> float:
    """Peak CUDA memory allocated when torch is already imported and using CUDA, else this process's peak RSS."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        return round(torch.cuda.max_memory_allocated() / GB, 3)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(rss * (1 if sys.platform == "darwin" else 1024) / GB, 3)
