"""What this machine can train on: GPUs (NVML, nvidia-smi, torch), Apple MPS or CPU, and RAM. No torch import."""

from .detect import GpuMemory, detect_hardware, gpu_memory_snapshot, library_available
from .info import GpuInfo, GpuProcess, HardwareInfo

__all__ = ["GpuInfo", "GpuMemory", "GpuProcess", "HardwareInfo", "detect_hardware", "gpu_memory_snapshot",
           "library_available"]
