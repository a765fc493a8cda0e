"""What the machine has: `GpuInfo` per visible GPU and `HardwareInfo` for the whole box.

Sizes are in GB of 2**30 bytes, the unit nvidia-smi and NVML report (a "24 GB" card shows 24).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

GIB = 2**30


@dataclass
class GpuProcess:
    """A process holding memory on a GPU."""

    pid: int
    name: str
    memory_gb: float | None


@dataclass
class GpuInfo:
    """One GPU as CUDA numbers it (`index`), with its NVML index and live memory figures."""

    index: int
    name: str
    memory_total_gb: float
    memory_used_gb: float | None = None
    memory_free_gb: float | None = None
    utilization_pct: float | None = None
    temperature_c: float | None = None
    compute_capability: tuple[int, int] | None = None
    processes: list[GpuProcess] = field(default_factory=list)
    uuid: str | None = None
    nvml_index: int | None = None

    @property
    def bf16(self) -> bool:
        """bfloat16 matmuls need Ampere (compute capability 8.0) or newer."""
        return self.compute_capability is not None and self.compute_capability >= (8, 0)

    @property
    def flash_attn_capable(self) -> bool:
        """FlashAttention-2 kernels run on compute capability 8.0 and newer."""
        return self.bf16

    def to_dict(self) -> dict:
        """Plain data for JSON, including the derived bf16/flash-attention flags."""
        out = asdict(self)
        out["compute_capability"] = list(self.compute_capability) if self.compute_capability else None
        out["bf16"] = self.bf16
        out["flash_attn_capable"] = self.flash_attn_capable
        return out


@dataclass
class HardwareInfo:
    """The GPUs (if any), CPU, RAM and the training libraries this machine can use."""

    gpus: list[GpuInfo]
    cpu_name: str
    cpu_count: int
    ram_total_gb: float
    ram_available_gb: float
    backend: Literal["cuda", "mps", "cpu"]
    driver_version: str | None = None
    cuda_version: str | None = None
    source: Literal["nvml", "nvidia-smi", "torch", "none"] = "none"
    unsloth_available: bool = False
    bitsandbytes_available: bool = False
    flash_attn_available: bool = False

    @property
    def vram_gb(self) -> float | None:
        """Memory of the smallest visible GPU (what one shard must fit in), None without GPUs."""
        return min(g.memory_total_gb for g in self.gpus) if self.gpus else None

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        out = asdict(self)
        out["gpus"] = [g.to_dict() for g in self.gpus]
        return out

    def summary(self) -> str:
        """One line: the GPUs and their memory, or the CPU and RAM."""
        ram = f"{self.ram_total_gb:.0f} GB RAM"
        if self.gpus:
            names: dict[str, int] = {}
            for g in self.gpus:
                names[g.name] = names.get(g.name, 0) + 1
            gpus = ", ".join(f"{n}x {name}" for name, n in names.items())
            used = sum(g.memory_used_gb or 0 for g in self.gpus)
            total = sum(g.memory_total_gb for g in self.gpus)
            cuda = f", CUDA {self.cuda_version}" if self.cuda_version else ""
            return f"{gpus} ({used:.1f}/{total:.1f} GB used{cuda}) · {self.cpu_count} CPUs · {ram}"
        if self.backend == "mps":
            return f"Apple {self.cpu_name} (MPS, unified memory) · {self.cpu_count} CPUs · {ram}"
        return f"CPU only: {self.cpu_name} · {self.cpu_count} cores · {ram}"
