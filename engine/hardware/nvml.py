"""GPU facts through NVML (nvidia-ml-py); every call returns a sentinel instead of raising."""

from __future__ import annotations

import importlib
from typing import Any

from .info import GIB, GpuInfo, GpuProcess
from .visible import map_visible

NA: Any = None  # what a failed NVML call returns
_state: dict[str, bool | None] = {"ready": None}  # None: nvmlInit not tried yet in this process


def _pynvml() -> Any:
    """The pynvml module, or None when nvidia-ml-py is not installed."""
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        return None


def nvml_call(name: str, *args: Any, default: Any = NA) -> Any:
    """Call pynvml.<name>(*args); NA (or `default`) when NVML is absent, old or the call fails."""
    pynvml = _pynvml()
    if pynvml is None:
        return default
    try:
        return getattr(pynvml, name)(*args)
    except (pynvml.NVMLError, AttributeError, OSError, TypeError, ValueError):
        return default


def nvml_ready() -> bool:
    """Initialise NVML once per process (a failure is remembered too); False without library or driver."""
    if _state["ready"] is None:
        _state["ready"] = nvml_call("nvmlInit", default=False) is not False
    return bool(_state["ready"])


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _gb(value: Any) -> float | None:
    return None if value is None else round(value / GIB, 3)


def _handles() -> list[tuple[int, int, Any]]:
    """(CUDA index, NVML index, handle) of each GPU visible under CUDA_VISIBLE_DEVICES."""
    count = nvml_call("nvmlDeviceGetCount", default=0) or 0
    handles = {i: nvml_call("nvmlDeviceGetHandleByIndex", i) for i in range(count)}
    handles = {i: h for i, h in handles.items() if h is not NA}
    uuids = [(i, _text(nvml_call("nvmlDeviceGetUUID", h))) for i, h in handles.items()]
    return [(cuda, p, handles[p]) for cuda, p in enumerate(map_visible(uuids))]


def _processes(handle: Any) -> list[GpuProcess]:
    procs = nvml_call("nvmlDeviceGetComputeRunningProcesses", handle, default=[]) or []
    out = []
    for proc in procs:
        name = _text(nvml_call("nvmlSystemGetProcessName", proc.pid)) or "?"
        out.append(GpuProcess(pid=proc.pid, name=name, memory_gb=_gb(getattr(proc, "usedGpuMemory", None))))
    return out


def _memory(handle: Any) -> tuple[float | None, float | None, float | None, float | None]:
    """Total, used, free GB and utilisation % of one GPU."""
    mem = nvml_call("nvmlDeviceGetMemoryInfo", handle)
    util = nvml_call("nvmlDeviceGetUtilizationRates", handle)
    if mem is NA:
        return None, None, None, (None if util is NA else util.gpu)
    return _gb(mem.total), _gb(mem.used), _gb(mem.free), None if util is NA else util.gpu


def nvml_gpus() -> list[GpuInfo] | None:
    """Every visible GPU with its static and live facts; None when NVML cannot be used."""
    if not nvml_ready():
        return None
    pynvml = _pynvml()
    gpus = []
    for cuda_index, nvml_index, handle in _handles():
        total, used, free, util = _memory(handle)
        cc = nvml_call("nvmlDeviceGetCudaComputeCapability", handle)
        temp = nvml_call("nvmlDeviceGetTemperature", handle, getattr(pynvml, "NVML_TEMPERATURE_GPU", 0))
        gpus.append(GpuInfo(
            index=cuda_index, name=_text(nvml_call("nvmlDeviceGetName", handle)) or "NVIDIA GPU",
            memory_total_gb=total or 0.0, memory_used_gb=used, memory_free_gb=free, utilization_pct=util,
            temperature_c=temp, compute_capability=tuple(cc) if cc is not NA else None,
            processes=_processes(handle), uuid=_text(nvml_call("nvmlDeviceGetUUID", handle)),
            nvml_index=nvml_index))
    return gpus


def nvml_versions() -> tuple[str | None, str | None]:
    """Driver version and the newest CUDA version the driver supports, e.g. ("550.54", "12.4")."""
    driver = _text(nvml_call("nvmlSystemGetDriverVersion"))
    cuda = nvml_call("nvmlSystemGetCudaDriverVersion")
    cuda_text = None if cuda is NA else f"{cuda // 1000}.{cuda % 1000 // 10}"
    return driver, cuda_text


def nvml_memory() -> list[tuple[int, float | None, float | None, float | None, float | None]] | None:
    """(CUDA index, total, used, free GB, utilisation %) of each visible GPU; None without NVML."""
    if not nvml_ready():
        return None
    return [(cuda_index, *_memory(handle)) for cuda_index, _, handle in _handles()]
