"""`detect_hardware()`: NVML, then nvidia-smi, then an already-imported torch, then MPS or CPU only."""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from dataclasses import dataclass

import psutil

from .info import GIB, GpuInfo, HardwareInfo
from .nvml import nvml_gpus, nvml_memory, nvml_versions
from .smi import smi_gpus, smi_memory


@dataclass
class GpuMemory:
    """Live memory and load of one GPU, for a status bar refreshed every few seconds."""

    index: int
    memory_total_gb: float | None
    memory_used_gb: float | None
    memory_free_gb: float | None
    utilization_pct: float | None


def library_available(module: str) -> bool:
    """Whether `module` is installed, found without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def cpu_name() -> str:
    """The CPU model name from /proc/cpuinfo, sysctl (macOS) or platform."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        import subprocess

        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                  timeout=5, check=False).stdout.strip() or platform.processor()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _torch_gpus() -> list[GpuInfo] | None:
    """GPUs as an already-imported torch sees them; None when torch is not loaded or has no CUDA."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    gpus = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        free, total = torch.cuda.mem_get_info(i)
        gpus.append(GpuInfo(index=i, name=props.name, memory_total_gb=round(total / GIB, 3),
                            memory_used_gb=round((total - free) / GIB, 3), memory_free_gb=round(free / GIB, 3),
                            compute_capability=(props.major, props.minor)))
    return gpus


def is_apple_silicon() -> bool:
    """macOS on arm64, where torch trains through MPS."""
    return sys.platform == "darwin" and platform.machine() == "arm64"


def detect_hardware() -> HardwareInfo:
    """The GPUs, CPU, RAM and training libraries of this machine; never raises, never imports torch."""
    gpus, driver, cuda, source = nvml_gpus(), None, None, "none"
    if gpus is not None:
        driver, cuda = nvml_versions()
        source = "nvml"
    elif (smi := smi_gpus()) is not None:
        gpus, driver, cuda = smi
        source = "nvidia-smi"
    elif gpus := _torch_gpus():
        cuda, source = sys.modules["torch"].version.cuda, "torch"
    gpus = gpus or []
    mem = psutil.virtual_memory()
    backend = "cuda" if gpus else "mps" if is_apple_silicon() else "cpu"
    return HardwareInfo(
        gpus=gpus, cpu_name=cpu_name(), cpu_count=os.cpu_count() or 1,
        ram_total_gb=round(mem.total / GIB, 2), ram_available_gb=round(mem.available / GIB, 2),
        backend=backend, driver_version=driver, cuda_version=cuda, source=source,
        unsloth_available=library_available("unsloth"), bitsandbytes_available=library_available("bitsandbytes"),
        flash_attn_available=library_available("flash_attn"))


def gpu_memory_snapshot() -> list[GpuMemory]:
    """Only memory and utilisation of each visible GPU: cheap enough to poll every few seconds."""
    rows = nvml_memory()
    if rows is None:
        rows = smi_memory()
    if rows is None and (gpus := _torch_gpus()):
        rows = [(g.index, g.memory_total_gb, g.memory_used_gb, g.memory_free_gb, None) for g in gpus]
    return [GpuMemory(*row) for row in rows or []]
